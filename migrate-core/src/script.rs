//! How one script runs, and how its failure is described: which statement
//! (when it can be known), the database's own message, and the driver's
//! error as the cause.
//!
//! On rusqlite, SQLite itself parses the script one statement after the
//! other, so triggers and quoted `;` are safe. It is handed the script with
//! a NUL byte after it: `sqlite3_prepare` copies the rest of its input
//! before parsing unless that input ends in a NUL, so without one each
//! statement would copy all the text after it, and a script of many
//! statements would take time in the square of its size (a 50 MB seed
//! script: minutes). With it, SQLite parses in place, in linear time.

/// Why a script failed: which statement (when known), and the database's message.
#[doc(hidden)]
pub struct ScriptError {
    /// The 1-based number of the failing statement, when known.
    pub statement: Option<u32>,
    /// The start of the failing statement's text (see [`excerpt`]), when known.
    pub statement_sql: Option<String>,
    /// The database's own message.
    pub message: String,
    /// It gave up waiting for a lock (a statement lock timeout, or a
    /// deadlock it lost): the step can be rolled back and tried again.
    pub lock_wait: bool,
    /// The driver's error (a `rusqlite::Error` or a `sqlx::Error`), kept so
    /// that it can be returned as the cause.
    pub source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl std::fmt::Debug for ScriptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScriptError")
            .field("statement", &self.statement)
            .field("statement_sql", &self.statement_sql)
            .field("message", &self.message)
            .finish_non_exhaustive()
    }
}

/// The first line of a statement, at most 80 characters, for messages.
pub(crate) fn excerpt(sql: &str) -> String {
    let first = sql
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty() && !line.starts_with("--"))
        .unwrap_or("");
    let cut: String = first.chars().take(80).collect();
    if cut.len() < first.len() {
        format!("{cut}…")
    } else {
        cut
    }
}

/// A statement's 1-based number as stored in [`ScriptError`].
pub(crate) fn number(index: usize) -> u32 {
    u32::try_from(index + 1).unwrap_or(u32::MAX)
}

/// Runs a script on a rusqlite connection, statement by statement as SQLite
/// parses it, in time linear in the script's size. A statement that returns
/// rows (a PRAGMA, a SELECT) is stepped once, as `execute_batch` does: it
/// has done its work by its first row. `text` is where the NUL-terminated
/// copy is made: a run passes the same buffer for every script.
///
/// # Errors
///
/// The first statement that fails to parse or to run, named by its 1-based
/// number and its text, with SQLite's own message.
#[cfg(feature = "rusqlite")]
pub(crate) fn run_sqlite(
    conn: &rusqlite::Connection,
    script: &str,
    text: &mut String,
) -> Result<(), ScriptError> {
    use rusqlite::fallible_iterator::FallibleIterator;

    // See the module's docs: a NUL at the end saves a copy per statement.
    text.clear();
    text.push_str(script);
    text.push('\0');
    let text = text.as_str();
    let mut batch = rusqlite::Batch::new(conn, text);
    let mut index = 0;
    loop {
        let failed = |err: rusqlite::Error, sql: Option<&str>| ScriptError {
            statement: Some(number(index)),
            statement_sql: sql.map(excerpt),
            message: sqlite_message(&err, sql),
            lock_wait: false,
            source: Some(Box::new(err)),
        };
        let mut statement = match batch.next() {
            Ok(Some(statement)) => statement,
            Ok(None) => return Ok(()),
            Err(err) => {
                // SQLite does not say where it stopped parsing: the split
                // (`sqlite3_complete`'s) says where that statement starts.
                let rest = crate::split::sqlite::statements(script)
                    .get(index)
                    .map(|range| &text[range.start..]);
                return Err(failed(err, rest));
            }
        };
        let stepped = statement.raw_query().next().map(drop);
        if let Err(err) = stepped {
            // SQLite keeps a statement's text as it stood in the script.
            let sql = statement.expanded_sql();
            return Err(failed(err, sql.as_deref()));
        }
        index += 1;
    }
}

/// SQLite's message alone, taken from rusqlite's structured error.
/// rusqlite's `SqlInputError` (SQLite 3.38 and later) displays as
/// `<message> in <sql> at offset N`; where that variant cannot be matched
/// (it exists only when rusqlite's `modern_sqlite` feature is on, which
/// this crate's `bundled` implies), `input`, the text SQLite was given, is
/// cut off exactly.
#[cfg(feature = "rusqlite")]
fn sqlite_message(err: &rusqlite::Error, input: Option<&str>) -> String {
    match err {
        rusqlite::Error::SqliteFailure(_, Some(message)) => message.clone(),
        #[cfg(feature = "bundled")]
        rusqlite::Error::SqlInputError { msg, .. } => msg.clone(),
        other => {
            let text = other.to_string();
            match input.and_then(|input| without_input(&text, input)) {
                Some(message) => message.to_owned(),
                None => text,
            }
        }
    }
}

/// `text` without a trailing ` in <input> at offset N`.
#[cfg(feature = "rusqlite")]
fn without_input<'t>(text: &'t str, input: &str) -> Option<&'t str> {
    let (before, offset) = text.rsplit_once(" at offset ")?;
    if offset.is_empty() || !offset.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
        return None;
    }
    before.strip_suffix(input)?.strip_suffix(" in ")
}

#[cfg(all(test, feature = "rusqlite"))]
mod tests {
    use super::{excerpt, run_sqlite, without_input};

    #[test]
    fn a_syntax_error_is_named_with_sqlites_message_alone() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let err = run_sqlite(
            &conn,
            "CREATE TABLE a (id INT);\n-- two\nINSERT INTO a VALUES (';');\nCREATE TABLEE b (id INT);\nCREATE TABLE c (id INT);\n",
            &mut String::new(),
        )
        .unwrap_err();
        assert_eq!(
            (
                err.statement,
                err.statement_sql.as_deref(),
                err.message.as_str()
            ),
            (
                Some(3),
                Some("CREATE TABLEE b (id INT);"),
                "near \"TABLEE\": syntax error"
            )
        );
        assert!(err.source.is_some());
    }

    #[test]
    fn rows_are_stepped_once_and_triggers_parse_whole() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        run_sqlite(
            &conn,
            "CREATE TABLE a (id INT); CREATE TABLE log (n INT);\n\
             CREATE TRIGGER t AFTER INSERT ON a BEGIN INSERT INTO log VALUES (1); INSERT INTO log VALUES (2); END;\n\
             PRAGMA user_version = 7; SELECT * FROM a; INSERT INTO a VALUES (1);\n-- trailing comment",
            &mut String::new(),
        )
        .unwrap();
        let logged: i64 = conn
            .query_row("SELECT count(*) FROM log", [], |r| r.get(0))
            .unwrap();
        assert_eq!(logged, 2);
        let mut text = String::new();
        assert!(run_sqlite(&conn, "", &mut text).is_ok());
        assert!(run_sqlite(&conn, "-- only a comment\n", &mut text).is_ok());
    }

    #[test]
    fn the_input_is_cut_off_exactly() {
        assert_eq!(
            without_input("near \"x\": syntax error in x y;\0 at offset 0", "x y;\0"),
            Some("near \"x\": syntax error")
        );
        assert_eq!(without_input("no offset in x", "x"), None);
        assert_eq!(excerpt("\n-- c\n  SELECT 1;\nSELECT 2"), "SELECT 1;");
    }
}
