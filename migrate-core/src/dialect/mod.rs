//! The history table's SQL, in one place per dialect.
//!
//! Every statement the runners send about the history table is built here,
//! once per run, from the validated (and always quoted) table name.

use crate::options::TableName;

/// The columns of the current history format, in SPEC.md's order.
pub(crate) const COLUMNS: &str =
    "version, name, checksum, down_sql, applied_at, execution_ms, success";

/// The databases migrate speaks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// SQLite (rusqlite or sqlx).
    Sqlite,
    /// PostgreSQL and compatible databases.
    Postgres,
    /// MySQL and MariaDB.
    MySql,
}

impl Dialect {
    fn quote(self) -> char {
        match self {
            Dialect::MySql => '`',
            Dialect::Sqlite | Dialect::Postgres => '"',
        }
    }

    /// Turns the `?N` placeholders of the statements here into the
    /// dialect's own: `?N` (SQLite), `$N` (PostgreSQL), `?` (MySQL, whose
    /// placeholders are positional: every statement here numbers them in
    /// the order they appear).
    fn placeholders(self, statement: String) -> String {
        match self {
            Dialect::Sqlite => statement,
            Dialect::Postgres => statement.replace('?', "$"),
            Dialect::MySql => {
                let mut out = String::with_capacity(statement.len());
                let mut chars = statement.chars().peekable();
                while let Some(c) = chars.next() {
                    out.push(c);
                    if c == '?' {
                        while chars.peek().is_some_and(char::is_ascii_digit) {
                            chars.next();
                        }
                    }
                }
                out
            }
        }
    }
}

/// Columns added after the first format, with the definition that adds them
/// to an existing table in place (defaults keep old rows valid), per dialect.
pub(crate) fn added_columns(dialect: Dialect) -> [(&'static str, &'static str); 3] {
    let down = match dialect {
        Dialect::MySql => "down_sql LONGTEXT NULL",
        Dialect::Sqlite | Dialect::Postgres => "down_sql TEXT NULL",
    };
    [
        ("down_sql", down),
        ("execution_ms", "execution_ms BIGINT NOT NULL DEFAULT 0"),
        ("success", "success BOOLEAN NOT NULL DEFAULT TRUE"),
    ]
}

#[cfg_attr(
    not(all(feature = "sqlx-postgres", feature = "sqlx-mysql")),
    allow(dead_code)
)]
pub(crate) mod database;
pub(crate) mod lease;
pub(crate) mod lock;
pub(crate) mod schema;
pub(crate) mod summary;

/// SQLite: changes whenever another connection commits to the database.
#[cfg_attr(
    not(any(feature = "rusqlite", feature = "sqlx-sqlite")),
    allow(dead_code)
)]
pub(crate) const DATA_VERSION: &str = "PRAGMA data_version";

/// SQLite: the main database's journal mode (`delete`, `persist`, `wal`…).
#[cfg_attr(
    not(any(feature = "rusqlite", feature = "sqlx-sqlite")),
    allow(dead_code)
)]
pub(crate) const JOURNAL_MODE: &str = "PRAGMA main.journal_mode";

/// SQLite: the rollback journal kept between commits, its header zeroed
/// (and synced) to commit, instead of made and deleted at every commit.
/// A connection setting, outside a transaction; at least as durable as
/// `DELETE`. Set only where the mode was `DELETE` ([`JOURNAL_DELETED`]),
/// and set back only where it still is `PERSIST` ([`JOURNAL_KEPT`]).
#[cfg_attr(
    not(any(feature = "rusqlite", feature = "sqlx-sqlite")),
    allow(dead_code)
)]
pub(crate) const KEEP_JOURNAL: &str = "PRAGMA main.journal_mode = PERSIST";

/// SQLite: back to deleting the journal at every commit; the kept file is
/// deleted (where no other connection is writing).
#[cfg_attr(
    not(any(feature = "rusqlite", feature = "sqlx-sqlite")),
    allow(dead_code)
)]
pub(crate) const DELETE_JOURNAL: &str = "PRAGMA main.journal_mode = DELETE";

/// SQLite: what [`JOURNAL_MODE`] reads in `DELETE` mode.
#[cfg_attr(
    not(any(feature = "rusqlite", feature = "sqlx-sqlite")),
    allow(dead_code)
)]
pub(crate) const JOURNAL_DELETED: &str = "delete";

/// SQLite: what [`JOURNAL_MODE`] (and [`KEEP_JOURNAL`]) reads in `PERSIST`
/// mode.
#[cfg_attr(
    not(any(feature = "rusqlite", feature = "sqlx-sqlite")),
    allow(dead_code)
)]
pub(crate) const JOURNAL_KEPT: &str = "persist";

