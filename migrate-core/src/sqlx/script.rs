//! How one script runs through sqlx, and which statement failed.
//!
//! PostgreSQL and MySQL get the whole script as one multi-statement query:
//! one round trip, and the server alone decides where statements end (a
//! MySQL `CREATE TRIGGER … BEGIN … END` holds `;` that a client must not
//! split at). sqlx yields one result per statement the server completes,
//! so counting them until the error numbers the failing statement; a
//! splitter that agrees with the server then gives its text:
//!
//! - PostgreSQL parses the whole query before running any of it, so a
//!   syntax error comes before any result; its position in the script
//!   (which PostgreSQL reports for syntax and most analysis errors) names
//!   the statement instead. A script with a `BEGIN ATOMIC` body, which the
//!   splitter does not understand, gets a number only when the count gives
//!   it, and no text.
//! - MySQL runs statement after statement, syntax errors included, so the
//!   count is the number, unless the script `CALL`s a procedure (one
//!   result per `SELECT` inside it) or holds what the splitter cannot
//!   follow: then no statement is named rather than a wrong one.
//! - SQLite (sqlx's driver) copies the rest of the query at every
//!   statement, like rusqlite without a closing NUL (see `crate::script`),
//!   so a large script is cut into pieces of about [`PIECE`] bytes where
//!   `sqlite3_complete` says a statement ends; SQLite parses each piece.
//!
//! PostgreSQL's DETAIL and HINT are kept in the message, and a statement
//! that cannot run in a transaction (SQLSTATE 25001) gets the fix.

use std::future::poll_fn;

use sqlx::{AssertSqlSafe, Executor};

use crate::script::{ScriptError, number};

/// The size of the pieces a SQLite script is sent in: large enough that
/// round trips to sqlx's worker thread do not count, small enough that
/// SQLite's copy of the rest of a piece at each statement does not either.
#[cfg(feature = "sqlx-sqlite")]
const PIECE: usize = 16 * 1024;

/// Runs `sql` as one multi-statement query; the number of statements the
/// server completed, and on failure, the error with the number completed
/// before it.
async fn run_counting<DB>(
    conn: &mut DB::Connection,
    sql: String,
) -> Result<usize, (usize, sqlx::Error)>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    let mut results = sqlx::raw_sql(AssertSqlSafe(sql)).execute_many(&mut *conn);
    let mut completed = 0;
    while let Some(result) = poll_fn(|cx| results.as_mut().poll_next(cx)).await {
        match result {
            Ok(_) => completed += 1,
            Err(err) => return Err((completed, err)),
        }
    }
    Ok(completed)
}

/// Whether a statement gave up waiting for a lock: PostgreSQL's
/// `lock_not_available` (its `lock_timeout`), a deadlock or serialization
/// failure it lost; MySQL's lock wait timeout (1205) or deadlock (1213,
/// which is also how a Galera node reports a conflicting commit elsewhere).
pub(crate) fn lock_wait(err: &sqlx::Error) -> bool {
    let Some(db) = err.as_database_error() else {
        return false;
    };
    if matches!(db.code().as_deref(), Some("55P03" | "40P01" | "40001")) {
        return true;
    }
    #[cfg(feature = "sqlx-mysql")]
    if let Some(my) = db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
        return my.number() == 1205;
    }
    false
}

/// A failed script as [`ScriptError`]: the database's message (with
/// PostgreSQL's DETAIL and HINT), the fix for a statement that cannot run
/// in a transaction when the script ran in one (`file` is then its file),
/// and the statement when known.
pub(crate) fn failure(
    err: sqlx::Error,
    file: Option<&str>,
    statement: Option<u32>,
    sql: Option<&str>,
) -> ScriptError {
    let mut message = super::message(&err);
    #[cfg(feature = "sqlx-postgres")]
    if let Some(pg) = err
        .as_database_error()
        .and_then(|db| db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>())
    {
        let notes: Vec<String> = [("DETAIL", pg.detail()), ("HINT", pg.hint())]
            .into_iter()
            .filter_map(|(label, text)| text.map(|text| format!("{label}:  {text}")))
            .collect();
        if !notes.is_empty() {
            message.push_str(&format!(" ({})", notes.join(" ")));
        }
    }
    if let sqlx::Error::Database(db) = &err
        && db.code().as_deref() == Some("25001")
        && let Some(file) = file
    {
        message.push_str(&format!(
            " (add `-- migrate:no-transaction` as the first line of {file} so it runs outside a transaction)"
        ));
    }
    ScriptError {
        statement,
        statement_sql: sql.map(crate::script::excerpt),
        message,
        lock_wait: lock_wait(&err),
        source: Some(Box::new(err)),
    }
}

/// Runs a PostgreSQL script as one query (inside the step's transaction).
///
/// # Errors
///
/// The server's error, naming the failing statement where it can be known.
#[cfg(feature = "sqlx-postgres")]
pub(crate) async fn run_postgres(
    conn: &mut sqlx::PgConnection,
    script: &str,
    file: &str,
) -> Result<(), ScriptError> {
    match run_counting::<sqlx::Postgres>(conn, script.to_owned()).await {
        Ok(_) => Ok(()),
        Err((completed, err)) => {
            let (statement, sql) = postgres_statement(script, &err, completed);
            Err(failure(err, Some(file), statement, sql))
        }
    }
}

