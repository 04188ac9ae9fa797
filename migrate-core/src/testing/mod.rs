//! Fresh migrated databases for tests, in milliseconds: a set is migrated
//! once into a template named by a digest of the set (its versions and
//! checksums, and this library's version), and every test gets a copy. A
//! template is reused by every test, every test binary and every later run,
//! and a new one is built when a migration changes.
//!
//! `#[migrate::test]` uses this module; code that does not use the
//! attribute can call [`sqlite_file`] (and, with the sqlx features,
//! [`fresh`](crate::testing::fresh)) itself.
//!
//! - SQLite: the template is a file in the system's temporary directory
//!   (`migrate-templates/<digest>.sqlite3`), and a test gets a copy of it.
//! - PostgreSQL: the template is a database, `migrate_tpl_<digest>`, and a
//!   test's database is made with `CREATE DATABASE … TEMPLATE` (the template
//!   takes no connections, so that many tests may copy it at once).
//! - MySQL/MariaDB: a test's database gets the migrations replayed: copying
//!   a template's tables (`SHOW CREATE TABLE`, `INSERT … SELECT`) measured
//!   no faster on MariaDB at 10 and 100 migrations and ten times slower at
//!   1,000 (benches/README.md).
//!
//! A test's database is removed when the test passes, and kept, its name
//! printed on stderr, when it fails.

// Builds with some of the backends only leave parts unused.
#![cfg_attr(
    not(all(
        feature = "rusqlite",
        feature = "sqlx-sqlite",
        feature = "sqlx-postgres",
        feature = "sqlx-mysql"
    )),
    allow(dead_code, unused_imports)
)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::{Error, Migrations};

#[cfg(any(
    feature = "sqlx-sqlite",
    feature = "sqlx-postgres",
    feature = "sqlx-mysql"
))]
mod servers;
#[cfg(any(
    feature = "sqlx-sqlite",
    feature = "sqlx-postgres",
    feature = "sqlx-mysql"
))]
pub use servers::{__run_async, AsyncArgument, Fresh, fresh};

/// The digest that names a set's template: its versions and checksums, and
/// this library's version (whose history table the template holds), as 16
/// hexadecimal digits.
///
/// # Examples
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # std::fs::write(dir.path().join("1_a.sql"), "CREATE TABLE a (id INT);").unwrap();
/// let set = migrate::Migrations::from_dir(dir.path())?;
/// assert_eq!(migrate::testing::digest(&set).len(), 16);
/// # Ok::<(), migrate::Error>(())
/// ```
pub fn digest(set: &Migrations) -> String {
    let mut text = format!("migrate {}\n", env!("CARGO_PKG_VERSION"));
    for migration in set.iter() {
        text.push_str(&format!(
            "{} {}\n",
            migration.version(),
            migration.checksum()
        ));
    }
    migrate_files::checksum(text.as_bytes())[..16].to_owned()
}

/// A name for one test's database: the test's own name (what fits, in
/// letters, digits and `_`) and a part unique to this process and call.
pub(crate) fn database_name(test: &str) -> String {
    let readable: String = test
        .rsplit("::")
        .next()
        .unwrap_or(test)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(30)
        .collect();
    format!("migrate_test_{readable}_{}", unique())
}

/// A part of a name unique to this process and call.
pub(crate) fn unique() -> String {
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.subsec_nanos());
    format!(
        "{}_{}_{nanos:x}",
        std::process::id(),
        CALLS.fetch_add(1, Ordering::Relaxed)
    )
}

/// Where SQLite templates and test databases live.
fn sqlite_dir(kind: &str) -> Result<PathBuf, Error> {
    let dir = std::env::temp_dir().join(kind);
    std::fs::create_dir_all(&dir).map_err(|source| Error::Database {
        action: format!("create the directory {}", dir.display()),
        message: source.to_string(),
        source: Some(Box::new(source)),
    })?;
    Ok(dir)
}

fn copy_error(from: &Path, to: &Path) -> impl FnOnce(std::io::Error) -> Error {
    let action = format!("copy {} to {}", from.display(), to.display());
    move |source| Error::Database {
        action,
        message: source.to_string(),
        source: Some(Box::new(source)),
    }
}

/// Where the SQLite template of `set` is, and whether it is built yet.
pub(crate) fn sqlite_template(set: &Migrations) -> Result<(PathBuf, bool), Error> {
    let template = sqlite_dir("migrate-templates")?.join(format!("{}.sqlite3", digest(set)));
    let built = template.is_file();
    Ok((template, built))
}

