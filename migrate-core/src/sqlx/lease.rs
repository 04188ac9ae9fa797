//! The lease (`LockMode::Lease`), carried out: taken with ordinary writes
//! to the lock table (see `dialect::lease`), renewed by a heartbeat on a
//! connection of its own while the run lasts, confirmed in each step's
//! transaction just before it commits, and after a script that ran
//! outside a transaction before its step is recorded (so a runner that
//! lost its lease never records a step), and given back at the end.
//!
//! The heartbeat and a step's confirmation never write the row at the same
//! time: on a Galera cluster two writes of one row from two connections
//! would make one of them fail at commit. A step that is confirming raises
//! `committing`, waits until no renewal is under way, and the heartbeat
//! skips its turn while `committing` is up.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::backend::{Backend, Param};
use super::runner::database_error;
use crate::dialect::lease::LeaseSql;
use crate::{Error, Options};

/// Who this runner is, in the lock table.
#[derive(Debug, Clone)]
pub(crate) struct Identity {
    /// Unique to this run.
    pub holder: String,
    pub host: String,
    pub pid: i64,
}

impl Identity {
    fn new() -> Self {
        static RUNS: AtomicU64 = AtomicU64::new(0);
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .map(|host| host.trim().to_owned())
            .filter(|host| !host.is_empty())
            .unwrap_or_else(|| "an unknown host".to_owned());
        let pid = std::process::id();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_nanos());
        let run = RUNS.fetch_add(1, Ordering::Relaxed);
        Identity {
            holder: format!("{host}/{pid}/{nanos:x}/{run}"),
            host,
            pid: i64::from(pid),
        }
    }
}

/// What the heartbeat and the steps share.
#[derive(Debug, Default)]
struct Flags {
    committing: AtomicBool,
    renewing: AtomicBool,
    lost: AtomicBool,
}

/// A lease this run holds.
#[derive(Debug, Clone)]
pub(crate) struct Lease {
    pub sql: Arc<LeaseSql>,
    pub identity: Identity,
    /// How long it lasts, in whole seconds.
    seconds: i64,
    flags: Arc<Flags>,
}

/// Whether a write failed only because another writer won a race for the
/// row (a Galera certification failure, a deadlock): try again.
fn lost_race(err: &sqlx::Error) -> bool {
    err.as_database_error().is_some_and(|db| {
        matches!(db.code().as_deref(), Some("40001" | "40P01"))
            || db.message().contains("Deadlock found")
    })
}

/// Takes the lease, waiting up to the lock timeout while another live
/// runner holds it; a lease that expired (its runner died) is taken over.
pub(crate) async fn take<DB: Backend>(
    conn: &mut DB::Connection,
    sql: LeaseSql,
    options: &Options,
) -> Result<Lease, Error> {
    let action = "take the migration lease";
    let exists = DB::texts(conn, &sql.exists, &[])
        .await
        .map_err(database_error("find the migration lease table"))?;
    let missing = exists.first().and_then(Option::as_deref) != Some("1");
    if missing && let Err(err) = DB::execute(conn, &sql.create, &[]).await {
        // Two runners creating it at once (PostgreSQL: a duplicate row type
        // or table; MySQL: table exists): the other one made it.
        let made = err.as_database_error().is_some_and(|db| {
            matches!(
                db.code().as_deref(),
                Some("23505" | "42P07" | "42710" | "42S01")
            )
        });
        if !made && !lost_race(&err) {
            return Err(database_error("create the migration lease table")(err));
        }
    }
    let identity = Identity::new();
    let seconds = i64::try_from(options.lease_duration.as_secs().max(1)).unwrap_or(i64::MAX);
    let (holder, host) = (identity.holder.as_str(), identity.host.as_str());
    let started = Instant::now();
    let mut wait = Duration::from_millis(10);
    loop {
        let taken = async {
            let fresh = [
                Param::Text(holder),
                Param::Text(host),
                Param::Integer(identity.pid),
                Param::Integer(seconds),
                Param::Text(holder),
            ];
            if DB::execute(conn, &sql.insert, &fresh[..4]).await? == 1 {
                return Ok(true);
            }
            Ok(DB::execute(conn, &sql.take_over, &fresh).await? == 1)
        }
        .await;
        match taken {
            Ok(true) => {
                return Ok(Lease {
                    sql: Arc::new(sql),
                    identity,
                    seconds,
                    flags: Arc::default(),
                });
            }
            Ok(false) => {}
            Err(err) if lost_race(&err) => {}
            Err(err) => return Err(database_error(action)(err)),
        }
        if started.elapsed() >= options.lock_timeout {
            let holder = DB::texts(conn, &sql.describe, &[])
                .await
                .ok()
                .and_then(|texts| texts.into_iter().next().flatten())
                .map(|holder| format!("{holder}, holds (a runner that died loses it then)"));
            return Err(Error::LockTimeout {
                waited: options.lock_timeout,
                holder,
            });
        }
        sqlx_core::rt::sleep(wait.min(options.lock_timeout.saturating_sub(started.elapsed())))
            .await;
        wait = (wait * 2).min(Duration::from_millis(500));
    }
}

