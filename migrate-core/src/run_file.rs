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

/// Takes the run lock, waiting up to `timeout` for another run to end;
/// `None` where the database has no file beside which to lock (or it cannot
/// be created there: the run then goes on as before, per step).
pub(crate) fn take(database: &str, timeout: Duration) -> Result<Option<RunFile>, Error> {
    let Some(file) = open(database) else {
        return Ok(None);
    };
    let started = Instant::now();
    let mut wait = Duration::from_millis(5);
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(Some(RunFile { _file: file })),
            Err(TryLockError::WouldBlock) if started.elapsed() < timeout => {
                std::thread::sleep(wait.min(timeout.saturating_sub(started.elapsed())));
                wait = (wait * 2).min(Duration::from_millis(200));
            }
            Err(TryLockError::WouldBlock) => {
                return Err(Error::LockTimeout {
                    waited: timeout,
                    holder: None,
                });
            }
            // A file system without locks: as before, per step.
            Err(TryLockError::Error(_)) => return Ok(None),
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
