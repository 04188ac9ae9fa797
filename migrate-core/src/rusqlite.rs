//! The synchronous runner, on `rusqlite`.
//!
//! A start with nothing to do runs one history query and compares checksums
//! that were computed at compile time; it takes no lock, so it never waits on
//! (or blocks) the application's other writers. Only when there is work does
//! the runner take SQLite's write lock (`BEGIN IMMEDIATE`, with the lock
//! timeout as busy timeout), and it takes it per step: each step's script and
//! its history row commit together. Under the lock it re-reads the history
//! whenever another connection committed since its last read (SQLite's
//! `data_version`, O(1)) and re-plans, so concurrent processes never apply a
//! step twice.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use rusqlite::types::ValueRef;
use rusqlite::{Connection, ErrorCode, OptionalExtension, params};

use crate::backup::{self, Backup};
use crate::dialect::{DATA_VERSION, Dialect, HistorySql, added_columns};
use crate::plan::{self, Action, AppliedRow, Step, UpToDate};
use crate::report::{Direction, Report, StepReport};
use crate::run::{
    History, Resolved, StampWrite, Table, finish_step, nothing_to_do, stamp_writes, step_failed,
    step_span,
};
use crate::{Error, Migration, Options, Target, TransactionMode};

fn database_error(action: impl Into<String>) -> impl FnOnce(rusqlite::Error) -> Error {
    let action = action.into();
    move |err| Error::Database {
        action,
        message: err.to_string(),
    }
}

/// Reads the history with one query; an error is looked into only then.
fn read_table(conn: &Connection, sql: &HistorySql) -> Result<Table, Error> {
    let read = || -> rusqlite::Result<Vec<AppliedRow>> {
        let mut statement = conn.prepare(&sql.read)?;
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
    };
    match read() {
        Ok(rows) => Ok(Table::rows(rows)),
        Err(err) => {
            let columns =
                columns(conn, sql).map_err(database_error("inspect the history table"))?;
            match Table::from_columns(&columns, Dialect::Sqlite) {
                Some(table) => Ok(table),
                // Another runner may have created it just now: read again.
                None => read().map(Table::rows).map_err(|_| {
                    database_error(format!("read the history table {}", sql.table))(err)
                }),
            }
        }
    }
}

fn columns(conn: &Connection, sql: &HistorySql) -> rusqlite::Result<Vec<String>> {
    let mut statement = conn.prepare(&sql.columns)?;
    let names = statement.query_map([&sql.bare], |row| row.get::<_, String>(0))?;
    names.collect()
}

/// Creates the table, or brings an older format up to date in place.
fn ensure_table(conn: &Connection, sql: &HistorySql) -> Result<(), Error> {
    let fail = || database_error(format!("create the history table {}", sql.table));
    conn.execute_batch(&sql.create).map_err(fail())?;
    let existing = columns(conn, sql).map_err(fail())?;
    for (name, definition) in added_columns(Dialect::Sqlite) {
        if !existing.iter().any(|c| c == name) {
            conn.execute_batch(&format!(
                "ALTER TABLE {} ADD COLUMN {definition}",
                sql.table
            ))
            .map_err(fail())?;
        }
    }
    Ok(())
}

/// `BEGIN IMMEDIATE`, rolled back on drop unless committed: whatever path
/// leaves the runner, the write lock is released.
struct Transaction<'c> {
    conn: &'c Connection,
    open: bool,
    timeout: Duration,
    commit: &'static str,
}

impl<'c> Transaction<'c> {
    fn begin(conn: &'c Connection, sql: &HistorySql, timeout: Duration) -> Result<Self, Error> {
        run_cached(conn, sql.begin)
            .map_err(|err| lock_error(err, timeout, "take the database's write lock"))?;
        Ok(Transaction {
            conn,
            open: true,
            timeout,
            commit: sql.commit,
        })
    }