/// SQLite: the tables with rows whose foreign key points nowhere (first
/// column: the table).
#[cfg_attr(
    not(any(feature = "rusqlite", feature = "sqlx-sqlite")),
    allow(dead_code)
)]
pub(crate) const FOREIGN_KEY_CHECK: &str = "PRAGMA foreign_key_check";

/// SQLite: whether the schema may declare a foreign key, which only a
/// `REFERENCES` clause does (any case; `LIKE` ignores ASCII case), in the
/// main or temporary schema; an attached database is not read, so one
/// answers true. `PRAGMA foreign_key_check` walks every table of the
/// schema; this reads the schema's text once.
#[cfg_attr(
    not(any(feature = "rusqlite", feature = "sqlx-sqlite")),
    allow(dead_code)
)]
pub(crate) const FOREIGN_KEYS_DECLARED: &str = "SELECT \
    EXISTS (SELECT 1 FROM sqlite_master WHERE sql LIKE '%references%') \
    OR EXISTS (SELECT 1 FROM sqlite_temp_master WHERE sql LIKE '%references%') \
    OR EXISTS (SELECT 1 FROM pragma_database_list WHERE name NOT IN ('main', 'temp'))";

/// SQLite: whether the connection enforces foreign keys.
#[cfg_attr(not(feature = "sqlx-sqlite"), allow(dead_code))]
pub(crate) const FOREIGN_KEYS: &str = "PRAGMA foreign_keys";
/// SQLite: foreign key enforcement off (outside a transaction only).
#[cfg_attr(not(feature = "sqlx-sqlite"), allow(dead_code))]
pub(crate) const FOREIGN_KEYS_OFF: &str = "PRAGMA foreign_keys = OFF";
/// SQLite: foreign key enforcement on again.
#[cfg_attr(not(feature = "sqlx-sqlite"), allow(dead_code))]
pub(crate) const FOREIGN_KEYS_ON: &str = "PRAGMA foreign_keys = ON";

/// SQLite: the connection's busy timeout in milliseconds, read.
#[cfg_attr(not(feature = "sqlx-sqlite"), allow(dead_code))]
pub(crate) const BUSY_TIMEOUT: &str = "PRAGMA busy_timeout";

/// SQLite: the connection's busy timeout set to `millis`.
#[cfg_attr(not(feature = "sqlx-sqlite"), allow(dead_code))]
pub(crate) fn set_busy_timeout(millis: i64) -> String {
    format!("PRAGMA busy_timeout = {millis}")
}

/// SQLite: the attached databases and their files.
#[cfg_attr(not(feature = "sqlx-sqlite"), allow(dead_code))]
pub(crate) const DATABASE_LIST: &str = "PRAGMA database_list";

/// SQLite: a consistent copy of the database into a new (or empty) file: ?1.
#[cfg_attr(not(feature = "sqlx-sqlite"), allow(dead_code))]
pub(crate) const VACUUM_INTO: &str = "VACUUM INTO ?1";

/// The statements about one history table in one dialect. Placeholders are
/// the dialect's own; `?1`, `?2`… below, in the order they are bound.
#[derive(Debug, Clone)]
#[doc(hidden)]
#[cfg_attr(
    not(any(
        feature = "sqlx-sqlite",
        feature = "sqlx-postgres",
        feature = "sqlx-mysql"
    )),
    allow(dead_code)
)]
pub struct HistorySql {
    /// The dialect.
    pub dialect: Dialect,
    /// The quoted table name.
    pub table: String,
    /// The table's own name, unquoted and without its schema.
    pub bare: String,
    /// Creates the schema of a schema-qualified table when missing, if the
    /// dialect has schemas.
    pub create_schema: Option<String>,
    /// Creates the table when missing.
    pub create: String,
    /// Reads every row (down scripts as a 0/1 flag only), in the table's
    /// order (`Table::rows` sorts them).
    pub read: String,
    /// A start's fast path through rusqlite: what tells that nothing is
    /// pending (version, checksum, success) in the table's own order, each
    /// row compared where it lies. (Cheaper there than `digest`: SQLite's
    /// aggregate functions cost more per row than reading three columns.)
    pub digest_rows: String,
    /// A start's fast path through sqlx, where every row crosses from a
    /// worker thread: the same as one text value the database aggregates
    /// (SQLite, PostgreSQL), read by `sqlx::digest_up_to_date`: `{count}
    /// {all clean: 1 or 0}|{versions}|{checksums}`, the lists
    /// space-separated in one same row order.
    pub digest: Option<String>,
    /// Records an applied step: version, name, checksum, down_sql,
    /// applied_at, execution_ms, success.
    pub insert: String,
    /// Forgets a reverted step: version.
    pub delete: String,
    /// Sets a step's `success` and `execution_ms`: success, execution_ms, version.
    pub mark: String,
    /// Reads one step's recorded down script: version.
    pub down_sql: String,
    /// `stamp`: a dirty row is clean, with this build's checksum: checksum, version.
    pub mark_clean: String,
    /// Counts the tables with the history table's name (0 or 1): the
    /// unquoted table name.
    pub exists: String,
    /// Lists the history table's columns: the unquoted table name.
    pub columns: String,
    /// Opens a step's transaction (SQLite's takes the write lock).
    pub begin: &'static str,
    /// Commits a step's transaction.
    pub commit: &'static str,
    /// Rolls back a transaction a failure left open.
    pub rollback: &'static str,
    /// The summary beside the table (`summary`).
    pub summary: summary::SummarySql,
}

