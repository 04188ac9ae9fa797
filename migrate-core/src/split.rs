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

/// Why `script` cannot run inside the transaction a step runs in, if it
/// cannot: a statement that ends (or opens) that transaction (`COMMIT`,
/// `END`, `ROLLBACK` but not `ROLLBACK TO` a savepoint, `ABORT`, `BEGIN`,
/// `START TRANSACTION`, `PREPARE TRANSACTION`), or on SQLite a `PRAGMA`
/// that cannot take effect in one. `None` on MySQL (its steps run outside
/// a transaction: DDL commits implicitly), and where the split cannot be
/// trusted to find statements: a PostgreSQL function body written `BEGIN
/// ATOMIC … END`.
pub(crate) fn refusal(dialect: Dialect, script: &str) -> Option<Refusal> {
    match dialect {
        Dialect::Sqlite => sqlite_refusal(script),
        Dialect::Postgres if transaction_control_visible(dialect, script) => statements(script)
            .into_iter()
            .find(|statement| ends_transaction(&Words::of(statement)))
            .map(|statement| Refusal::EndsTransaction(bare(statement))),
        Dialect::Postgres | Dialect::MySql => None,
    }
}

/// Whether a statement that begins with `words` ends (or opens) the
/// transaction it runs in.
fn ends_transaction(words: &Words<'_>) -> bool {
    if words.is(0, "rollback") {
        !(words.is(1, "to") || (words.is(1, "work") && words.is(2, "to")))
    } else if words.is(0, "start") || words.is(0, "prepare") {
        words.is(1, "transaction")
    } else {
        ["commit", "end", "rollback", "abort", "begin"]
            .iter()
            .any(|word| words.is(0, word))
    }
}

/// A statement as an error message quotes it: trimmed, without its `;`.
fn bare(statement: &str) -> String {
    statement.trim().trim_end_matches(';').trim().to_owned()
}

/// Whether [`refusal`] can see every statement of `script`:
/// not in a PostgreSQL function body written `BEGIN ATOMIC … END`, whose
/// `BEGIN` and `END` the split does not pair. Where it cannot, the runner
/// asks the database after the script whether its transaction is still
/// open.
pub(crate) fn transaction_control_visible(dialect: Dialect, script: &str) -> bool {
    !(dialect == Dialect::Postgres && mentions(script, "atomic"))
}

/// Whether `script` holds `word` (lower case ASCII) in any case, anywhere:
/// in a comment or a string too, and inside a longer word.
pub(crate) fn mentions(script: &str, word: &str) -> bool {
    let word = word.as_bytes();
    script
        .as_bytes()
        .windows(word.len())
        .any(|here| here[0] | 0x20 == word[0] && here.eq_ignore_ascii_case(word))
}

/// Why a script cannot run inside the transaction a step runs in (see
/// [`refusal`]).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// A statement that ends (or opens) the transaction.
    EndsTransaction(String),
    /// SQLite: a `PRAGMA` that cannot take effect inside a transaction,
    /// and what to do instead.
    Pragma(String, &'static str),
}

/// [`refusal`] on SQLite, in one pass over the script's statements: the
/// first statement that ends the transaction, or else the first `PRAGMA`
/// that cannot take effect in it.
fn sqlite_refusal(script: &str) -> Option<Refusal> {
    let mut pragma = None;
    for range in sqlite::statements(script) {
        let statement = &script[range];
        let words = Words::of(statement);
        if ends_transaction(&words) {
            return Some(Refusal::EndsTransaction(bare(statement)));
        }
        // `foreign_keys` is not among them: migrate runs each step with
        // enforcement off already (what such a line intends), and real sets
        // (authelia's) carry it around their table rebuilds.
        if pragma.is_none()
            && pragma_named(statement, &words)
                .is_some_and(|n| n.eq_ignore_ascii_case("journal_mode"))
        {
            pragma = Some(Refusal::Pragma(bare(statement), JOURNAL_MODE_ADVICE));
        }
    }
    pragma
}

/// What to do about a `PRAGMA journal_mode` in a transaction.
pub(crate) const JOURNAL_MODE_ADVICE: &str = "set the journal mode on the connection instead, or add `-- migrate:no-transaction` as its first line to run it outside a transaction";

/// The name (lower case) of the `PRAGMA` a SQLite statement sets, if it
/// sets one: reading one is harmless.
#[cfg(feature = "lint")]
pub(crate) fn pragma_set(statement: &str) -> Option<String> {
    pragma_named(statement, &Words::of(statement)).map(str::to_ascii_lowercase)
}

/// [`pragma_set`], as written, given the statement's [`Words`].
fn pragma_named<'s>(statement: &str, words: &Words<'s>) -> Option<&'s str> {
    // `PRAGMA main.journal_mode = …` reads as `pragma`, `main`, `journal_mode`.
    if !words.is(0, "pragma") {
        return None;
    }
    let name = if words.len == 3 && (words.is(1, "main") || words.is(1, "temp")) {
        words.all[2]
    } else {
        words.all[1]
    };
    (!name.is_empty() && (statement.contains('=') || statement.contains('('))).then_some(name)
}

/// The first three words of a statement, lower case, past comments.
#[cfg(feature = "lint")]
pub(crate) fn first_words(statement: &str) -> Vec<String> {
    let words = Words::of(statement);
    words.all[..words.len]
        .iter()
        .map(|word| word.to_ascii_lowercase())
        .collect()
}

/// The first (up to) three words of a statement as written, past comments.
pub(crate) struct Words<'s> {
    all: [&'s str; 3],
    len: usize,
}

impl<'s> Words<'s> {
    fn of(statement: &'s str) -> Self {
        let mut words = Words {
            all: [""; 3],
            len: 0,
        };
        let mut rest = statement;
        while words.len < 3 {
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
                words.all[words.len] = &rest[..len];
                words.len += 1;
                rest = &rest[len..];
                // `main.journal_mode`: two words.
                rest = rest.strip_prefix('.').unwrap_or(rest);
            }
        }
        words
    }

    /// Whether word `at` is `word` (lower case), in any case.
    fn is(&self, at: usize, word: &str) -> bool {
        at < self.len && self.all[at].eq_ignore_ascii_case(word)
    }
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