    fn commit(mut self) -> Result<(), Error> {
        run_cached(self.conn, self.commit)
            .map_err(|err| lock_error(err, self.timeout, "commit"))?;
        self.open = false;
        Ok(())
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        if self.open {
            // Nothing better to do with an error here: the connection rolls
            // back on close anyway.
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

/// Runs a statement the runner repeats at every step, prepared once per
/// connection.
fn run_cached(conn: &Connection, statement: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(statement)?.execute([]).map(drop)
}

fn lock_error(err: rusqlite::Error, timeout: Duration, action: &str) -> Error {
    match err {
        rusqlite::Error::SqliteFailure(code, _) if code.code == ErrorCode::DatabaseBusy => {
            Error::LockTimeout { waited: timeout }
        }
        err => database_error(action)(err),
    }
}

/// Sets the busy timeout for the run and restores the caller's on drop.
struct BusyTimeout<'c> {
    conn: &'c Connection,
    previous: Duration,
}

impl<'c> BusyTimeout<'c> {
    fn set(conn: &'c Connection, timeout: Duration) -> Result<Self, Error> {
        let fail = || database_error("set the busy timeout");
        let previous: i64 = conn
            .pragma_query_value(None, "busy_timeout", |row| row.get(0))
            .map_err(fail())?;
        conn.busy_timeout(timeout).map_err(fail())?;
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
/// is work, lock and execute.
pub(crate) fn execute(
    conn: &Connection,
    known: &[Migration],
    direction: Direction,
    target: Target,
    options: &Options,
) -> Result<Report, Error> {
    let sql = HistorySql::sqlite(&options.table);
    if UpToDate::answers(direction, target) && up_to_date(conn, &sql, known, options) {
        return Ok(nothing_to_do(known));
    }
    // Read before the history, so that under the lock the history is read
    // again only if another connection committed since.
    let data_version = data_version(conn)?;
    let (rows, table_ready) = match read_table(conn, &sql)? {
        Table::Rows(rows) => (rows, true),
        Table::Missing => (Vec::new(), false),
        Table::Outdated => (upgrade_format(conn, &sql, options)?, true),
    };
    let first = plan::plan(known, &rows, direction, target, options)?;
    let mut report = Report {
        direction,
        from: first.from,
        to: first.to,
        steps: Vec::new(),
        backup: None,
    };
    if first.steps.is_empty() {
        return Ok(report);
    }
    if !conn.is_autocommit() {
        return Err(Error::InTransaction);
    }
    report.backup = match (&options.backup, direction) {
        (Some(backup), Direction::Up) => Some(back_up(conn, backup, first.from)?),
        _ => None,
    };
    let _timeout = BusyTimeout::set(conn, options.lock_timeout)?;
    let mut runner = Runner {
        conn,
        sql: &sql,
        known,
        options,
        direction,
        history: History::new(rows),
        table_ready,
        data_version,
        completed: Vec::new(),
        deferred: None,
    };
    let result = match options.transaction_mode {
        TransactionMode::PerStep => runner.per_step(first.steps),
        TransactionMode::Single => runner.all_in_one(first.steps),
    };
    result.map_err(|err| backup::name_backup(err, report.backup.as_ref()))?;
    report.steps = runner.completed;
    report.to = runner.history.head();
    Ok(report)
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
fn data_version(conn: &Connection) -> Result<Option<i64>, Error> {
    conn.prepare_cached(DATA_VERSION)
        .and_then(|mut statement| statement.query_row([], |row| row.get(0)))
        .map(Some)
        .map_err(database_error("read the database's data version"))
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

fn upgrade_format(
    conn: &Connection,
    sql: &HistorySql,
    options: &Options,
) -> Result<Vec<AppliedRow>, Error> {
    let _timeout = BusyTimeout::set(conn, options.lock_timeout)?;
    let transaction = Transaction::begin(conn, sql, options.lock_timeout)?;
    ensure_table(conn, sql)?;
    transaction.commit()?;
    match read_table(conn, sql)? {
        Table::Rows(rows) => Ok(rows),
        Table::Missing | Table::Outdated => Err(Error::Database {
            action: format!("upgrade the history table {}", sql.table),
            message: "its columns are still not as expected".to_owned(),
        }),
    }
}

struct Runner<'r, 'm> {
    conn: &'r Connection,
    sql: &'r HistorySql,
    known: &'m [Migration],
    options: &'r Options,
    direction: Direction,
    history: History,
    table_ready: bool,
    /// SQLite's `data_version` when this runner last read the history.
    data_version: Option<i64>,
    completed: Vec<StepReport>,
    /// In all-in-one mode, the history rows still to write: written after
    /// the last script, in the same transaction, so that the cached
    /// `INSERT` is prepared again once rather than after every script's
    /// schema change.
    deferred: Option<Vec<(&'m Migration, AppliedRow)>>,
}

impl<'m> Runner<'_, 'm> {
    /// Under the write lock: makes sure the table exists, and re-reads the
    /// history and re-plans the remaining steps when another connection
    /// committed since this runner last read it. SQLite's `data_version`
    /// tells that in O(1) and ignores this connection's own commits.
    fn under_lock(&mut self, remaining: &[Step<'m>]) -> Result<Option<Vec<Step<'m>>>, Error> {
        if !self.table_ready {
            ensure_table(self.conn, self.sql)?;
            self.table_ready = true;
        }
        let version = data_version(self.conn)?;
        if self.data_version == version {
            return Ok(None);
        }
        self.data_version = version;
        self.history
            .replace(read_table(self.conn, self.sql)?.into_rows());
        plan::replan(
            self.known,
            &self.history.rows,
            remaining,
            self.direction,
            self.options,
        )
        .map(Some)
    }

    fn per_step(&mut self, mut steps: Vec<Step<'m>>) -> Result<(), Error> {
        let mut next = 0;
        while next < steps.len() {
            let transaction = Transaction::begin(self.conn, self.sql, self.options.lock_timeout)?;
            if let Some(replanned) = self.under_lock(&steps[next..])? {
                steps = replanned;
                next = 0;
                if steps.is_empty() {
                    return transaction.commit();
                }
            }
            let step = &steps[next];
            let script = self.resolve(step)?;
            if script.no_transaction {
                self.mark_dirty(step)?;
                transaction.commit()?;
                self.step(step, &script, true)?;
            } else {
                self.step(step, &script, false)?;
                transaction.commit()?;
            }
            next += 1;
        }
        Ok(())
    }

    fn all_in_one(&mut self, mut steps: Vec<Step<'m>>) -> Result<(), Error> {
        let transaction = Transaction::begin(self.conn, self.sql, self.options.lock_timeout)?;
        if let Some(replanned) = self.under_lock(&steps)? {
            steps = replanned;
        }
        let scripts = steps
            .iter()
            .map(|step| self.resolve(step))
            .collect::<Result<Vec<_>, _>>()?;
        if let Some((step, script)) = steps
            .iter()
            .zip(&scripts)
            .find(|(_, script)| script.no_transaction)
        {
            return Err(Error::NoTransactionInSingle {
                version: step.version,
                file: script.file.clone(),
            });
        }
        self.deferred = Some(Vec::new());
        for (step, script) in steps.iter().zip(&scripts) {
            // On failure the one transaction rolls back: nothing completed.
            self.step(step, script, false).map_err(|mut err| {
                if let Error::Step { completed, .. } = &mut err {
                    completed.clear();
                }
                err
            })?;
        }
        for (migration, row) in self.deferred.take().unwrap_or_default() {
            self.insert(migration, &row)
                .map_err(database_error(format!(
                    "record migration {} in the history table",
                    row.version
                )))
                .inspect_err(|_| self.completed.clear())?;
        }
        transaction.commit().inspect_err(|_| self.completed.clear())
    }

    fn resolve(&self, step: &Step<'m>) -> Result<Resolved, Error> {
        if let Some(script) = Resolved::from_build(step) {
            return Ok(script);
        }
        let fail = || database_error(format!("read the recorded down script of {}", step.version));
        let recorded: Option<String> = self
            .conn
            .query_row(&self.sql.down_sql, [step.version], |row| row.get(0))
            .optional()
            .map_err(fail())?
            .flatten();
        Resolved::recorded(step, recorded)
    }

    /// Before a no-transaction script runs, the history says so: a new row
    /// with `success = false` (up) or the existing row set so (down).
    fn mark_dirty(&mut self, step: &Step<'m>) -> Result<(), Error> {
        let fail = || database_error(format!("record migration {} as in flight", step.version));
        match (self.direction, step.action) {
            (Direction::Up, Action::Apply(migration)) => {
                let row = self.history.new_row(migration, 0, false);
                self.insert(migration, &row).map_err(fail())?;
                self.history.push(row);
            }
            _ => {
                self.conn
                    .execute(&self.sql.mark, params![false, 0, step.version])
                    .map_err(fail())?;
            }
        }
        Ok(())
    }

    fn insert(&self, migration: &Migration, row: &AppliedRow) -> rusqlite::Result<usize> {
        insert_row(self.conn, self.sql, migration, row)
    }

    /// Runs one step's script and writes its history row, timed and traced.
    fn step(
        &mut self,
        step: &Step<'m>,
        script: &Resolved,
        outside_transaction: bool,
    ) -> Result<(), Error> {
        let span = step_span(step, self.direction);
        let started = Instant::now();
        crate::script::run_sqlite(self.conn, &script.sql).map_err(|failure| {
            step_failed(
                step,
                script,
                failure,
                outside_transaction,
                std::mem::take(&mut self.completed),
            )
        })?;
        let elapsed_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        let fail = || {
            database_error(format!(
                "record migration {} in the history table",
                step.version
            ))
        };
        match (self.direction, step.action) {
            (Direction::Up, Action::Apply(_)) if outside_transaction => {
                self.conn
                    .execute(&self.sql.mark, params![true, elapsed_ms, step.version])
                    .map_err(fail())?;
                if let Some(row) = self
                    .history
                    .rows
                    .iter_mut()
                    .find(|row| row.version == step.version)
                {
                    row.success = true;
                    row.execution_ms = elapsed_ms;
                }
            }
            (Direction::Up, Action::Apply(migration)) => {
                let row = self.history.new_row(migration, elapsed_ms, true);
                match &mut self.deferred {
                    Some(deferred) => deferred.push((migration, row.clone())),
                    None => {
                        self.insert(migration, &row).map_err(fail())?;
                    }
                }
                self.history.push(row);
            }
            _ => {
                self.conn
                    .execute(&self.sql.delete, [step.version])
                    .map_err(fail())?;
                self.history.rows.retain(|row| row.version != step.version);
            }
        }
        finish_step(&span, step, self.direction, started, &mut self.completed);
        Ok(())
    }
}

/// Writes a history row; the down script is stored so that an older build
/// can still undo this step.
fn insert_row(
    conn: &Connection,
    sql: &HistorySql,
    migration: &Migration,
    row: &AppliedRow,
) -> rusqlite::Result<usize> {
    conn.prepare_cached(&sql.insert)?.execute(params![
        row.version,
        row.name,
        row.checksum,
        migration.down().map(|down| down.sql()),
        row.applied_at,
        row.execution_ms,
        row.success
    ])
}

/// Reads the history for the read-only views (status, history, current).
pub(crate) fn read_rows(conn: &Connection, options: &Options) -> Result<Vec<AppliedRow>, Error> {
    let sql = HistorySql::sqlite(&options.table);
    match read_table(conn, &sql)? {
        Table::Rows(rows) => Ok(rows),
        Table::Missing => Ok(Vec::new()),
        Table::Outdated => upgrade_format(conn, &sql, options),
    }
}

/// Records the history as if at `target`, running no script.
pub(crate) fn stamp(
    conn: &Connection,
    known: &[Migration],
    target: Target,
    options: &Options,
) -> Result<Report, Error> {
    let sql = HistorySql::sqlite(&options.table);
    if !conn.is_autocommit() {
        return Err(Error::InTransaction);
    }
    let _timeout = BusyTimeout::set(conn, options.lock_timeout)?;
    let transaction = Transaction::begin(conn, &sql, options.lock_timeout)?;
    ensure_table(conn, &sql)?;
    let mut rows = read_table(conn, &sql)?.into_rows();
    let stamp = plan::plan_stamp(known, &rows, target)?;
    let (writes, report) = stamp_writes(stamp, &mut rows);
    let fail = || database_error(format!("stamp the history table {}", sql.table));
    for write in writes {
        match write {
            StampWrite::Delete(version) => conn.execute(&sql.delete, [version]),
            StampWrite::MarkClean(version, checksum) => {
                conn.execute(&sql.mark_clean, params![checksum, version])
            }
            StampWrite::Insert(migration, row) => insert_row(conn, &sql, migration, &row),
        }
        .map_err(fail())?;
    }
    transaction.commit()?;
    Ok(report)
}