/// Which statement of `script` failed with `err` after `completed` others.
#[cfg(feature = "sqlx-postgres")]
fn postgres_statement<'s>(
    script: &'s str,
    err: &sqlx::Error,
    completed: usize,
) -> (Option<u32>, Option<&'s str>) {
    use sqlx::postgres::{PgDatabaseError, PgErrorPosition};
    let statements = crate::split::statements(script);
    // `BEGIN ATOMIC … END` bodies hold `;` the splitter would cut at.
    let understood = !script.to_ascii_lowercase().contains("atomic");
    let at = err
        .as_database_error()
        .and_then(|db| db.try_downcast_ref::<PgDatabaseError>())
        .and_then(PgDatabaseError::position)
        .and_then(|position| match position {
            PgErrorPosition::Original(chars) => script
                .char_indices()
                .nth(chars.saturating_sub(1))
                .map(|(byte, _)| byte),
            PgErrorPosition::Internal { .. } => None,
        });
    let start = |sql: &str| sql.as_ptr() as usize - script.as_ptr() as usize;
    match at {
        Some(at) if understood => {
            let index = statements
                .iter()
                .rposition(|sql| start(sql) <= at)
                .unwrap_or(0);
            if completed > 0 && index != completed {
                // The server and the splitter disagree: trust the server.
                return (Some(number(completed)), None);
            }
            (Some(number(index)), statements.get(index).copied())
        }
        Some(_) if completed == 0 => (None, None),
        _ => (
            Some(number(completed)),
            statements.get(completed).filter(|_| understood).copied(),
        ),
    }
}

/// Runs a no-transaction PostgreSQL script one statement at a time:
/// PostgreSQL wraps a multi-statement query in an implicit transaction,
/// where `CREATE INDEX CONCURRENTLY` fails.
///
/// # Errors
///
/// The server's error, naming the failing statement.
#[cfg(feature = "sqlx-postgres")]
pub(crate) async fn run_postgres_outside(
    conn: &mut sqlx::PgConnection,
    script: &str,
    lock_timeout: Option<std::time::Duration>,
) -> Result<(), ScriptError> {
    for (index, statement) in crate::split::statements(script).into_iter().enumerate() {
        let fail = |err| failure(err, None, Some(number(index)), Some(statement));
        // With the lock timeout, in one message (its own implicit
        // transaction, so nothing stays on the connection a pooler may
        // share); a statement that cannot run in a transaction block
        // (`CREATE INDEX CONCURRENTLY`) says so before it does anything,
        // and then runs alone, without it.
        if let Some(timeout) = lock_timeout {
            let bounded = format!(
                "{}; {statement}",
                crate::dialect::lock::pg_lock_timeout(timeout)
            );
            match sqlx::raw_sql(AssertSqlSafe(bounded))
                .execute(&mut *conn)
                .await
            {
                Ok(_) => continue,
                Err(err)
                    if err
                        .as_database_error()
                        .is_some_and(|db| db.code().as_deref() == Some("25001")) => {}
                Err(err) => return Err(fail(err)),
            }
        }
        sqlx::raw_sql(AssertSqlSafe(statement.to_owned()))
            .execute(&mut *conn)
            .await
            .map_err(fail)?;
    }
    Ok(())
}

/// Runs a MySQL or MariaDB script as one multi-statement query; `file` is
/// its file when it runs in a transaction.
///
/// # Errors
///
/// The server's error, naming the failing statement where it can be known.
#[cfg(feature = "sqlx-mysql")]
pub(crate) async fn run_mysql(
    conn: &mut sqlx::MySqlConnection,
    script: &str,
    file: Option<&str>,
) -> Result<(), ScriptError> {
    match run_counting::<sqlx::MySql>(conn, script.to_owned()).await {
        Ok(_) => Ok(()),
        Err((completed, err)) => {
            let split = crate::split::mysql::statements(script);
            let (statement, sql) = if split.reliable {
                (
                    Some(number(completed)),
                    split
                        .statements
                        .get(completed)
                        .map(|range| &script[range.clone()]),
                )
            } else {
                (None, None)
            };
            Err(failure(err, file, statement, sql))
        }
    }
}

/// Runs a SQLite script through sqlx, in pieces of about [`PIECE`] bytes
/// cut where statements end; `file` is its file when it runs in a
/// transaction.
///
/// # Errors
///
/// SQLite's error, naming the failing statement.
#[cfg(feature = "sqlx-sqlite")]
pub(crate) async fn run_sqlite(
    conn: &mut sqlx::SqliteConnection,
    script: &str,
    file: Option<&str>,
) -> Result<(), ScriptError> {
    let statements = crate::split::sqlite::statements(script);
    // Statements SQLite completed in earlier pieces, and whether it ran as
    // many in each as the split put there (then the split names them).
    let mut completed = 0;
    let mut agreed = true;
    let mut first = 0;
    while let Some(head) = statements.get(first) {
        let mut last = first;
        while statements
            .get(last + 1)
            .is_some_and(|next| next.end - head.start <= PIECE)
        {
            last += 1;
        }
        let piece = &script[head.start..statements[last].end];
        match run_counting::<sqlx::Sqlite>(conn, piece.to_owned()).await {
            Ok(ran) => {
                agreed &= ran == last + 1 - first;
                completed += ran;
                first = last + 1;
            }
            Err((ran, err)) => {
                let sql = statements
                    .get(first + ran)
                    .filter(|_| agreed)
                    .map(|range| &script[range.clone()]);
                return Err(failure(err, file, Some(number(completed + ran)), sql));
            }
        }
    }
    Ok(())
}
