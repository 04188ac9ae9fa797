//! What is read from a script's text: its checksum, its directives, and
//! whether it holds any SQL at all.

use sha2::{Digest, Sha256};

const BOM: &str = "\u{feff}";

/// The script text as it is executed: a leading UTF-8 byte-order mark dropped.
///
/// # Examples
///
/// ```
/// assert_eq!(migrate_files::strip_bom("\u{feff}SELECT 1;"), "SELECT 1;");
/// ```
pub fn strip_bom(text: &str) -> &str {
    text.strip_prefix(BOM).unwrap_or(text)
}

/// SHA-256 in lowercase hex of a script's bytes, after a leading UTF-8 BOM is
/// dropped and every `\r\n` is turned into `\n`, so that a Windows checkout
/// or an editor's whim does not change it.
///
/// # Examples
///
/// ```
/// let unix = migrate_files::checksum(b"CREATE TABLE t (id INT);\n");
/// let windows = migrate_files::checksum(b"\xEF\xBB\xBFCREATE TABLE t (id INT);\r\n");
/// assert_eq!(unix, windows);
/// assert_eq!(migrate_files::checksum(b""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
/// ```
pub fn checksum(bytes: &[u8]) -> String {
    digest(bytes.strip_prefix(BOM.as_bytes()).unwrap_or(bytes))
}

/// [`checksum`] of bytes whose one leading BOM is already dropped: a BOM
/// still at their start is content.
pub(crate) fn digest(bytes: &[u8]) -> String {
    let mut hasher = Sha256::new();
    let mut start = 0;
    for (at, pair) in bytes.windows(2).enumerate() {
        if pair == b"\r\n" {
            hasher.update(&bytes[start..at]);
            start = at + 1;
        }
    }
    hasher.update(&bytes[start..]);
    let digest = hasher.finalize();
    let mut hex = String::with_capacity(64);
    for byte in digest.iter() {
        hex.push(char::from(HEX[usize::from(byte >> 4)]));
        hex.push(char::from(HEX[usize::from(byte & 0xf)]));
    }
    hex
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Directives read from a script's leading comment lines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Directives {
    /// `-- migrate:no-transaction`: run the script outside a transaction.
    pub no_transaction: bool,
    /// Each `-- migrate:lint-ignore RULE`: a lint rule silenced for this
    /// file. The rule's name is not checked here (the lint knows its rules).
    pub lint_ignore: Vec<LintIgnore>,
}

/// One `-- migrate:lint-ignore RULE` directive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LintIgnore {
    /// The rule's name, as written.
    pub rule: String,
    /// The directive's line, from 1, in the script as it runs (a leading
    /// byte-order mark dropped).
    pub line: usize,
}

/// The directive prefix, after `--` and optional spaces.
const DIRECTIVE: &str = "migrate:";

/// Reads the `-- migrate:` directives from the comment lines at the top of a
/// script (blank lines may be mixed in; the first other line ends them):
/// `no-transaction`, and `lint-ignore RULE` (one rule each).
///
/// # Examples
///
/// ```
/// let d = migrate_files::directives("-- migrate:no-transaction\nCREATE INDEX CONCURRENTLY i ON t (c);").unwrap();
/// assert!(d.no_transaction);
/// let d = migrate_files::directives("-- migrate:lint-ignore changing-column-type\nALTER TABLE t ALTER c TYPE BIGINT;").unwrap();
/// assert_eq!(d.lint_ignore[0].rule, "changing-column-type");
/// assert!(migrate_files::directives("-- migrate:no-transation\n").is_err());
/// ```
///
/// # Errors
///
/// The unknown directive's text, so that a misspelt directive is never
/// silently ignored; also a `lint-ignore` that names no rule or several.
pub fn directives(script: &str) -> Result<Directives, String> {
    let mut found = Directives::default();
    for (index, line) in strip_bom(script).lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let Some(comment) = line.strip_prefix("--") else {
            break;
        };
        let Some(directive) = comment.trim_start().strip_prefix(DIRECTIVE) else {
            continue;
        };
        let directive = directive.trim();
        if directive == "no-transaction" {
            found.no_transaction = true;
            continue;
        }
        let mut words = directive.split_whitespace();
        match (words.next(), words.next(), words.next()) {
            (Some("lint-ignore"), Some(rule), None) => found.lint_ignore.push(LintIgnore {
                rule: rule.to_owned(),
                line: index + 1,
            }),
            _ => return Err(format!("{DIRECTIVE}{directive}")),
        }
    }
    Ok(found)
}

