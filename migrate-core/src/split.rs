//! Splits a script into statements for the one case that needs it:
//! PostgreSQL runs a multi-statement simple query inside an implicit
//! transaction, so a `-- migrate:no-transaction` script (for `CREATE INDEX
//! CONCURRENTLY`) must be sent one statement at a time.
//!
//! A `;` splits only outside quotes and comments: `'…'` (with `''`),
//! `E'…'` (with backslash escapes), `"…"`, `$tag$…$tag$`, `-- …` and nested
//! `/* … */`, and outside parentheses (a `CREATE RULE`'s list of actions),
//! as psql does. Statements that hold only comments and white space are
//! dropped. (A `BEGIN ATOMIC … END` function body is not understood; such a
//! script runs in a transaction anyway.) The sqlx runner also uses it to
//! show which statement of a failed script the server stopped at.
//!
//! The other dialects' splits live beside it.

#[cfg(any(feature = "sqlx-mysql", feature = "lint"))]
pub(crate) mod mysql;
pub(crate) mod sqlite;

use crate::dialect::Dialect;

/// The first statement of `script` that ends (or opens) the transaction a
/// step runs in: `COMMIT`, `END`, `ROLLBACK` (but not `ROLLBACK TO` a
/// savepoint), `ABORT`, `BEGIN`, `START TRANSACTION`, `PREPARE
/// TRANSACTION`. `None` where the
/// split cannot be trusted to find statements: a PostgreSQL function body
/// written `BEGIN ATOMIC … END`.
pub(crate) fn transaction_control(dialect: Dialect, script: &str) -> Option<String> {
    let statements: Vec<&str> = match dialect {
        Dialect::Sqlite => sqlite::statements(script)
            .into_iter()
            .map(|range| &script[range])
            .collect(),
        Dialect::Postgres => {
            if !transaction_control_visible(dialect, script) {
                return None;
            }
            statements(script)
        }
        // Its steps run outside a transaction (DDL commits implicitly).
        Dialect::MySql => return None,
    };
    statements
        .into_iter()
        .find(|statement| {
            let words = first_words(statement);
            match words.as_slice() {
                [first, second, ..] if first == "rollback" => {
                    second != "to" && !(second == "work" && words.get(2).is_some_and(|w| w == "to"))
                }
                [first, second, ..] if first == "start" || first == "prepare" => {
                    second == "transaction"
                }
                [first, ..] => {
                    ["commit", "end", "rollback", "abort", "begin"].contains(&first.as_str())
                }
                [] => false,
            }
        })
        .map(|statement| statement.trim().trim_end_matches(';').trim().to_owned())
}

/// Whether [`transaction_control`] can see every statement of `script`:
/// not in a PostgreSQL function body written `BEGIN ATOMIC … END`, whose
/// `BEGIN` and `END` the split does not pair. Where it cannot, the runner
/// asks the database after the script whether its transaction is still
/// open.
pub(crate) fn transaction_control_visible(dialect: Dialect, script: &str) -> bool {
    !(dialect == Dialect::Postgres && script.to_ascii_lowercase().contains("atomic"))
}

/// The first statement of a SQLite script that sets a `PRAGMA` which
/// cannot take effect inside a transaction, and what to do instead.
pub(crate) fn sqlite_pragma_in_transaction(script: &str) -> Option<(String, &'static str)> {
    sqlite::statements(script).into_iter().find_map(|range| {
        let statement = &script[range];
        // `foreign_keys` is not among them: migrate runs each step with
        // enforcement off already (what such a line intends), and real sets
        // (authelia's) carry it around their table rebuilds.
        let advice = match pragma_set(statement)?.as_str() {
            "journal_mode" => JOURNAL_MODE_ADVICE,
            _ => return None,
        };
        Some((
            statement.trim().trim_end_matches(';').trim().to_owned(),
            advice,
        ))
    })
}

/// What to do about a `PRAGMA journal_mode` in a transaction.
pub(crate) const JOURNAL_MODE_ADVICE: &str = "set the journal mode on the connection instead, or add `-- migrate:no-transaction` as its first line to run it outside a transaction";

