//! The synchronous runner, on `rusqlite`.
//!
//! A start with nothing to do reads one row, the summary beside the history
//! table (`dialect::summary`), and compares it with the digest
//! `embed_migrations!` computed at compile time; where the summary cannot
//! answer, one history query compares checksums row by row. It takes no
//! lock, so it never waits on (or blocks) the application's other writers. Only when there is work does
//! the runner take SQLite's write lock (`BEGIN IMMEDIATE`, with the lock
//! timeout as busy timeout), and it takes it per step: each step's script and
//! its history row commit together. Under the lock it re-reads the history
//! whenever another connection committed since its last read (SQLite's
//! `data_version`, O(1)) and re-plans, so concurrent processes never apply a
//! step twice.

use std::path::PathBuf;
use std::time::Duration;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, ErrorCode, OptionalExtension, params};

use crate::backup::{self, Backup};
use crate::dialect::summary;
use crate::dialect::{
    DATA_VERSION, DELETE_JOURNAL, Dialect, FOREIGN_KEY_CHECK, FOREIGN_KEYS_DECLARED, HistorySql,
    JOURNAL_DELETED, JOURNAL_KEPT, JOURNAL_MODE, KEEP_JOURNAL, added_columns,
};
use crate::exec::{self, PerformNow, Resolved, Rules, Run, Sending, Start, Write};
use crate::plan::{AppliedRow, UpToDate};
use crate::report::{Direction, Report};
use crate::run::{ScriptError, Table, nothing_to_do};
use crate::run_file;
use crate::{Error, Migration, Migrations, Options, Target};

pub(crate) fn database_error(action: impl Into<String>) -> impl FnOnce(rusqlite::Error) -> Error {
    let action = action.into();
    move |err| Error::Database {
        action,
        message: err.to_string(),
        source: Some(Box::new(err)),
    }
}

/// Reads the history with one query; an error is looked into only then.
/// Waiting longer than `timeout` for another connection's lock is a lock
/// timeout.
fn read_table(conn: &Connection, sql: &HistorySql, timeout: Duration) -> Result<Table, Error> {
    match read_with(conn, &sql.read) {
        Ok(rows) => Ok(Table::rows(rows)),
        Err(err) if err.sqlite_error_code() == Some(ErrorCode::DatabaseBusy) => {
            Err(lock_error(err, timeout, "read the history table"))
        }
        Err(err) => {
            let columns =
                columns(conn, sql).map_err(database_error("inspect the history table"))?;
            match Table::from_columns(columns, Dialect::Sqlite, &sql.table)? {
                Some(table) => Ok(table),
                // Another runner may have created it just now: read again.
                None => read_with(conn, &sql.read).map(Table::rows).map_err(|_| {
                    database_error(format!("read the history table {}", sql.table))(err)
                }),
            }
        }
    }
}

/// The history rows that `statement` reads (the current format's read, or
/// an older format's).
fn read_with(conn: &Connection, statement: &str) -> rusqlite::Result<Vec<AppliedRow>> {
    let mut statement = conn.prepare(statement)?;
    let rows = statement.query_map([], |row| {
        Ok(AppliedRow {
            version: row.get(0)?,
            name: row.get(1)?,
            checksum: row.get(2)?,
            applied_at: row.get(3)?,
            execution_ms: row.get(4)?,
            success: row.get(5)?,
            has_down_sql: row.get(6)?,
        })
    })?;
    rows.collect()
}

pub(crate) fn columns(conn: &Connection, sql: &HistorySql) -> rusqlite::Result<Vec<String>> {
    let mut statement = conn.prepare(&sql.columns)?;
    let names = statement.query_map([&sql.bare], |row| row.get::<_, String>(0))?;
    names.collect()
}

/// Creates the table, or brings an older format up to date in place.
/// Outside a transaction, the statements wait for SQLite's write lock:
/// waiting too long is a lock timeout.
fn ensure_table(conn: &Connection, sql: &HistorySql, timeout: Duration) -> Result<(), Error> {
    let action = format!("create the history table {}", sql.table);
    let fail = |err| lock_error(err, timeout, &action);
    conn.execute_batch(&sql.create).map_err(fail)?;
    let existing = columns(conn, sql).map_err(fail)?;
    // Some other table by that name is refused, never altered.
    Table::from_columns(existing.clone(), Dialect::Sqlite, &sql.table)?;
    for (name, definition) in added_columns(Dialect::Sqlite) {
        if !existing.iter().any(|c| c == name) {
            conn.execute_batch(&sql.add_column(definition))
                .map_err(fail)?;
        }
    }
    Ok(())
}