/// True when a script holds no SQL: only whitespace and `--` comment lines.
///
/// # Examples
///
/// ```
/// assert!(migrate_files::is_blank("-- nothing to do here\n\n"));
/// assert!(!migrate_files::is_blank("-- add a column\nALTER TABLE t ADD c INT;"));
/// ```
pub fn is_blank(script: &str) -> bool {
    strip_bom(script).lines().all(|line| {
        let line = line.trim();
        line.is_empty() || line.starts_with("--")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn checksum_is_sha256_of_normalised_bytes() {
        // `printf 'a\nb\n' | sha256sum`
        let expected = "911169ddaaf146aff539f58c26c489af3b892dff0fe283c1c264c65ae5aa59a2";
        assert_eq!(checksum(b"a\nb\n"), expected);
        assert_eq!(checksum(b"a\r\nb\r\n"), expected);
        assert_eq!(checksum(b"\xEF\xBB\xBFa\r\nb\n"), expected);
        // A lone `\r` is content, not a line ending.
        assert_ne!(checksum(b"a\rb\n"), expected);
        // Only a leading BOM is dropped, and only one.
        assert_ne!(checksum(b"a\n\xEF\xBB\xBFb\n"), expected);
        assert_ne!(checksum(b"\xEF\xBB\xBF\xEF\xBB\xBFa\nb\n"), expected);
    }

    #[test]
    fn directives_are_read_from_leading_comments_only() {
        assert!(
            directives("\n-- a comment\n--migrate:no-transaction\nSELECT 1;")
                .unwrap()
                .no_transaction
        );
        assert!(
            !directives("SELECT 1;\n-- migrate:no-transaction\n")
                .unwrap()
                .no_transaction
        );
        assert_eq!(
            directives("-- migrate:no-tx\n"),
            Err("migrate:no-tx".to_string())
        );
        assert!(directives("-- migrations are fun\nSELECT 1;").is_ok());
    }

    #[test]
    fn lint_ignore_takes_exactly_one_rule_and_keeps_its_line() {
        let found = directives(
            "\u{feff}-- migrate:lint-ignore changing-column-type\n\n--  migrate:lint-ignore   ban-drop-table \nSELECT 1;\n-- migrate:lint-ignore late",
        )
        .unwrap();
        assert_eq!(
            found.lint_ignore,
            [
                LintIgnore {
                    rule: "changing-column-type".to_owned(),
                    line: 1
                },
                LintIgnore {
                    rule: "ban-drop-table".to_owned(),
                    line: 3
                },
            ]
        );
        assert!(!found.no_transaction);
        assert_eq!(
            directives("-- migrate:lint-ignore\n"),
            Err("migrate:lint-ignore".to_string())
        );
        assert_eq!(
            directives("-- migrate:lint-ignore a b\n"),
            Err("migrate:lint-ignore a b".to_string())
        );
        assert_eq!(
            directives("-- migrate:lint-ignores a\n"),
            Err("migrate:lint-ignores a".to_string())
        );
    }

    proptest! {
        #[test]
        fn crlf_and_bom_never_change_the_checksum(lines in proptest::collection::vec("[ -~]{0,20}", 0..8), bom in any::<bool>()) {
            let unix = lines.join("\n");
            let mut windows = if bom { BOM.to_string() } else { String::new() };
            windows.push_str(&lines.join("\r\n"));
            prop_assert_eq!(checksum(unix.as_bytes()), checksum(windows.as_bytes()));
        }
    }
}