/// The name (lower case) of the `PRAGMA` a SQLite statement sets, if it
/// sets one: reading one is harmless.
pub(crate) fn pragma_set(statement: &str) -> Option<String> {
    let words = first_words(statement);
    // `PRAGMA main.journal_mode = …` reads as `pragma`, `main`, `journal_mode`.
    let name = match words.as_slice() {
        [pragma, schema, name] if pragma == "pragma" && (schema == "main" || schema == "temp") => {
            name
        }
        [pragma, name, ..] if pragma == "pragma" => name,
        _ => return None,
    };
    (statement.contains('=') || statement.contains('(')).then(|| name.clone())
}

/// The first three words of a statement, lower case, past comments.
pub(crate) fn first_words(statement: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut rest = statement;
    while words.len() < 3 {
        rest = rest.trim_start();
        if let Some(comment) = rest.strip_prefix("--") {
            rest = comment.split_once('\n').map_or("", |(_, after)| after);
        } else if let Some(comment) = rest.strip_prefix("/*") {
            rest = comment.split_once("*/").map_or("", |(_, after)| after);
        } else {
            let len = rest
                .bytes()
                .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
                .count();
            if len == 0 {
                break;
            }
            words.push(rest[..len].to_ascii_lowercase());
            rest = &rest[len..];
            // `main.journal_mode`: two words.
            rest = rest.strip_prefix('.').unwrap_or(rest);
        }
    }
    words
}

/// The statements of `script`, each without its `;`, trimmed.
pub(crate) fn statements(script: &str) -> Vec<&str> {
    let bytes = script.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut at = 0;
    let mut has_code = false;
    let mut parens = 0_usize;
    while at < bytes.len() {
        let here = bytes[at];
        let next = bytes.get(at + 1).copied();
        match here {
            b'-' if next == Some(b'-') => {
                at = script[at..].find('\n').map_or(bytes.len(), |n| at + n + 1);
                continue;
            }
            b'/' if next == Some(b'*') => {
                at = block_comment_end(bytes, at);
                continue;
            }
            b'\'' => {
                let escapes = at > 0
                    && matches!(bytes[at - 1], b'E' | b'e')
                    && !is_word(bytes.get(at.wrapping_sub(2)).copied());
                at = quoted_end(bytes, at, b'\'', escapes);
            }
            b'"' => at = quoted_end(bytes, at, b'"', false),
            b'$' => match dollar_tag(script, at) {
                Some(tag) => {
                    let body = at + tag.len();
                    at = script[body..]
                        .find(tag)
                        .map_or(bytes.len(), |n| body + n + tag.len());
                }
                None => at += 1,
            },
            b'(' => {
                parens += 1;
                at += 1;
            }
            b')' => {
                parens = parens.saturating_sub(1);
                at += 1;
            }
            b';' if parens == 0 => {
                if has_code {
                    out.push(script[start..at].trim());
                }
                at += 1;
                start = at;
                has_code = false;
                continue;
            }
            _ => at += 1,
        }
        if !here.is_ascii_whitespace() {
            has_code = true;
        }
    }
    if has_code {
        out.push(script[start..].trim());
    }
    out
}

