//! SQLite's run lock: an operating-system lock on a file beside the
//! database (`app.db` → `app.db-migrate.lock`), held by a run with work from
//! its plan to its end.
//!
//! SQLite's own write lock is taken per step, and a `no-transaction` step
//! runs outside it, with its history row marked `success = false` while it
//! runs. Without a lock spanning the run, a second runner could not tell
//! that mark (a step in flight on a live runner) from a step that failed:
//! it would report the database dirty while nothing is wrong. With it, a
//! runner that sees a dirty mark waits for the run lock and looks again;
//! a runner that was killed loses the lock with its process, so a mark it
//! left is then reported as dirty. `status` and `check` say "in progress"
//! while the lock is held. A database without a file (in memory) has none.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::Error;

/// The lock file of the database at `database` (SQLite's file name; empty
/// for an in-memory or temporary database, which has none).
fn path(database: &str) -> Option<PathBuf> {
    (!database.is_empty()).then(|| PathBuf::from(format!("{database}-migrate.lock")))
}

fn open(database: &str) -> Option<File> {
    let path = path(database)?;
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .ok()
}

/// The run lock, released when dropped (or when the process ends).
#[derive(Debug)]
pub(crate) struct RunFile {
    _file: File,
}

#[cfg(feature = "rusqlite")]
/// Takes the run lock, waiting up to `timeout` for another run to end;
/// `None` where the database has no file beside which to lock (or it cannot
/// be created there: the run then goes on as before, per step).
pub(crate) fn take(database: &str, timeout: Duration) -> Result<Option<RunFile>, Error> {
    let mut taking = Taking::new(database, timeout);
    loop {
        match taking.attempt()? {
            Ok(lock) => return Ok(lock),
            Err(pause) => std::thread::sleep(pause),
        }
    }
}

/// [`take`] for a future: waits on the runtime's timer, not the thread.
#[cfg(any(
    feature = "sqlx-sqlite",
    feature = "sqlx-postgres",
    feature = "sqlx-mysql"
))]
pub(crate) async fn take_async(
    database: &str,
    timeout: Duration,
) -> Result<Option<RunFile>, Error> {
    let mut taking = Taking::new(database, timeout);
    loop {
        match taking.attempt()? {
            Ok(lock) => return Ok(lock),
            Err(pause) => sqlx_core::rt::sleep(pause).await,
        }
    }
}

/// Taking the run lock, one attempt at a time: the caller pauses between
/// attempts as it can (a thread sleeps, a future awaits a timer).
pub(crate) struct Taking {
    file: Option<File>,
    started: Instant,
    pause: Duration,
    timeout: Duration,
}

impl Taking {
    pub(crate) fn new(database: &str, timeout: Duration) -> Self {
        Taking {
            file: open(database),
            started: Instant::now(),
            pause: Duration::from_millis(5),
            timeout,
        }
    }

    /// `Ok(lock)` when taken (or when there is no lock to take), `Err(pause)`
    /// to try again after `pause`; a lock timeout once `timeout` has passed.
    pub(crate) fn attempt(&mut self) -> Result<Result<Option<RunFile>, Duration>, Error> {
        let Some(file) = &self.file else {
            return Ok(Ok(None));
        };
        match file.try_lock() {
            Ok(()) => Ok(Ok(self.file.take().map(|file| RunFile { _file: file }))),
            Err(TryLockError::WouldBlock) if self.started.elapsed() < self.timeout => {
                let pause = self
                    .pause
                    .min(self.timeout.saturating_sub(self.started.elapsed()));
                self.pause = (self.pause * 2).min(Duration::from_millis(200));
                Ok(Err(pause))
            }
            Err(TryLockError::WouldBlock) => Err(Error::LockTimeout {
                waited: self.timeout,
                holder: None,
            }),
            // A file system without locks: as before, per step.
            Err(TryLockError::Error(_)) => Ok(Ok(None)),
        }
    }
}

/// Whether another run holds the lock now (its in-flight mark is not dirt).
pub(crate) fn held_elsewhere(database: &str) -> bool {
    let Some(path) = path(database) else {
        return false;
    };
    // Only look: a file that is not there is a lock nobody holds.
    let Ok(file) = OpenOptions::new().read(true).open(path) else {
        return false;
    };
    matches!(file.try_lock_shared(), Err(TryLockError::WouldBlock))
}
