//! The async runner: reads the history, decides with the execution stage
//! whether there is work, takes the run's lock and carries the stage's
//! program out on one pooled connection.

use sqlx::Pool;

use super::backend::{Backend, Param, RunLock};
use super::held::Held;
use crate::dialect::HistorySql;
use crate::dialect::lease::LeaseSql;
use crate::exec::{self, Perform, Resolved, Rules, Run, Sending, Start, Write};
use crate::plan::{AppliedRow, Step, UpToDate};
use crate::report::{Direction, Report};
use crate::run::{ScriptError, Table, nothing_to_do};
use crate::{Error, Migrations, Options, Target};

pub(crate) fn database_error(action: impl Into<String>) -> impl FnOnce(sqlx::Error) -> Error {
    let action = action.into();
    move |err| Error::Database {
        action,
        message: message(&err),
        source: Some(Box::new(err)),
    }
}

/// The database's message, without what sqlx wraps around it.
pub(crate) fn message(err: &sqlx::Error) -> String {
    match err {
        sqlx::Error::Database(db) => db.message().to_owned(),
        other => other.to_string(),
    }
}

/// A server's "permission denied": PostgreSQL's SQLSTATE 42501, MySQL's
/// 1142 (table), 1143 (column) and 1044 (database) as SQLSTATE 42000.
fn denied(err: &sqlx::Error) -> bool {
    let Some(db) = err.as_database_error() else {
        return false;
    };
    db.code().as_deref() == Some("42501")
        || (db.code().as_deref() == Some("42000")
            && ["command denied", "Access denied"]
                .iter()
                .any(|words| db.message().contains(words)))
}

/// MySQL's "No database selected" (SQLSTATE 3D000): a URL without one.
fn no_database(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .is_some_and(|db| db.code().as_deref() == Some("3D000"))
}