impl HistorySql {
    /// SQLite: `?N` placeholders, double-quoted names, TEXT timestamps.
    #[cfg_attr(not(feature = "rusqlite"), allow(dead_code))]
    pub(crate) fn sqlite(name: &TableName) -> Self {
        Self::new(Dialect::Sqlite, name)
    }

    /// The statements for `dialect`.
    pub(crate) fn new(dialect: Dialect, name: &TableName) -> Self {
        let table = name.quoted(dialect.quote());
        let (text, long_text) = match dialect {
            Dialect::MySql => ("VARCHAR(255)", "LONGTEXT"),
            Dialect::Sqlite | Dialect::Postgres => ("TEXT", "TEXT"),
        };
        let schema_literal = |default: &str| {
            name.schema()
                .map_or_else(|| default.to_owned(), |schema| format!("'{schema}'"))
        };
        let (exists, columns) = match dialect {
            Dialect::Sqlite => {
                let prefix = name
                    .schema()
                    .map_or_else(String::new, |schema| format!("\"{schema}\"."));
                let schema = name
                    .schema()
                    .map_or_else(String::new, |schema| format!(", '{schema}'"));
                (
                    format!(
                        "SELECT count(*) FROM {prefix}sqlite_master WHERE type = 'table' AND name = ?1"
                    ),
                    format!("SELECT name FROM pragma_table_info(?1{schema})"),
                )
            }
            Dialect::Postgres | Dialect::MySql => {
                let schema = schema_literal(if dialect == Dialect::Postgres {
                    "current_schema()"
                } else {
                    "DATABASE()"
                });
                (
                    format!(
                        "SELECT count(*) FROM information_schema.tables WHERE table_schema = {schema} AND table_name = ?1"
                    ),
                    format!(
                        "SELECT CAST(column_name AS {}) FROM information_schema.columns WHERE table_schema = {schema} AND table_name = ?1",
                        if dialect == Dialect::Postgres {
                            "TEXT"
                        } else {
                            "CHAR"
                        }
                    ),
                )
            }
        };
        let native = |statement: String| dialect.placeholders(statement);
        HistorySql {
            dialect,
            create_schema: match (dialect, name.schema()) {
                (Dialect::Postgres, Some(schema)) => {
                    Some(format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
                }
                _ => None,
            },
            create: format!(
                "CREATE TABLE IF NOT EXISTS {table} (\
                 version BIGINT PRIMARY KEY, name {text} NOT NULL, checksum {text} NOT NULL, down_sql {long_text} NULL, \
                 applied_at {text} NOT NULL, execution_ms BIGINT NOT NULL, success BOOLEAN NOT NULL){}",
                // SQLite: the rows kept in the primary key's own B-tree.
                // `BIGINT PRIMARY KEY` is not the rowid, so a rowid table
                // would also keep an index of `version`: two pages written
                // (and journaled) per history row instead of one.
                if dialect == Dialect::Sqlite {
                    " WITHOUT ROWID"
                } else {
                    ""
                }
            ),
            read: format!(
                "SELECT version, name, checksum, applied_at, execution_ms, success, down_sql IS NOT NULL \
                 FROM {table}"
            ),
            digest_rows: format!("SELECT version, checksum, success FROM {table}"),
            digest: match dialect {
                // One scan feeds every aggregate the same row at a time, so
                // the two lists are in one order.
                Dialect::Sqlite => Some(format!(
                    "SELECT count(*) || ' ' || coalesce(min(success), 1) || '|' || \
                     coalesce(group_concat(version, ' '), '') || '|' || \
                     coalesce(group_concat(checksum, ' '), '') FROM {table}"
                )),
                Dialect::Postgres => Some(format!(
                    "SELECT count(*)::text || ' ' || \
                     (CASE WHEN coalesce(bool_and(success), TRUE) THEN '1' ELSE '0' END) || '|' || \
                     coalesce(string_agg(version::text, ' ' ORDER BY version), '') || '|' || \
                     coalesce(string_agg(checksum, ' ' ORDER BY version), '') FROM {table}"
                )),
                // GROUP_CONCAT stops at `group_concat_max_len` (1,024 bytes
                // by default): rows, as the full read does.
                Dialect::MySql => None,
            },
            insert: native(format!(
                "INSERT INTO {table} ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
            )),
            delete: native(format!("DELETE FROM {table} WHERE version = ?1")),
            mark: native(format!(
                "UPDATE {table} SET success = ?1, execution_ms = ?2 WHERE version = ?3"
            )),
            down_sql: native(format!("SELECT down_sql FROM {table} WHERE version = ?1")),
            mark_clean: native(format!(
                "UPDATE {table} SET success = TRUE, checksum = ?1 WHERE version = ?2"
            )),
            exists: native(exists),
            columns: native(columns),
            begin: match dialect {
                Dialect::Sqlite => "BEGIN IMMEDIATE",
                Dialect::Postgres | Dialect::MySql => "BEGIN",
            },
            commit: "COMMIT",
            rollback: "ROLLBACK",
            summary: summary::SummarySql::new(dialect, name),
            bare: name.table().to_owned(),
            table,
        }
    }
}

impl HistorySql {
    /// Reads every row of a table in an older format (`columns`) as it is,
    /// with the defaults that upgrading it in place would give the columns
    /// it lacks: the read-only views never change the table.
    pub(crate) fn read_outdated(&self, columns: &[String]) -> String {
        let has = |name: &str| columns.iter().any(|c| c.eq_ignore_ascii_case(name));
        let (yes, no, zero) = match self.dialect {
            Dialect::Sqlite => ("1", "0", "0"),
            Dialect::Postgres => ("TRUE", "FALSE", "CAST(0 AS BIGINT)"),
            Dialect::MySql => ("TRUE", "FALSE", "CAST(0 AS SIGNED)"),
        };
        let execution_ms = if has("execution_ms") {
            "execution_ms"
        } else {
            zero
        };
        let success = if has("success") { "success" } else { yes };
        let down = if has("down_sql") {
            "down_sql IS NOT NULL"
        } else {
            no
        };
        format!(
            "SELECT version, name, checksum, applied_at, {execution_ms}, {success}, {down} FROM {}",
            self.table
        )
    }