fn is_word(byte: Option<u8>) -> bool {
    byte.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Just past the closing quote (or the end of the text).
fn quoted_end(bytes: &[u8], open: usize, quote: u8, backslash_escapes: bool) -> usize {
    let mut at = open + 1;
    while at < bytes.len() {
        match bytes[at] {
            b'\\' if backslash_escapes => at += 2,
            b if b == quote => {
                if bytes.get(at + 1) == Some(&quote) {
                    at += 2;
                } else {
                    return at + 1;
                }
            }
            _ => at += 1,
        }
    }
    bytes.len()
}

/// Just past a nested `/* … */` comment (or the end of the text).
fn block_comment_end(bytes: &[u8], open: usize) -> usize {
    let mut depth = 0;
    let mut at = open;
    while at < bytes.len() {
        match (bytes[at], bytes.get(at + 1)) {
            (b'/', Some(b'*')) => {
                depth += 1;
                at += 2;
            }
            (b'*', Some(b'/')) => {
                depth -= 1;
                at += 2;
                if depth == 0 {
                    return at;
                }
            }
            _ => at += 1,
        }
    }
    bytes.len()
}

/// `$tag$` starting at `at`, if it is one (a `$1` parameter is not; nor is
/// a `$` inside an identifier such as `a$b`).
fn dollar_tag(script: &str, at: usize) -> Option<&str> {
    let bytes = script.as_bytes();
    if at > 0 && is_word(Some(bytes[at - 1])) {
        return None;
    }
    let rest = &script[at + 1..];
    let tag_len = rest
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
        .count();
    if rest.as_bytes().first().is_some_and(u8::is_ascii_digit)
        || rest.as_bytes().get(tag_len) != Some(&b'$')
    {
        return None;
    }
    Some(&script[at..at + tag_len + 2])
}

#[cfg(test)]
mod tests {
    use super::statements;
    use proptest::prelude::*;

    #[test]
    fn splits_only_outside_quotes_and_comments() {
        let script = "-- migrate:no-transaction\n\
            CREATE INDEX CONCURRENTLY i ON t (c);\n\
            INSERT INTO t VALUES ('a;b', 'it''s;', E'back\\';slash');\n\
            CREATE FUNCTION f() RETURNS trigger AS $body$ BEGIN x := 1; RETURN NEW; END $body$ LANGUAGE plpgsql;\n\
            SELECT $$;$$, \"we;ird\"\"name\", $1;\n\
            CREATE RULE r AS ON INSERT TO t DO ALSO (NOTIFY a; NOTIFY b);\n\
            /* a ; /* nested ; */ still ; */ SELECT 2;\n\
            -- only a comment;\n\
            ;;\n\
            SELECT a$b FROM t";
        assert_eq!(
            statements(script),
            [
                "-- migrate:no-transaction\nCREATE INDEX CONCURRENTLY i ON t (c)",
                "INSERT INTO t VALUES ('a;b', 'it''s;', E'back\\';slash')",
                "CREATE FUNCTION f() RETURNS trigger AS $body$ BEGIN x := 1; RETURN NEW; END $body$ LANGUAGE plpgsql",
                "SELECT $$;$$, \"we;ird\"\"name\", $1",
                "CREATE RULE r AS ON INSERT TO t DO ALSO (NOTIFY a; NOTIFY b)",
                "/* a ; /* nested ; */ still ; */ SELECT 2",
                "SELECT a$b FROM t",
            ]
        );
        assert!(statements("-- nothing\n  \n/* at all */").is_empty());
    }

    /// A piece of a statement that may hide a `;`.
    fn piece() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z_]{1,8}",
            "[a-z ;,]{0,10}".prop_map(|s| format!("'{}'", s.replace('\'', "''"))),
            "[a-z ;']{0,10}".prop_map(|s| format!("'{}'", s.replace('\'', "''"))),
            "[a-z ;\"]{0,10}".prop_map(|s| format!("\"{}\"", s.replace('"', "\"\""))),
            "[a-z ;'$]{0,10}".prop_map(|s| format!("$fn${}$fn$", s.replace('$', ""))),
            "[a-z ;']{0,10}".prop_map(|s| format!("$${}$$", s.replace('$', ""))),
            "[a-z ;'\"]{0,10}".prop_map(|s| format!("/* {} */", s)),
            "[a-z ;'\"]{0,10}".prop_map(|s| format!("-- {}\n", s)),
        ]
    }

    fn statement() -> impl Strategy<Value = String> {
        ("[A-Z]{1,6}", proptest::collection::vec(piece(), 0..6))
            .prop_map(|(head, pieces)| format!("{head} {}", pieces.join(" ")))
    }

    proptest! {
        #[test]
        fn joined_statements_split_back(list in proptest::collection::vec(statement(), 0..6)) {
            let script = list.iter().map(|s| format!("{s};\n")).collect::<String>();
            let expected: Vec<&str> = list.iter().map(|s| s.trim()).collect();
            prop_assert_eq!(statements(&script), expected);
        }
    }
}