pub(super) async fn read_table<DB: Backend>(
    conn: &mut DB::Connection,
    sql: &HistorySql,
    options: &Options,
) -> Result<Table, Error> {
    match DB::read_rows(conn, &sql.read).await {
        Ok(rows) => Ok(Table::rows(rows)),
        Err(err) if busy(&err) => Err(read_error(err, options, sql)),
        // Not allowed to read it, or no database to read it in: no look at
        // its columns (the catalog hides them too) could make that a
        // missing table.
        Err(err) if no_database(&err) => Err(Error::Database {
            action: format!("read the history table {}", sql.table),
            message:
                "the connection has no database selected; name the database in the URL, as in \
                      mysql://user@host:3306/app"
                    .to_owned(),
            source: Some(Box::new(err)),
        }),
        Err(err) if denied(&err) => Err(database_error(format!(
            "read the history table {}",
            sql.table
        ))(err)),
        Err(err) => {
            let columns = DB::texts(conn, &sql.columns, &[Param::Text(&sql.bare)])
                .await
                .map_err(database_error("inspect the history table"))?;
            let columns: Vec<String> = columns.into_iter().flatten().collect();
            match Table::from_columns(columns, DB::DIALECT, &sql.table)? {
                Some(table) => Ok(table),
                // Another runner may have created it just now: read again.
                None => DB::read_rows(conn, &sql.read)
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
    options: &Options,
) -> Result<(), Error> {
    let action = format!("create the history table {}", sql.table);
    let fail = |err: sqlx::Error| lock_error(err, options, &action);
    if let Some(create_schema) = &sql.create_schema {
        DB::execute(conn, create_schema, &[]).await.map_err(fail)?;
    }
    DB::execute(conn, &sql.create, &[]).await.map_err(fail)?;
    let existing: Vec<String> = DB::texts(conn, &sql.columns, &[Param::Text(&sql.bare)])
        .await
        .map_err(fail)?
        .into_iter()
        .flatten()
        .collect();
    // Some other table by that name is refused, never altered.
    Table::from_columns(existing.clone(), DB::DIALECT, &sql.table)?;
    for (name, definition) in crate::dialect::added_columns(DB::DIALECT) {
        if !existing.iter().any(|c| c.eq_ignore_ascii_case(name)) {
            DB::execute(conn, &sql.add_column(definition), &[])
                .await
                .map_err(fail)?;
        }
    }
    Ok(())
}

pub(super) fn connect_error(err: sqlx::Error) -> Error {
    database_error("get a connection from the pool")(err)
}

/// The sqlx driver: carries out the execution stage's operations.
pub(super) struct Driver<'h, DB: Backend> {
    pub(super) held: &'h mut Held<DB>,
    pub(super) sql: &'h HistorySql,
    pub(super) options: &'h Options,
}

impl<DB: Backend> Perform for Driver<'_, DB> {
    async fn keep_journal(&mut self) {
        if !self.held.journal {
            self.held.journal = DB::keep_journal(&mut self.held.conn).await;
        }
    }

    async fn begin(&mut self) -> Result<(), Error> {
        DB::execute(&mut self.held.conn, &DB::begin(self.sql, self.options), &[])
            .await
            .map_err(|err| lock_error(err, self.options, "begin a transaction"))?;
        self.held.open = true;
        Ok(())
    }

    fn admits(&mut self, step: &Step<'_>, script: &Resolved<'_>) -> Result<(), Error> {
        let (Some(RunLock::Named { max_packet }) | Some(RunLock::Lease { max_packet, .. })) =
            self.held.lock
        else {
            return Ok(());
        };
        // The query's own header and framing take a little of the packet.
        let size = u64::try_from(script.sql.len()).unwrap_or(u64::MAX);
        if size.saturating_add(1024) > max_packet {
            return Err(Error::ScriptTooLarge {
                version: step.version,
                file: script.file.clone(),
                size,
                limit: max_packet,
            });
        }
        Ok(())
    }

    async fn lock_step(&mut self) -> Result<(), Error> {
        DB::lock_step(&mut self.held.conn, self.sql, self.options).await
    }

    async fn ensure_table(&mut self) -> Result<(), Error> {
        ensure_table::<DB>(&mut self.held.conn, self.sql, self.options).await
    }

    async fn data_version(&mut self) -> Result<Option<i64>, Error> {
        data_version::<DB>(&mut self.held.conn, self.options).await
    }

    async fn read_history(&mut self) -> Result<Vec<AppliedRow>, Error> {
        if let Some(RunLock::Lease { causal: true, .. }) = self.held.lock {
            let causal = crate::dialect::lock::causal(&self.sql.read);
            return DB::read_rows(&mut self.held.conn, &causal)
                .await
                .map_err(|err| read_error(err, self.options, self.sql));
        }
        read_table::<DB>(&mut self.held.conn, self.sql, self.options)
            .await
            .map(Table::into_rows)
    }

    /// Each statement sent unprepared (MySQL prepares no `CREATE
    /// TRIGGER`); on PostgreSQL inside a transaction, under a savepoint,
    /// so that a failure leaves the transaction usable.
    async fn ensure_summary(&mut self) -> Result<bool, Error> {
        let conn = &mut self.held.conn;
        let savepoint = self.held.open && DB::DIALECT == crate::Dialect::Postgres;
        let fail = || database_error("make the history's summary");
        if savepoint {
            DB::execute(conn, "SAVEPOINT migrate_summary", &[])
                .await
                .map_err(fail())?;
        }
        let mut made = true;
        for statement in &self.sql.summary.ensure {
            if let Err(err) = DB::text_once(conn, statement).await
                && !already_exists(&err)
            {
                made = false;
                break;
            }
        }
        if savepoint {
            let end = if made {
                "RELEASE SAVEPOINT migrate_summary"
            } else {
                "ROLLBACK TO SAVEPOINT migrate_summary"
            };
            DB::execute(conn, end, &[]).await.map_err(fail())?;
        }
        Ok(made && read_changes::<DB>(conn, self.sql).await.is_some())
    }

    async fn read_changes(&mut self) -> Result<Option<i64>, Error> {
        let texts = DB::texts(&mut self.held.conn, &self.sql.summary.changes, &[])
            .await
            .map_err(database_error("read the history's summary"))?;
        Ok(texts
            .into_iter()
            .next()
            .flatten()
            .and_then(|text| text.parse().ok()))
    }

    async fn read_recorded(&mut self, version: i64) -> Result<Option<String>, Error> {
        let params = [Param::Integer(version)];
        let texts = DB::texts(&mut self.held.conn, &self.sql.down_sql, &params)
            .await
            .map_err(database_error(format!(
                "read the recorded down script of {version}"
            )))?;
        Ok(texts.into_iter().next().flatten())
    }

    async fn run_script(
        &mut self,
        script: &Resolved<'_>,
        sending: Sending,
        _: bool,
    ) -> Result<(), ScriptError> {
        let conn = &mut self.held.conn;
        // An empty or comment-only script (a placeholder) sends nothing:
        // MySQL refuses an empty query.
        if migrate_files::is_blank(&script.sql) {
            return Ok(());
        }
        match sending {
            Sending::EachStatement => {
                let timeout = self.options.statement_lock_timeout_on(DB::DIALECT);
                DB::run_each_statement(conn, &script.sql, timeout).await
            }
            Sending::Batch => DB::run_script(conn, &script.sql, &script.file).await,
        }
    }

    async fn foreign_key_violation(&mut self) -> Result<Option<String>, Error> {
        if !self.held.lock.is_some_and(RunLock::check_foreign_keys) {
            return Ok(None);
        }
        DB::foreign_key_violation(&mut self.held.conn).await
    }

    async fn foreign_keys_declared(&mut self) -> Result<bool, Error> {
        if !self.held.lock.is_some_and(RunLock::check_foreign_keys) {
            return Ok(false);
        }
        DB::foreign_keys_declared(&mut self.held.conn).await
    }

    async fn guard_in_flight(&mut self) -> Result<(), Error> {
        self.held.hold(self.sql, self.options, true).await
    }

    async fn end_guard(&mut self) -> Result<(), Error> {
        self.held.let_go(self.sql).await
    }

    async fn transaction_ended(&mut self, ask: bool) -> Result<bool, Error> {
        if !ask {
            return Ok(false);
        }
        let ended = DB::transaction_ended(&mut self.held.conn)
            .await
            .map_err(database_error("check that the transaction is still open"))?;
        if ended {
            self.held.open = false;
        }
        Ok(ended)
    }

    async fn write(&mut self, write: &Write<'_>) -> Result<(), Error> {
        let (statement, params) = write.statement(self.sql, true);
        DB::execute(&mut self.held.conn, statement, &params)
            .await
            .map(drop)
            .map_err(database_error(write.action()))
    }

    async fn pause(&mut self, pause: std::time::Duration) {
        sqlx_core::rt::sleep(pause).await;
    }

    async fn blocker(&mut self) -> Result<Option<String>, Error> {
        DB::blocker(&mut self.held.conn, self.sql).await
    }

    async fn rollback(&mut self) -> Result<(), Error> {
        DB::execute(&mut self.held.conn, self.sql.rollback, &[])
            .await
            .map_err(database_error("roll back"))?;
        self.held.open = false;
        Ok(())
    }

    async fn confirm_lease(&mut self) -> Result<(), Error> {
        let Some(lease) = self.held.lease.clone() else {
            return Ok(());
        };
        let confirmed = lease.confirm::<DB>(&mut self.held.conn).await;
        lease.committed();
        confirmed
    }

    /// Under a lease, the step commits only if the lease is still this
    /// run's, confirmed in the same transaction.
    async fn commit(&mut self) -> Result<(), Error> {
        let lease = self.held.lease.clone();
        let committed = async {
            if let Some(lease) = &lease {
                lease.confirm::<DB>(&mut self.held.conn).await?;
            }
            DB::execute(&mut self.held.conn, self.sql.commit, &[])
                .await
                .map_err(|err| lock_error(err, self.options, "commit"))
        }
        .await;
        if let Some(lease) = &lease {
            lease.committed();
        }
        committed?;
        self.held.open = false;
        Ok(())
    }
}

/// SQLite's `database is locked` (code 5): its busy timeout ran out.
pub(super) fn busy(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.code().as_deref() == Some("5"))
}

