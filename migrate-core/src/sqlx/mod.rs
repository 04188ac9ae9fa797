//! The async runner, on `sqlx` pools: SQLite, PostgreSQL and MySQL/MariaDB.
//!
//! It drives the same planner as the rusqlite runner; a [`Backend`] only
//! knows how to read the history, lock, and run one step. The runner is:
//! read the history without a lock and plan; if there is nothing to do,
//! stop (one query). Otherwise take the database's lock on one pooled
//! connection (PostgreSQL: a session advisory lock taken by a
//! `pg_try_advisory_lock` spin with server-side sleeps, so a waiting runner
//! never holds a snapshot that a `CREATE INDEX CONCURRENTLY` would wait for;
//! MySQL: `GET_LOCK`; SQLite: `BEGIN IMMEDIATE` per step), make sure the
//! table exists, re-read, re-plan, and run each step with its history row.
//! The lock is released on every path: explicitly after the run, and, if
//! the run's future is dropped midway, by closing the connection rather
//! than returning it to the pool still locked.
//!
//! ```no_run
//! # async fn start(pool: sqlx::PgPool) -> Result<(), migrate::Error> {
//! const MIGRATIONS: migrate::Migrations = migrate::embed_migrations!("migrations");
//! let report = migrate::sqlx::run(&pool, &MIGRATIONS).await?;
//! # Ok(()) }
//! ```

mod backends;
mod script;

use std::future::Future;
use std::time::Instant;

use sqlx::pool::PoolConnection;
use sqlx::{Connection as _, Pool};

use crate::dialect::{Dialect, HistorySql};
use crate::plan::{self, Action, AppliedRow, Plan, Step, UpToDate};
use crate::report::{Current, Direction, HistoryEntry, Report, Status, StepReport};
use crate::run::{
    History, Resolved, ScriptError, StampWrite, Table, finish_step, nothing_to_do, stamp_writes,
    step_failed, step_span,
};

#[doc(hidden)]
pub use crate::dialect::HistorySql as __HistorySql;
use crate::{Error, Migrations, Options, Target, TransactionMode};

/// A database `migrate` runs on through `sqlx`: `sqlx::Sqlite`,
/// `sqlx::Postgres` or `sqlx::MySql`, as the crate's features allow. Its
/// methods are internal.
pub trait Backend: sqlx::Database + private::Sealed {
    #[doc(hidden)]
    const DIALECT: Dialect;

    /// Reads every history row.
    #[doc(hidden)]
    fn read_rows(
        conn: &mut Self::Connection,
        sql: &HistorySql,
    ) -> impl Future<Output = Result<Vec<AppliedRow>, sqlx::Error>> + Send;