/// Runs a statement the runner repeats at every step, prepared once per
/// connection.
fn run_cached(conn: &Connection, statement: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(statement)?.execute([]).map(drop)
}

fn lock_error(err: rusqlite::Error, timeout: Duration, action: &str) -> Error {
    match err {
        rusqlite::Error::SqliteFailure(code, _) if code.code == ErrorCode::DatabaseBusy => {
            Error::LockTimeout {
                waited: timeout,
                holder: None,
            }
        }
        err => database_error(action)(err),
    }
}

/// Sets the busy timeout for the run and restores the caller's on drop.
struct BusyTimeout<'c> {
    conn: &'c Connection,
    previous: Duration,
}

/// Turns foreign key enforcement off for a run whose connection has it on
/// (see [`Options::suspend_foreign_keys`]) and back on when dropped, on
/// every path. Outside any transaction: SQLite ignores the setting inside
/// one.
struct ForeignKeysOff<'c> {
    conn: &'c Connection,
    /// Enforcement was on and is off: the steps' keys must be checked.
    suspended: bool,
}

impl<'c> ForeignKeysOff<'c> {
    fn set(conn: &'c Connection, options: &Options) -> Result<Self, Error> {
        let fail = || database_error("turn foreign key enforcement off for the run");
        let on: bool = conn
            .pragma_query_value(None, "foreign_keys", |row| row.get(0))
            .map_err(fail())?;
        let suspended = on && options.suspend_foreign_keys;
        if suspended {
            conn.pragma_update(None, "foreign_keys", false)
                .map_err(fail())?;
        }
        Ok(ForeignKeysOff { conn, suspended })
    }
}

impl Drop for ForeignKeysOff<'_> {
    fn drop(&mut self) {
        if self.suspended {
            let _ = self.conn.pragma_update(None, "foreign_keys", true);
        }
    }
}

impl<'c> BusyTimeout<'c> {
    fn set(conn: &'c Connection, timeout: Duration) -> Result<Self, Error> {
        let fail = || database_error("set the busy timeout");
        let previous: i64 = conn
            .pragma_query_value(None, "busy_timeout", |row| row.get(0))
            .map_err(fail())?;
        // rusqlite panics ("too big") past i32::MAX ms, about 24.8 days:
        // a longer timeout waits that long.
        let longest = Duration::from_millis(i32::MAX.unsigned_abs().into());
        conn.busy_timeout(timeout.min(longest)).map_err(fail())?;
        Ok(BusyTimeout {
            conn,
            previous: Duration::from_millis(u64::try_from(previous).unwrap_or(0)),
        })
    }
}

impl Drop for BusyTimeout<'_> {
    fn drop(&mut self) {
        let _ = self.conn.busy_timeout(self.previous);
    }
}

