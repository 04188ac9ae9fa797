//! The pooled connection a run works on and everything it holds for the
//! run (its lock, a lease, a connection holding a lock, SQLite's run lock
//! file, settings to restore, SQLite's journal mode), let go on every path.

use sqlx::Pool;
use sqlx::pool::PoolConnection;

use super::backend::{Backend, RunLock};
use super::runner::{Driver, connect_error, database_error};
use crate::dialect::HistorySql;
use crate::dialect::lease::LeaseSql;
use crate::{Error, Options};

/// The pooled connection a run works on, with the run's lock and whether a
/// transaction is open on it. If the run's future is dropped while the
/// server holds a lock for it or a transaction is open, the connection is
/// closed instead of going back to the pool: the server releases the lock
/// and rolls the transaction back.
pub(super) struct Held<DB: Backend> {
    pub(super) conn: PoolConnection<DB>,
    pub(super) lock: Option<RunLock>,
    pub(super) open: bool,
    /// The setting [`Backend::bound_waits`] changed, to restore.
    pub(super) waits: Option<i64>,
    /// The setting [`Backend::bound_statements`] changed, to restore.
    pub(super) statements: Option<i64>,
    /// SQLite's run lock file, held from the plan to the run's end.
    pub(super) run_file: Option<crate::run_file::RunFile>,
    /// SQLite's journal is kept between commits ([`Backend::keep_journal`]),
    /// to restore.
    pub(super) journal: bool,
    /// How to open a connection of the run's own, outside the pool.
    pub(super) connect: ConnectWith<DB>,
    /// The connection that holds the migration lock in an open
    /// transaction (PostgreSQL; see [`Backend::hold`]): for the run, or
    /// for a `no-transaction` step in flight. Dropped, it closes, and the
    /// server releases the lock.
    pub(super) hold: Option<DB::Connection>,
    /// The lease this run holds, and the connection its heartbeat renews
    /// it on (taken by the run while it lasts).
    pub(super) lease: Option<super::lease::Lease>,
    pub(super) beat: Option<DB::Connection>,
}

type ConnectWith<DB> =
    std::sync::Arc<<<DB as sqlx::Database>::Connection as sqlx::Connection>::Options>;

impl<DB: Backend> Held<DB> {
    pub(super) async fn acquire(pool: &Pool<DB>) -> Result<Self, Error> {
        Ok(Held {
            conn: pool.acquire().await.map_err(connect_error)?,
            lock: None,
            open: false,
            waits: None,
            statements: None,
            run_file: None,
            journal: false,
            connect: pool.connect_options(),
            hold: None,
            lease: None,
            beat: None,
        })
    }

    /// A connection of the run's own, outside the pool (a pool of one must
    /// not wait for itself): a future that holds no borrow of `self`, which
    /// is not `Sync`.
    pub(super) fn connect(
        &self,
    ) -> impl Future<Output = Result<DB::Connection, Error>> + Send + use<DB> {
        let options = self.connect.clone();
        async move {
            <DB::Connection as sqlx::Connection>::connect_with(&options)
                .await
                .map_err(database_error(
                    "open a connection to hold the migration lock",
                ))
        }
    }

    /// Takes the lock on a connection of its own, for the run or for a
    /// step in flight.
    pub(super) async fn hold(
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
    pub(super) async fn let_go(&mut self, sql: &HistorySql) -> Result<(), Error> {
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
    pub(super) async fn bound_waits(&mut self, timeout: std::time::Duration) -> Result<(), Error> {
        self.waits = DB::bound_waits(&mut self.conn, timeout).await?;
        Ok(())
    }

    pub(super) async fn lock(&mut self, sql: &HistorySql, options: &Options) -> Result<(), Error> {
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
    pub(super) fn driver<'h>(
        &'h mut self,
        sql: &'h HistorySql,
        options: &'h Options,
    ) -> Driver<'h, DB> {
        Driver {
            held: self,
            sql,
            options,
        }
    }

    /// Rolls back a transaction left open by a failure, then releases the
    /// run's lock.
    pub(super) async fn release(&mut self, sql: &HistorySql) -> Result<(), Error> {
        // Every part is let go even when one before it fails (a lease left
        // would keep other runners out until it expires); the first
        // failure is the one reported. What could not be undone stays
        // marked, so that dropping `self` closes the connection instead of
        // giving it back to the pool.
        let mut first: Result<(), Error> = Ok(());
        let mut keep = |result: Result<(), Error>| {
            let ok = result.is_ok();
            if first.is_ok() {
                first = result;
            }
            ok
        };
        if self.open {
            let rolled_back = DB::execute(&mut self.conn, sql.rollback, &[]).await;
            self.open = !keep(rolled_back.map(drop).map_err(database_error("roll back")));
        }
        if let Some(lock) = self.lock
            && keep(DB::unlock_run(&mut self.conn, sql, &lock).await)
        {
            self.lock = None;
        }
        keep(self.let_go(sql).await);
        self.beat = None;
        if let Some(lease) = self.lease.take() {
            keep(lease.release::<DB>(&mut self.conn).await);
        }
        self.run_file = None;
        // Only a speed-up: not set back, the mode goes with the connection,
        // which `Drop` then closes; the run's outcome stands.
        if self.journal && DB::restore_journal(&mut self.conn).await.is_ok() {
            self.journal = false;
        }
        if let Some(previous) = self.statements
            && keep(DB::restore_statements(&mut self.conn, previous).await)
        {
            self.statements = None;
        }
        if let Some(previous) = self.waits
            && keep(DB::restore_waits(&mut self.conn, previous).await)
        {
            self.waits = None;
        }
        first
    }
}

impl<DB: Backend> Drop for Held<DB> {
    fn drop(&mut self) {
        if self.open
            || self.journal
            || self.waits.is_some()
            || self.statements.is_some()
            || self.lock.is_some_and(RunLock::close_if_dropped)
        {
            self.conn.close_on_drop();
        }
    }
}