    /// Runs a statement with no result, binding `params` in order.
    #[doc(hidden)]
    fn execute(
        conn: &mut Self::Connection,
        statement: &str,
        params: &[Param<'_>],
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    /// Reads the first column of a statement's rows as text.
    #[doc(hidden)]
    fn texts(
        conn: &mut Self::Connection,
        statement: &str,
        params: &[Param<'_>],
    ) -> impl Future<Output = Result<Vec<Option<String>>, sqlx::Error>> + Send;

    /// Runs a whole script as one batch (SQLite parses it statement by
    /// statement; PostgreSQL and MySQL run it as one multi-statement query).
    #[doc(hidden)]
    fn run_batch(
        conn: &mut Self::Connection,
        script: &str,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    /// Takes the lock that spans a whole run (PostgreSQL's session advisory
    /// lock, MySQL's `GET_LOCK`); SQLite has none, its lock is per step.
    /// Returns a token for [`Backend::unlock_run`].
    #[doc(hidden)]
    fn lock_run(
        conn: &mut Self::Connection,
        sql: &HistorySql,
        options: &Options,
    ) -> impl Future<Output = Result<i64, Error>> + Send;

    /// Releases the run's lock.
    #[doc(hidden)]
    fn unlock_run(
        conn: &mut Self::Connection,
        sql: &HistorySql,
        options: &Options,
        token: i64,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// Inside a step's transaction, before anything else: takes the step's
    /// lock where there is one (PostgreSQL's transaction-scoped lock mode).
    #[doc(hidden)]
    fn lock_step(
        conn: &mut Self::Connection,
        sql: &HistorySql,
        options: &Options,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// Under the lock: has another connection changed the history since
    /// `seen`? (`None` the first time: always re-read then.)
    #[doc(hidden)]
    fn moved(
        conn: &mut Self::Connection,
        seen: &mut Option<i64>,
        options: &Options,
    ) -> impl Future<Output = Result<bool, Error>> + Send;

    /// Refuses a backup where `migrate` cannot make one (server databases).
    #[doc(hidden)]
    fn can_back_up() -> Result<(), Error>;

    /// Copies the database before an upgrade; returns the copy's path.
    #[doc(hidden)]
    fn back_up(
        conn: &mut Self::Connection,
        backup: &crate::Backup,
        current: Option<i64>,
    ) -> impl Future<Output = Result<std::path::PathBuf, Error>> + Send;

    /// True when the run's lock keeps every other runner out for the whole
    /// run (so a dirty mark seen under it is not a step in flight).
    #[doc(hidden)]
    fn holds_run_lock(options: &Options) -> bool;

    /// Runs a step's script inside its transaction (`file` names it in
    /// messages), naming the failing statement where it can be known.
    #[doc(hidden)]
    fn run_script(
        conn: &mut Self::Connection,
        script: &str,
        file: &str,
    ) -> impl Future<Output = Result<(), ScriptError>> + Send;

    /// Runs a no-transaction script outside any transaction.
    #[doc(hidden)]
    fn run_outside(
        conn: &mut Self::Connection,
        script: &str,
    ) -> impl Future<Output = Result<(), ScriptError>> + Send;
}

mod private {
    pub trait Sealed {}
}

/// A value bound to a statement's placeholder.
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub enum Param<'v> {
    /// An integer.
    Integer(i64),
    /// Text.
    Text(&'v str),
    /// Text or NULL.
    OptionalText(Option<&'v str>),
    /// A boolean.
    Boolean(bool),
}

fn database_error(action: impl Into<String>) -> impl FnOnce(sqlx::Error) -> Error {
    let action = action.into();
    move |err| Error::Database {
        action,
        message: message(&err),
    }
}

/// The database's message, without what sqlx wraps around it.
pub(crate) fn message(err: &sqlx::Error) -> String {
    match err {
        sqlx::Error::Database(db) => db.message().to_owned(),
        other => other.to_string(),
    }
}

async fn read_table<DB: Backend>(
    conn: &mut DB::Connection,
    sql: &HistorySql,
) -> Result<Table, Error> {
    match DB::read_rows(conn, sql).await {
        Ok(rows) => Ok(Table::rows(rows)),
        Err(err) => {
            let columns = DB::texts(conn, &sql.columns, &[Param::Text(&sql.bare)])
                .await
                .map_err(database_error("inspect the history table"))?;
            let columns: Vec<String> = columns.into_iter().flatten().collect();
            match Table::from_columns(&columns, DB::DIALECT) {
                Some(table) => Ok(table),
                // Another runner may have created it just now: read again.
                None => DB::read_rows(conn, sql)
                    .await
                    .map(Table::rows)
                    .map_err(|_| {
                        database_error(format!("read the history table {}", sql.table))(err)
                    }),
            }
        }
    }
}

async fn ensure_table<DB: Backend>(
    conn: &mut DB::Connection,
    sql: &HistorySql,
) -> Result<(), Error> {
    let fail = || database_error(format!("create the history table {}", sql.table));
    if let Some(create_schema) = &sql.create_schema {
        DB::execute(conn, create_schema, &[])
            .await
            .map_err(fail())?;
    }
    DB::execute(conn, &sql.create, &[]).await.map_err(fail())?;
    let existing: Vec<String> = DB::texts(conn, &sql.columns, &[Param::Text(&sql.bare)])
        .await
        .map_err(fail())?
        .into_iter()
        .flatten()
        .collect();
    for (name, definition) in crate::dialect::added_columns(DB::DIALECT) {
        if !existing.iter().any(|c| c.eq_ignore_ascii_case(name)) {
            let alter = format!("ALTER TABLE {} ADD COLUMN {definition}", sql.table);
            DB::execute(conn, &alter, &[]).await.map_err(fail())?;
        }
    }
    Ok(())
}

fn connect_error(err: sqlx::Error) -> Error {
    database_error("get a connection from the pool")(err)
}

/// The pooled connection a run holds its lock on. If the run's future is
/// dropped while the lock may be held, the connection is closed instead of
/// going back to the pool, and the server releases the lock.
struct Held<DB: Backend> {
    conn: Option<PoolConnection<DB>>,
    locked: bool,
}

impl<DB: Backend> Held<DB> {
    fn conn(&mut self) -> &mut DB::Connection {
        self.conn.as_mut().expect("held until dropped")
    }
}

impl<DB: Backend> Drop for Held<DB> {
    fn drop(&mut self) {
        if self.locked
            && let Some(conn) = self.conn.as_mut()
        {
            conn.close_on_drop();
        }
    }
}

/// Plans and runs an upgrade or a downgrade.
async fn execute<DB: Backend>(
    pool: &Pool<DB>,
    migrations: &Migrations,
    direction: Direction,
    target: Target,
    options: &Options,
) -> Result<Report, Error> {
    let known = migrations.as_slice();
    let sql = HistorySql::new(DB::DIALECT, &options.table);
    if options.backup.is_some() && direction == Direction::Up {
        DB::can_back_up()?;
    }
    let mut held = Held::<DB> {
        conn: Some(pool.acquire().await.map_err(connect_error)?),
        locked: false,
    };
    if UpToDate::answers(direction, target)
        && up_to_date::<DB>(held.conn(), &sql, known, options).await
    {
        return Ok(nothing_to_do(known));
    }
    // On SQLite, `moved` notes the data version: read before the history,
    // it lets the first step under the lock skip reading the history again
    // unless another connection committed since. (On the servers the
    // history read without the lock is always read again under it.)
    let mut seen = None;
    if DB::DIALECT == Dialect::Sqlite {
        DB::moved(held.conn(), &mut seen, options).await?;
    }
    let table = read_table::<DB>(held.conn(), &sql).await?;
    let table_ready = matches!(table, Table::Rows(_));
    let rows = table.into_rows();
    let first = match plan::plan(known, &rows, direction, target, options) {
        Ok(first) if first.steps.is_empty() && table_ready => {
            return Ok(Report {
                direction,
                from: first.from,
                to: first.to,
                steps: Vec::new(),
                backup: None,
            });
        }
        Ok(first) => Some(first),
        // A dirty mark seen without the lock may be a step in flight on a
        // runner that holds it: wait for the lock, then look again.
        Err(Error::Dirty { .. }) if DB::holds_run_lock(options) => None,
        Err(err) => return Err(err),
    };
    if options.transaction_mode == TransactionMode::Single && DB::DIALECT == Dialect::MySql {
        return Err(Error::SingleTransactionUnsupported);
    }
    let backup = match (&options.backup, direction, &first) {
        (Some(backup), Direction::Up, Some(first)) => {
            Some(DB::back_up(held.conn(), backup, first.from).await?)
        }
        _ => None,
    };
    // Only a session lock must not outlive a dropped run; a SQLite
    // connection (perhaps the one holding an in-memory database) stays.
    held.locked = DB::holds_run_lock(options);
    let token = DB::lock_run(held.conn(), &sql, options).await?;
    let mut runner = Runner::<DB> {
        sql: &sql,
        known,
        options,
        direction,
        history: History::new(rows),
        table_ready,
        seen,
        completed: Vec::new(),
        _db: std::marker::PhantomData,
    };
    let result = runner.run(held.conn(), first, target).await;
    let unlocked = DB::unlock_run(held.conn(), &sql, options, token).await;
    if unlocked.is_ok() {
        held.locked = false;
    }
    let from = result.map_err(|err| crate::backup::name_backup(err, backup.as_ref()))?;
    unlocked?;
    Ok(Report {
        direction,
        from,
        to: runner.history.head(),
        steps: runner.completed,
        backup,
    })
}

/// A start's fast path: true when the history holds every known migration,
/// clean and with the build's checksum, told from one aggregated value
/// where the dialect has one ([`digest_up_to_date`]). Any failure (no
/// table yet, an older format) answers false, and the full read that
/// follows explains it.
async fn up_to_date<DB: Backend>(
    conn: &mut DB::Connection,
    sql: &HistorySql,
    known: &[crate::Migration],
    options: &Options,
) -> bool {
    let Some(statement) = &sql.digest else {
        return false;
    };
    match DB::texts(conn, statement, &[]).await {
        Ok(texts) => texts
            .first()
            .and_then(Option::as_deref)
            .is_some_and(|digest| digest_up_to_date(known, options, digest)),
        Err(_) => false,
    }
}

/// A start's fast path: whether the history's digest (see
/// `HistorySql::digest`) says that an upgrade to head has nothing to do, as
/// [`UpToDate`] decides it row by row. Anything unexpected in the text
/// answers false: the full read and the planner then decide and explain.
pub(crate) fn digest_up_to_date(
    known: &[crate::Migration],
    options: &Options,
    digest: &str,
) -> bool {
    let mut check = UpToDate::new(known, options);
    let mut parts = digest.splitn(3, '|');
    let (Some(head), Some(versions), Some(checksums)) = (parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let Some((Ok(count), "1")) = head
        .split_once(' ')
        .map(|(count, clean)| (count.parse::<usize>(), clean))
    else {
        return false;
    };
    let mut rows = 0;
    if count > 0 {
        let mut checksums = checksums.split(' ');
        for version in versions.split(' ') {
            let (Ok(version), Some(checksum)) = (version.parse(), checksums.next()) else {
                return false;
            };
            if !check.row(version, checksum, true) {
                return false;
            }
            rows += 1;
        }
        if checksums.next().is_some() {
            return false;
        }
    }
    // A checksum holding a space would have made more items than rows.
    rows == count && check.finish()
}

struct Runner<'r, 'm, DB> {
    sql: &'r HistorySql,
    known: &'m [crate::Migration],
    options: &'r Options,
    direction: Direction,
    history: History,
    table_ready: bool,
    seen: Option<i64>,
    completed: Vec<StepReport>,
    _db: std::marker::PhantomData<DB>,
}

impl<'m, DB: Backend> Runner<'_, 'm, DB> {
    /// Under the run's lock: the plan made without it, or (when that saw a
    /// dirty mark) a plan made now; then its steps. Returns `from`.
    async fn run(
        &mut self,
        conn: &mut DB::Connection,
        first: Option<Plan<'m>>,
        target: Target,
    ) -> Result<Option<i64>, Error> {
        let first = match first {
            Some(first) => first,
            None => {
                let rows = read_table::<DB>(conn, self.sql).await?.into_rows();
                self.history.replace(rows);
                plan::plan(
                    self.known,
                    &self.history.rows,
                    self.direction,
                    target,
                    self.options,
                )?
            }
        };
        match self.options.transaction_mode {
            TransactionMode::PerStep => self.per_step(conn, first.steps).await?,
            TransactionMode::Single => self.all_in_one(conn, first.steps).await?,
        }
        Ok(first.from)
    }

    /// Under the lock: the table exists, and the history is re-read (and
    /// the remaining steps re-planned) if another runner moved it.
    async fn under_lock(
        &mut self,
        conn: &mut DB::Connection,
        remaining: &[Step<'m>],
    ) -> Result<Option<Vec<Step<'m>>>, Error> {
        if !self.table_ready {
            ensure_table::<DB>(conn, self.sql).await?;
            self.table_ready = true;
        }
        if !DB::moved(conn, &mut self.seen, self.options).await? {
            return Ok(None);
        }
        let rows = read_table::<DB>(conn, self.sql).await?.into_rows();
        self.history.replace(rows);
        plan::replan(
            self.known,
            &self.history.rows,
            remaining,
            self.direction,
            self.options,
        )
        .map(Some)
    }

    async fn resolve(&self, conn: &mut DB::Connection, step: &Step<'m>) -> Result<Resolved, Error> {
        if let Some(script) = Resolved::from_build(step) {
            return Ok(script);
        }
        let recorded = DB::texts(conn, &self.sql.down_sql, &[Param::Integer(step.version)])
            .await
            .map_err(database_error(format!(
                "read the recorded down script of {}",
                step.version
            )))?;
        Resolved::recorded(step, recorded.into_iter().next().flatten())
    }

    async fn per_step(
        &mut self,
        conn: &mut DB::Connection,
        mut steps: Vec<Step<'m>>,
    ) -> Result<(), Error> {
        let mut next = 0;
        while next < steps.len() {
            if DB::DIALECT == Dialect::MySql {
                // DDL commits implicitly: no transaction, the run's lock
                // keeps others out, and each step is marked in flight first.
                if let Some(replanned) = self.under_lock(conn, &steps[next..]).await? {
                    (steps, next) = (replanned, 0);
                    if steps.is_empty() {
                        return Ok(());
                    }
                }
                let step = &steps[next];
                let script = self.resolve(conn, step).await?;
                self.mark_dirty(conn, step).await?;
                self.step(conn, step, &script, true).await?;
            } else {
                let mut tx = begin::<DB>(conn, self.sql, self.options).await?;
                if let Some(replanned) = self.under_lock(&mut tx, &steps[next..]).await? {
                    (steps, next) = (replanned, 0);
                    if steps.is_empty() {
                        return commit::<DB>(tx).await;
                    }
                }
                let step = &steps[next];
                let script = self.resolve(&mut tx, step).await?;
                if script.no_transaction {
                    self.mark_dirty(&mut tx, step).await?;
                    commit::<DB>(tx).await?;
                    self.step(conn, step, &script, true).await?;
                } else {
                    self.step(&mut tx, step, &script, false).await?;
                    commit::<DB>(tx).await?;
                }
            }
            next += 1;
        }
        Ok(())
    }

    async fn all_in_one(
        &mut self,
        conn: &mut DB::Connection,
        mut steps: Vec<Step<'m>>,
    ) -> Result<(), Error> {
        let mut tx = begin::<DB>(conn, self.sql, self.options).await?;
        if let Some(replanned) = self.under_lock(&mut tx, &steps).await? {
            steps = replanned;
        }
        let mut scripts = Vec::with_capacity(steps.len());
        for step in &steps {
            scripts.push(self.resolve(&mut tx, step).await?);
        }
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
        for (step, script) in steps.iter().zip(&scripts) {
            // On failure the one transaction rolls back: nothing completed.
            if let Err(mut err) = self.step(&mut tx, step, script, false).await {
                if let Error::Step { completed, .. } = &mut err {
                    completed.clear();
                }
                return Err(err);
            }
        }
        commit::<DB>(tx)
            .await
            .inspect_err(|_| self.completed.clear())
    }

    /// Before a script that runs outside a transaction, the history says
    /// so: a new row with `success = false` (up) or the row set so (down).
    async fn mark_dirty(
        &mut self,
        conn: &mut DB::Connection,
        step: &Step<'m>,
    ) -> Result<(), Error> {
        let fail = || database_error(format!("record migration {} as in flight", step.version));
        match (self.direction, step.action) {
            (Direction::Up, Action::Apply(migration)) => {
                let row = self.history.new_row(migration, 0, false);
                insert::<DB>(conn, self.sql, migration, &row)
                    .await
                    .map_err(fail())?;
                self.history.push(row);
            }
            _ => {
                let params = [
                    Param::Boolean(false),
                    Param::Integer(0),
                    Param::Integer(step.version),
                ];
                DB::execute(conn, &self.sql.mark, &params)
                    .await
                    .map_err(fail())?;
            }
        }
        Ok(())
    }

    /// Runs one step's script and writes its history row, timed and traced.
    async fn step(
        &mut self,
        conn: &mut DB::Connection,
        step: &Step<'m>,
        script: &Resolved,
        outside: bool,
    ) -> Result<(), Error> {
        let span = step_span(step, self.direction);
        let started = Instant::now();
        // An empty or comment-only script (a placeholder) sends nothing:
        // MySQL refuses an empty query.
        let ran = if migrate_files::is_blank(&script.sql) {
            Ok(())
        } else if outside {
            DB::run_outside(conn, &script.sql).await
        } else {
            DB::run_script(conn, &script.sql, &script.file).await
        };
        if let Err(failure) = ran {
            return Err(step_failed(
                step,
                script,
                failure,
                outside,
                std::mem::take(&mut self.completed),
            ));
        }
        let elapsed_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        let fail = || {
            database_error(format!(
                "record migration {} in the history table",
                step.version
            ))
        };
        match (self.direction, step.action) {
            (Direction::Up, Action::Apply(_)) if outside => {
                let params = [
                    Param::Boolean(true),
                    Param::Integer(elapsed_ms),
                    Param::Integer(step.version),
                ];
                DB::execute(conn, &self.sql.mark, &params)
                    .await
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
                insert::<DB>(conn, self.sql, migration, &row)
                    .await
                    .map_err(fail())?;
                self.history.push(row);
            }
            _ => {
                DB::execute(conn, &self.sql.delete, &[Param::Integer(step.version)])
                    .await
                    .map_err(fail())?;
                self.history.rows.retain(|row| row.version != step.version);
            }
        }
        finish_step(&span, step, self.direction, started, &mut self.completed);
        Ok(())
    }
}

/// A step's transaction: the dialect's `BEGIN` (SQLite's takes the write
/// lock, waiting up to the lock timeout), then the step's lock if any.
/// Dropped without commit, it rolls back.
async fn begin<'c, DB: Backend>(
    conn: &'c mut DB::Connection,
    sql: &HistorySql,
    options: &Options,
) -> Result<sqlx::Transaction<'c, DB>, Error> {
    let mut tx = conn
        .begin_with(sqlx::AssertSqlSafe(sql.begin))
        .await
        .map_err(|err| lock_error(&err, options))?;
    DB::lock_step(&mut tx, sql, options).await?;
    Ok(tx)
}

async fn commit<DB: Backend>(tx: sqlx::Transaction<'_, DB>) -> Result<(), Error> {
    tx.commit().await.map_err(database_error("commit"))
}

/// SQLite answers `database is locked` (code 5) when its busy timeout ran out.
fn lock_error(err: &sqlx::Error, options: &Options) -> Error {
    match err {
        sqlx::Error::Database(db) if db.code().as_deref() == Some("5") => Error::LockTimeout {
            waited: options.lock_timeout,
        },
        other => Error::Database {
            action: "begin a transaction".to_owned(),
            message: message(other),
        },
    }
}

async fn insert<DB: Backend>(
    conn: &mut DB::Connection,
    sql: &HistorySql,
    migration: &crate::Migration,
    row: &AppliedRow,
) -> Result<(), sqlx::Error> {
    let params = [
        Param::Integer(row.version),
        Param::Text(&row.name),
        Param::Text(&row.checksum),
        Param::OptionalText(migration.down().map(|down| down.sql())),
        Param::Text(&row.applied_at),
        Param::Integer(row.execution_ms),
        Param::Boolean(row.success),
    ];
    DB::execute(conn, &sql.insert, &params).await
}

async fn read_rows<DB: Backend>(
    pool: &Pool<DB>,
    options: &Options,
) -> Result<Vec<AppliedRow>, Error> {
    let sql = HistorySql::new(DB::DIALECT, &options.table);
    let mut conn = pool.acquire().await.map_err(connect_error)?;
    match read_table::<DB>(&mut conn, &sql).await? {
        Table::Rows(rows) => Ok(rows),
        Table::Missing => Ok(Vec::new()),
        Table::Outdated => {
            let mut tx = begin::<DB>(&mut conn, &sql, options).await?;
            ensure_table::<DB>(&mut tx, &sql).await?;
            commit::<DB>(tx).await?;
            Ok(read_table::<DB>(&mut conn, &sql).await?.into_rows())
        }
    }
}

async fn stamp_run<DB: Backend>(
    pool: &Pool<DB>,
    migrations: &Migrations,
    target: Target,
    options: &Options,
) -> Result<Report, Error> {
    let sql = HistorySql::new(DB::DIALECT, &options.table);
    let mut held = Held::<DB> {
        conn: Some(pool.acquire().await.map_err(connect_error)?),
        locked: DB::holds_run_lock(options),
    };
    let token = DB::lock_run(held.conn(), &sql, options).await?;
    let result = stamp_locked::<DB>(held.conn(), &sql, migrations, target, options).await;
    let unlocked = DB::unlock_run(held.conn(), &sql, options, token).await;
    if unlocked.is_ok() {
        held.locked = false;
    }
    let report = result?;
    unlocked?;
    Ok(report)
}

async fn stamp_locked<DB: Backend>(
    conn: &mut DB::Connection,
    sql: &HistorySql,
    migrations: &Migrations,
    target: Target,
    options: &Options,
) -> Result<Report, Error> {
    let mut tx = begin::<DB>(conn, sql, options).await?;
    ensure_table::<DB>(&mut tx, sql).await?;
    let mut rows = read_table::<DB>(&mut tx, sql).await?.into_rows();
    let stamp = plan::plan_stamp(migrations.as_slice(), &rows, target)?;
    let (writes, report) = stamp_writes(stamp, &mut rows);
    let fail = || database_error(format!("stamp the history table {}", sql.table));
    for write in writes {
        match write {
            StampWrite::Delete(version) => {
                DB::execute(&mut tx, &sql.delete, &[Param::Integer(version)]).await
            }
            StampWrite::MarkClean(version, checksum) => {
                DB::execute(
                    &mut tx,
                    &sql.mark_clean,
                    &[Param::Text(&checksum), Param::Integer(version)],
                )
                .await
            }
            StampWrite::Insert(migration, row) => insert::<DB>(&mut tx, sql, migration, &row).await,
        }
        .map_err(fail())?;
    }
    commit::<DB>(tx).await?;
    Ok(report)
}

/// Upgrades to head with default options: the call an application makes at
/// start-up. Idempotent: with nothing pending it runs one history query.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// # std::fs::write(dir.path().join("0001_init.sql"), "CREATE TABLE t (id INT);")?;
/// let set = migrate::Migrations::from_dir(dir.path())?;
/// let pool = sqlx::SqlitePool::connect("sqlite::memory:").await?;
/// assert_eq!(migrate::sqlx::run(&pool, &set).await?.steps.len(), 1);
/// assert_eq!(migrate::sqlx::run(&pool, &set).await?.steps.len(), 0);
/// # Ok(()) }
/// ```
///
/// # Errors
///
/// See [`upgrade`].
pub async fn run<DB: Backend>(pool: &Pool<DB>, migrations: &Migrations) -> Result<Report, Error> {
    upgrade(pool, migrations, Target::Head, &Options::default()).await
}

/// Applies pending migrations up to `target`.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// # for v in 1..=3 { std::fs::write(dir.path().join(format!("{v}_t{v}.sql")), format!("CREATE TABLE t{v} (id INT);"))?; }
/// let set = migrate::Migrations::from_dir(dir.path())?;
/// let pool = sqlx::SqlitePool::connect("sqlite::memory:").await?;
/// let report = migrate::sqlx::upgrade(&pool, &set, "+2".parse()?, &Default::default()).await?;
/// assert_eq!(report.to, Some(2));
/// # Ok(()) }
/// ```
///
/// # Errors
///
/// As the rusqlite [`crate::Migrator::upgrade`], plus
/// [`Error::SingleTransactionUnsupported`] on MySQL.
pub async fn upgrade<DB: Backend>(
    pool: &Pool<DB>,
    migrations: &Migrations,
    target: Target,
    options: &Options,
) -> Result<Report, Error> {
    execute(pool, migrations, Direction::Up, target, options).await
}

/// Reverts applied migrations down to `target`.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// # std::fs::write(dir.path().join("1_t.up.sql"), "CREATE TABLE t (id INT);")?;
/// # std::fs::write(dir.path().join("1_t.down.sql"), "DROP TABLE t;")?;
/// let set = migrate::Migrations::from_dir(dir.path())?;
/// let pool = sqlx::SqlitePool::connect("sqlite::memory:").await?;
/// migrate::sqlx::run(&pool, &set).await?;
/// let report = migrate::sqlx::downgrade(&pool, &set, "-1".parse()?, &Default::default()).await?;
/// assert_eq!(report.to, None);
/// # Ok(()) }
/// ```
///
/// # Errors
///
/// As the rusqlite [`crate::Migrator::downgrade`].
pub async fn downgrade<DB: Backend>(
    pool: &Pool<DB>,
    migrations: &Migrations,
    target: Target,
    options: &Options,
) -> Result<Report, Error> {
    execute(pool, migrations, Direction::Down, target, options).await
}

/// What an upgrade or a downgrade would do, changing nothing.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// # std::fs::write(dir.path().join("1_t.sql"), "CREATE TABLE t (id INT);")?;
/// let set = migrate::Migrations::from_dir(dir.path())?;
/// let pool = sqlx::SqlitePool::connect("sqlite::memory:").await?;
/// let plan = migrate::sqlx::plan(&pool, &set, migrate::Direction::Up, migrate::Target::Head, &Default::default()).await?;
/// assert_eq!(plan.steps.len(), 1);
/// # Ok(()) }
/// ```
///
/// # Errors
///
/// What the upgrade or downgrade would refuse.
pub async fn plan<'m, DB: Backend>(
    pool: &Pool<DB>,
    migrations: &'m Migrations,
    direction: Direction,
    target: Target,
    options: &Options,
) -> Result<Plan<'m>, Error> {
    let rows = read_rows(pool, options).await?;
    plan::plan(migrations.as_slice(), &rows, direction, target, options)
}

/// The database's state in one history query.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// let set = migrate::Migrations::from_dir(dir.path())?;
/// let pool = sqlx::SqlitePool::connect("sqlite::memory:").await?;
/// assert_eq!(migrate::sqlx::status(&pool, &set, &Default::default()).await?.pending, 0);
/// # Ok(()) }
/// ```
///
/// # Errors
///
/// A database error reading the history.
pub async fn status<DB: Backend>(
    pool: &Pool<DB>,
    migrations: &Migrations,
    options: &Options,
) -> Result<Status, Error> {
    let rows = read_rows(pool, options).await?;
    Ok(plan::status(migrations.as_slice(), &rows, options))
}

/// Every known or applied migration with its state, by version.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// let set = migrate::Migrations::from_dir(dir.path())?;
/// let pool = sqlx::SqlitePool::connect("sqlite::memory:").await?;
/// assert!(migrate::sqlx::history(&pool, &set, &Default::default()).await?.is_empty());
/// # Ok(()) }
/// ```
///
/// # Errors
///
/// A database error reading the history.
pub async fn history<DB: Backend>(
    pool: &Pool<DB>,
    migrations: &Migrations,
    options: &Options,
) -> Result<Vec<HistoryEntry>, Error> {
    let rows = read_rows(pool, options).await?;
    Ok(plan::history(migrations.as_slice(), &rows))
}

/// The newest applied migration.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// let set = migrate::Migrations::from_dir(dir.path())?;
/// let pool = sqlx::SqlitePool::connect("sqlite::memory:").await?;
/// assert_eq!(migrate::sqlx::current(&pool, &set, &Default::default()).await?.version, None);
/// # Ok(()) }
/// ```
///
/// # Errors
///
/// A database error reading the history.
pub async fn current<DB: Backend>(
    pool: &Pool<DB>,
    migrations: &Migrations,
    options: &Options,
) -> Result<Current, Error> {
    let rows = read_rows(pool, options).await?;
    Ok(plan::current(migrations.as_slice(), &rows))
}

/// Records the history as if at `target` without running any script.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// # std::fs::write(dir.path().join("1_t.sql"), "CREATE TABLE t (id INT);")?;
/// let set = migrate::Migrations::from_dir(dir.path())?;
/// let pool = sqlx::SqlitePool::connect("sqlite::memory:").await?;
/// migrate::sqlx::stamp(&pool, &set, migrate::Target::Head, &Default::default()).await?;
/// assert_eq!(migrate::sqlx::status(&pool, &set, &Default::default()).await?.pending, 0);
/// # Ok(()) }
/// ```
///
/// # Errors
///
/// [`Error::StampTarget`] for `+N`/`-N`, an unknown version, a database error.
pub async fn stamp<DB: Backend>(
    pool: &Pool<DB>,
    migrations: &Migrations,
    target: Target,
    options: &Options,
) -> Result<Report, Error> {
    stamp_run(pool, migrations, target, options).await
}

/// The exact SQL an upgrade or downgrade would run, in the database's
/// dialect, changing nothing (what `migrate upgrade --sql` prints).
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// # std::fs::write(dir.path().join("1_t.sql"), "CREATE TABLE t (id INT);")?;
/// let set = migrate::Migrations::from_dir(dir.path())?;
/// let pool = sqlx::SqlitePool::connect("sqlite::memory:").await?;
/// let sql = migrate::sqlx::sql(&pool, &set, migrate::Direction::Up, migrate::Target::Head, &Default::default()).await?;
/// assert!(sql.contains("CREATE TABLE t (id INT);"));
/// # Ok(()) }
/// ```
///
/// # Errors
///
/// What the upgrade or downgrade would refuse, and a database error reading
/// the history.
pub async fn sql<DB: Backend>(
    pool: &Pool<DB>,
    migrations: &Migrations,
    direction: Direction,
    target: Target,
    options: &Options,
) -> Result<String, Error> {
    migrations
        .with_options(options.clone())
        .sql_pool(pool, direction, target)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Migration, Script};

    fn set() -> Vec<Migration> {
        [(1, "aa"), (2, "bb"), (10, "cc")]
            .into_iter()
            .map(|(version, checksum)| {
                let up = Script::__embedded("up.sql", "SELECT 1;", false);
                Migration::__embedded(version, "m", checksum, up, None)
            })
            .collect()
    }

    #[test]
    fn the_digest_is_read_as_the_planner_would() {
        let known = set();
        let options = Options::default();
        let says = |digest: &str| digest_up_to_date(&known, &options, digest);
        assert!(says("3 1|1 2 10|aa bb cc"));
        assert!(says("3 1|10 1 2|cc aa bb"), "any row order");
        assert!(!says("2 1|1 2|aa bb"), "10 is pending");
        assert!(!says("3 0|1 2 10|aa bb cc"), "a dirty mark");
        assert!(!says("3 1|1 2 10|aa bb cd"), "an edit");
        assert!(!says("4 1|1 2 10 11|aa bb cc dd"), "an unknown version");
        assert!(!says("3 1|1 2 10|aa b b"), "a checksum with a space");
        assert!(
            !says("3 1|1 2 10|aa bb cc dd"),
            "more checksums than versions"
        );
        assert!(!says("4 1|1 2 10|aa bb cc"), "a count that disagrees");
        assert!(!says("3 1|1 2 x|aa bb cc"));
        assert!(!says("0 1||"), "nothing applied");
        assert!(!says(""));
        assert!(digest_up_to_date(&[], &options, "0 1||"));
        assert!(digest_up_to_date(
            &known,
            &Options::default().ignore_checksums(true),
            "3 1|1 2 10|xx yy zz"
        ));
    }
}