/// SQLite answers `database is locked` when its busy timeout ran
/// out: a lock timeout. Anything else could not do `action`.
fn lock_error(err: sqlx::Error, options: &Options, action: &str) -> Error {
    if busy(&err) {
        return Error::LockTimeout {
            waited: options.lock_timeout,
            holder: None,
        };
    }
    database_error(action)(err)
}

/// Plans and runs an upgrade or a downgrade.
pub(super) async fn execute<DB: Backend>(
    pool: &Pool<DB>,
    migrations: &Migrations,
    direction: Direction,
    target: Target,
    options: &Options,
) -> Result<Report, Error> {
    let sql = HistorySql::new(DB::DIALECT, &options.table);
    if options.backup.is_some() && direction == Direction::Up {
        DB::can_back_up()?;
    }
    let mut held = Held::<DB>::acquire(pool).await?;
    let ran = execute_held(&mut held, &sql, migrations, direction, target, options).await;
    let released = held.release(&sql).await;
    let report = ran?;
    released?;
    Ok(report)
}

async fn execute_held<DB: Backend>(
    held: &mut Held<DB>,
    sql: &HistorySql,
    migrations: &Migrations,
    direction: Direction,
    target: Target,
    options: &Options,
) -> Result<Report, Error> {
    let known = migrations.as_slice();
    let started = std::time::Instant::now();
    if UpToDate::answers(direction, target)
        && (super::fast::summary_up_to_date::<DB>(&mut held.conn, sql, migrations, options).await
            || super::fast::up_to_date::<DB>(&mut held.conn, sql, known, options).await)
    {
        return Ok(nothing_to_do(known));
    }
    // The fast path's one query waited as the pool sets its connections (it
    // sets nothing, to stay one query); what is left of the lock timeout
    // bounds every wait after it.
    held.bound_waits(options.lock_timeout.saturating_sub(started.elapsed()))
        .await?;
    // Read before the history, so that under the lock the history is read
    // again only if another connection committed since (where the database
    // can tell).
    let data_version = data_version::<DB>(&mut held.conn, options).await?;
    let changes = read_changes::<DB>(&mut held.conn, sql).await;
    let table = read_table::<DB>(&mut held.conn, sql, options).await?;
    let rules = Rules::new(DB::DIALECT, options);
    let database = DB::database_file(&mut held.conn).await?;
    let held_elsewhere = || crate::run_file::held_elsewhere(&database);
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
    held.run_file = crate::run_file::take_async(&database, options.lock_timeout).await?;
    let backup = match (&options.backup, direction) {
        (Some(backup), Direction::Up) => {
            let from = first.as_ref().and_then(|plan| plan.from);
            Some(DB::back_up(&mut held.conn, backup, from).await?)
        }
        _ => None,
    };
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
    held.lock(sql, options).await?;
    let heartbeat = held.lease.clone().zip(held.beat.take());
    let mut driver = held.driver(sql, options);
    let work = exec::run(&mut driver, run);
    let ran = match heartbeat {
        Some((lease, beat)) => super::lease::beside(work, lease.heartbeat::<DB>(beat)).await,
        None => work.await,
    };
    let outcome = ran.map_err(|err| crate::backup::name_backup(err, backup.as_ref()))?;
    Ok(outcome.report(direction, backup))
}

