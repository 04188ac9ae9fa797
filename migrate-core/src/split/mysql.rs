//! Where MySQL and MariaDB statements end in a multi-statement query, so
//! that the statement the server reports as failed (by how many completed
//! before it) can be shown. The server ends a statement at a `;` outside
//! quotes (`'…'` and `"…"` with backslash escapes, `` `…` ``) and
//! comments (`# …`, `-- …`, `/* … */`), and outside the `BEGIN … END`
//! body of a `CREATE TRIGGER`, `PROCEDURE`, `FUNCTION` or `EVENT`. Every
//! `;` counts, even after an empty statement (the server reports a syntax
//! error there); only white space after the last one is no statement.
//!
//! Where the count of completed results cannot be trusted to number
//! statements (a `CALL` returns a result per `SELECT` in the procedure, a
//! `DELIMITER` is a client command the server refuses), the split says so.

use std::ops::Range;

/// The statements of a script, and whether the server's count of completed
/// results numbers them.
pub(crate) struct Split {
    /// Byte ranges, each without its `;`.
    pub statements: Vec<Range<usize>>,
    /// False when the count of completed results may not be the number of
    /// completed statements, or the split may not match the server's.
    pub reliable: bool,
}

fn is_word(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'$' || byte >= 0x80
}

fn line_end(bytes: &[u8], from: usize) -> usize {
    bytes[from..]
        .iter()
        .position(|b| *b == b'\n')
        .map_or(bytes.len(), |at| from + at + 1)
}

/// What the words of the current statement have shown so far.
#[derive(Default)]
struct Words {
    /// Words seen in this statement.
    count: usize,
    /// Whether it is a stored program (`CREATE … TRIGGER` and the like, or
    /// MariaDB's `BEGIN NOT ATOMIC`), whose body may hold `;`; `None`
    /// while its first words leave that open.
    program: Option<bool>,
    /// Open `BEGIN` blocks and `CASE`s.
    open: usize,
    /// The last word was `END`: it closes what is open unless the next
    /// word is `IF`, `LOOP`, `WHILE` or `REPEAT`.
    after_end: bool,
}

impl Words {
    fn see(&mut self, word: &[u8], reliable: &mut bool) {
        let is = |name: &str| word.eq_ignore_ascii_case(name.as_bytes());
        self.count += 1;
        match (self.count, self.program) {
            (1, _) => {
                if is("CALL") || is("DELIMITER") {
                    *reliable = false;
                }
                self.program = if is("CREATE") || is("BEGIN") {
                    None
                } else {
                    Some(false)
                };
                return;
            }
            (2..=8, None) => {
                if is("TRIGGER") || is("PROCEDURE") || is("FUNCTION") || is("EVENT") {
                    self.program = Some(true);
                } else if is("NOT") && self.count == 2 {
                    // `BEGIN NOT ATOMIC`: the block opened by its first word.
                    self.program = Some(true);
                    self.open = 1;
                } else if self.count == 2 && !(is("OR") || is("DEFINER") || is("AGGREGATE")) {
                    self.program = Some(false);
                }
                return;
            }
            (_, Some(true)) => {}
            _ => {
                self.program = Some(self.program == Some(true));
                return;
            }
        }
        if std::mem::take(&mut self.after_end) {
            if is("IF") || is("LOOP") || is("WHILE") || is("REPEAT") {
                return;
            }
            self.open = self.open.saturating_sub(1);
            if is("CASE") {
                return;
            }
        }
        if is("BEGIN") || is("CASE") {
            self.open += 1;
        } else if is("END") {
            self.after_end = true;
        }
    }

    /// At a `;`: true when it ends the statement.
    fn ends_at_semicolon(&mut self) -> bool {
        if std::mem::take(&mut self.after_end) {
            self.open = self.open.saturating_sub(1);
        }
        self.open == 0
    }
}

/// Where the code of `bytes[from..to]` starts, past white space and
/// comments (an executable `/*! … */` is code).
fn code_start(bytes: &[u8], mut from: usize, to: usize) -> usize {
    while from < to {
        from = match (bytes[from], bytes.get(from + 1), bytes.get(from + 2)) {
            (b, _, _) if b.is_ascii_whitespace() => from + 1,
            (b'#', _, _) => line_end(bytes, from),
            (b'-', Some(b'-'), next)
                if next.is_none_or(|b| b.is_ascii_whitespace() || b.is_ascii_control()) =>
            {
                line_end(bytes, from)
            }
            (b'/', Some(b'*'), next) if next != Some(&b'!') => bytes[from + 2..]
                .windows(2)
                .position(|w| w == b"*/")
                .map_or(to, |n| from + 2 + n + 2),
            _ => return from,
        };
    }
    to
}