/// Plans and runs an upgrade or a downgrade: read, plan, and only if there
/// is work, lock and carry out the execution stage's program.
pub(crate) fn execute(
    conn: &Connection,
    migrations: &Migrations,
    direction: Direction,
    target: Target,
    options: &Options,
) -> Result<Report, Error> {
    let sql = HistorySql::sqlite(&options.table);
    let known = migrations.as_slice();
    let started = std::time::Instant::now();
    if UpToDate::answers(direction, target)
        && (summary_up_to_date(conn, &sql, migrations, options)
            || up_to_date(conn, &sql, known, options))
    {
        return Ok(nothing_to_do(known));
    }
    // From here on, waiting for another connection's lock (a writer holding
    // an exclusive lock, say) is bounded by what is left of the lock
    // timeout. The fast path's one query waited as the caller set the
    // connection (it sets nothing, to stay one query).
    let _lock = BusyTimeout::set(conn, options.lock_timeout.saturating_sub(started.elapsed()))?;
    // Read before the history, so that under the lock the history is read
    // again only if another connection committed since.
    let data_version = data_version(conn, options.lock_timeout)?;
    let changes = read_changes(conn, &sql);
    let table = read_table(conn, &sql, options.lock_timeout)?;
    let rules = Rules::new(Dialect::Sqlite, options);
    let database = conn.path().unwrap_or("");
    let held_elsewhere = || run_file::held_elsewhere(database);
    let first = match exec::start(
        known,
        &table,
        direction,
        target,
        options,
        rules,
        held_elsewhere,
    )? {
        Start::Done(report) => return Ok(report),
        Start::Run(first) => first,
    };
    if !conn.is_autocommit() {
        return Err(Error::InTransaction);
    }
    let _run = run_file::take(database, options.lock_timeout)?;
    let backup = match (&options.backup, direction) {
        (Some(backup), Direction::Up) => {
            Some(back_up(conn, backup, first.as_ref().and_then(|p| p.from))?)
        }
        _ => None,
    };
    // Dropped after the driver (declared before it): enforcement comes
    // back on only once its transaction is rolled back or committed.
    let foreign_keys = ForeignKeysOff::set(conn, options)?;
    let mut driver = Driver::new(conn, &sql, options);
    driver.check_foreign_keys = foreign_keys.suspended;
    let run = Run {
        rules,
        options,
        known,
        direction,
        target,
        table,
        first,
        data_version,
        changes,
    };
    let outcome = exec::block_on(exec::run(&mut driver, run))
        .map_err(|err| backup::name_backup(err, backup.as_ref()))?;
    Ok(outcome.report(direction, backup))
}

/// A start's first fast path: the summary beside the history table, one
/// row read (see `dialect::summary`). False when checksums are ignored
/// (the summary holds them), and on any failure (no summary yet): the
/// row-by-row check and then the full read follow.
fn summary_up_to_date(
    conn: &Connection,
    sql: &HistorySql,
    migrations: &Migrations,
    options: &Options,
) -> bool {
    let Some(head) = summary::start_version(migrations, options) else {
        return false;
    };
    let read = || -> rusqlite::Result<String> {
        let row = |row: &rusqlite::Row<'_>| row.get::<_, String>(0);
        let mut statement = conn.prepare_cached(&sql.summary.start)?;
        match &sql.summary.cookie {
            Some(cookie) => {
                let cookie: i64 = conn.prepare_cached(cookie)?.query_row([], |r| r.get(0))?;
                statement.query_row([head, cookie], row)
            }
            None => statement.query_row([head], row),
        }
    };
    read().is_ok_and(|row| summary::up_to_date(&row, migrations))
}

/// The summary's change counter, where there is a summary.
pub(crate) fn read_changes(conn: &Connection, sql: &HistorySql) -> Option<i64> {
    conn.query_row(&sql.summary.changes, [], |row| row.get::<_, String>(0))
        .ok()
        .and_then(|text| text.parse().ok())
}

/// A start's fast path: true when the history holds every known migration,
/// clean and with the build's checksum, told by [`UpToDate`] row by row
/// without building a row. Any failure (no table yet, an older format)
/// answers false, and the full read that follows explains it.
fn up_to_date(conn: &Connection, sql: &HistorySql, known: &[Migration], options: &Options) -> bool {
    let check = || -> rusqlite::Result<bool> {
        let mut statement = conn.prepare(&sql.digest_rows)?;
        let mut rows = statement.query([])?;
        let mut check = UpToDate::new(known, options);
        while let Some(row) = rows.next()? {
            // The values as SQLite holds them, compared where they lie.
            let (ValueRef::Integer(version), ValueRef::Text(checksum), ValueRef::Integer(success)) =
                (row.get_ref(0)?, row.get_ref(1)?, row.get_ref(2)?)
            else {
                return Ok(false);
            };
            if !check.row(version, checksum, success != 0) {
                return Ok(false);
            }
        }
        Ok(check.finish())
    };
    check().unwrap_or(false)
}

/// SQLite's `data_version`: it changes whenever another connection commits.
fn data_version(conn: &Connection, timeout: Duration) -> Result<Option<i64>, Error> {
    conn.prepare_cached(DATA_VERSION)
        .and_then(|mut statement| statement.query_row([], |row| row.get(0)))
        .map(Some)
        .map_err(|err| lock_error(err, timeout, "read the database's data version"))
}

