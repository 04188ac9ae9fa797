//! Test databases (`migrate::testing`, behind `#[migrate::test]`): the time
//! to hand one test its migrated database, at 10, 100 and 1,000 migrations,
//! from a template built once per set, side by side with what
//! `#[sqlx::test]` does (a new database, every migration replayed on it by
//! sqlx's `Migrator`), on SQLite, PostgreSQL and MySQL/MariaDB.
//!
//! ```text
//! MIGRATE_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres \
//! MIGRATE_TEST_MYSQL_URL=mysql://root@127.0.0.1:3306/mysql \
//!     cargo run -p benches --release --bin testing              # prints, rewrites benches/README.md
//! cargo run -p benches --release --bin testing -- --quick       # N = 10 and 100, 3 rounds, README untouched
//! cargo run -p benches --release --bin testing -- --n 1000 --rounds 2   # exploring, README untouched
//! ```
//!
//! A server whose variable is unset is left out (and the README is not
//! rewritten). Ways of handing a test its database, each timed as a test
//! pays it (whole, with `Instant`):
//!
//! - **hand-over**: from nothing to the answer of the test's first query
//!   (`SELECT count(*) FROM t{N}`, which must be 2; on SQLite this is also
//!   where a fresh connection reads the schema);
//! - **removal**: closing the connection or pool and removing the file or
//!   dropping the database, as `#[migrate::test]` and `#[sqlx::test]` do
//!   after a passing test; for `migrate::testing` on PostgreSQL also
//!   `Fresh::refill`, the next ready copy of the template, which
//!   `#[migrate::test]` makes while the test runs.
//!
//! The ways: `migrate::testing::sqlite_file` then `rusqlite::Connection::open`;
//! `migrate::testing::fresh` for `sqlx::SqlitePool`, `sqlx::PgPool` and
//! `sqlx::MySqlPool`, in the steady state (the set's template already
//! built), with the first test of a set (the template built, then copied)
//! measured separately; and sqlx's `Migrator` over the same files, as
//! `#[sqlx::test]` runs it: a new file or database, one connection that runs
//! every migration, closed, then the test's pool; for SQLite also an
//! in-memory database (sqlx, and migrate's rusqlite runner for reference).
//! Beside them, on the servers: the floor of any database per test (an
//! empty `CREATE DATABASE`, a pool, `DROP DATABASE`), and on PostgreSQL the
//! same template copied with `STRATEGY FILE_COPY` instead of PostgreSQL's
//! default (`WAL_LOG`), which `migrate::testing` uses for its ready copies.
//!
//! Each round runs every way once, in an order rotated by the round; every
//! database made is checked (N tables, N rows in the tool's history) in the
//! warm-up round and in every template build, and every database the
//! benchmark made is dropped at the end, the templates of its sets
//! (`migrate_tpl_<digest>`, and SQLite's template files) included.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::str::FromStr as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use benches::{report, stats};
use migrate::testing::Fresh;
use sqlx::migrate::Migrator;
use sqlx::mysql::MySqlConnectOptions;
use sqlx::postgres::PgConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{AssertSqlSafe, Connection as _};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// The test name handed to `migrate::testing` (it names the databases).
const TEST: &str = "bench";

/// The goals of the issue: a test's database within this, whatever N.
const POSTGRES_GOAL: Duration = Duration::from_millis(100);
const SQLITE_GOAL: Duration = Duration::from_millis(15);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Db {
    Sqlite,
    Postgres,
    MySql,
}

impl Db {
    fn name(self) -> &'static str {
        match self {
            Db::Sqlite => "SQLite",
            Db::Postgres => "PostgreSQL",
            Db::MySql => "MySQL/MariaDB",
        }
    }
}

/// One way of handing a test its migrated database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Way {
    TemplateRusqlite,
    TemplateSqlitePool,
    ReplaySqliteFile,
    ReplaySqliteMemory,
    ReplayRusqliteMemory,
    TemplatePostgres,
    FileCopyPostgres,
    ReplayPostgres,
    FloorPostgres,
    TemplateMySql,
    ReplayMySql,
    FloorMySql,
}

impl Way {
    const ALL: [Way; 12] = [
        Way::TemplateRusqlite,
        Way::TemplateSqlitePool,
        Way::ReplaySqliteFile,
        Way::ReplaySqliteMemory,
        Way::ReplayRusqliteMemory,
        Way::TemplatePostgres,
        Way::FileCopyPostgres,
        Way::ReplayPostgres,
        Way::FloorPostgres,
        Way::TemplateMySql,
        Way::ReplayMySql,
        Way::FloorMySql,
    ];