    /// Adds a column to an older format of the table: one of
    /// [`added_columns`]' definitions.
    pub(crate) fn add_column(&self, definition: &str) -> String {
        format!("ALTER TABLE {} ADD COLUMN {definition}", self.table)
    }
}

/// A value for a statement's placeholder: bound by a driver, or written
/// into the statement as a literal ([`with_literals`]) for SQL that is
/// printed (`migrate upgrade --sql`) or sent without a prepared statement
/// (PostgreSQL). Internal.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Literal<'v> {
    /// An integer.
    Integer(i64),
    /// Text.
    Text(&'v str),
    /// `NULL`.
    Null,
    /// `TRUE` or `FALSE`.
    Boolean(bool),
}

impl Literal<'_> {
    /// The value as a literal of `dialect`. A string's `'` is doubled;
    /// MySQL and MariaDB read `\` in a string as an escape (unless the
    /// server runs with `NO_BACKSLASH_ESCAPES`), so there each backslash
    /// is doubled; PostgreSQL reads it as an escape only where
    /// `standard_conforming_strings` is off, so a string with one is
    /// written `E'…'` with it doubled, which reads the same either way.
    fn write_to(&self, dialect: Dialect, out: &mut String) {
        use std::fmt::Write as _;
        match *self {
            Literal::Integer(value) => {
                let _ = write!(out, "{value}");
            }
            Literal::Text(text) => {
                let backslash = text.contains('\\');
                if backslash && dialect == Dialect::Postgres {
                    out.push('E');
                }
                out.push('\'');
                for c in text.chars() {
                    match c {
                        '\'' => out.push_str("''"),
                        '\\' if dialect != Dialect::Sqlite => out.push_str("\\\\"),
                        c => out.push(c),
                    }
                }
                out.push('\'');
            }
            Literal::Null => out.push_str("NULL"),
            Literal::Boolean(value) => out.push_str(if value { "TRUE" } else { "FALSE" }),
        }
    }
}