/// Copies the database with SQLite's online backup API, consistent while
/// other connections write.
fn back_up(conn: &Connection, backup: &Backup, current: Option<i64>) -> Result<PathBuf, Error> {
    let path = backup::create_file(backup, conn.path().unwrap_or(""), current)?;
    conn.backup(rusqlite::MAIN_DB, &path, None).map_err(|err| {
        let _ = std::fs::remove_file(&path);
        Error::Backup {
            path: path.clone(),
            message: err.to_string(),
        }
    })?;
    Ok(path)
}

/// The rusqlite driver: carries out the execution stage's operations on
/// one connection. A transaction it opened and did not commit is rolled
/// back when it is dropped, on every path.
///
/// A journal kept for the run ([`PerformNow::keep_journal`]) goes back to
/// `DELETE` when the driver is dropped, on every path, unless a script
/// chose another mode meanwhile.
struct Driver<'c> {
    conn: &'c Connection,
    sql: &'c HistorySql,
    timeout: Duration,
    open: bool,
    /// The run turned foreign key enforcement off: check each step.
    check_foreign_keys: bool,
    /// The journal is kept for the run, and deleted again at its end.
    journal_kept: bool,
    /// The buffer each script is copied into to run (see `run_sqlite`).
    text: String,
}

impl<'c> Driver<'c> {
    fn new(conn: &'c Connection, sql: &'c HistorySql, options: &Options) -> Self {
        Driver {
            conn,
            sql,
            timeout: options.lock_timeout,
            open: false,
            check_foreign_keys: false,
            journal_kept: false,
            text: String::new(),
        }
    }

    fn journal_mode(&self) -> rusqlite::Result<String> {
        self.conn.query_row(JOURNAL_MODE, [], |row| row.get(0))
    }
}

impl Drop for Driver<'_> {
    fn drop(&mut self) {
        if self.open {
            // Nothing better to do with an error here: the connection rolls
            // back on close anyway.
            let _ = self.conn.execute_batch(self.sql.rollback);
        }
        // Back to deleting the journal, unless a script set another mode.
        if self.journal_kept && self.journal_mode().is_ok_and(|mode| mode == JOURNAL_KEPT) {
            let _ = self
                .conn
                .query_row(DELETE_JOURNAL, [], |row| row.get::<_, String>(0));
        }
    }
}

