//! Whole databases, made and dropped (the test databases of
//! `migrate::testing`): the statements of each server dialect. Names are
//! quoted as identifiers, each quote in them doubled.

use super::Dialect;

pub(crate) fn quoted(dialect: Dialect, name: &str) -> String {
    let quote = dialect.quote();
    let doubled = name.replace(quote, &format!("{quote}{quote}"));
    format!("{quote}{doubled}{quote}")
}

/// Creates the database `name`, as a copy of `template` where given
/// (PostgreSQL's `TEMPLATE`).
pub(crate) fn create(dialect: Dialect, name: &str, template: Option<&str>) -> String {
    match template {
        Some(template) => format!(
            "CREATE DATABASE {} TEMPLATE {}",
            quoted(dialect, name),
            quoted(dialect, template)
        ),
        None => format!("CREATE DATABASE {}", quoted(dialect, name)),
    }
}

/// Drops the database `name` if it is there, closing PostgreSQL's sessions
/// on it (a test's pool, which may still be open).
pub(crate) fn drop(dialect: Dialect, name: &str) -> String {
    let force = if dialect == Dialect::Postgres {
        " WITH (FORCE)"
    } else {
        ""
    };
    format!("DROP DATABASE IF EXISTS {}{force}", quoted(dialect, name))
}

/// PostgreSQL: a database takes no connections (a template, copied while
/// many tests start at once).
pub(crate) fn no_connections(name: &str) -> String {
    format!(
        "ALTER DATABASE {} WITH ALLOW_CONNECTIONS false",
        quoted(Dialect::Postgres, name)
    )
}

/// PostgreSQL: a database renamed.
pub(crate) fn rename(name: &str, to: &str) -> String {
    format!(
        "ALTER DATABASE {} RENAME TO {}",
        quoted(Dialect::Postgres, name),
        quoted(Dialect::Postgres, to)
    )
}

/// PostgreSQL: the ready copies of the template `template` (named
/// `<template>_s…`), in random order, so that tests claiming one at once
/// try different ones first.
pub(crate) fn spares(template: &str) -> String {
    format!(
        "SELECT datname::text FROM pg_database WHERE starts_with(datname, '{}') ORDER BY random()",
        spare_prefix(template).replace('\'', "''")
    )
}

/// PostgreSQL: how a ready copy of the template `template` is named.
pub(crate) fn spare_prefix(template: &str) -> String {
    format!("{template}_s")
}

/// MySQL/MariaDB: how many things in the database `name` a copy of its
/// tables would miss (views, triggers, routines, events) or could not
/// copy with `INSERT … SELECT *` (generated columns). The history
/// summary's triggers (`ours`) are left out: a copy goes without its
/// summary, which the copy's first run with work makes again.
pub(crate) fn mysql_beyond_tables(name: &str, ours: &[String]) -> String {
    let name = name.replace('\'', "''");
    let ours = ours
        .iter()
        .map(|trigger| format!("'{}'", trigger.replace('\'', "''")))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "SELECT CAST((SELECT COUNT(*) FROM information_schema.views WHERE table_schema = '{name}') \
         + (SELECT COUNT(*) FROM information_schema.triggers WHERE trigger_schema = '{name}' \
            AND trigger_name NOT IN ({ours})) \
         + (SELECT COUNT(*) FROM information_schema.routines WHERE routine_schema = '{name}') \
         + (SELECT COUNT(*) FROM information_schema.events WHERE event_schema = '{name}') \
         + (SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = '{name}' \
            AND COALESCE(generation_expression, '') <> '') AS CHAR)"
    )
}

/// MySQL/MariaDB: the base tables of the database `name`.
pub(crate) fn mysql_tables(name: &str) -> String {
    format!(
        "SELECT CAST(table_name AS CHAR) FROM information_schema.tables \
         WHERE table_schema = '{}' AND table_type = 'BASE TABLE' ORDER BY table_name",
        name.replace('\'', "''")
    )
}

/// MySQL/MariaDB: the statement that creates `table` of `database`
/// (its second column).
pub(crate) fn mysql_show_create(database: &str, table: &str) -> String {
    format!(
        "SHOW CREATE TABLE {}.{}",
        quoted(Dialect::MySql, database),
        quoted(Dialect::MySql, table)
    )
}

/// MySQL/MariaDB: whether `table` of `database` holds a row (`1`, or no row).
pub(crate) fn mysql_has_rows(database: &str, table: &str) -> String {
    format!(
        "SELECT 1 FROM {}.{} LIMIT 1",
        quoted(Dialect::MySql, database),
        quoted(Dialect::MySql, table)
    )
}

