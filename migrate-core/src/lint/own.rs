//! Our own rules, one for SQLite and one for MySQL/MariaDB, on the
//! statement splitters the runner uses.

use super::{Found, Rule};
use crate::Dialect;
use crate::split;

pub(super) const PRAGMA_IN_TRANSACTION: Rule = Rule {
    name: "pragma-in-transaction",
    dialect: Dialect::Sqlite,
    summary: "a PRAGMA that cannot take effect inside the step's transaction: journal_mode, synchronous, \
              and foreign_keys where the runner does not suspend foreign keys itself",
};

pub(super) const MIXED_DDL_AND_DML: Rule = Rule {
    name: "mixed-ddl-and-dml",
    dialect: Dialect::MySql,
    summary: "DDL and data changes in one step, which cannot be rolled back together",
};

/// SQLite: each `PRAGMA` of a transactional step that cannot take effect
/// there. `suspends_foreign_keys`: the runner turns foreign keys off for
/// each step itself, so `PRAGMA foreign_keys` changes nothing that matters.
pub(super) fn sqlite(sql: &str, no_transaction: bool, suspends_foreign_keys: bool) -> Vec<Found> {
    if no_transaction {
        return Vec::new();
    }
    split::sqlite::statements(sql)
        .into_iter()
        .filter_map(|range| {
            let name = split::pragma_set(&sql[range.clone()])?;
            let (message, hint) = match name.as_str() {
                "journal_mode" => (
                    "`PRAGMA journal_mode` cannot change the journal mode inside the step's transaction",
                    split::JOURNAL_MODE_ADVICE,
                ),
                "synchronous" => (
                    "`PRAGMA synchronous` fails inside the step's transaction (\"Safety level may not be changed inside a transaction\")",
                    "set it on the connection instead, or start the script with `-- migrate:no-transaction`",
                ),
                "foreign_keys" if !suspends_foreign_keys => (
                    "`PRAGMA foreign_keys` does nothing inside the step's transaction, so foreign keys stay as the connection has them",
                    "let the runner suspend foreign keys for each step (`Options::suspend_foreign_keys(true)`, the default), or start the script with `-- migrate:no-transaction`",
                ),
                _ => return None,
            };
            Some(Found {
                at: code_start(sql, range.start),
                rule: PRAGMA_IN_TRANSACTION.name,
                message: message.to_owned(),
                hint: hint.to_owned(),
            })
        })
        .collect()
}

/// MySQL/MariaDB: a step that changes data and also runs DDL, which
/// commits implicitly, found at its first data change.
pub(super) fn mysql(sql: &str) -> Vec<Found> {
    let statements = split::mysql::statements(sql).statements;
    let kinds: Vec<(usize, Kind)> = statements
        .into_iter()
        .map(|range| (range.start, kind(&sql[range])))
        .collect();
    let Some(ddl) = kinds.iter().find(|(_, kind)| *kind == Kind::Ddl) else {
        return Vec::new();
    };
    let Some(dml) = kinds.iter().find(|(_, kind)| *kind == Kind::Dml) else {
        return Vec::new();
    };
    let ddl_line = sql[..ddl.0].matches('\n').count() + 1;
    vec![Found {
        at: dml.0,
        rule: MIXED_DDL_AND_DML.name,
        message: format!(
            "this step changes data and also runs DDL (line {ddl_line}); MySQL commits each DDL statement implicitly, so a failure leaves part of the step applied"
        ),
        hint: "put the data change and the DDL in migrations of their own".to_owned(),
    }]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Commits implicitly.
    Ddl,
    /// Changes rows.
    Dml,
    Other,
}

fn kind(statement: &str) -> Kind {
    let words = split::first_words(statement);
    match words.first().map(String::as_str) {
        Some("create") if words.get(1).is_some_and(|word| word == "temporary") => Kind::Other,
        Some("create" | "alter" | "drop" | "rename" | "truncate") => Kind::Ddl,
        Some("insert" | "update" | "delete" | "replace") => Kind::Dml,
        _ => Kind::Other,
    }
}

/// Where the code of a statement starting at `from` starts, past white
/// space and comments.
fn code_start(sql: &str, mut from: usize) -> usize {
    let bytes = sql.as_bytes();
    while from < bytes.len() {
        from = match (bytes[from], bytes.get(from + 1)) {
            (byte, _) if byte.is_ascii_whitespace() => from + 1,
            (b'-', Some(b'-')) => sql[from..].find('\n').map_or(bytes.len(), |n| from + n + 1),
            (b'/', Some(b'*')) => sql[from + 2..]
                .find("*/")
                .map_or(bytes.len(), |n| from + n + 4),
            _ => return from,
        };
    }
    from
}