    fn db(self) -> Db {
        match self {
            Way::TemplateRusqlite
            | Way::TemplateSqlitePool
            | Way::ReplaySqliteFile
            | Way::ReplaySqliteMemory
            | Way::ReplayRusqliteMemory => Db::Sqlite,
            Way::TemplatePostgres
            | Way::FileCopyPostgres
            | Way::ReplayPostgres
            | Way::FloorPostgres => Db::Postgres,
            Way::TemplateMySql | Way::ReplayMySql | Way::FloorMySql => Db::MySql,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Way::TemplateRusqlite => "migrate::testing: `sqlite_file` + rusqlite open",
            Way::TemplateSqlitePool => "migrate::testing: `fresh::<SqlitePool>`",
            Way::ReplaySqliteFile => "sqlx Migrator on a new file (as `#[sqlx::test]`)",
            Way::ReplaySqliteMemory => "sqlx Migrator in memory",
            Way::ReplayRusqliteMemory => "migrate::run in memory (rusqlite)",
            Way::TemplatePostgres => {
                "migrate::testing: `fresh::<PgPool>` (a ready copy of the template renamed; the next made after the test)"
            }
            Way::FileCopyPostgres => {
                "not migrate, for comparison: CREATE DATABASE … TEMPLATE (the same template) \
                 STRATEGY FILE_COPY"
            }
            Way::ReplayPostgres => "sqlx Migrator on a new database (as `#[sqlx::test]`)",
            Way::FloorPostgres => "floor: an empty database (CREATE DATABASE, pool, DROP)",
            Way::TemplateMySql => {
                "migrate::testing: `fresh::<MySqlPool>` (the template's tables copied by one script)"
            }
            Way::ReplayMySql => "sqlx Migrator on a new database (as `#[sqlx::test]`)",
            Way::FloorMySql => "floor: an empty database (CREATE DATABASE, pool, DROP)",
        }
    }

    /// Served from a template (whose first use builds it).
    fn templated(self) -> bool {
        matches!(
            self,
            Way::TemplateRusqlite
                | Way::TemplateSqlitePool
                | Way::TemplatePostgres
                | Way::TemplateMySql
        )
    }

    /// What `#[sqlx::test]` does on this database: the reference of the
    /// speed-ups.
    fn reference(db: Db) -> Way {
        match db {
            Db::Sqlite => Way::ReplaySqliteFile,
            Db::Postgres => Way::ReplayPostgres,
            Db::MySql => Way::ReplayMySql,
        }
    }

    /// A database without the migrations.
    fn floor(self) -> bool {
        matches!(self, Way::FloorPostgres | Way::FloorMySql)
    }

    /// The test's first query, whose answer must be 2.
    fn first_query(self, n: usize) -> String {
        if self.floor() {
            "SELECT count(*) FROM (SELECT 1 AS a UNION ALL SELECT 2) AS x".to_owned()
        } else {
            format!("SELECT count(*) FROM t{n}")
        }
    }

    /// The history table this way's database holds.
    fn history(self) -> &'static str {
        match self {
            Way::ReplaySqliteFile
            | Way::ReplaySqliteMemory
            | Way::ReplayPostgres
            | Way::ReplayMySql => "_sqlx_migrations",
            _ => "_migrate_history",
        }
    }
}

/// The servers, from the tests' variables.
struct Servers {
    postgres: Option<(String, PgConnectOptions)>,
    mysql: Option<(String, MySqlConnectOptions)>,
}

impl Servers {
    fn from_env() -> Result<Servers> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        Ok(Servers {
            postgres: match var("MIGRATE_TEST_POSTGRES_URL") {
                Some(url) => Some((url.clone(), url.parse()?)),
                None => None,
            },
            mysql: match var("MIGRATE_TEST_MYSQL_URL") {
                Some(url) => Some((url.clone(), url.parse()?)),
                None => None,
            },
        })
    }

    fn has(&self, db: Db) -> bool {
        match db {
            Db::Sqlite => true,
            Db::Postgres => self.postgres.is_some(),
            Db::MySql => self.mysql.is_some(),
        }
    }

    fn postgres(&self) -> Result<&(String, PgConnectOptions)> {
        self.postgres
            .as_ref()
            .ok_or_else(|| "MIGRATE_TEST_POSTGRES_URL is not set".into())
    }

    fn mysql(&self) -> Result<&(String, MySqlConnectOptions)> {
        self.mysql
            .as_ref()
            .ok_or_else(|| "MIGRATE_TEST_MYSQL_URL is not set".into())
    }
}

/// One generated set, in both tools' forms (the same files).
struct Set {
    n: usize,
    migrations: migrate::Migrations,
    migrator: Migrator,
    /// Names its templates.
    digest: String,
}

/// `n` migrations, portable between SQLite, PostgreSQL and MySQL: a table
/// and an `INSERT` of two rows each. The comment makes the checksums (and
/// so the templates' names) this benchmark's own.
fn write_set(dir: &Path, n: usize) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    for v in 1..=n {
        std::fs::write(
            dir.join(format!("{v}_t{v}.sql")),
            format!(
                "-- benches --bin testing: migration {v} of {n}.\n\
                 CREATE TABLE t{v} (id INT NOT NULL PRIMARY KEY, name VARCHAR(40) NOT NULL);\n\
                 INSERT INTO t{v} (id, name) VALUES (1, 'a'), (2, 'b');\n"
            ),
        )?;
    }
    Ok(())
}