impl Lease {
    fn renew_params(&self) -> [Param<'_>; 2] {
        [
            Param::Integer(self.seconds),
            Param::Text(&self.identity.holder),
        ]
    }

    fn lost(&self) -> Error {
        // The execution stage names the step, where it was one.
        Error::LeaseLost {
            lease: Duration::from_secs(self.seconds.unsigned_abs()),
            version: None,
            file: None,
            dirty: false,
        }
    }

    /// In a step's transaction, just before it commits: renews the lease,
    /// and fails if another runner took it (the caller then rolls back).
    /// After a script that ran outside a transaction, before its step is
    /// recorded as done, the same. [`Lease::committed`] ends it.
    pub(crate) async fn confirm<DB: Backend>(
        &self,
        conn: &mut DB::Connection,
    ) -> Result<(), Error> {
        self.flags.committing.store(true, Ordering::SeqCst);
        while self.flags.renewing.load(Ordering::SeqCst) {
            sqlx_core::rt::sleep(Duration::from_millis(1)).await;
        }
        let renewed = DB::execute(conn, &self.sql.renew, &self.renew_params())
            .await
            .map_err(database_error("renew the migration lease"))?;
        if renewed != 1 || self.flags.lost.load(Ordering::SeqCst) {
            return Err(self.lost());
        }
        Ok(())
    }

    /// The step's commit is done (or failed): the heartbeat may renew.
    pub(crate) fn committed(&self) {
        self.flags.committing.store(false, Ordering::SeqCst);
    }

    /// Renews the lease every third of its duration, on `conn`, until
    /// dropped. A renewal that finds the lease gone marks it lost, which
    /// the next step's confirmation reports.
    pub(crate) async fn heartbeat<DB: Backend>(self, mut conn: DB::Connection) {
        let period = Duration::from_secs(self.seconds.unsigned_abs()) / 3;
        loop {
            sqlx_core::rt::sleep(period).await;
            if self.flags.committing.load(Ordering::SeqCst) {
                continue;
            }
            self.flags.renewing.store(true, Ordering::SeqCst);
            if self.flags.committing.load(Ordering::SeqCst) {
                self.flags.renewing.store(false, Ordering::SeqCst);
                continue;
            }
            let renewed = DB::execute(&mut conn, &self.sql.renew, &self.renew_params()).await;
            self.flags.renewing.store(false, Ordering::SeqCst);
            if matches!(renewed, Ok(0)) {
                self.flags.lost.store(true, Ordering::SeqCst);
            }
        }
    }

    /// Gives the lease back.
    pub(crate) async fn release<DB: Backend>(
        &self,
        conn: &mut DB::Connection,
    ) -> Result<(), Error> {
        DB::execute(
            conn,
            &self.sql.release,
            &[Param::Text(&self.identity.holder)],
        )
        .await
        .map(drop)
        .map_err(database_error("give the migration lease back"))
    }
}

/// Runs `work` to its end while `beside` (which never ends) runs too, on
/// the same task: the heartbeat beside the steps, without a runtime's
/// `spawn`.
pub(crate) async fn beside<T>(
    work: impl Future<Output = T>,
    beside: impl Future<Output = ()>,
) -> T {
    let mut work = std::pin::pin!(work);
    let mut beside = std::pin::pin!(beside);
    let mut beside_done = false;
    std::future::poll_fn(move |cx| {
        if let std::task::Poll::Ready(value) = work.as_mut().poll(cx) {
            return std::task::Poll::Ready(value);
        }
        if !beside_done {
            beside_done = beside.as_mut().poll(cx).is_ready();
        }
        std::task::Poll::Pending
    })
    .await
}