/// The summary's change counter, where there is a summary (outside a
/// transaction, or where the summary is known to exist: a failure here
/// would end a PostgreSQL transaction).
pub(crate) async fn read_changes<DB: Backend>(
    conn: &mut DB::Connection,
    sql: &HistorySql,
) -> Option<i64> {
    DB::texts(conn, &sql.summary.changes, &[])
        .await
        .ok()?
        .into_iter()
        .next()
        .flatten()
        .and_then(|text| text.parse().ok())
}

/// "Already exists": a trigger another runner made first (MySQL has no
/// `CREATE TRIGGER IF NOT EXISTS` before 8.0.29).
fn already_exists(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .is_some_and(|db| db.message().contains("already exists"))
}

async fn data_version<DB: Backend>(
    conn: &mut DB::Connection,
    options: &Options,
) -> Result<Option<i64>, Error> {
    DB::data_version(conn)
        .await
        .map_err(|err| lock_error(err, options, "read the database's data version"))
}

/// Whether a dirty mark is a step in flight on a live runner: another run
/// holds the migration lock.
pub(crate) async fn in_flight<DB: Backend>(
    pool: &Pool<DB>,
    options: &Options,
) -> Result<bool, Error> {
    let sql = HistorySql::new(DB::DIALECT, &options.table);
    let mut held = Held::<DB>::acquire(pool).await?;
    if DB::lock_holder(&mut held.conn, &sql).await?.is_some() {
        return Ok(true);
    }
    // A lease a live runner holds (no lock table: no lease).
    if DB::DIALECT == crate::Dialect::Sqlite {
        return Ok(false);
    }
    let lease = LeaseSql::new(DB::DIALECT, &options.table);
    let live = DB::texts(&mut held.conn, &lease.live, &[]).await;
    Ok(live.is_ok_and(|holders| holders.iter().any(Option::is_some)))
}

