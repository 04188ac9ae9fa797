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

mod backend;
mod backends;
mod fast;
mod held;
mod lease;
mod runner;
mod script;

#[doc(hidden)]
pub use crate::dialect::HistorySql as __HistorySql;
pub use backend::Backend;
#[doc(hidden)]
pub use backend::{Param, RunLock};
pub(crate) use runner::{database_error, message, read_changes, read_rows};

use sqlx::Pool;

use crate::plan::{self, Plan};
use crate::report::{Current, Direction, HistoryEntry, Report, Status};
use crate::{Error, Migrations, Options, Target};

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
    runner::execute(pool, migrations, Direction::Up, target, options).await
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
    runner::execute(pool, migrations, Direction::Down, target, options).await
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
    let rows = runner::read_rows(pool, options).await?;
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
    let rows = runner::read_rows(pool, options).await?;
    let status = plan::status(migrations.as_slice(), &rows, options);
    let held = status.dirty && runner::in_flight(pool, options).await?;
    Ok(status.in_flight_if(held))
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
    let rows = runner::read_rows(pool, options).await?;
    let entries = plan::history(migrations.as_slice(), &rows);
    let held = entries
        .iter()
        .any(|entry| entry.state == crate::State::Dirty)
        && runner::in_flight(pool, options).await?;
    Ok(crate::report::history_in_flight_if(entries, held))
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
    let rows = runner::read_rows(pool, options).await?;
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
) -> Result<crate::Stamped, Error> {
    runner::stamp(pool, migrations, target, options).await
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

/// The schema of the pool's database as canonical text
/// ([`crate::schema::Schema`]), leaving out `options`' history table.
/// Reads only the catalog: nothing is created.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let pool = sqlx::SqlitePool::connect("sqlite::memory:").await?;
/// sqlx::query("CREATE TABLE t (id INTEGER NOT NULL)").execute(&pool).await?;
/// let schema = migrate::sqlx::schema(&pool, &Default::default()).await?;
/// assert_eq!(schema.text(), "table t\n  column id integer not null\n");
/// # Ok(()) }
/// ```
///
/// # Errors
///
/// [`Error::Database`] when the catalog cannot be read.
pub async fn schema<DB: Backend>(
    pool: &Pool<DB>,
    options: &Options,
) -> Result<crate::schema::Schema, Error> {
    use crate::dialect::schema::{MYSQL_VERSION, queries};
    let fail = || database_error("read the database's schema");
    let mut conn = pool.acquire().await.map_err(fail())?;
    let mariadb = DB::DIALECT == crate::Dialect::MySql
        && DB::texts(&mut conn, MYSQL_VERSION, &[])
            .await
            .map_err(fail())?
            .into_iter()
            .flatten()
            .any(|version| version.contains("MariaDB"));
    let mut rows = Vec::new();
    for query in queries(DB::DIALECT, &options.table, mariadb) {
        let texts = DB::texts(&mut conn, &query, &[]).await.map_err(fail())?;
        rows.extend(texts.into_iter().flatten());
    }
    Ok(crate::schema::Schema::from_rows(rows))
}

/// [`crate::Migrator::verify`] on a pool: applies, reverts and applies
/// again each migration in turn on the pool's database, which must be an
/// empty scratch database, comparing the schema around each step.
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
/// assert!(migrate::sqlx::verify(&pool, &set, &Default::default()).await?.passed());
/// # Ok(()) }
/// ```
///
/// # Errors
///
/// [`Error::NotEmpty`] when the database holds any object or applied
/// migration; a database error reading the schema. A failing step is in
/// the result, not an error.
pub async fn verify<DB: Backend>(
    pool: &Pool<DB>,
    migrations: &Migrations,
    options: &Options,
) -> Result<crate::Verification, Error> {
    crate::verify::refuse_unless_empty(
        &schema(pool, options).await?,
        &history(pool, migrations, options).await?,
    )?;
    crate::verify::verify_steps!(
        migrations,
        up: upgrade(pool, migrations, Target::Forward(1), options),
        down: downgrade(pool, migrations, Target::Back(1), options),
        read: schema(pool, options),
        .await
    )
}
