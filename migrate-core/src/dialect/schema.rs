//! The catalog queries that read a database's schema (`crate::schema`), in
//! one place per dialect.
//!
//! Every query returns one text column, each row three fields joined by
//! U+001F: the object's block (`table users`), a sort key within the block
//! (a column's position, a constraint's name) and the line itself. The
//! caller sorts and groups them, so no query needs a stable `ORDER BY`.
//! Only definitions are read, never values that differ between two
//! databases migrated alike (OIDs, sequence positions, `AUTO_INCREMENT`
//! counters) and never rows. The history table and its lock table are left
//! out by name.

use super::Dialect;
use crate::options::TableName;

/// The key of a SQLite table's `CREATE TABLE` text, from which
/// `crate::schema` takes what SQLite keeps nowhere else: CHECK
/// constraints, and a column's collation and generated expression.
pub(crate) const CREATE_KEY: &str = "~create";

/// MySQL: the server's version, which says whether it is MariaDB.
#[cfg_attr(
    not(any(
        feature = "sqlx-sqlite",
        feature = "sqlx-postgres",
        feature = "sqlx-mysql"
    )),
    allow(dead_code)
)]
pub(crate) const MYSQL_VERSION: &str = "SELECT CAST(VERSION() AS CHAR)";

/// The names left out: the history table and its lock and summary tables,
/// as a quoted
/// SQL list (`'_migrate_history', '_migrate_history_lock',
/// '_migrate_history_summary'`). A table name
/// is validated as letters, digits and `_`, so it needs no escaping.
fn left_out(table: &TableName) -> String {
    format!(
        "'{}', '{}', '{}'",
        table.table(),
        table.with_suffix("_lock").table(),
        table.with_suffix("_summary").table()
    )
}

/// The queries that read the schema of the connection's database.
/// `mariadb` picks MariaDB's form of the one query that differs on MySQL.
pub(crate) fn queries(dialect: Dialect, table: &TableName, mariadb: bool) -> Vec<String> {
    match dialect {
        Dialect::Sqlite => sqlite(table),
        Dialect::Postgres => postgres(table),
        Dialect::MySql => mysql(table, mariadb),
    }
}

fn sqlite(table: &TableName) -> Vec<String> {
    let tables = format!(
        "m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND m.name NOT IN ({})",
        left_out(table)
    );
    let block = "'table ' || m.name || char(31)";
    vec![
        format!(
            "SELECT {block} || printf('%05d', p.cid) || char(31) || 'column ' || p.name \
             || CASE WHEN p.type <> '' THEN ' ' || lower(p.type) ELSE '' END \
             || CASE WHEN p.\"notnull\" THEN ' not null' ELSE '' END \
             || CASE WHEN p.dflt_value IS NOT NULL THEN ' default ' || p.dflt_value ELSE '' END \
             || CASE p.hidden WHEN 2 THEN ' generated virtual' WHEN 3 THEN ' generated stored' ELSE '' END \
             FROM sqlite_master m, pragma_table_xinfo(m.name) p WHERE {tables}"
        ),
        format!(
            "SELECT {block} || '1 primary key' || char(31) || 'primary key (' \
             || (SELECT group_concat(name, ', ') FROM (SELECT name FROM pragma_table_info(m.name) WHERE pk > 0 ORDER BY pk)) \
             || ')' FROM sqlite_master m WHERE {tables} \
             AND EXISTS (SELECT 1 FROM pragma_table_info(m.name) WHERE pk > 0)"
        ),
        format!(
            "SELECT {block} || '2 foreign key' || char(31) || 'foreign key (' \
             || (SELECT group_concat(\"from\", ', ') FROM (SELECT \"from\" FROM pragma_foreign_key_list(m.name) g WHERE g.id = f.id ORDER BY g.seq)) \
             || ') references ' || f.\"table\" \
             || coalesce(' (' || (SELECT group_concat(\"to\", ', ') FROM (SELECT \"to\" FROM pragma_foreign_key_list(m.name) g WHERE g.id = f.id ORDER BY g.seq)) || ')', '') \
             || ' on update ' || lower(f.on_update) || ' on delete ' || lower(f.on_delete) \
             FROM sqlite_master m, pragma_foreign_key_list(m.name) f WHERE {tables} AND f.seq = 0"
        ),
        format!(
            "SELECT {block} || '3 ' || CASE l.origin WHEN 'u' THEN 'unique' ELSE 'index ' || l.name END || char(31) \
             || CASE l.origin WHEN 'u' THEN 'unique' ELSE 'index ' || l.name || CASE WHEN l.\"unique\" THEN ' unique' ELSE '' END END \
             || ' (' || (SELECT group_concat(coalesce(x.name, '<expression>') \
                 || CASE WHEN x.\"desc\" THEN ' desc' ELSE '' END \
                 || CASE WHEN x.coll <> 'BINARY' THEN ' collate ' || x.coll ELSE '' END, ', ') \
                 FROM (SELECT * FROM pragma_index_xinfo(l.name) WHERE key = 1 ORDER BY seqno) x) || ')' \
             || CASE WHEN l.partial THEN ' where ' || substr(i.sql, instr(upper(i.sql), ' WHERE ') + 7) ELSE '' END \
             FROM sqlite_master m JOIN pragma_index_list(m.name) l \
             LEFT JOIN sqlite_master i ON i.type = 'index' AND i.name = l.name \
             WHERE {tables} AND l.origin <> 'pk'"
        ),
        format!(
            "SELECT {block} || '{CREATE_KEY}' || char(31) || m.sql FROM sqlite_master m WHERE {tables}"
        ),
        format!(
            "SELECT m.type || ' ' || m.name || CASE WHEN m.type = 'trigger' THEN ' on ' || m.tbl_name ELSE '' END \
             || char(31) || '0' || char(31) || m.sql FROM sqlite_master m \
             WHERE m.type IN ('view', 'trigger') AND m.tbl_name NOT IN ({})",
            left_out(table)
        ),
    ]
}

