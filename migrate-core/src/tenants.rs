//! Many databases in one go: one per tenant, upgraded (or checked) in
//! parallel, each failure reported without stopping the others unless asked.
//!
//! [`for_each`] is the engine, generic over what "a database" is and what is
//! done to it (the CLI opens URLs; an application passes its connections);
//! [`upgrade_sqlite_files`] is the common case ready-made.

#[cfg(feature = "rusqlite")]
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::Error;
#[cfg(feature = "rusqlite")]
use crate::{Migrations, Options, Report, Target};

/// What happened to one database.
#[derive(Debug)]
pub struct Outcome<T, E = Error> {
    /// The database, as the caller named it (for a URL: with the password
    /// already hidden, which is the caller's to do).
    pub database: String,
    /// What the operation returned; [`Error::Skipped`] when `fail_fast`
    /// stopped the run before this database.
    pub result: Result<T, E>,
    /// How long it took.
    pub duration: Duration,
}

/// Runs `operation` on every database, `jobs` at a time, and returns the
/// outcomes in the order the databases were given. With `fail_fast`, the
/// first failure stops new databases from starting (those report
/// [`Error::Skipped`]); otherwise every database is tried. `on_done` is
/// called as each finishes, from the worker that ran it (for progress bars).
/// The error type is the operation's own (a caller that opens URLs may have
/// its own errors), as long as a [`migrate::Error`](Error) converts into it.
///
/// # Examples
///
/// ```
/// let dbs = vec![("a".to_owned(), 1), ("b".to_owned(), 2)];
/// let outcomes = migrate::tenants::for_each(dbs, 2, false, |n| Ok::<_, migrate::Error>(n * 10), |_| {});
/// assert_eq!(outcomes.iter().map(|o| *o.result.as_ref().unwrap()).collect::<Vec<_>>(), [10, 20]);
/// ```
pub fn for_each<D, T, E>(
    databases: Vec<(String, D)>,
    jobs: usize,
    fail_fast: bool,
    operation: impl Fn(D) -> Result<T, E> + Sync,
    on_done: impl Fn(&Outcome<T, E>) + Sync,
) -> Vec<Outcome<T, E>>
where
    D: Send,
    T: Send,
    E: From<Error> + Send,
{
    let count = databases.len();
    let queue: Vec<Mutex<Option<(String, D)>>> =
        databases.into_iter().map(|d| Mutex::new(Some(d))).collect();
    let results: Vec<Mutex<Option<Outcome<T, E>>>> = (0..count).map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let worker = || {
        loop {
            let index = next.fetch_add(1, Ordering::SeqCst);
            let Some(slot) = queue.get(index) else { return };
            let Some((database, handle)) = slot.lock().ok().and_then(|mut slot| slot.take()) else {
                return;
            };
            let started = Instant::now();
            let result = if fail_fast && failed.load(Ordering::SeqCst) {
                Err(E::from(Error::Skipped))
            } else {
                operation(handle)
            };
            if result.is_err() {
                failed.store(true, Ordering::SeqCst);
            }
            let outcome = Outcome {
                database,
                result,
                duration: started.elapsed(),
            };
            on_done(&outcome);
            if let Ok(mut slot) = results[index].lock() {
                *slot = Some(outcome);
            }
        }
    };
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, count.max(1)) {
            scope.spawn(worker);
        }
    });
    results
        .into_iter()
        .filter_map(|slot| slot.into_inner().ok().flatten())
        .collect()
}

/// Upgrades every SQLite file (created if missing) to `target`, `jobs` at a
/// time: what an application with one database per tenant runs at start-up.
/// Each file's pending steps run in one transaction where every one of them
/// allows it (one commit per file, which ends at its old head or its new
/// one), one per step otherwise, unless `options` chose a
/// [`TransactionMode`](crate::TransactionMode).
///
/// # Examples
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # std::fs::write(dir.path().join("0001_init.sql"), "CREATE TABLE t (id INT);").unwrap();
/// let set = migrate::Migrations::from_dir(dir.path())?;
/// let files = (0..3).map(|n| dir.path().join(format!("tenant{n}.db")));
/// let outcomes = migrate::tenants::upgrade_sqlite_files(files, &set, migrate::Target::Head, &Default::default(), 2, false);
/// assert!(outcomes.iter().all(|o| o.result.as_ref().is_ok_and(|r| r.steps.len() == 1)));
/// # Ok::<(), migrate::Error>(())
/// ```
#[cfg(feature = "rusqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "rusqlite")))]
pub fn upgrade_sqlite_files(
    files: impl IntoIterator<Item = PathBuf>,
    migrations: &Migrations,
    target: Target,
    options: &Options,
    jobs: usize,
    fail_fast: bool,
) -> Vec<Outcome<Report>> {
    let databases = files
        .into_iter()
        .map(|path| (path.display().to_string(), path))
        .collect();
    let migrator = migrations.with_options(options.clone().for_many());
    for_each(
        databases,
        jobs,
        fail_fast,
        |path| {
            let conn = rusqlite::Connection::open(&path).map_err(|err| Error::Database {
                action: format!("open {}", path.display()),
                message: err.to_string(),
                source: Some(Box::new(err)),
            })?;
            migrator.upgrade(&conn, target)
        },
        |_| {},
    )
}
