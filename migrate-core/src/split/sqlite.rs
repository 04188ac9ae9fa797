//! Where SQLite statements end, as the `sqlite3` shell decides it: a port
//! of `sqlite3_complete`'s state machine. It knows quotes (`'…'`, `"…"`,
//! `` `…` ``, `[…]`), comments (`-- …`, `/* … */`), and that a `CREATE
//! TRIGGER` body holds `;` up to its `END;`. The sqlx runner cuts a large
//! script into pieces only where this says a statement ends; within a
//! piece SQLite parses by itself.

/// What `sqlite3_complete` tells tokens apart by.
#[derive(Clone, Copy)]
enum Token {
    Semi = 0,
    Space = 1,
    Other = 2,
    Explain = 3,
    Create = 4,
    Temp = 5,
    Trigger = 6,
    End = 7,
}

/// `sqlite3_complete`'s transitions: state × token → state. State 1 is
/// "between statements".
const TRANSITIONS: [[u8; 8]; 8] = [
    [1, 0, 2, 3, 4, 2, 2, 2], // 0 nothing yet
    [1, 1, 2, 3, 4, 2, 2, 2], // 1 start
    [1, 2, 2, 2, 2, 2, 2, 2], // 2 normal
    [1, 3, 3, 2, 4, 2, 2, 2], // 3 explain
    [1, 4, 2, 2, 2, 4, 5, 2], // 4 create
    [6, 5, 5, 5, 5, 5, 5, 5], // 5 trigger
    [6, 6, 5, 5, 5, 5, 5, 7], // 6 semicolon in a trigger
    [1, 7, 5, 5, 5, 5, 5, 5], // 7 end of a trigger
];

/// The bytes that can change the state within a statement: `;`, quotes
/// and the start of a comment.
const STOPS: [bool; 256] = {
    let mut stops = [false; 256];
    let mut at = 0;
    let special = b";'\"`[-/";
    while at < special.len() {
        stops[special[at] as usize] = true;
        at += 1;
    }
    stops
};

fn is_id(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'$' || byte >= 0x80
}

fn keyword(word: &[u8]) -> Token {
    const KEYWORDS: [(&[u8], Token); 5] = [
        (b"create", Token::Create),
        (b"trigger", Token::Trigger),
        (b"temp", Token::Temp),
        (b"temporary", Token::Temp),
        (b"end", Token::End),
    ];
    if word.eq_ignore_ascii_case(b"explain") {
        return Token::Explain;
    }
    KEYWORDS
        .iter()
        .find(|(name, _)| word.eq_ignore_ascii_case(name))
        .map_or(Token::Other, |(_, token)| *token)
}

/// Just past the first `close` at or after `from` (or the end).
fn past(bytes: &[u8], from: usize, close: &[u8]) -> usize {
    bytes[from..]
        .windows(close.len())
        .position(|w| w == close)
        .map_or(bytes.len(), |at| from + at + close.len())
}