/// Splits `script` as the server does; each statement's range starts at
/// its code (past leading comments) and ends before its `;`. Linear in the
/// script's size.
pub(crate) fn statements(script: &str) -> Split {
    let bytes = script.as_bytes();
    let mut statements = Vec::new();
    let mut reliable = true;
    let mut words = Words::default();
    let mut start = 0;
    let mut at = 0;
    while at < bytes.len() {
        at = match bytes[at] {
            quote @ (b'\'' | b'"' | b'`') => super::quoted_end(bytes, at, quote, quote != b'`'),
            b'#' => line_end(bytes, at),
            b'-' if bytes.get(at + 1) == Some(&b'-')
                && bytes
                    .get(at + 2)
                    .is_none_or(|b| b.is_ascii_whitespace() || b.is_ascii_control()) =>
            {
                line_end(bytes, at)
            }
            b'/' if bytes.get(at + 1) == Some(&b'*') => {
                let end = bytes[at + 2..]
                    .windows(2)
                    .position(|w| w == b"*/")
                    .map_or(bytes.len(), |n| at + 2 + n + 2);
                // An executable comment (`/*! … */`) is code to the server.
                if bytes.get(at + 2) == Some(&b'!') && bytes[at..end].contains(&b';') {
                    reliable = false;
                }
                end
            }
            b';' if words.ends_at_semicolon() => {
                statements.push(code_start(bytes, start, at)..at);
                words = Words::default();
                start = at + 1;
                at + 1
            }
            byte if is_word(byte) => {
                let len = bytes[at..].iter().take_while(|b| is_word(**b)).count();
                // `NEW.begin` is a column, not a keyword.
                if at == 0 || bytes[at - 1] != b'.' {
                    words.see(&bytes[at..at + len], &mut reliable);
                }
                at + len
            }
            _ => at + 1,
        };
    }
    if !script[start..].trim().is_empty() {
        statements.push(code_start(bytes, start, bytes.len())..bytes.len());
    }
    Split {
        statements,
        reliable,
    }
}

#[cfg(test)]
mod tests {
    use super::statements;

    fn texts(script: &str) -> (Vec<&str>, bool) {
        let split = statements(script);
        (
            split
                .statements
                .into_iter()
                .map(|range| script[range].trim())
                .collect(),
            split.reliable,
        )
    }

    #[test]
    fn splits_as_the_server_does() {
        let script = "CREATE TABLE t (id INT, `begin` INT, begin INT);\n\
            INSERT INTO t VALUES ('a\\';b', \"c;\", 1); # a ; comment\n\
            -- another; comment\n\
            INSERT INTO t VALUES (1) --x;\n;;\n\
            CREATE DEFINER=`root`@`localhost` TRIGGER tr BEFORE INSERT ON t FOR EACH ROW BEGIN\n\
              IF NEW.id < 0 THEN SET NEW.id = 0; END IF;\n\
              SET NEW.begin = CASE WHEN NEW.id > 1 THEN 1 ELSE 0 END;\n\
              CASE NEW.id WHEN 1 THEN SET NEW.id = 2; ELSE BEGIN END; END CASE;\n\
            END;\n\
            /*!40101 SET @x = 1 */;\n\
            SELECT 1;\n  \n";
        assert_eq!(
            texts(script),
            (
                vec![
                    "CREATE TABLE t (id INT, `begin` INT, begin INT)",
                    "INSERT INTO t VALUES ('a\\';b', \"c;\", 1)",
                    "INSERT INTO t VALUES (1) --x",
                    "",
                    "",
                    "CREATE DEFINER=`root`@`localhost` TRIGGER tr BEFORE INSERT ON t FOR EACH ROW BEGIN\n\
                     IF NEW.id < 0 THEN SET NEW.id = 0; END IF;\n\
                     SET NEW.begin = CASE WHEN NEW.id > 1 THEN 1 ELSE 0 END;\n\
                     CASE NEW.id WHEN 1 THEN SET NEW.id = 2; ELSE BEGIN END; END CASE;\n\
                     END",
                    "/*!40101 SET @x = 1 */",
                    "SELECT 1",
                ],
                true
            )
        );
    }

    #[test]
    fn says_when_the_count_cannot_be_trusted() {
        assert!(!statements("CALL p(); SELECT 1;").reliable);
        assert!(!statements("DELIMITER //\nSELECT 1//").reliable);
        assert!(!statements("/*!50003 SET @a = 1; */ SELECT 1;").reliable);
        assert!(statements("SELECT 'CALL'; -- a comment\n").reliable);
    }
}
