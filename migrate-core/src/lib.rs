#![doc = include_str!("../README.md")]
// docs.rs (`--cfg docsrs`, nightly) marks what needs a feature.
#![cfg_attr(docsrs, feature(doc_cfg))]
// Without a backend only the set and the planner are of use: the runners'
// shared parts are then unused.
#![cfg_attr(
    not(any(
        feature = "rusqlite",
        feature = "sqlx-sqlite",
        feature = "sqlx-postgres",
        feature = "sqlx-mysql"
    )),
    allow(dead_code, unused_imports)
)]

mod backup;
mod check;
mod clock;
mod dialect;
mod error;
mod exec;
#[cfg(feature = "lint")]
#[cfg_attr(docsrs, doc(cfg(feature = "lint")))]
pub mod lint;
mod migration;
mod migrator;
mod options;
pub mod plan;
mod preview;
mod report;
mod run;
#[cfg_attr(not(feature = "rusqlite"), allow(dead_code))]
mod run_file;
#[cfg(feature = "rusqlite")]
mod rusqlite;
pub mod schema;
mod script;
#[cfg_attr(not(feature = "sqlx-postgres"), allow(dead_code))]
mod split;
#[cfg(any(
    feature = "sqlx-sqlite",
    feature = "sqlx-postgres",
    feature = "sqlx-mysql"
))]
#[cfg_attr(
    docsrs,
    doc(cfg(any(
        feature = "sqlx-sqlite",
        feature = "sqlx-postgres",
        feature = "sqlx-mysql"
    )))
)]
pub mod sqlx;
mod target;
pub mod tenants;
pub mod testing;
mod verify;

pub use backup::Backup;
pub use check::Verdict;
pub use dialect::Dialect;
pub use error::Error;
pub use migration::{Migration, Migrations, Script};
pub use migrator::Migrator;
#[cfg(feature = "rusqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "rusqlite")))]
pub use migrator::run;
pub use options::{LockMode, Options, TransactionMode};
pub use plan::Plan;
pub use report::{
    Current, Direction, HistoryEntry, Report, Stamp, Stamped, StampedRow, State, Status, StepReport,
};
pub use target::Target;
pub use verify::{Outcome, StepKind, Verification, VerifiedStep};

/// Embeds a migration directory at compile time: `embed_migrations!()` for
/// `migrations/` beside `Cargo.toml`, `embed_migrations!("db/migrations")`
/// for another.
///
/// The path is relative to the invoking crate's `CARGO_MANIFEST_DIR`; with
/// no argument it is `migrations`. Every
/// file is validated, read and checksummed while compiling; a bad file name,
/// a duplicate version, a missing half of a pair or an unreadable file is a
/// compile error naming the file. The result is a `const`-usable
/// [`Migrations`].
///
/// # Examples
///
/// ```
/// // `migrations/` beside this crate's Cargo.toml.
/// const MIGRATIONS: migrate::Migrations = migrate::embed_migrations!();
///
/// // The same directory, named: any path relative to Cargo.toml works.
/// const NAMED: migrate::Migrations = migrate::embed_migrations!("migrations");
/// assert_eq!(MIGRATIONS, NAMED);
/// assert_eq!(MIGRATIONS, migrate::Migrations::from_dir("migrations")?);
/// # Ok::<(), migrate::Error>(())
/// ```
///
/// Edits to existing files re-embed on the next build. So that adding or
/// removing a file does too, add a build script with this one line:
///
/// ```text
/// // build.rs
/// fn main() { println!("cargo::rerun-if-changed=migrations"); }
/// ```
#[cfg(feature = "macros")]
#[cfg_attr(docsrs, doc(cfg(feature = "macros")))]
pub use migrate_macros::embed_migrations;
/// Marks a test function that takes a fresh database with every migration
/// applied (from `migrations/` beside `Cargo.toml`, or `migrations = "dir"`):
/// a `rusqlite::Connection`, or in an `async fn` a `sqlx::SqlitePool`,
/// `sqlx::PgPool` or `sqlx::MySqlPool` (on the server `DATABASE_URL` names).
/// Each test's database is a copy of a template the set is migrated into
/// once ([`testing`]); it is removed after the test, and kept (its name
/// printed) when the test fails.
///
/// ```ignore
/// #[migrate::test]
/// fn creates_user(conn: rusqlite::Connection) {
///     conn.execute("INSERT INTO users (email) VALUES ('a@example.com')", []).unwrap();
/// }
/// ```
#[cfg(feature = "macros")]
pub use migrate_macros::test;