async fn load_set(work: &Path, n: usize) -> Result<Set> {
    let dir = work.join(format!("set-{n}"));
    write_set(&dir, n)?;
    // Both loaded before any clock, as their macros would embed them.
    let migrations = migrate::Migrations::from_dir(&dir)?;
    let migrator = Migrator::new(dir.as_path()).await?;
    if migrations.len() != n || migrator.iter().count() != n {
        return Err(format!("set {n}: loaded {} / {}", migrations.len(), n).into());
    }
    let digest = migrate::testing::digest(&migrations);
    Ok(Set {
        n,
        migrations,
        migrator,
        digest,
    })
}

/// What a test is handed.
enum Handle {
    Rusqlite(rusqlite::Connection),
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
    MySql(sqlx::MySqlPool),
}

/// What is removed after the test.
enum Removal {
    /// In memory: closing is all.
    Nothing,
    /// A SQLite file made here (with its journal files).
    File(PathBuf),
    /// What `migrate::testing` made.
    Fresh(Box<Fresh>),
    /// A database made here.
    Postgres(String),
    MySql(String),
}

fn unique() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The prefix of the databases this benchmark makes itself (this
/// process's own).
fn bench_prefix() -> String {
    format!("migrate_bench_testing_{}_", std::process::id())
}

async fn execute_pg(options: &PgConnectOptions, sql: &str) -> Result<()> {
    let mut conn = sqlx::PgConnection::connect_with(options).await?;
    sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    Ok(())
}

async fn execute_mysql(options: &MySqlConnectOptions, sql: &str) -> Result<()> {
    let mut conn = sqlx::MySqlConnection::connect_with(options).await?;
    sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    Ok(())
}

/// Hands a test its database, the way `way` does.
async fn hand_over(
    way: Way,
    set: &Set,
    servers: &Servers,
    work: &Path,
) -> Result<(Handle, Removal)> {
    Ok(match way {
        Way::TemplateRusqlite => {
            let file = migrate::testing::sqlite_file(&set.migrations, TEST)?;
            let conn = rusqlite::Connection::open(&file)?;
            (Handle::Rusqlite(conn), Removal::File(file))
        }
        Way::TemplateSqlitePool => {
            let (pool, fresh) =
                migrate::testing::fresh::<sqlx::SqlitePool>(&set.migrations, TEST, None).await?;
            (Handle::Sqlite(pool), Removal::Fresh(Box::new(fresh)))
        }
        Way::ReplaySqliteFile => {
            // `#[sqlx::test]`: a file (created if missing), a connection
            // that runs the migrations and is closed, then the test's pool.
            let path = work.join(format!("sqlx-{}.sqlite", unique()));
            let options = SqliteConnectOptions::new()
                .filename(&path)
                .create_if_missing(true);
            let mut conn = sqlx::SqliteConnection::connect_with(&options).await?;
            set.migrator.run(&mut conn).await?;
            conn.close().await?;
            let pool = sqlx::SqlitePool::connect_with(options).await?;
            (Handle::Sqlite(pool), Removal::File(path))
        }
        Way::ReplaySqliteMemory => {
            // sqlx names each `:memory:` database and shares it between the
            // pool's connections.
            let options = SqliteConnectOptions::from_str("sqlite::memory:")?;
            let pool = sqlx::SqlitePool::connect_with(options).await?;
            set.migrator.run(&pool).await?;
            (Handle::Sqlite(pool), Removal::Nothing)
        }
        Way::ReplayRusqliteMemory => {
            let conn = rusqlite::Connection::open_in_memory()?;
            migrate::run(&conn, &set.migrations)?;
            (Handle::Rusqlite(conn), Removal::Nothing)
        }
        Way::TemplatePostgres => {
            let (url, _) = servers.postgres()?;
            let (pool, fresh) =
                migrate::testing::fresh::<sqlx::PgPool>(&set.migrations, TEST, Some(url)).await?;
            (Handle::Postgres(pool), Removal::Fresh(Box::new(fresh)))
        }
        Way::FileCopyPostgres => {
            let (_, admin) = servers.postgres()?;
            let name = format!("{}{}", bench_prefix(), unique());
            execute_pg(
                admin,
                &format!(
                    "CREATE DATABASE \"{name}\" TEMPLATE \"migrate_tpl_{}\" STRATEGY FILE_COPY",
                    set.digest
                ),
            )
            .await?;
            let pool = sqlx::PgPool::connect_with(admin.clone().database(&name)).await?;
            (Handle::Postgres(pool), Removal::Postgres(name))
        }
        Way::FloorPostgres => {
            let (_, admin) = servers.postgres()?;
            let name = format!("{}{}", bench_prefix(), unique());
            execute_pg(admin, &format!("CREATE DATABASE \"{name}\"")).await?;
            let pool = sqlx::PgPool::connect_with(admin.clone().database(&name)).await?;
            (Handle::Postgres(pool), Removal::Postgres(name))
        }
        Way::FloorMySql => {
            let (_, admin) = servers.mysql()?;
            let name = format!("{}{}", bench_prefix(), unique());
            execute_mysql(admin, &format!("CREATE DATABASE `{name}`")).await?;
            let pool = sqlx::MySqlPool::connect_with(admin.clone().database(&name)).await?;
            (Handle::MySql(pool), Removal::MySql(name))
        }
        Way::ReplayPostgres => {
            let (_, admin) = servers.postgres()?;
            let name = format!("{}{}", bench_prefix(), unique());
            execute_pg(admin, &format!("CREATE DATABASE \"{name}\"")).await?;
            let options = admin.clone().database(&name);
            let mut conn = sqlx::PgConnection::connect_with(&options).await?;
            set.migrator.run(&mut conn).await?;
            conn.close().await?;
            let pool = sqlx::PgPool::connect_with(options).await?;
            (Handle::Postgres(pool), Removal::Postgres(name))
        }
        Way::TemplateMySql => {
            let (url, _) = servers.mysql()?;
            let (pool, fresh) =
                migrate::testing::fresh::<sqlx::MySqlPool>(&set.migrations, TEST, Some(url))
                    .await?;
            (Handle::MySql(pool), Removal::Fresh(Box::new(fresh)))
        }
        Way::ReplayMySql => {
            let (_, admin) = servers.mysql()?;
            let name = format!("{}{}", bench_prefix(), unique());
            execute_mysql(admin, &format!("CREATE DATABASE `{name}`")).await?;
            let options = admin.clone().database(&name);
            let mut conn = sqlx::MySqlConnection::connect_with(&options).await?;
            set.migrator.run(&mut conn).await?;
            conn.close().await?;
            let pool = sqlx::MySqlPool::connect_with(options).await?;
            (Handle::MySql(pool), Removal::MySql(name))
        }
    })
}

/// The first column of the first row of `sql`, as a number.
async fn scalar(handle: &Handle, sql: &str) -> Result<i64> {
    let sql_safe = || AssertSqlSafe(sql.to_owned());
    Ok(match handle {
        Handle::Rusqlite(conn) => conn.query_row(sql, [], |row| row.get(0))?,
        Handle::Sqlite(pool) => sqlx::query_scalar(sql_safe()).fetch_one(pool).await?,
        Handle::Postgres(pool) => sqlx::query_scalar(sql_safe()).fetch_one(pool).await?,
        Handle::MySql(pool) => sqlx::query_scalar(sql_safe()).fetch_one(pool).await?,
    })
}

/// N tables `t1..tN` and N rows in the way's history table.
async fn verify(way: Way, handle: &Handle, n: usize) -> Result<()> {
    if way.floor() {
        return Ok(());
    }
    let tables = match way.db() {
        Db::Sqlite => {
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name GLOB 't[0-9]*'"
        }
        Db::Postgres => {
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename ~ '^t[0-9]+$'"
        }
        Db::MySql => {
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = DATABASE() \
             AND table_name REGEXP '^t[0-9]+$'"
        }
    };
    let tables = scalar(handle, tables).await?;
    let history = scalar(handle, &format!("SELECT count(*) FROM {}", way.history())).await?;
    if tables != n as i64 || history != n as i64 {
        return Err(format!(
            "{} / {}: {tables} tables and {history} rows in {}, not {n}",
            way.db().name(),
            way.label(),
            way.history()
        )
        .into());
    }
    Ok(())
}

async fn remove(handle: Handle, removal: Removal, servers: &Servers) -> Result<()> {
    match handle {
        Handle::Rusqlite(conn) => drop(conn),
        Handle::Sqlite(pool) => pool.close().await,
        Handle::Postgres(pool) => pool.close().await,
        Handle::MySql(pool) => pool.close().await,
    }
    match removal {
        Removal::Nothing => {}
        Removal::File(path) => benches::sqlite::remove(&path),
        // As `#[migrate::test]` does: on PostgreSQL the next ready copy of
        // the template is made (while the test runs, there), then the
        // database is dropped.
        Removal::Fresh(fresh) => {
            fresh.refill().await?;
            fresh.remove().await?
        }
        // As `#[sqlx::test]` drops its database after a passing test.
        Removal::Postgres(name) => {
            execute_pg(
                &servers.postgres()?.1,
                &format!("DROP DATABASE IF EXISTS \"{name}\""),
            )
            .await?;
        }
        Removal::MySql(name) => {
            execute_mysql(
                &servers.mysql()?.1,
                &format!("DROP DATABASE IF EXISTS `{name}`"),
            )
            .await?;
        }
    }
    Ok(())
}

/// One test's database: handed over, answered, (checked,) removed.
#[derive(Debug, Clone, Copy)]
struct Sample {
    hand_over: Duration,
    removal: Duration,
}

impl Sample {
    fn total(self) -> Duration {
        self.hand_over + self.removal
    }
}

async fn once(way: Way, set: &Set, servers: &Servers, work: &Path, check: bool) -> Result<Sample> {
    let started = Instant::now();
    let (handle, removal) = hand_over(way, set, servers, work).await?;
    let rows = scalar(&handle, &way.first_query(set.n)).await?;
    let hand_over = started.elapsed();
    let checked = if rows != 2 {
        Err(format!(
            "{} / {}: the first query answered {rows}",
            way.db().name(),
            way.label()
        )
        .into())
    } else if check {
        verify(way, &handle, set.n).await
    } else {
        Ok(())
    };
    let started = Instant::now();
    let removed = remove(handle, removal, servers).await;
    let removal = started.elapsed();
    checked?;
    removed?;
    Ok(Sample { hand_over, removal })
}

/// Where `migrate::testing` keeps SQLite templates and test copies.
fn sqlite_dirs() -> (PathBuf, PathBuf) {
    let temp = std::env::temp_dir();
    (temp.join("migrate-templates"), temp.join("migrate-tests"))
}

/// Removes `set`'s template on `db`, so that the next test builds it.
async fn drop_template(db: Db, set: &Set, servers: &Servers) -> Result<()> {
    let template = format!("migrate_tpl_{}", set.digest);
    match db {
        Db::Sqlite => {
            let (templates, _) = sqlite_dirs();
            benches::sqlite::remove(&templates.join(format!("{}.sqlite3", set.digest)));
        }
        Db::Postgres => {
            let admin = &servers.postgres()?.1;
            let mut conn = sqlx::PgConnection::connect_with(admin).await?;
            // The template and its ready copies.
            let names: Vec<String> = sqlx::query_scalar(
                "SELECT datname::text FROM pg_database WHERE starts_with(datname, $1)",
            )
            .bind(&template)
            .fetch_all(&mut conn)
            .await?;
            conn.close().await?;
            for name in names {
                execute_pg(
                    admin,
                    &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
                )
                .await?;
            }
        }
        Db::MySql => {
            execute_mysql(
                &servers.mysql()?.1,
                &format!("DROP DATABASE IF EXISTS `{template}`"),
            )
            .await?;
        }
    }
    Ok(())
}

/// Drops every database and file this process made, and its sets'
/// templates: the last thing a run does, also after an error.
async fn clean_up(sets: &[Set], servers: &Servers) -> Result<()> {
    let pid = std::process::id();
    // `migrate::testing` names databases `migrate_test_<test>_<pid>_…`.
    let mut patterns = vec![
        format!("migrate\\_test\\_{TEST}\\_{pid}\\_%"),
        format!("migrate\\_test\\_template\\_{pid}\\_%"),
        format!("{}%", bench_prefix().replace('_', "\\_")),
    ];
    // The ready copies of the sets' templates (PostgreSQL).
    patterns.extend(
        sets.iter()
            .map(|set| format!("migrate\\_tpl\\_{}\\_s%", set.digest)),
    );
    let templates: Vec<String> = sets
        .iter()
        .map(|set| format!("migrate_tpl_{}", set.digest))
        .collect();
    let mut failures = Vec::new();
    if let Some((_, admin)) = &servers.postgres {
        let mut conn = sqlx::PgConnection::connect_with(admin).await?;
        let mut names: Vec<String> = Vec::new();
        for pattern in &patterns {
            names.extend(
                sqlx::query_scalar::<_, String>(
                    "SELECT datname::text FROM pg_database WHERE datname LIKE $1",
                )
                .bind(pattern)
                .fetch_all(&mut conn)
                .await?,
            );
        }
        names.extend(templates.iter().cloned());
        for name in names {
            let dropped = sqlx::raw_sql(AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
            )))
            .execute(&mut conn)
            .await;
            if let Err(err) = dropped {
                failures.push(format!("PostgreSQL {name}: {err}"));
            }
        }
        conn.close().await?;
    }
    if let Some((_, admin)) = &servers.mysql {
        let mut conn = sqlx::MySqlConnection::connect_with(admin).await?;
        let mut names: Vec<String> = Vec::new();
        for pattern in &patterns {
            names.extend(
                sqlx::query_scalar::<_, String>(
                    "SELECT CAST(schema_name AS CHAR) FROM information_schema.schemata \
                     WHERE schema_name LIKE ?",
                )
                .bind(pattern)
                .fetch_all(&mut conn)
                .await?,
            );
        }
        names.extend(templates.iter().cloned());
        for name in names {
            let dropped = sqlx::raw_sql(AssertSqlSafe(format!("DROP DATABASE IF EXISTS `{name}`")))
                .execute(&mut conn)
                .await;
            if let Err(err) = dropped {
                failures.push(format!("MySQL {name}: {err}"));
            }
        }
        conn.close().await?;
    }
    let (templates_dir, tests_dir) = sqlite_dirs();
    for set in sets {
        for entry in std::fs::read_dir(&templates_dir).into_iter().flatten() {
            let Ok(entry) = entry else { continue };
            if entry
                .file_name()
                .to_string_lossy()
                .starts_with(&format!("{}.", set.digest))
            {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    let ours = format!("migrate_test_{TEST}_{pid}_");
    for entry in std::fs::read_dir(&tests_dir).into_iter().flatten() {
        let Ok(entry) = entry else { continue };
        if entry.file_name().to_string_lossy().starts_with(&ours) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("; ").into())
    }
}

/// Samples by (N, way).
type Samples = BTreeMap<(usize, Way), Vec<Sample>>;

/// The `q`-quantile (0.0..=1.0) of `values`, by linear interpolation.
fn quantile_f64(mut values: Vec<f64>, q: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let position = q.clamp(0.0, 1.0) * (values.len() - 1) as f64;
    let (low, high) = (position.floor() as usize, position.ceil() as usize);
    values[low] + (values[high] - values[low]) * (position - low as f64)
}

fn totals(samples: &[Sample]) -> Vec<Duration> {
    samples.iter().map(|s| s.total()).collect()
}

fn hand_overs(samples: &[Sample]) -> Vec<Duration> {
    samples.iter().map(|s| s.hand_over).collect()
}

fn removals(samples: &[Sample]) -> Vec<Duration> {
    samples.iter().map(|s| s.removal).collect()
}

fn range(samples: &[Duration]) -> String {
    format!(
        "{}–{}",
        stats::format(stats::quantile(samples, 0.25)),
        stats::format(stats::quantile(samples, 0.75))
    )
}

/// The per-round speed-ups over `#[sqlx::test]`'s replay on the same
/// database (reference total ÷ this way's total): median (p25–p75).
fn speed_up(reference: &[Sample], samples: &[Sample]) -> (f64, f64, f64) {
    let ratios: Vec<f64> = reference
        .iter()
        .zip(samples)
        .map(|(r, s)| r.total().as_secs_f64() / s.total().as_secs_f64())
        .collect();
    (
        quantile_f64(ratios.clone(), 0.5),
        quantile_f64(ratios.clone(), 0.25),
        quantile_f64(ratios, 0.75),
    )
}

fn speed_up_text((median, low, high): (f64, f64, f64)) -> String {
    let digits = |x: f64| if x >= 10.0 { 0 } else { 2 };
    format!(
        "{median:.*}× ({low:.*}–{high:.*})",
        digits(median),
        digits(low),
        digits(high)
    )
}

fn steady_table(sizes: &[usize], ways: &[Way], samples: &Samples) -> String {
    let mut out = String::from(
        "| N | database | way | hand-over | p25–p75 | removal | per test (both) | p25–p75 | \
         speed-up over sqlx's replay, paired (p25–p75) |\n\
         |---:|---|---|---:|---:|---:|---:|---:|---:|\n",
    );
    for &n in sizes {
        for &way in ways {
            let Some(ours) = samples.get(&(n, way)) else {
                continue;
            };
            let reference = Way::reference(way.db());
            let speed = if way == reference {
                "1.00× (reference)".to_owned()
            } else if let Some(theirs) = samples.get(&(n, reference)) {
                speed_up_text(speed_up(theirs, ours))
            } else {
                "—".to_owned()
            };
            let (handed, removed, total) = (hand_overs(ours), removals(ours), totals(ours));
            let _ = writeln!(
                out,
                "| {n} | {} | {} | {} | {} | {} | {} | {} | {speed} |",
                way.db().name(),
                way.label(),
                stats::format(stats::median(&handed)),
                range(&handed),
                stats::format(stats::median(&removed)),
                stats::format(stats::median(&total)),
                range(&total),
            );
        }
    }
    out
}

fn build_table(sizes: &[usize], ways: &[Way], builds: &Samples, steady: &Samples) -> String {
    let mut out = String::from(
        "| N | database | way | first test's hand-over (template built, then copied) | \
         min–max | × a later test's hand-over | sqlx's replay, for comparison |\n\
         |---:|---|---|---:|---:|---:|---:|\n",
    );
    for &n in sizes {
        for &way in ways.iter().filter(|w| w.templated()) {
            let Some(first) = builds.get(&(n, way)) else {
                continue;
            };
            let first = hand_overs(first);
            let min = first.iter().min().copied().unwrap_or_default();
            let max = first.iter().max().copied().unwrap_or_default();
            let later = steady.get(&(n, way)).map(|s| stats::median(&hand_overs(s)));
            let replay = steady
                .get(&(n, Way::reference(way.db())))
                .map(|s| stats::format(stats::median(&hand_overs(s))));
            let _ = writeln!(
                out,
                "| {n} | {} | {} | {} | {}–{} | {} | {} |",
                way.db().name(),
                way.label(),
                stats::format(stats::median(&first)),
                stats::format(min),
                stats::format(max),
                later.map_or("—".to_owned(), |later| format!(
                    "{:.0}×",
                    stats::median(&first).as_secs_f64() / later.as_secs_f64()
                )),
                replay.unwrap_or_else(|| "—".to_owned()),
            );
        }
    }
    out
}

fn goals_table(sizes: &[usize], samples: &Samples) -> String {
    let mut out = String::from(
        "| goal | N | way | hand-over | per test (with removal) | met |\n\
         |---|---:|---|---:|---:|---|\n",
    );
    let goals: [(Way, Option<Duration>); 6] = [
        (Way::TemplatePostgres, Some(POSTGRES_GOAL)),
        (Way::FloorPostgres, Some(POSTGRES_GOAL)),
        (Way::TemplateRusqlite, Some(SQLITE_GOAL)),
        (Way::TemplateSqlitePool, Some(SQLITE_GOAL)),
        (Way::TemplateMySql, None),
        (Way::FloorMySql, None),
    ];
    for (way, goal) in goals {
        for &n in sizes {
            let Some(ours) = samples.get(&(n, way)) else {
                continue;
            };
            let handed = stats::median(&hand_overs(ours));
            let total = stats::median(&totals(ours));
            let (what, met) = match goal {
                Some(goal) => (
                    format!("{} ≤ {}", way.db().name(), stats::format(goal)),
                    if total <= goal {
                        "yes"
                    } else if handed <= goal {
                        "hand-over only"
                    } else {
                        "**no**"
                    },
                ),
                None => (format!("{}: recorded", way.db().name()), "—"),
            };
            let _ = writeln!(
                out,
                "| {what} | {n} | {} | {} | {} | {met} |",
                way.label(),
                stats::format(handed),
                stats::format(total),
            );
        }
    }
    out
}

async fn server_versions(servers: &Servers) -> Result<String> {
    let mut lines = String::new();
    if let Some((_, admin)) = &servers.postgres {
        let mut conn = sqlx::PgConnection::connect_with(admin).await?;
        let version: String = sqlx::query_scalar("SELECT version()")
            .fetch_one(&mut conn)
            .await?;
        conn.close().await?;
        let version = version.split(" on ").next().unwrap_or(&version).to_owned();
        let _ = writeln!(lines, "- PostgreSQL: {version}");
    }
    if let Some((_, admin)) = &servers.mysql {
        let mut conn = sqlx::MySqlConnection::connect_with(admin).await?;
        let version: String = sqlx::query_scalar("SELECT CAST(VERSION() AS CHAR)")
            .fetch_one(&mut conn)
            .await?;
        conn.close().await?;
        let _ = writeln!(lines, "- MySQL/MariaDB: {version}");
    }
    Ok(lines)
}

/// (N, rounds, template builds): the full run, or `--quick`.
fn plan(quick: bool) -> &'static [(usize, usize, usize)] {
    if quick {
        &[(10, 3, 1), (100, 3, 1)]
    } else {
        &[(10, 41, 5), (100, 31, 5), (1_000, 15, 3)]
    }
}