fn postgres(table: &TableName) -> Vec<String> {
    let schema = table
        .schema()
        .map_or_else(|| "current_schema()".to_owned(), |s| format!("'{s}'"));
    let user_schema = |n: &str| {
        format!(
            "{n}.nspname NOT IN ('pg_catalog', 'information_schema') \
             AND {n}.nspname NOT LIKE 'pg\\_toast%' AND {n}.nspname NOT LIKE 'pg\\_temp\\_%'"
        )
    };
    let not_extension = |class: &str, oid: &str| {
        format!(
            "NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = '{class}'::regclass \
             AND e.objid = {oid} AND e.deptype = 'e')"
        )
    };
    // A relation of the user's, but the history table and its lock table.
    let relation = format!(
        "{} AND NOT (n.nspname = {schema} AND c.relname IN ({})) AND {}",
        user_schema("n"),
        left_out(table),
        not_extension("pg_class", "c.oid")
    );
    let block = "CASE c.relkind WHEN 'v' THEN 'view ' WHEN 'm' THEN 'materialized view ' \
                 WHEN 'c' THEN 'type ' WHEN 'f' THEN 'foreign table ' ELSE 'table ' END \
                 || n.nspname || '.' || c.relname";
    let from_class = "pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace";
    vec![
        format!(
            "SELECT concat_ws(chr(31), {block}, \
             lpad((row_number() OVER (PARTITION BY c.oid ORDER BY a.attnum))::text, 5, '0'), \
             'column ' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod) \
             || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END \
             || CASE WHEN a.attgenerated = 's' THEN ' generated always as (' || pg_get_expr(d.adbin, d.adrelid) || ') stored' \
                WHEN d.adbin IS NOT NULL THEN ' default ' || pg_get_expr(d.adbin, d.adrelid) ELSE '' END \
             || CASE a.attidentity WHEN 'a' THEN ' generated always as identity' \
                WHEN 'd' THEN ' generated by default as identity' ELSE '' END \
             || CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation \
                THEN ' collate ' || quote_ident(co.collname) ELSE '' END) \
             FROM {from_class} \
             JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
             JOIN pg_type t ON t.oid = a.atttypid \
             LEFT JOIN pg_collation co ON co.oid = a.attcollation \
             LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum \
             WHERE c.relkind IN ('r', 'p', 'f', 'c') AND {relation}"
        ),
        format!(
            "SELECT concat_ws(chr(31), {block}, '1 ' || k.conname, \
             'constraint ' || k.conname || ' ' || pg_get_constraintdef(k.oid)) \
             FROM pg_constraint k JOIN {from_class} ON c.oid = k.conrelid \
             WHERE k.contype IN ('p', 'u', 'f', 'c', 'x') AND {relation}"
        ),
        format!(
            "SELECT concat_ws(chr(31), {block}, '2 ' || i.relname, pg_get_indexdef(i.oid)) \
             FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid \
             JOIN {from_class} ON c.oid = x.indrelid WHERE {relation}"
        ),
        format!(
            "SELECT concat_ws(chr(31), {block}, '3 ' || g.tgname, pg_get_triggerdef(g.oid)) \
             FROM pg_trigger g JOIN {from_class} ON c.oid = g.tgrelid \
             WHERE NOT g.tgisinternal AND {relation}"
        ),
        format!(
            "SELECT concat_ws(chr(31), {block}, '0', pg_get_viewdef(c.oid)) \
             FROM {from_class} WHERE c.relkind IN ('v', 'm') AND {relation}"
        ),
        format!(
            "SELECT concat_ws(chr(31), 'sequence ' || n.nspname || '.' || c.relname, '0', \
             'as ' || format_type(s.seqtypid, NULL) || ' start ' || s.seqstart \
             || ' increment ' || s.seqincrement || ' min ' || s.seqmin || ' max ' || s.seqmax \
             || ' cache ' || s.seqcache || CASE WHEN s.seqcycle THEN ' cycle' ELSE '' END \
             || coalesce(' owned by ' || (SELECT r.relname || '.' || ra.attname FROM pg_depend o \
                JOIN pg_class r ON r.oid = o.refobjid \
                JOIN pg_attribute ra ON ra.attrelid = o.refobjid AND ra.attnum = o.refobjsubid \
                WHERE o.classid = 'pg_class'::regclass AND o.objid = c.oid AND o.deptype = 'a' LIMIT 1), '')) \
             FROM pg_sequence s JOIN {from_class} ON c.oid = s.seqrelid \
             WHERE {relation} AND NOT EXISTS (SELECT 1 FROM pg_depend o \
                WHERE o.classid = 'pg_class'::regclass AND o.objid = c.oid AND o.deptype = 'i')"
        ),
        format!(
            "SELECT concat_ws(chr(31), CASE p.prokind WHEN 'p' THEN 'procedure ' ELSE 'function ' END \
             || n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')', \
             '0', pg_get_functiondef(p.oid)) \
             FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
             WHERE p.prokind IN ('f', 'p') AND {} AND {} AND p.proname <> '{}_bump'",
            user_schema("n"),
            not_extension("pg_proc", "p.oid"),
            table.with_suffix("_summary").table()
        ),
        format!(
            "SELECT concat_ws(chr(31), 'type ' || n.nspname || '.' || t.typname, '0', \
             CASE t.typtype WHEN 'e' THEN 'enum (' || coalesce((SELECT string_agg(quote_literal(v.enumlabel), ', ' \
                ORDER BY v.enumsortorder) FROM pg_enum v WHERE v.enumtypid = t.oid), '') || ')' \
             ELSE 'domain ' || format_type(t.typbasetype, t.typtypmod) \
                || CASE WHEN t.typnotnull THEN ' not null' ELSE '' END \
                || coalesce(' default ' || t.typdefault, '') END) \
             FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace \
             WHERE t.typtype IN ('e', 'd') AND {} AND {}",
            user_schema("n"),
            not_extension("pg_type", "t.oid")
        ),
        format!(
            "SELECT concat_ws(chr(31), 'type ' || n.nspname || '.' || t.typname, '1 ' || k.conname, \
             'constraint ' || k.conname || ' ' || pg_get_constraintdef(k.oid)) \
             FROM pg_constraint k JOIN pg_type t ON t.oid = k.contypid \
             JOIN pg_namespace n ON n.oid = t.typnamespace WHERE {} AND {}",
            user_schema("n"),
            not_extension("pg_type", "t.oid")
        ),
        "SELECT concat_ws(chr(31), 'extension ' || x.extname, '0', 'schema ' || n.nspname) \
         FROM pg_extension x JOIN pg_namespace n ON n.oid = x.extnamespace \
         WHERE x.extname <> 'plpgsql'"
            .to_owned(),
        format!(
            "SELECT concat_ws(chr(31), 'schema ' || n.nspname, '0', '') FROM pg_namespace n \
             WHERE {} AND n.nspname <> 'public' AND {}",
            user_schema("n"),
            not_extension("pg_namespace", "n.oid")
        ),
    ]
}