/// Where to build a template: a name of its own, renamed into place by
/// [`install`] once built, so that tests starting at once never see half
/// of one.
pub(crate) fn building(template: &Path) -> PathBuf {
    template.with_extension(format!("{}.building", database_name("t")))
}

/// Puts a built template in place (or, where building failed, removes it).
pub(crate) fn install(
    built: Result<(), Error>,
    building: &Path,
    template: &Path,
) -> Result<(), Error> {
    if let Err(err) = built {
        let _ = std::fs::remove_file(building);
        return Err(err);
    }
    std::fs::rename(building, template).map_err(copy_error(building, template))
}

/// A fresh copy of a SQLite template for the test `test`.
pub(crate) fn sqlite_copy(template: &Path, test: &str) -> Result<PathBuf, Error> {
    let file = sqlite_dir("migrate-tests")?.join(format!("{}.sqlite3", database_name(test)));
    std::fs::copy(template, &file).map_err(copy_error(template, &file))?;
    Ok(file)
}

/// A SQLite file with every migration of `set` applied, for the test named
/// `test`: a copy of the set's template (built on first use). Remove it
/// when the test is done.
///
/// # Examples
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # std::fs::write(dir.path().join("1_a.sql"), "CREATE TABLE a (id INT);").unwrap();
/// let set = migrate::Migrations::from_dir(dir.path())?;
/// let file = migrate::testing::sqlite_file(&set, "my_test")?;
/// let conn = rusqlite::Connection::open(&file)?;
/// assert_eq!(set.status(&conn)?.pending, 0);
/// # drop(conn); std::fs::remove_file(file)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// A migration that fails while the template is built, or a file that
/// cannot be written.
#[cfg(feature = "rusqlite")]
pub fn sqlite_file(set: &Migrations, test: &str) -> Result<PathBuf, Error> {
    let (template, built) = sqlite_template(set)?;
    if !built {
        let building = building(&template);
        let ran = rusqlite::Connection::open(&building)
            .map_err(crate::rusqlite::database_error(
                "create a template database",
            ))
            .and_then(|conn| crate::run(&conn, set).map(drop));
        install(ran, &building, &template)?;
    }
    sqlite_copy(&template, test)
}

/// What a test returned: whether it failed without panicking (an `Err`).
#[doc(hidden)]
pub trait Outcome {
    /// The test failed.
    fn failed(&self) -> bool;
}

impl Outcome for () {
    fn failed(&self) -> bool {
        false
    }
}

impl<T, E> Outcome for Result<T, E> {
    fn failed(&self) -> bool {
        self.is_err()
    }
}

/// Says, on stderr, where a failed test's database was kept.
pub(crate) fn kept(test: &str, database: &str) {
    eprintln!("migrate::test kept the database of the failed test {test}: {database}");
}

/// A type `#[migrate::test]` can hand a test function that is not `async`.
#[diagnostic::on_unimplemented(
    message = "`#[migrate::test]` gives a test a `rusqlite::Connection`, or (in an `async fn`) a `sqlx::SqlitePool`, `sqlx::PgPool` or `sqlx::MySqlPool`, not `{Self}`",
    label = "not a database `#[migrate::test]` can give"
)]
pub trait SyncArgument: Sized {
    #[doc(hidden)]
    fn fresh(set: &Migrations, test: &str) -> Result<(Self, PathBuf), Error>;
}

#[cfg(feature = "rusqlite")]
impl SyncArgument for rusqlite::Connection {
    fn fresh(set: &Migrations, test: &str) -> Result<(Self, PathBuf), Error> {
        let file = sqlite_file(set, test)?;
        let conn = rusqlite::Connection::open(&file)
            .map_err(crate::rusqlite::database_error("open the test database"))?;
        Ok((conn, file))
    }
}

/// Runs one `#[migrate::test]` that is not `async`. Internal.
#[doc(hidden)]
pub fn __run<T: SyncArgument, R: Outcome>(
    set: &Migrations,
    test: &str,
    f: impl FnOnce(T) -> R,
) -> R {
    let (argument, file) = T::fresh(set, test)
        .unwrap_or_else(|err| panic!("#[migrate::test] could not give {test} a database: {err}"));
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(argument)));
    match outcome {
        Ok(result) if !result.failed() => {
            let _ = std::fs::remove_file(&file);
            result
        }
        Ok(result) => {
            kept(test, &file.display().to_string());
            result
        }
        Err(panic) => {
            kept(test, &file.display().to_string());
            std::panic::resume_unwind(panic)
        }
    }
}
