//! The async runner: reads the history, decides with the execution stage
//! whether there is work, takes the run's lock and carries the stage's
//! program out on one pooled connection.

use sqlx::Pool;
use sqlx::pool::PoolConnection;

use super::backend::{Backend, Param, RunLock};
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

/// The pooled connection a run works on, with the run's lock and whether a
/// transaction is open on it. If the run's future is dropped while the
/// server holds a lock for it or a transaction is open, the connection is
/// closed instead of going back to the pool: the server releases the lock
/// and rolls the transaction back.
struct Held<DB: Backend> {
    conn: PoolConnection<DB>,
    lock: Option<RunLock>,
    open: bool,
    /// The setting [`Backend::bound_waits`] changed, to restore.
    waits: Option<i64>,
    /// The setting [`Backend::bound_statements`] changed, to restore.
    statements: Option<i64>,
    /// SQLite's run lock file, held from the plan to the run's end.
    run_file: Option<crate::run_file::RunFile>,
    /// How to open a connection of the run's own, outside the pool.
    connect: ConnectWith<DB>,
    /// The connection that holds the migration lock in an open
    /// transaction (PostgreSQL; see [`Backend::hold`]): for the run, or
    /// for a `no-transaction` step in flight. Dropped, it closes, and the
    /// server releases the lock.
    hold: Option<DB::Connection>,
    /// The lease this run holds, and the connection its heartbeat renews
    /// it on (taken by the run while it lasts).
    lease: Option<super::lease::Lease>,
    beat: Option<DB::Connection>,
}

type ConnectWith<DB> =
    std::sync::Arc<<<DB as sqlx::Database>::Connection as sqlx::Connection>::Options>;

impl<DB: Backend> Held<DB> {
    async fn acquire(pool: &Pool<DB>) -> Result<Self, Error> {
        Ok(Held {
            conn: pool.acquire().await.map_err(connect_error)?,
            lock: None,
            open: false,
            waits: None,
            statements: None,
            run_file: None,
            connect: pool.connect_options(),
            hold: None,
            lease: None,
            beat: None,
        })
    }

    /// Takes the lock on a connection of its own (not the pool's: a pool
    /// of one must not wait for itself), for the run or for a step in
    /// flight.
    /// A connection of the run's own (a future that holds no borrow of
    /// `self`, which is not `Sync`).
    fn connect(&self) -> impl Future<Output = Result<DB::Connection, Error>> + Send + use<DB> {
        let options = self.connect.clone();
        async move {
            <DB::Connection as sqlx::Connection>::connect_with(&options)
                .await
                .map_err(database_error(
                    "open a connection to hold the migration lock",
                ))
        }
    }

    async fn hold(
        &mut self,
        sql: &HistorySql,
        options: &Options,
        in_flight: bool,
    ) -> Result<(), Error> {
        let mut conn = self.connect().await?;
        DB::hold(&mut conn, sql, options, in_flight).await?;
        self.hold = Some(conn);
        Ok(())
    }

    /// Ends the hold's transaction and closes its connection.
    async fn let_go(&mut self, sql: &HistorySql) -> Result<(), Error> {
        let Some(mut conn) = self.hold.take() else {
            return Ok(());
        };
        let rolled_back = DB::execute(&mut conn, sql.rollback, &[]).await;
        // Closing releases the lock too, whatever the rollback did.
        let _ = sqlx::Connection::close(conn).await;
        rolled_back
            .map(drop)
            .map_err(database_error("release the migration lock"))
    }

    /// From here on, a wait for another connection's lock is bounded by the
    /// lock timeout.
    async fn bound_waits(&mut self, timeout: std::time::Duration) -> Result<(), Error> {
        self.waits = DB::bound_waits(&mut self.conn, timeout).await?;
        Ok(())
    }

    async fn lock(&mut self, sql: &HistorySql, options: &Options) -> Result<(), Error> {
        DB::writable(&mut self.conn).await?;
        self.statements = DB::bound_statements(&mut self.conn, options).await?;
        let lock = DB::lock_run(&mut self.conn, sql, options).await?;
        match lock {
            RunLock::Hold => self.hold(sql, options, false).await?,
            RunLock::Lease { .. } => {
                let leases = LeaseSql::new(DB::DIALECT, &options.table);
                self.lease = Some(super::lease::take::<DB>(&mut self.conn, leases, options).await?);
                self.beat = Some(self.connect().await?);
            }
            _ => {}
        }
        self.lock = Some(lock);
        Ok(())
    }

    /// The driver that carries out operations on this connection.
    fn driver<'h>(&'h mut self, sql: &'h HistorySql, options: &'h Options) -> Driver<'h, DB> {
        Driver {
            held: self,
            sql,
            options,
        }
    }

    /// Rolls back a transaction left open by a failure, then releases the
    /// run's lock.
    async fn release(&mut self, sql: &HistorySql) -> Result<(), Error> {
        if self.open {
            DB::execute(&mut self.conn, sql.rollback, &[])
                .await
                .map_err(database_error("roll back"))?;
            self.open = false;
        }
        if let Some(lock) = &self.lock {
            DB::unlock_run(&mut self.conn, sql, lock).await?;
            self.lock = None;
        }
        self.let_go(sql).await?;
        self.beat = None;
        if let Some(lease) = self.lease.take() {
            lease.release::<DB>(&mut self.conn).await?;
        }
        self.run_file = None;
        if let Some(previous) = self.statements {
            DB::restore_statements(&mut self.conn, previous).await?;
            self.statements = None;
        }
        if let Some(previous) = self.waits {
            DB::restore_waits(&mut self.conn, previous).await?;
            self.waits = None;
        }
        Ok(())
    }
}

impl<DB: Backend> Drop for Held<DB> {
    fn drop(&mut self) {
        if self.open
            || self.waits.is_some()
            || self.statements.is_some()
            || self.lock.is_some_and(RunLock::close_if_dropped)
        {
            self.conn.close_on_drop();
        }
    }
}

/// The sqlx driver: carries out the execution stage's operations.
struct Driver<'h, DB: Backend> {
    held: &'h mut Held<DB>,
    sql: &'h HistorySql,
    options: &'h Options,
}

impl<DB: Backend> Perform for Driver<'_, DB> {
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
                .map_err(database_error(format!(
                    "read the history table {}",
                    self.sql.table
                )));
        }
        read_table::<DB>(&mut self.held.conn, self.sql, self.options)
            .await
            .map(Table::into_rows)
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
        && super::fast::up_to_date::<DB>(&mut held.conn, sql, known, options).await
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
    let table = read_table::<DB>(&mut held.conn, sql, options).await?;
    let rules = Rules::new(DB::DIALECT, options);
    let database = DB::database_file(&mut held.conn).await?;
    let first = match exec::start(known, &table, direction, target, options, rules) {
        Ok(Start::Done(report)) => return Ok(report),
        Ok(Start::Run(first)) => first,
        // A dirty mark while another run holds the run lock is its step in
        // flight: wait for the lock, then plan under it.
        Err(Error::Dirty { .. }) if crate::run_file::held_elsewhere(&database) => None,
        Err(err) => return Err(err),
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
) -> Result<Report, Error> {
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