/// The byte ranges of the statements of `script`, each up to and with its
/// `;` (a last statement without one runs to the end); statements that
/// hold only comments and white space are left out, as SQLite skips them.
/// One pass: linear in the script's size. Within a statement (and within
/// a trigger's body) only a `;`, a quote or a comment can change the
/// state, so the bytes between them are passed over without telling
/// tokens apart.
pub(crate) fn statements(script: &str) -> Vec<std::ops::Range<usize>> {
    let bytes = script.as_bytes();
    let mut out = Vec::new();
    let mut state = 0_u8;
    let mut start = 0;
    let mut at = 0;
    while at < bytes.len() {
        if state == 2 || state == 5 {
            at += bytes[at..]
                .iter()
                .position(|b| STOPS[usize::from(*b)])
                .unwrap_or(bytes.len() - at);
            if at == bytes.len() {
                break;
            }
        }
        let (token, next) = match bytes[at] {
            b';' => (Token::Semi, at + 1),
            b' ' | b'\r' | b'\t' | b'\n' | b'\x0c' => (Token::Space, at + 1),
            b'/' if bytes.get(at + 1) == Some(&b'*') => (Token::Space, past(bytes, at + 2, b"*/")),
            b'-' if bytes.get(at + 1) == Some(&b'-') => (Token::Space, past(bytes, at, b"\n")),
            b'[' => (Token::Other, past(bytes, at + 1, b"]")),
            quote @ (b'`' | b'"' | b'\'') => (Token::Other, past(bytes, at + 1, &[quote])),
            byte if is_id(byte) => {
                let len = bytes[at..].iter().take_while(|b| is_id(**b)).count();
                (keyword(&bytes[at..at + len]), at + len)
            }
            _ => (Token::Other, at + 1),
        };
        let before = state;
        state = TRANSITIONS[usize::from(state)][token as usize];
        if matches!(token, Token::Semi) && state == 1 {
            if before > 1 {
                out.push(start..next);
            }
            start = next;
        }
        at = next;
    }
    if state > 1 {
        out.push(start..bytes.len());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{TRANSITIONS, Token, is_id, keyword, past, statements};
    use proptest::prelude::*;

    /// `sqlite3_complete`'s state machine token by token, with no
    /// shortcut: what [`statements`] must agree with.
    fn reference(script: &str) -> Vec<std::ops::Range<usize>> {
        let bytes = script.as_bytes();
        let (mut out, mut state, mut start, mut at) = (Vec::new(), 0_u8, 0, 0);
        while at < bytes.len() {
            let (token, next) = match bytes[at] {
                b';' => (Token::Semi, at + 1),
                b' ' | b'\r' | b'\t' | b'\n' | b'\x0c' => (Token::Space, at + 1),
                b'/' if bytes.get(at + 1) == Some(&b'*') => {
                    (Token::Space, past(bytes, at + 2, b"*/"))
                }
                b'-' if bytes.get(at + 1) == Some(&b'-') => (Token::Space, past(bytes, at, b"\n")),
                b'[' => (Token::Other, past(bytes, at + 1, b"]")),
                quote @ (b'`' | b'"' | b'\'') => (Token::Other, past(bytes, at + 1, &[quote])),
                byte if is_id(byte) => {
                    let len = bytes[at..].iter().take_while(|b| is_id(**b)).count();
                    (keyword(&bytes[at..at + len]), at + len)
                }
                _ => (Token::Other, at + 1),
            };
            let before = state;
            state = TRANSITIONS[usize::from(state)][token as usize];
            if matches!(token, Token::Semi) && state == 1 {
                if before > 1 {
                    out.push(start..next);
                }
                start = next;
            }
            at = next;
        }
        if state > 1 {
            out.push(start..bytes.len());
        }
        out
    }

    /// Pieces that move the state machine: keywords, quotes (some left
    /// open), comments, brackets, `;` and white space.
    fn piece() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            ";",
            " ",
            "\n",
            "\t",
            "-- c; x\n",
            "--",
            "-",
            "/* a; */",
            "/*",
            "/",
            "*/",
            "'a;b'",
            "'",
            "\"q;\"",
            "\"",
            "`b;`",
            "`",
            "[x;y]",
            "[",
            "]",
            "create",
            "CREATE",
            "temp",
            "TEMPORARY",
            "trigger",
            "Trigger",
            "end",
            "END",
            "explain",
            "begin",
            "select",
            "x",
            "t1",
            "$v",
            "é",
            "(",
            ")",
            "1",
        ])
    }

    proptest! {
        #[test]
        fn shortcut_agrees_with_the_state_machine(pieces in prop::collection::vec(piece(), 0..40)) {
            let script = pieces.concat();
            prop_assert_eq!(statements(&script), reference(&script));
        }
    }

    fn texts(script: &str) -> Vec<&str> {
        statements(script)
            .into_iter()
            .map(|range| script[range].trim())
            .collect()
    }

    #[test]
    fn ends_where_sqlite_does() {
        let script = "CREATE TABLE a (x TEXT);\n\
            -- a comment; with a semicolon\n\
            INSERT INTO a VALUES ('a;b'), (\"c;\"), (`d;`), ([e;]);\n\
            ;; /* only ; a comment */ ;\n\
            CREATE TEMP TRIGGER t AFTER INSERT ON a BEGIN\n  INSERT INTO a VALUES (1);\n  SELECT CASE WHEN 1 THEN 2 END;\nEND;\n\
            EXPLAIN SELECT 1;\n\
            SELECT 'last'";
        assert_eq!(
            texts(script),
            [
                "CREATE TABLE a (x TEXT);",
                "-- a comment; with a semicolon\nINSERT INTO a VALUES ('a;b'), (\"c;\"), (`d;`), ([e;]);",
                "CREATE TEMP TRIGGER t AFTER INSERT ON a BEGIN\n  INSERT INTO a VALUES (1);\n  SELECT CASE WHEN 1 THEN 2 END;\nEND;",
                "EXPLAIN SELECT 1;",
                "SELECT 'last'",
            ]
        );
        assert!(statements("-- nothing\n;\n/* at all */").is_empty());
    }

    #[test]
    fn agrees_with_sqlite() {
        let script = "CREATE TABLE a (x);\nCREATE TRIGGER t AFTER INSERT ON a BEGIN SELECT 1; END;\n\
            INSERT INTO a VALUES ('it''s; fine');\n/* c */ SELECT 2;\n";
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        for range in statements(script) {
            // Each piece is exactly one statement to SQLite.
            conn.prepare(&script[range.clone()]).unwrap();
            conn.execute_batch(&script[range]).unwrap();
        }
    }
}