/// One of the statements above with its placeholders (`?N`, `$N`, or
/// MySQL's positional `?`) replaced by the values as literals of
/// `dialect`. The statements hold no `?` or `$` but their placeholders
/// (table names are validated identifiers), so the replacement is exact.
pub(crate) fn with_literals(dialect: Dialect, statement: &str, values: &[Literal<'_>]) -> String {
    let mut out = String::with_capacity(statement.len() + 64);
    let mut rest = statement;
    let mut position = 0;
    while let Some(at) = rest.find(['?', '$']) {
        out.push_str(&rest[..at]);
        let digits = rest[at + 1..]
            .bytes()
            .take_while(u8::is_ascii_digit)
            .count();
        position += 1;
        let index: usize = if digits == 0 {
            position
        } else {
            rest[at + 1..at + 1 + digits].parse().unwrap_or(0)
        };
        match index.checked_sub(1).and_then(|i| values.get(i)) {
            Some(value) => value.write_to(dialect, &mut out),
            None => out.push_str(&rest[at..at + 1 + digits]),
        }
        rest = &rest[at + 1 + digits..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_replace_placeholders_and_quote_strings() {
        let sql = HistorySql::sqlite(&TableName::new("app.h").unwrap());
        assert_eq!(
            with_literals(
                Dialect::Sqlite,
                &sql.insert,
                &[
                    Literal::Integer(12),
                    Literal::Text("it's"),
                    Literal::Text("abc"),
                    Literal::Null,
                    Literal::Text("2026-01-01T00:00:00.000000Z"),
                    Literal::Integer(0),
                    Literal::Boolean(true),
                ]
            ),
            "INSERT INTO \"app\".\"h\" (version, name, checksum, down_sql, applied_at, execution_ms, success) \
             VALUES (12, 'it''s', 'abc', NULL, '2026-01-01T00:00:00.000000Z', 0, TRUE)"
        );
        assert_eq!(
            with_literals(
                Dialect::Sqlite,
                &sql.mark,
                &[
                    Literal::Boolean(false),
                    Literal::Integer(7),
                    Literal::Integer(3)
                ]
            ),
            "UPDATE \"app\".\"h\" SET success = FALSE, execution_ms = 7 WHERE version = 3"
        );
        assert_eq!(
            sql.exists,
            "SELECT count(*) FROM \"app\".sqlite_master WHERE type = 'table' AND name = ?1"
        );
        // A placeholder without a value is left as it is.
        assert_eq!(
            with_literals(Dialect::Sqlite, "a ?2 ?3", &[Literal::Integer(1)]),
            "a ?2 ?3"
        );
        let mysql = HistorySql::new(Dialect::MySql, &TableName::new("h").unwrap());
        assert_eq!(
            mysql.mark,
            "UPDATE `h` SET success = ?, execution_ms = ?, WHERE version = ?"
                .replace(", WHERE", " WHERE")
        );
        assert_eq!(
            with_literals(
                Dialect::MySql,
                &mysql.mark,
                &[
                    Literal::Boolean(true),
                    Literal::Integer(5),
                    Literal::Integer(2)
                ]
            ),
            "UPDATE `h` SET success = TRUE, execution_ms = 5 WHERE version = 2"
        );
        let postgres = HistorySql::new(Dialect::Postgres, &TableName::new("app.h").unwrap());
        assert_eq!(
            postgres.delete,
            "DELETE FROM \"app\".\"h\" WHERE version = $1"
        );
        assert_eq!(
            with_literals(Dialect::Postgres, &postgres.delete, &[Literal::Integer(4)]),
            "DELETE FROM \"app\".\"h\" WHERE version = 4"
        );
        assert_eq!(
            postgres.create_schema.as_deref(),
            Some("CREATE SCHEMA IF NOT EXISTS \"app\"")
        );
    }

    #[test]
    fn a_string_reads_back_as_it_was_in_every_dialect() {
        let text = [Literal::Text(r"it's a \n")];
        assert_eq!(with_literals(Dialect::Sqlite, "?1", &text), r"'it''s a \n'");
        assert_eq!(with_literals(Dialect::MySql, "?", &text), r"'it''s a \\n'");
        // `E'…'` reads `\\` as one backslash whatever
        // standard_conforming_strings says; a string without one is plain.
        assert_eq!(
            with_literals(Dialect::Postgres, "$1", &text),
            r"E'it''s a \\n'"
        );
        assert_eq!(
            with_literals(Dialect::Postgres, "$1", &[Literal::Text("it's")]),
            "'it''s'"
        );
    }
}