async fn measure(
    plan: &[(usize, usize, usize)],
    ways: &[Way],
    sets: &[Set],
    servers: &Servers,
    work: &Path,
) -> Result<(Samples, Samples)> {
    let mut steady = Samples::new();
    let mut builds = Samples::new();
    for (&(n, rounds, build_count), set) in plan.iter().zip(sets) {
        // The first test of a set: its template built, then copied.
        let templated: Vec<Way> = ways.iter().copied().filter(|w| w.templated()).collect();
        for build in 0..build_count {
            for offset in 0..templated.len() {
                let way = templated[(build + offset) % templated.len()];
                eprintln!(
                    "N={n}: template build {} of {build_count}: {} / {}",
                    build + 1,
                    way.db().name(),
                    way.label()
                );
                drop_template(way.db(), set, servers).await?;
                let sample = once(way, set, servers, work, true).await?;
                builds.entry((n, way)).or_default().push(sample);
            }
        }
        // The steady state: one warm-up round (checked), then the rounds.
        for round in 0..=rounds {
            eprintln!("N={n}: round {round} of {rounds}");
            for offset in 0..ways.len() {
                let way = ways[(round + offset) % ways.len()];
                let sample = once(way, set, servers, work, round == 0).await?;
                if round > 0 {
                    steady.entry((n, way)).or_default().push(sample);
                }
            }
        }
    }
    Ok((steady, builds))
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let rounds_override: Option<usize> = args
        .windows(2)
        .find(|pair| pair[0] == "--rounds")
        .map(|pair| pair[1].parse())
        .transpose()?;
    // `--n N` (repeatable) keeps only those sizes: for exploring, never
    // for the published table.
    let only: Vec<usize> = args
        .windows(2)
        .filter(|pair| pair[0] == "--n")
        .map(|pair| pair[1].parse())
        .collect::<std::result::Result<_, _>>()?;
    let servers = Servers::from_env()?;
    let all_servers = servers.has(Db::Postgres) && servers.has(Db::MySql);
    let write_readme = !quick && rounds_override.is_none() && only.is_empty() && all_servers;
    if !all_servers {
        eprintln!(
            "note: MIGRATE_TEST_POSTGRES_URL or MIGRATE_TEST_MYSQL_URL is unset: those rows are \
             left out and benches/README.md is left alone"
        );
    }
    let plan: Vec<(usize, usize, usize)> = plan(quick)
        .iter()
        .filter(|(n, _, _)| only.is_empty() || only.contains(n))
        .map(|&(n, rounds, builds)| (n, rounds_override.unwrap_or(rounds), builds))
        .collect();
    let ways: Vec<Way> = Way::ALL
        .into_iter()
        .filter(|way| servers.has(way.db()))
        .collect();

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let work = tempfile::Builder::new()
        .prefix("migrate-testing-")
        .tempdir()?;
    let run = report::Run::start();
    let versions = runtime.block_on(server_versions(&servers))?;
    let mut sets = Vec::new();
    for &(n, _, _) in &plan {
        sets.push(runtime.block_on(load_set(work.path(), n))?);
    }
    let measured = runtime.block_on(measure(&plan, &ways, &sets, &servers, work.path()));
    let cleaned = runtime.block_on(clean_up(&sets, &servers));
    let (steady, builds) = measured?;
    cleaned?;

    let sizes: Vec<usize> = plan.iter().map(|&(n, _, _)| n).collect();
    let rounds: Vec<String> = plan
        .iter()
        .map(|(n, rounds, builds)| format!("N={n}: {rounds} rounds, {builds} template builds"))
        .collect();
    let mut section = run.header(
        &format!(
            "MIGRATE_TEST_POSTGRES_URL=… MIGRATE_TEST_MYSQL_URL=… cargo run -p benches --release \
             --bin testing{}",
            if quick { " -- --quick" } else { "" }
        ),
        &format!(
            "one test's migrated database, handed over and removed, at N migrations (each a \
             `CREATE TABLE` and an `INSERT` of two rows), every way once per round in an order \
             rotated by the round, after one warm-up round; {}.",
            rounds.join("; ")
        ),
    );
    let _ = writeln!(
        section,
        "- Versions: {}",
        report::versions(&["migrate-core", "sqlx", "rusqlite", "libsqlite3-sys"])
    );
    section.push_str(&versions);
    section.push_str(
        "\n\"Hand-over\" runs from nothing to the answer of the test's first query; \
         \"removal\" closes the pool or connection and removes the file or drops the \
         database; times are medians with the interquartile range beside them; a speed-up is \
         the median of the per-round ratios of sqlx's replay (on a file, for SQLite) to the \
         way, both per test (with removal).\n",
    );
    section.push_str("\n### Goals (steady state: the set's template already built)\n\n");
    section.push_str(&goals_table(&sizes, &steady));
    section.push_str("\n### Steady state: one test's database, the template already built\n\n");
    section.push_str(&steady_table(&sizes, &ways, &steady));
    section.push_str("\n### The first test of a set: the template built once\n\n");
    section.push_str(&build_table(&sizes, &ways, &builds, &steady));
    println!("{section}");
    if write_readme {
        report::replace_section("testing", &section)?;
        eprintln!("wrote benches/README.md");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_runs_on_sqlite_with_both_tools() {
        let dir = tempfile::tempdir().unwrap();
        write_set(dir.path(), 3).unwrap();
        let set = migrate::Migrations::from_dir(dir.path()).unwrap();
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        migrate::run(&conn, &set).unwrap();
        let rows: i64 = conn
            .query_row("SELECT count(*) FROM t3", [], |row| row.get(0))
            .unwrap();
        assert_eq!(rows, 2);
    }

    #[test]
    fn speed_ups_are_paired() {
        let sample = |ms| Sample {
            hand_over: Duration::from_millis(ms),
            removal: Duration::ZERO,
        };
        let reference = [sample(100), sample(200), sample(300)];
        let ours = [sample(10), sample(10), sample(100)];
        let (median, low, high) = speed_up(&reference, &ours);
        assert_eq!((median, low, high), (10.0, 6.5, 15.0));
    }
}