/// Reads the history for the read-only views, bringing an older format up
/// to date first.
pub(crate) async fn read_rows<DB: Backend>(
    pool: &Pool<DB>,
    options: &Options,
) -> Result<Vec<AppliedRow>, Error> {
    let sql = HistorySql::new(DB::DIALECT, &options.table);
    let mut held = Held::<DB>::acquire(pool).await?;
    let read = async {
        held.bound_waits(options.lock_timeout).await?;
        match read_table::<DB>(&mut held.conn, &sql, options).await? {
            Table::Rows(rows) => Ok(rows),
            Table::Missing => Ok(Vec::new()),
            // Read as it is: only a run that changes the database upgrades it.
            Table::Outdated(columns) => DB::read_rows(&mut held.conn, &sql.read_outdated(&columns))
                .await
                .map(|rows| Table::rows(rows).into_rows())
                .map_err(|err| read_error(err, options, &sql)),
        }
    }
    .await;
    let released = held.release(&sql).await;
    let rows = read?;
    released?;
    Ok(rows)
}

fn read_error(err: sqlx::Error, options: &Options, sql: &HistorySql) -> Error {
    lock_error(
        err,
        options,
        &format!("read the history table {}", sql.table),
    )
}

/// Records the history as if at `target`, under the run's lock.
pub(super) async fn stamp<DB: Backend>(
    pool: &Pool<DB>,
    migrations: &Migrations,
    target: Target,
    options: &Options,
) -> Result<crate::Stamped, Error> {
    let sql = HistorySql::new(DB::DIALECT, &options.table);
    let mut held = Held::<DB>::acquire(pool).await?;
    let rules = Rules::new(DB::DIALECT, options);
    let known = migrations.as_slice();
    let stamped = async {
        held.bound_waits(options.lock_timeout).await?;
        held.lock(&sql, options).await?;
        exec::stamp(&mut held.driver(&sql, options), rules, known, target).await
    }
    .await;
    let released = held.release(&sql).await;
    let report = stamped?;
    released?;
    Ok(report)
}