fn mysql(table: &TableName, mariadb: bool) -> Vec<String> {
    let left_out = left_out(table);
    let tables =
        |t: &str| format!("{t}.TABLE_SCHEMA = DATABASE() AND {t}.TABLE_NAME NOT IN ({left_out})");
    let row = |block: &str, key: &str, line: &str| {
        format!("SELECT CAST(CONCAT_WS(CHAR(31), {block}, {key}, {line}) AS CHAR)")
    };
    let checks = if mariadb {
        // MariaDB names a column's CHECK after the column: unique per table
        // only, so the table comes from CHECK_CONSTRAINTS itself.
        format!(
            "{} FROM information_schema.CHECK_CONSTRAINTS k \
             WHERE k.CONSTRAINT_SCHEMA = DATABASE() AND k.TABLE_NAME NOT IN ({left_out})",
            row(
                "CONCAT('table ', k.TABLE_NAME)",
                "CONCAT('3 ', k.CONSTRAINT_NAME)",
                "CONCAT('constraint ', k.CONSTRAINT_NAME, ' check (', k.CHECK_CLAUSE, ')')"
            )
        )
    } else {
        format!(
            "{} FROM information_schema.TABLE_CONSTRAINTS t \
             JOIN information_schema.CHECK_CONSTRAINTS k \
             ON k.CONSTRAINT_SCHEMA = t.CONSTRAINT_SCHEMA AND k.CONSTRAINT_NAME = t.CONSTRAINT_NAME \
             WHERE t.CONSTRAINT_TYPE = 'CHECK' AND {}",
            row(
                "CONCAT('table ', t.TABLE_NAME)",
                "CONCAT('3 ', k.CONSTRAINT_NAME)",
                "CONCAT('constraint ', k.CONSTRAINT_NAME, ' check (', k.CHECK_CLAUSE, ')')"
            ),
            tables("t")
        )
    };
    vec![
        format!(
            "{} FROM information_schema.TABLES t WHERE t.TABLE_TYPE = 'BASE TABLE' AND {}",
            row(
                "CONCAT('table ', t.TABLE_NAME)",
                "'0'",
                "CONCAT('engine ', COALESCE(t.ENGINE, ''), ' collate ', COALESCE(t.TABLE_COLLATION, ''))"
            ),
            tables("t")
        ),
        format!(
            "{} FROM information_schema.COLUMNS c JOIN information_schema.TABLES t \
             ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME \
             WHERE t.TABLE_TYPE = 'BASE TABLE' AND {}",
            row(
                "CONCAT('table ', c.TABLE_NAME)",
                "LPAD(c.ORDINAL_POSITION, 5, '0')",
                "CONCAT('column ', c.COLUMN_NAME, ' ', c.COLUMN_TYPE, \
                 IF(c.IS_NULLABLE = 'NO', ' not null', ''), \
                 IF(c.COLUMN_DEFAULT IS NULL, '', CONCAT(' default ', c.COLUMN_DEFAULT)), \
                 IF(COALESCE(c.GENERATION_EXPRESSION, '') = '', '', CONCAT(' as (', c.GENERATION_EXPRESSION, ')')), \
                 IF(c.EXTRA = '', '', CONCAT(' ', LOWER(c.EXTRA))), \
                 IF(c.COLLATION_NAME IS NULL, '', CONCAT(' collate ', c.COLLATION_NAME)))"
            ),
            tables("c")
        ),
        format!(
            "{} FROM information_schema.STATISTICS s WHERE {} \
             GROUP BY s.TABLE_NAME, s.INDEX_NAME, s.NON_UNIQUE, s.INDEX_TYPE",
            row(
                "CONCAT('table ', s.TABLE_NAME)",
                "CONCAT('1 ', s.INDEX_NAME)",
                "CONCAT(IF(s.INDEX_NAME = 'PRIMARY', 'primary key', \
                 CONCAT(IF(s.NON_UNIQUE = 0, 'unique ', ''), 'index ', s.INDEX_NAME)), ' (', \
                 GROUP_CONCAT(CONCAT(COALESCE(s.COLUMN_NAME, '<expression>'), \
                 IF(s.SUB_PART IS NULL, '', CONCAT('(', s.SUB_PART, ')')), \
                 IF(s.COLLATION = 'D', ' desc', '')) ORDER BY s.SEQ_IN_INDEX SEPARATOR ', '), ')', \
                 IF(s.INDEX_TYPE = 'BTREE', '', CONCAT(' using ', LOWER(s.INDEX_TYPE))))"
            ),
            tables("s")
        ),
        format!(
            "{} FROM information_schema.KEY_COLUMN_USAGE k \
             JOIN information_schema.REFERENTIAL_CONSTRAINTS r ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA \
             AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME AND r.TABLE_NAME = k.TABLE_NAME \
             WHERE k.REFERENCED_TABLE_NAME IS NOT NULL AND {} \
             GROUP BY k.TABLE_NAME, k.CONSTRAINT_NAME, k.REFERENCED_TABLE_NAME, r.UPDATE_RULE, r.DELETE_RULE",
            row(
                "CONCAT('table ', k.TABLE_NAME)",
                "CONCAT('2 ', k.CONSTRAINT_NAME)",
                "CONCAT('constraint ', k.CONSTRAINT_NAME, ' foreign key (', \
                 GROUP_CONCAT(k.COLUMN_NAME ORDER BY k.ORDINAL_POSITION SEPARATOR ', '), ') references ', \
                 k.REFERENCED_TABLE_NAME, ' (', \
                 GROUP_CONCAT(k.REFERENCED_COLUMN_NAME ORDER BY k.ORDINAL_POSITION SEPARATOR ', '), \
                 ') on update ', LOWER(r.UPDATE_RULE), ' on delete ', LOWER(r.DELETE_RULE))"
            ),
            tables("k")
        ),
        checks,
        // A view's definition names its tables with the database's name,
        // which differs between two databases: it is taken out.
        format!(
            "{} FROM information_schema.VIEWS v WHERE {}",
            row(
                "CONCAT('view ', v.TABLE_NAME)",
                "'0'",
                "REPLACE(v.VIEW_DEFINITION, CONCAT('`', DATABASE(), '`.'), '')"
            ),
            tables("v")
        ),
        format!(
            "{} FROM information_schema.TRIGGERS g WHERE g.TRIGGER_SCHEMA = DATABASE() \
             AND g.EVENT_OBJECT_TABLE NOT IN ({left_out})",
            row(
                "CONCAT('trigger ', g.TRIGGER_NAME, ' on ', g.EVENT_OBJECT_TABLE)",
                "'0'",
                "CONCAT(LOWER(g.ACTION_TIMING), ' ', LOWER(g.EVENT_MANIPULATION), ' for each ', \
                 LOWER(g.ACTION_ORIENTATION), ' ', g.ACTION_STATEMENT)"
            )
        ),
        format!(
            "{} FROM information_schema.ROUTINES p WHERE p.ROUTINE_SCHEMA = DATABASE()",
            row(
                "CONCAT(LOWER(p.ROUTINE_TYPE), ' ', p.ROUTINE_NAME)",
                "'0'",
                "CONCAT(IF(p.ROUTINE_TYPE = 'FUNCTION', CONCAT('returns ', COALESCE(p.DTD_IDENTIFIER, ''), ' '), ''), \
                 COALESCE(p.ROUTINE_DEFINITION, ''))"
            )
        ),
    ]
}