impl PerformNow for Driver<'_> {
    fn keep_journal(&mut self) {
        self.journal_kept = self.journal_kept
            || self
                .journal_mode()
                .is_ok_and(|mode| mode == JOURNAL_DELETED)
                && self
                    .conn
                    .query_row(KEEP_JOURNAL, [], |row| row.get::<_, String>(0))
                    .is_ok_and(|mode| mode == JOURNAL_KEPT);
    }

    fn begin(&mut self) -> Result<(), Error> {
        run_cached(self.conn, self.sql.begin)
            .map_err(|err| lock_error(err, self.timeout, "take the database's write lock"))?;
        self.open = true;
        Ok(())
    }

    /// SQLite's write lock is the transaction itself.
    fn lock_step(&mut self) -> Result<(), Error> {
        Ok(())
    }

    fn ensure_table(&mut self) -> Result<(), Error> {
        ensure_table(self.conn, self.sql, self.timeout)
    }

    fn data_version(&mut self) -> Result<Option<i64>, Error> {
        data_version(self.conn, self.timeout)
    }

    fn read_history(&mut self) -> Result<Vec<AppliedRow>, Error> {
        read_table(self.conn, self.sql, self.timeout).map(Table::into_rows)
    }

    /// SQLite's statements fail alone, leaving the transaction usable.
    fn ensure_summary(&mut self) -> Result<bool, Error> {
        for statement in &self.sql.summary.ensure {
            if self.conn.execute_batch(statement).is_err() {
                return Ok(false);
            }
        }
        Ok(read_changes(self.conn, self.sql).is_some())
    }

    fn read_changes(&mut self) -> Result<Option<i64>, Error> {
        Ok(read_changes(self.conn, self.sql))
    }

    fn read_recorded(&mut self, version: i64) -> Result<Option<String>, Error> {
        self.conn
            .query_row(&self.sql.down_sql, [version], |row| row.get(0))
            .optional()
            .map(Option::flatten)
            .map_err(database_error(format!(
                "read the recorded down script of {version}"
            )))
    }

    fn run_script(
        &mut self,
        script: &Resolved<'_>,
        _: Sending,
        _: bool,
    ) -> Result<(), ScriptError> {
        crate::script::run_sqlite(self.conn, &script.sql, &mut self.text)
    }

    fn foreign_key_violation(&mut self) -> Result<Option<String>, Error> {
        if !self.check_foreign_keys {
            return Ok(None);
        }
        self.conn
            .query_row(FOREIGN_KEY_CHECK, [], |row| row.get(0))
            .optional()
            .map_err(database_error("check the foreign keys"))
    }

    fn foreign_keys_declared(&mut self) -> Result<bool, Error> {
        if !self.check_foreign_keys {
            return Ok(false);
        }
        self.conn
            .query_row(FOREIGN_KEYS_DECLARED, [], |row| row.get(0))
            .map_err(database_error(
                "read whether the schema declares foreign keys",
            ))
    }

    /// SQLite tells whether a transaction is open at no cost.
    fn transaction_ended(&mut self, _: bool) -> Result<bool, Error> {
        let ended = self.open && self.conn.is_autocommit();
        if ended {
            self.open = false;
        }
        Ok(ended)
    }

    fn write(&mut self, write: &Write<'_>) -> Result<(), Error> {
        let (conn, sql) = (self.conn, self.sql);
        match write {
            Write::Insert { row, down_sql } => {
                conn.prepare_cached(&sql.insert).and_then(|mut s| {
                    s.execute(params![
                        row.version,
                        row.name,
                        row.checksum,
                        down_sql,
                        row.applied_at,
                        row.execution_ms,
                        row.success
                    ])
                })
            }
            Write::Mark {
                version,
                success,
                execution_ms,
            } => conn.execute(&sql.mark, params![success, execution_ms, version]),
            Write::Delete(version) => conn.execute(&sql.delete, [version]),
            Write::MarkClean { version, checksum } => {
                conn.execute(&sql.mark_clean, params![checksum, version])
            }
            Write::Summary { digest, changes } => conn
                .prepare_cached(&sql.summary.update)
                .and_then(|mut s| s.execute(params![digest, changes])),
        }
        .map(drop)
        .map_err(database_error(write.action()))
    }

    fn commit(&mut self) -> Result<(), Error> {
        run_cached(self.conn, self.sql.commit)
            .map_err(|err| lock_error(err, self.timeout, "commit"))?;
        self.open = false;
        Ok(())
    }
}

/// Reads the history for the read-only views (status, history, current).
pub(crate) fn read_rows(conn: &Connection, options: &Options) -> Result<Vec<AppliedRow>, Error> {
    let sql = HistorySql::sqlite(&options.table);
    let _lock = BusyTimeout::set(conn, options.lock_timeout)?;
    match read_table(conn, &sql, options.lock_timeout)? {
        Table::Rows(rows) => Ok(rows),
        Table::Missing => Ok(Vec::new()),
        // Read as it is: only a run that changes the database upgrades it.
        Table::Outdated(columns) => read_with(conn, &sql.read_outdated(&columns))
            .map(|rows| Table::rows(rows).into_rows())
            .map_err(database_error(format!(
                "read the history table {}",
                sql.table
            ))),
    }
}

/// Records the history as if at `target`, running no script.
pub(crate) fn stamp(
    conn: &Connection,
    known: &[Migration],
    target: Target,
    options: &Options,
) -> Result<crate::Stamped, Error> {
    let sql = HistorySql::sqlite(&options.table);
    if !conn.is_autocommit() {
        return Err(Error::InTransaction);
    }
    let _lock = BusyTimeout::set(conn, options.lock_timeout)?;
    let mut driver = Driver::new(conn, &sql, options);
    let rules = Rules::new(Dialect::Sqlite, options);
    exec::block_on(exec::stamp(&mut driver, rules, known, target))
}