/// MySQL/MariaDB: a script that makes, in the current database, a copy of
/// the tables of `template`: each table's `CREATE TABLE` (as `SHOW CREATE
/// TABLE` gave it), then the rows of those that hold any, in one
/// transaction; foreign keys unchecked meanwhile, as the rows are the
/// template's.
pub(crate) fn mysql_copy(template: &str, tables: &[(String, String, bool)]) -> String {
    let mut script = String::from("SET FOREIGN_KEY_CHECKS = 0;\n");
    for (_, create, _) in tables {
        script.push_str(create);
        script.push_str(";\n");
    }
    script.push_str("START TRANSACTION;\n");
    for (table, _, rows) in tables {
        if *rows {
            let table = quoted(Dialect::MySql, table);
            script.push_str(&format!(
                "INSERT INTO {table} SELECT * FROM {}.{table};\n",
                quoted(Dialect::MySql, template)
            ));
        }
    }
    script.push_str("COMMIT;\nSET FOREIGN_KEY_CHECKS = 1;\n");
    script
}

/// MySQL/MariaDB: the table of a template database that holds its copy
/// script, written last, once the template is complete.
pub(crate) const MYSQL_COPY_TABLE: &str = "_migrate_template_copy";

/// MySQL/MariaDB: the template's copy script (one row; `NULL` where the
/// migrations must be replayed instead); an error while it is not built.
pub(crate) fn mysql_read_copy(template: &str) -> String {
    format!(
        "SELECT script FROM {}.{}",
        quoted(Dialect::MySql, template),
        quoted(Dialect::MySql, MYSQL_COPY_TABLE)
    )
}

/// MySQL/MariaDB: records the template's copy script (a literal, or
/// `NULL`), which marks the template complete.
pub(crate) fn mysql_write_copy(template: &str, script: Option<&str>) -> String {
    let table = format!(
        "{}.{}",
        quoted(Dialect::MySql, template),
        quoted(Dialect::MySql, MYSQL_COPY_TABLE)
    );
    let value = script.map_or(super::Literal::Null, super::Literal::Text);
    super::with_literals(
        Dialect::MySql,
        &format!("CREATE TABLE {table} (script LONGTEXT NULL);\nINSERT INTO {table} VALUES (?)"),
        &[value],
    )
}

/// PostgreSQL: how many databases are called `name` (0 or 1), as `int8`.
pub(crate) fn count(name: &str) -> String {
    format!(
        "SELECT count(*)::int8 FROM pg_database WHERE datname = '{}'",
        name.replace('\'', "''")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_quoted_as_identifiers() {
        assert_eq!(
            create(Dialect::Postgres, "a\"b", Some("t")),
            "CREATE DATABASE \"a\"\"b\" TEMPLATE \"t\""
        );
        assert_eq!(
            create(Dialect::MySql, "a`b", None),
            "CREATE DATABASE `a``b`"
        );
        assert_eq!(
            drop(Dialect::Postgres, "x"),
            "DROP DATABASE IF EXISTS \"x\" WITH (FORCE)"
        );
        assert_eq!(drop(Dialect::MySql, "x"), "DROP DATABASE IF EXISTS `x`");
        assert_eq!(
            count("it's"),
            "SELECT count(*)::int8 FROM pg_database WHERE datname = 'it''s'"
        );
        assert_eq!(
            mysql_copy(
                "tpl",
                &[
                    ("a".into(), "CREATE TABLE `a` (x INT)".into(), true),
                    ("b".into(), "CREATE TABLE `b` (y INT)".into(), false),
                ]
            ),
            "SET FOREIGN_KEY_CHECKS = 0;\nCREATE TABLE `a` (x INT);\nCREATE TABLE `b` (y INT);\n\
             START TRANSACTION;\nINSERT INTO `a` SELECT * FROM `tpl`.`a`;\nCOMMIT;\n\
             SET FOREIGN_KEY_CHECKS = 1;\n"
        );
        assert_eq!(
            mysql_write_copy("t", Some("a'b\\c")),
            "CREATE TABLE `t`.`_migrate_template_copy` (script LONGTEXT NULL);\n\
             INSERT INTO `t`.`_migrate_template_copy` VALUES ('a''b\\\\c')"
        );
        assert_eq!(
            spares("t'1"),
            "SELECT datname::text FROM pg_database WHERE starts_with(datname, 't''1_s') ORDER BY random()"
        );
    }
}
