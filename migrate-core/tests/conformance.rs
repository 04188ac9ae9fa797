//! One conformance suite, written once, run against every backend: rusqlite,
//! sqlx's SQLite, PostgreSQL (directly and through PgBouncer in transaction
//! pooling mode) and MariaDB/MySQL. Each scenario is a generic function over
//! [`Harness`]; `conformance!` instantiates it per backend.

use std::sync::Mutex;

use migrate::{
    Direction, Error, HistoryEntry, LockMode, Migrations, Options, Report, State, Status, Target,
    TransactionMode,
};

use crate::common::migration_dir;
use crate::servers::{Database, Kind, PgBouncer};

/// One history row as stored: version, success, whether a down script is kept.
pub type Row = (i64, bool, bool);

/// What a scenario needs of a backend.
pub trait Harness: Sync {
    /// False on MySQL/MariaDB, which commit DDL implicitly.
    const TRANSACTIONAL_DDL: bool;
    async fn upgrade(
        &self,
        set: &Migrations,
        target: Target,
        options: &Options,
    ) -> Result<Report, Error>;
    async fn downgrade(
        &self,
        set: &Migrations,
        target: Target,
        options: &Options,
    ) -> Result<Report, Error>;
    async fn stamp(&self, set: &Migrations, target: Target) -> Result<migrate::Stamped, Error>;
    async fn status(&self, set: &Migrations) -> Result<Status, Error>;
    async fn history(&self, set: &Migrations) -> Result<Vec<HistoryEntry>, Error>;
    /// The history rows, by version.
    async fn rows(&self) -> Vec<Row>;
    /// The user tables (not the history table), sorted.
    async fn tables(&self) -> Vec<String>;
    /// How many rows `log` holds.
    async fn log_count(&self) -> i64;
    /// Runs one statement, as another tool or an operator would.
    async fn execute(&self, statement: &str);
    /// Runs `n` upgrades to head with `options` at once, each on a
    /// connection of its own; the steps they applied, summed.
    async fn concurrent_runs(&self, set: &Migrations, n: usize, options: &Options) -> usize;
    /// The SQL an upgrade or downgrade would run (`migrate … --sql`).
    async fn sql(&self, set: &Migrations, direction: Direction, target: Target) -> String;
    /// Runs a multi-statement script by hand, as an operator would run the
    /// printed SQL.
    async fn execute_script(&self, sql: &str);
}

// ---- rusqlite ------------------------------------------------------------

pub struct Rusqlite {
    db: crate::common::TempDb,
    conn: Mutex<rusqlite::Connection>,
}

impl Rusqlite {
    pub fn new() -> Self {
        let db = crate::common::TempDb::new();
        let conn = Mutex::new(db.open());
        Rusqlite { db, conn }
    }
}

impl Harness for Rusqlite {
    const TRANSACTIONAL_DDL: bool = true;
    async fn upgrade(
        &self,
        set: &Migrations,
        target: Target,
        options: &Options,
    ) -> Result<Report, Error> {
        set.with_options(options.clone())
            .upgrade(&self.conn.lock().unwrap(), target)
    }
    async fn downgrade(
        &self,
        set: &Migrations,
        target: Target,
        options: &Options,
    ) -> Result<Report, Error> {
        set.with_options(options.clone())
            .downgrade(&self.conn.lock().unwrap(), target)
    }
    async fn stamp(&self, set: &Migrations, target: Target) -> Result<migrate::Stamped, Error> {
        set.stamp(&self.conn.lock().unwrap(), target)
    }
    async fn status(&self, set: &Migrations) -> Result<Status, Error> {
        set.status(&self.conn.lock().unwrap())
    }
    async fn history(&self, set: &Migrations) -> Result<Vec<HistoryEntry>, Error> {
        set.history(&self.conn.lock().unwrap())
    }
    async fn rows(&self) -> Vec<Row> {
        crate::common::history_rows(&self.conn.lock().unwrap())
            .into_iter()
            .map(|r| (r.version, r.success, r.down_sql.is_some()))
            .collect()
    }
    async fn tables(&self) -> Vec<String> {
        crate::common::schema(&self.conn.lock().unwrap())
            .into_iter()
            .filter(|(kind, _, _)| kind == "table")
            .map(|(_, name, _)| name)
            .collect()
    }
    async fn log_count(&self) -> i64 {
        self.conn
            .lock()
            .unwrap()
            .query_row("SELECT count(*) FROM log", [], |r| r.get(0))
            .unwrap()
    }
    async fn execute(&self, statement: &str) {
        self.conn.lock().unwrap().execute_batch(statement).unwrap();
    }
    async fn concurrent_runs(&self, set: &Migrations, n: usize, options: &Options) -> usize {
        let barrier = std::sync::Barrier::new(n);
        let set = set.with_options(options.clone());
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..n)
                .map(|_| {
                    scope.spawn(|| {
                        let conn = self.db.open();
                        barrier.wait();
                        set.upgrade(&conn, Target::Head).unwrap().steps.len()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        })
    }
    async fn sql(&self, set: &Migrations, direction: Direction, target: Target) -> String {
        set.with_options(Options::default())
            .sql(&self.conn.lock().unwrap(), direction, target)
            .unwrap()
    }
    async fn execute_script(&self, sql: &str) {
        self.conn.lock().unwrap().execute_batch(sql).unwrap();
    }
}

// ---- sqlx (SQLite, PostgreSQL, MySQL) --------------------------------------

pub struct Sqlx<DB: migrate::sqlx::Backend> {
    pool: sqlx::Pool<DB>,
    url: String,
    _file: Option<crate::common::TempDb>,
    _server: Option<Database>,
}

impl Sqlx<sqlx::Sqlite> {
    pub async fn sqlite() -> Self {
        let file = crate::common::TempDb::new();
        let url = format!("sqlite://{}?mode=rwc", file.path.display());
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        Sqlx {
            pool,
            url,
            _file: Some(file),
            _server: None,
        }
    }
}

impl<DB: migrate::sqlx::Backend> Sqlx<DB> {
    /// A pool on `url`; `server`, when given, is dropped after it.
    async fn connect(url: String, server: Option<Database>) -> Self {
        let pool = sqlx::pool::PoolOptions::<DB>::new()
            .connect(&url)
            .await
            .unwrap();
        Sqlx {
            pool,
            url,
            _file: None,
            _server: server,
        }
    }

    /// A pool on a fresh database on the `kind` server.
    async fn server(kind: Kind) -> Option<Self> {
        let server = Database::create(kind).await?;
        Some(Self::connect(server.url.clone(), Some(server)).await)
    }
}

impl Sqlx<sqlx::Postgres> {
    pub async fn postgres() -> Option<Self> {
        Self::server(Kind::Postgres).await
    }
}

impl Sqlx<sqlx::MySql> {
    pub async fn mysql() -> Option<Self> {
        Self::server(Kind::MySql).await
    }
}

impl<DB: migrate::sqlx::Backend> Drop for Sqlx<DB> {
    fn drop(&mut self) {
        // Close the connections before the database is dropped.
        let pool = self.pool.clone();
        std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(pool.close())
        })
        .join()
        .unwrap();
    }
}

/// The SQL a harness needs to inspect its database, per dialect.
pub trait Inspect: migrate::sqlx::Backend {
    const TRANSACTIONAL_DDL: bool;
    const TABLES: &'static str;
}

impl Inspect for sqlx::Sqlite {
    const TRANSACTIONAL_DDL: bool = true;
    const TABLES: &'static str = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT IN ('_migrate_history', '_migrate_history_summary') ORDER BY name";
}

impl Inspect for sqlx::Postgres {
    const TRANSACTIONAL_DDL: bool = true;
    const TABLES: &'static str = "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_name NOT IN ('_migrate_history', '_migrate_history_summary') ORDER BY 1";
}

impl Inspect for sqlx::MySql {
    const TRANSACTIONAL_DDL: bool = false;
    const TABLES: &'static str = "SELECT CAST(table_name AS CHAR) FROM information_schema.tables \
         WHERE table_schema = DATABASE() AND table_name NOT IN ('_migrate_history', '_migrate_history_summary') ORDER BY 1";
}

macro_rules! sqlx_harness {
    ($db:ty) => {
        impl Harness for Sqlx<$db> {
            const TRANSACTIONAL_DDL: bool = <$db as Inspect>::TRANSACTIONAL_DDL;
            async fn upgrade(&self, set: &Migrations, target: Target, options: &Options) -> Result<Report, Error> {
                migrate::sqlx::upgrade(&self.pool, set, target, options).await
            }
            async fn downgrade(&self, set: &Migrations, target: Target, options: &Options) -> Result<Report, Error> {
                migrate::sqlx::downgrade(&self.pool, set, target, options).await
            }
            async fn stamp(&self, set: &Migrations, target: Target) -> Result<migrate::Stamped, Error> {
                migrate::sqlx::stamp(&self.pool, set, target, &Options::default()).await
            }
            async fn status(&self, set: &Migrations) -> Result<Status, Error> {
                migrate::sqlx::status(&self.pool, set, &Options::default()).await
            }
            async fn history(&self, set: &Migrations) -> Result<Vec<HistoryEntry>, Error> {
                migrate::sqlx::history(&self.pool, set, &Options::default()).await
            }
            async fn rows(&self) -> Vec<Row> {
                let exists: Vec<String> = sqlx::query_scalar(<$db as Inspect>::TABLES.replace(" <> '_migrate_history'", " = '_migrate_history'").as_str().to_owned().leak() as &'static str)
                    .fetch_all(&self.pool)
                    .await
                    .unwrap();
                if exists.is_empty() {
                    return Vec::new();
                }
                let rows: Vec<(i64, bool, bool)> =
                    sqlx::query_as("SELECT version, success, down_sql IS NOT NULL FROM _migrate_history ORDER BY version")
                        .fetch_all(&self.pool)
                        .await
                        .unwrap();
                rows
            }
            async fn tables(&self) -> Vec<String> {
                sqlx::query_scalar(<$db as Inspect>::TABLES).fetch_all(&self.pool).await.unwrap()
            }
            async fn log_count(&self) -> i64 {
                sqlx::query_scalar("SELECT count(*) FROM log").fetch_one(&self.pool).await.unwrap()
            }
            async fn execute(&self, statement: &str) {
                sqlx::raw_sql(sqlx::AssertSqlSafe(statement.to_owned())).execute(&self.pool).await.unwrap();
            }
            async fn concurrent_runs(&self, set: &Migrations, n: usize, options: &Options) -> usize {
                let pool = sqlx::pool::PoolOptions::<$db>::new().max_connections(n as u32).connect(&self.url).await.unwrap();
                let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(n));
                let tasks: Vec<_> = (0..n)
                    .map(|_| {
                        let (pool, set, barrier, options) = (pool.clone(), set.clone(), barrier.clone(), options.clone());
                        tokio::spawn(async move {
                            barrier.wait().await;
                            migrate::sqlx::upgrade(&pool, &set, Target::Head, &options).await.unwrap().steps.len()
                        })
                    })
                    .collect();
                let mut applied = 0;
                for task in tasks {
                    applied += task.await.unwrap();
                }
                pool.close().await;
                applied
            }
            async fn sql(&self, set: &Migrations, direction: Direction, target: Target) -> String {
                migrate::sqlx::sql(&self.pool, set, direction, target, &Options::default()).await.unwrap()
            }
            async fn execute_script(&self, sql: &str) {
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned())).execute(&self.pool).await.unwrap();
            }
        }
    };
}

sqlx_harness!(sqlx::Sqlite);
sqlx_harness!(sqlx::Postgres);
sqlx_harness!(sqlx::MySql);

// ---- PostgreSQL through PgBouncer ----------------------------------------------

/// PostgreSQL behind PgBouncer in transaction pooling mode: everything
/// `migrate` does, and the statements run as an operator would, go through
/// PgBouncer (in the simple query protocol: no named prepared statement,
/// which would not survive a change of server connection); the harness
/// inspects the database directly, PgBouncer bypassed.
pub struct Bounced {
    /// Through PgBouncer; declared first, so closed first.
    through: Sqlx<sqlx::Postgres>,
    /// Directly on the server; owns the database, dropped last.
    direct: Sqlx<sqlx::Postgres>,
}

impl Bounced {
    pub async fn new() -> Option<Self> {
        let PgBouncer { database, url } = PgBouncer::create().await?;
        let direct = Sqlx::connect(database.url.clone(), Some(database)).await;
        let through = Sqlx::connect(url, None).await;
        Some(Bounced { through, direct })
    }
}

impl Harness for Bounced {
    const TRANSACTIONAL_DDL: bool = true;
    async fn upgrade(
        &self,
        set: &Migrations,
        target: Target,
        options: &Options,
    ) -> Result<Report, Error> {
        self.through.upgrade(set, target, options).await
    }
    async fn downgrade(
        &self,
        set: &Migrations,
        target: Target,
        options: &Options,
    ) -> Result<Report, Error> {
        self.through.downgrade(set, target, options).await
    }
    async fn stamp(&self, set: &Migrations, target: Target) -> Result<migrate::Stamped, Error> {
        self.through.stamp(set, target).await
    }
    async fn status(&self, set: &Migrations) -> Result<Status, Error> {
        self.through.status(set).await
    }
    async fn history(&self, set: &Migrations) -> Result<Vec<HistoryEntry>, Error> {
        self.through.history(set).await
    }
    async fn rows(&self) -> Vec<Row> {
        self.direct.rows().await
    }
    async fn tables(&self) -> Vec<String> {
        self.direct.tables().await
    }
    async fn log_count(&self) -> i64 {
        self.direct.log_count().await
    }
    async fn execute(&self, statement: &str) {
        self.through.execute(statement).await
    }
    async fn concurrent_runs(&self, set: &Migrations, n: usize, options: &Options) -> usize {
        self.through.concurrent_runs(set, n, options).await
    }
    async fn sql(&self, set: &Migrations, direction: Direction, target: Target) -> String {
        self.through.sql(set, direction, target).await
    }
    async fn execute_script(&self, sql: &str) {
        self.through.execute_script(sql).await
    }
}

// ---- the scenarios -----------------------------------------------------------

fn reversible_set(count: i64) -> tempfile::TempDir {
    let mut files = vec![(
        "0001_log.up.sql".to_owned(),
        "CREATE TABLE log (step INT NOT NULL);\nINSERT INTO log (step) VALUES (1);\n".to_owned(),
    )];
    files.push((
        "0001_log.down.sql".to_owned(),
        "DROP TABLE log;\n".to_owned(),
    ));
    for v in 2..=count {
        files.push((
            format!("{v:04}_t{v}.up.sql"),
            format!("CREATE TABLE t{v} (id INT);\nINSERT INTO log (step) VALUES ({v});\n"),
        ));
        files.push((
            format!("{v:04}_t{v}.down.sql"),
            format!("DROP TABLE t{v};\nDELETE FROM log WHERE step = {v};\n"),
        ));
    }
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    migration_dir(&refs)
}

fn versions(rows: &[Row]) -> Vec<i64> {
    rows.iter().map(|r| r.0).collect()
}

fn defaults() -> Options {
    Options::default()
}

pub async fn lifecycle<H: Harness>(h: &H) {
    let dir = reversible_set(5);
    let set = Migrations::from_dir(dir.path()).unwrap();
    let report = h.upgrade(&set, Target::Head, &defaults()).await.unwrap();
    assert_eq!(
        (report.from, report.to, report.steps.len()),
        (None, Some(5), 5)
    );
    assert_eq!(
        h.rows().await,
        (1..=5).map(|v| (v, true, true)).collect::<Vec<_>>()
    );
    assert_eq!(h.tables().await, ["log", "t2", "t3", "t4", "t5"]);

    let again = h.upgrade(&set, Target::Head, &defaults()).await.unwrap();
    assert_eq!(
        (again.from, again.to, again.steps.len()),
        (Some(5), Some(5), 0),
        "idempotent"
    );
    assert_eq!(h.log_count().await, 5);
    // A dirty mark is seen on a start with nothing pending, and refused.
    h.execute("UPDATE _migrate_history SET success = FALSE WHERE version = 3")
        .await;
    let err = h
        .upgrade(&set, Target::Head, &defaults())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Dirty { version: 3, .. }), "{err}");
    h.execute("UPDATE _migrate_history SET success = TRUE WHERE version = 3")
        .await;

    let report = h
        .downgrade(&set, "-1".parse().unwrap(), &defaults())
        .await
        .unwrap();
    assert_eq!((report.from, report.to), (Some(5), Some(4)));
    assert_eq!(h.tables().await, ["log", "t2", "t3", "t4"]);
    let status = h.status(&set).await.unwrap();
    assert_eq!(
        (
            status.current,
            status.head,
            status.pending,
            status.dirty,
            status.drift
        ),
        (Some(4), Some(5), 1, false, false)
    );

    h.downgrade(&set, Target::Base, &defaults()).await.unwrap();
    assert_eq!(h.rows().await, []);
    assert_eq!(h.tables().await, Vec::<String>::new());

    let report = h
        .upgrade(&set, "+2".parse().unwrap(), &defaults())
        .await
        .unwrap();
    assert_eq!(report.to, Some(2));
    let states: Vec<State> = h
        .history(&set)
        .await
        .unwrap()
        .iter()
        .map(|e| e.state)
        .collect();
    assert_eq!(
        states,
        [
            State::Applied,
            State::Applied,
            State::Pending,
            State::Pending,
            State::Pending
        ]
    );

    let stamped = h.stamp(&set, Target::Version(4)).await.unwrap();
    assert_eq!(
        (stamped.from, stamped.to),
        (Some(2), Some(4)),
        "{stamped:?}"
    );
    assert_eq!(
        stamped
            .rows
            .iter()
            .map(|row| (row.version, row.change))
            .collect::<Vec<_>>(),
        [(3, migrate::Stamp::Recorded), (4, migrate::Stamp::Recorded)]
    );
    assert_eq!(versions(&h.rows().await), [1, 2, 3, 4]);
    assert_eq!(h.tables().await, ["log", "t2"], "stamp runs no script");
}

pub async fn checksum_drift<H: Harness>(h: &H) {
    let dir = reversible_set(2);
    h.upgrade(
        &Migrations::from_dir(dir.path()).unwrap(),
        Target::Head,
        &defaults(),
    )
    .await
    .unwrap();
    std::fs::write(
        dir.path().join("0002_t2.up.sql"),
        "CREATE TABLE t2 (id INT, x INT);\n",
    )
    .unwrap();
    let edited = Migrations::from_dir(dir.path()).unwrap();
    let err = h
        .upgrade(&edited, Target::Head, &defaults())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::ChecksumMismatch { version: 2, file, .. } if file == "0002_t2.up.sql"),
        "{err}"
    );
    assert!(h.status(&edited).await.unwrap().drift);
    assert_eq!(h.history(&edited).await.unwrap()[1].state, State::Modified);
    h.upgrade(&edited, Target::Head, &defaults().ignore_checksums(true))
        .await
        .unwrap();
}

pub async fn unknown_applied_and_rollback_from_an_older_build<H: Harness>(h: &H) {
    let dir = reversible_set(4);
    let new_build = Migrations::from_dir(dir.path()).unwrap();
    h.upgrade(&new_build, Target::Head, &defaults())
        .await
        .unwrap();
    for v in 3..=4 {
        std::fs::remove_file(dir.path().join(format!("{v:04}_t{v}.up.sql"))).unwrap();
        std::fs::remove_file(dir.path().join(format!("{v:04}_t{v}.down.sql"))).unwrap();
    }
    let old_build = Migrations::from_dir(dir.path()).unwrap();
    let err = h
        .upgrade(&old_build, Target::Head, &defaults())
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "the database is at version 4, newer than this build's head 2: run `migrate downgrade 2` to roll back, or \
         allow unknown versions (`--allow-unknown`) to start anyway"
    );
    h.upgrade(&old_build, Target::Head, &defaults().allow_unknown(true))
        .await
        .unwrap();
    let report = h
        .downgrade(&old_build, Target::Head, &defaults())
        .await
        .unwrap();
    assert_eq!(
        report.steps.iter().map(|s| s.version).collect::<Vec<_>>(),
        [4, 3],
        "undone with down_sql"
    );
    assert_eq!(h.tables().await, ["log", "t2"]);
    assert_eq!(h.log_count().await, 2);
}

pub async fn out_of_order<H: Harness>(h: &H) {
    let dir = reversible_set(3);
    std::fs::remove_file(dir.path().join("0002_t2.up.sql")).unwrap();
    std::fs::remove_file(dir.path().join("0002_t2.down.sql")).unwrap();
    h.upgrade(
        &Migrations::from_dir(dir.path()).unwrap(),
        Target::Head,
        &defaults(),
    )
    .await
    .unwrap();
    std::fs::write(
        dir.path().join("0002_t2.sql"),
        "CREATE TABLE t2 (id INT);\n",
    )
    .unwrap();
    let set = Migrations::from_dir(dir.path()).unwrap();
    let err = h
        .upgrade(&set, Target::Head, &defaults())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::OutOfOrder {
                version: 2,
                current: 3,
                ..
            }
        ),
        "{err}"
    );
    let report = h
        .upgrade(&set, Target::Head, &defaults().allow_out_of_order(true))
        .await
        .unwrap();
    assert_eq!(
        report.steps.iter().map(|s| s.version).collect::<Vec<_>>(),
        [2]
    );
    // -1 is the step applied last (2), which has no down script.
    let err = h
        .downgrade(&set, "-1".parse().unwrap(), &defaults())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Irreversible { version: 2, .. }),
        "{err}"
    );
}

pub async fn failing_step<H: Harness>(h: &H) {
    let dir = migration_dir(&[
        ("0001_log.sql", "CREATE TABLE log (step INT NOT NULL);\n"),
        (
            "0002_broken.sql",
            "CREATE TABLE half (id INT);\nINSERT INTO missing_table (id) VALUES (1);\n",
        ),
        ("0003_after.sql", "CREATE TABLE after_it (id INT);\n"),
    ]);
    let set = Migrations::from_dir(dir.path()).unwrap();
    let err = h
        .upgrade(&set, Target::Head, &defaults())
        .await
        .unwrap_err();
    let Error::Step {
        version,
        file,
        dirty,
        completed,
        message,
        ..
    } = &err
    else {
        panic!("{err}")
    };
    assert_eq!(
        (*version, file.as_str(), *dirty),
        (2, "0002_broken.sql", !H::TRANSACTIONAL_DDL)
    );
    assert!(message.contains("missing_table"), "{message}");
    assert_eq!(completed.iter().map(|s| s.version).collect::<Vec<_>>(), [1]);
    if H::TRANSACTIONAL_DDL {
        assert_eq!(h.rows().await, [(1, true, false)]);
        assert_eq!(h.tables().await, ["log"], "rolled back");
        return;
    }
    // MySQL/MariaDB: the CREATE TABLE committed; the step is marked dirty and blocks.
    assert_eq!(h.rows().await, [(1, true, false), (2, false, false)]);
    assert_eq!(h.tables().await, ["half", "log"]);
    assert!(h.status(&set).await.unwrap().dirty);
    let blocked = h
        .upgrade(&set, Target::Head, &defaults())
        .await
        .unwrap_err();
    assert!(
        blocked
            .to_string()
            .starts_with("migration 2 (0002_broken.sql) is marked dirty"),
        "{blocked}"
    );
    // The operator repairs by hand and stamps past it.
    let stamped = h.stamp(&set, Target::Version(2)).await.unwrap();
    assert_eq!(
        stamped.rows,
        [migrate::StampedRow {
            version: 2,
            name: "broken".into(),
            change: migrate::Stamp::Cleared,
        }]
    );
    assert_eq!(h.rows().await, [(1, true, false), (2, true, false)]);
    h.upgrade(&set, Target::Head, &defaults()).await.unwrap();
    assert_eq!(h.tables().await, ["after_it", "half", "log"]);
}

pub async fn concurrent_runners<H: Harness>(h: &H) {
    concurrent_runners_with(h, &defaults()).await;
}

/// 8 runners at once, with `options`: each of the 12 steps is applied once.
async fn concurrent_runners_with<H: Harness>(h: &H, options: &Options) {
    let dir = reversible_set(12);
    let set = Migrations::from_dir(dir.path()).unwrap();
    let applied = h.concurrent_runs(&set, 8, options).await;
    assert_eq!(applied, 12, "each step applied once");
    assert_eq!(h.log_count().await, 12);
    assert_eq!(
        h.rows().await,
        (1..=12).map(|v| (v, true, true)).collect::<Vec<_>>()
    );
}

pub async fn no_transaction_steps<H: Harness>(h: &H) {
    let dir = migration_dir(&[
        ("0001_t.sql", "CREATE TABLE t (id INT, c INT);\n"),
        (
            "0002_index.up.sql",
            "-- migrate:no-transaction\nCREATE INDEX t_c ON t (c);\n",
        ),
        (
            "0002_index.down.sql",
            "-- migrate:no-transaction\nDROP INDEX t_c ON t;\n",
        ),
    ]);
    // `DROP INDEX … ON t` is MySQL's; the others drop an index by name.
    if H::TRANSACTIONAL_DDL {
        std::fs::write(
            dir.path().join("0002_index.down.sql"),
            "-- migrate:no-transaction\nDROP INDEX t_c;\n",
        )
        .unwrap();
    }
    let set = Migrations::from_dir(dir.path()).unwrap();
    h.upgrade(&set, Target::Head, &defaults()).await.unwrap();
    assert_eq!(h.rows().await, [(1, true, false), (2, true, true)]);
    h.downgrade(&set, "-1".parse().unwrap(), &defaults())
        .await
        .unwrap();
    assert_eq!(h.rows().await, [(1, true, false)]);
}

/// The history table in its first format (before `down_sql`,
/// `execution_ms` and `success`), in DDL every backend takes, with version
/// 1 of `set` recorded as applied.
fn outdated_history(set: &Migrations) -> String {
    let first = set.get(1).unwrap();
    format!(
        "CREATE TABLE _migrate_history (version BIGINT PRIMARY KEY, name VARCHAR(255) NOT NULL, \
         checksum VARCHAR(255) NOT NULL, applied_at VARCHAR(255) NOT NULL);\n\
         INSERT INTO _migrate_history (version, name, checksum, applied_at) \
         VALUES (1, '{}', '{}', '2026-01-01T00:00:00.000000Z');\n",
        first.name(),
        first.checksum()
    )
}

/// Regression: a history table in the first format was not read as a
/// history at all. `migrate::sqlx::run` on a `SqlitePool` took it for no
/// history, re-applied migration 1 and failed with `table a already exists`.
pub async fn an_outdated_history_table_is_upgraded_in_place<H: Harness>(h: &H) {
    let dir = migration_dir(&[
        ("0001_a.sql", "CREATE TABLE a (id INT);\n"),
        ("0002_b.sql", "CREATE TABLE b (id INT);\n"),
    ]);
    let set = Migrations::from_dir(dir.path()).unwrap();
    h.execute_script(&outdated_history(&set)).await;
    h.execute("CREATE TABLE a (id INT)").await;

    let report = h.upgrade(&set, Target::Head, &defaults()).await.unwrap();
    assert_eq!(
        report.steps.iter().map(|s| s.version).collect::<Vec<_>>(),
        [2],
        "only 2 is applied"
    );
    assert_eq!((report.from, report.to), (Some(1), Some(2)));
    assert_eq!(h.tables().await, ["a", "b"]);
    assert_eq!(h.rows().await, [(1, true, false), (2, true, false)]);

    // The read-only views read an outdated table too.
    h.execute_script("DROP TABLE _migrate_history;\nDROP TABLE b;\n")
        .await;
    h.execute_script(&outdated_history(&set)).await;
    let status = h.status(&set).await.unwrap();
    assert_eq!(
        (
            status.current,
            status.head,
            status.pending,
            status.dirty,
            status.drift
        ),
        (Some(1), Some(2), 1, false, false)
    );
    assert_eq!(h.history(&set).await.unwrap().len(), 2);
    // ... as it is: a read-only view never writes. (Regression: `status`
    // upgraded the table in place.) Each column can still be added by hand,
    // so none was.
    for column in [
        "down_sql TEXT NULL",
        "execution_ms BIGINT NOT NULL DEFAULT 0",
        "success BOOLEAN NOT NULL DEFAULT TRUE",
    ] {
        h.execute(&format!("ALTER TABLE _migrate_history ADD COLUMN {column}"))
            .await;
    }
    assert_eq!(h.rows().await, [(1, true, false)]);
    assert_eq!(h.tables().await, ["a"]);
}

/// A history table name that names some other table (a Flyway user's
/// `flyway_schema_history`, an application's `users`) is refused in one
/// sentence, by every verb, and the table is left exactly as it was.
/// (Regression: it was taken for an old history table and altered, even by
/// `status`.)
pub async fn a_table_that_is_not_a_history_table_is_refused_and_left_as_it_is<H: Harness>(h: &H) {
    let dir = reversible_set(2);
    let set = Migrations::from_dir(dir.path()).unwrap();
    h.execute("CREATE TABLE users (id INT, email VARCHAR(100))")
        .await;
    let users = defaults().table("users").unwrap();
    let quote = if H::TRANSACTIONAL_DDL { '"' } else { '`' };
    let refused = format!(
        "the table {quote}users{quote} is not a migrate history table (it has no `version` column), so it was \
         left as it is; name another history table, or leave the name out to use `_migrate_history`"
    );
    let err = h.upgrade(&set, Target::Head, &users).await.unwrap_err();
    assert!(matches!(err, Error::NotAHistoryTable { .. }), "{err}");
    assert_eq!(err.to_string(), refused);
    let err = h.downgrade(&set, Target::Base, &users).await.unwrap_err();
    assert_eq!(err.to_string(), refused);
    assert_eq!(h.tables().await, ["users"], "no script ran");
    // Not one column was added: each can still be added by hand.
    for column in [
        "down_sql TEXT NULL",
        "execution_ms BIGINT",
        "success BOOLEAN",
    ] {
        h.execute(&format!("ALTER TABLE users ADD COLUMN {column}"))
            .await;
    }
}

/// All-or-nothing: a failing third step takes the first two with it where
/// DDL is transactional; MySQL/MariaDB refuse the mode before changing anything.
pub async fn all_in_one_transaction_mode<H: Harness>(h: &H) {
    let dir = migration_dir(&[
        ("0001_a.sql", "CREATE TABLE a (id INT);\n"),
        ("0002_b.sql", "CREATE TABLE b (id INT);\n"),
        (
            "0003_c.sql",
            "CREATE TABLE c (id INT);\nINSERT INTO missing_table (id) VALUES (1);\n",
        ),
    ]);
    let single = defaults().transaction_mode(TransactionMode::Single);
    let set = Migrations::from_dir(dir.path()).unwrap();
    let err = h.upgrade(&set, Target::Head, &single).await.unwrap_err();
    if !H::TRANSACTIONAL_DDL {
        assert!(matches!(err, Error::SingleTransactionUnsupported), "{err}");
        assert_eq!(h.rows().await, []);
        assert_eq!(h.tables().await, Vec::<String>::new(), "nothing ran");
        return;
    }
    let Error::Step {
        version,
        file,
        dirty,
        message,
        ..
    } = &err
    else {
        panic!("{err}")
    };
    assert_eq!((*version, file.as_str(), *dirty), (3, "0003_c.sql", false));
    assert!(message.contains("missing_table"), "{message}");
    assert!(err.completed().is_empty(), "{:?}", err.completed());
    assert_eq!(h.rows().await, [], "no history row is left");
    assert_eq!(
        h.tables().await,
        Vec::<String>::new(),
        "1 and 2 were rolled back with 3"
    );

    std::fs::write(dir.path().join("0003_c.sql"), "CREATE TABLE c (id INT);\n").unwrap();
    let fixed = Migrations::from_dir(dir.path()).unwrap();
    let report = h.upgrade(&fixed, Target::Head, &single).await.unwrap();
    assert_eq!(
        report.steps.iter().map(|s| s.version).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert_eq!((report.from, report.to), (None, Some(3)));
    assert_eq!(
        h.rows().await,
        [(1, true, false), (2, true, false), (3, true, false)]
    );
    assert_eq!(h.tables().await, ["a", "b", "c"]);
}

/// The printed SQL, run by hand, does what `upgrade` and `downgrade` do.
pub async fn sql_is_what_runs<H: Harness>(h: &H) {
    let dir = reversible_set(3);
    let set = Migrations::from_dir(dir.path()).unwrap();
    let up = h.sql(&set, Direction::Up, Target::Head).await;
    assert_eq!(h.rows().await, [], "printing changes nothing");
    assert_eq!(h.tables().await, Vec::<String>::new());
    h.execute_script(&up).await;

    let status = h.status(&set).await.unwrap();
    assert_eq!(
        (
            status.current,
            status.head,
            status.pending,
            status.dirty,
            status.drift
        ),
        (Some(3), Some(3), 0, false, false)
    );
    // As `upgrade` leaves it (see `lifecycle`).
    assert_eq!(
        h.rows().await,
        [(1, true, true), (2, true, true), (3, true, true)]
    );
    assert_eq!(h.tables().await, ["log", "t2", "t3"]);
    assert_eq!(h.log_count().await, 3);
    let states: Vec<State> = h
        .history(&set)
        .await
        .unwrap()
        .iter()
        .map(|e| e.state)
        .collect();
    assert_eq!(states, [State::Applied; 3]);
    assert_eq!(
        h.sql(&set, Direction::Up, Target::Head).await,
        "-- upgrade from 3 to 3: nothing to do\n"
    );
    let again = h.upgrade(&set, Target::Head, &defaults()).await.unwrap();
    assert_eq!(
        (again.from, again.to, again.steps.len()),
        (Some(3), Some(3), 0)
    );

    let down = h.sql(&set, Direction::Down, "-1".parse().unwrap()).await;
    h.execute_script(&down).await;
    assert_eq!(h.rows().await, [(1, true, true), (2, true, true)]);
    assert_eq!(h.tables().await, ["log", "t2"]);
    assert_eq!(h.log_count().await, 2);
    let status = h.status(&set).await.unwrap();
    assert_eq!(
        (status.current, status.pending, status.dirty, status.drift),
        (Some(2), 1, false, false)
    );
}

macro_rules! conformance {
    ($($scenario:ident),* $(,)?) => {
        mod rusqlite_backend {
            $(
                #[tokio::test]
                async fn $scenario() {
                    super::$scenario(&super::Rusqlite::new()).await;
                }
            )*
        }
        mod sqlx_sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario(&super::Sqlx::sqlite().await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    if let Some(h) = super::Sqlx::postgres().await {
                        super::$scenario(&h).await;
                    }
                }
            )*
        }
        mod pgbouncer {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    if let Some(h) = super::Bounced::new().await {
                        super::$scenario(&h).await;
                    }
                }
            )*
        }
        mod mysql {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    if let Some(h) = super::Sqlx::mysql().await {
                        super::$scenario(&h).await;
                    }
                }
            )*
        }
    };
}

/// `concurrent_runners` in the lock modes other than the default, on the
/// backends that have them: the lease on PostgreSQL (directly and through
/// PgBouncer) and MySQL/MariaDB, the transaction-scoped lock on PostgreSQL
/// alone.
macro_rules! concurrent_runners_by_lock_mode {
    ($($test:ident: $harness:expr, $mode:ident;)*) => {
        mod concurrent_runners_by_lock_mode {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    if let Some(h) = $harness.await {
                        let options = super::defaults().lock_mode(super::LockMode::$mode);
                        super::concurrent_runners_with(&h, &options).await;
                    }
                }
            )*
        }
    };
}

concurrent_runners_by_lock_mode!(
    postgres_lease: super::Sqlx::postgres(), Lease;
    postgres_transaction: super::Sqlx::postgres(), Transaction;
    pgbouncer_lease: super::Bounced::new(), Lease;
    pgbouncer_transaction: super::Bounced::new(), Transaction;
    mysql_lease: super::Sqlx::mysql(), Lease;
);

conformance!(
    a_script_that_ends_its_transaction_is_refused_before_anything_runs,
    a_table_that_is_not_a_history_table_is_refused_and_left_as_it_is,
    lifecycle,
    checksum_drift,
    unknown_applied_and_rollback_from_an_older_build,
    out_of_order,
    failing_step,
    concurrent_runners,
    no_transaction_steps,
    an_outdated_history_table_is_upgraded_in_place,
    all_in_one_transaction_mode,
    sql_is_what_runs,
);

/// A `COMMIT` or `ROLLBACK` in a script that runs in its step's transaction
/// would commit part of it apart from its history row (or undo it behind a
/// row saying it was applied): refused before anything runs. (Regression:
/// the error then said "rolled back, the database is as it was" while what
/// came before the `COMMIT` stayed; a `ROLLBACK` on PostgreSQL exited 0.)
/// MySQL/MariaDB run every step outside a transaction: not concerned.
pub async fn a_script_that_ends_its_transaction_is_refused_before_anything_runs<H: Harness>(h: &H) {
    if !H::TRANSACTIONAL_DDL {
        return;
    }
    for (statement, shown) in [
        ("COMMIT;", "COMMIT"),
        ("rollback work;", "rollback work"),
        ("END;", "END"),
        ("PREPARE TRANSACTION 'x';", "PREPARE TRANSACTION 'x'"),
    ] {
        let dir = migration_dir(&[
            ("0001_a.sql", "CREATE TABLE a (id INT);\n"),
            (
                "0002_b.sql",
                &format!(
                    "CREATE TABLE b (id INT);\n-- done\n{statement}\nINSERT INTO missing VALUES (1);\n"
                ),
            ),
        ]);
        let set = Migrations::from_dir(dir.path()).unwrap();
        let err = h
            .upgrade(&set, Target::Head, &defaults())
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "migration 2 (0002_b.sql) has `{shown}`, which would end the transaction the migration and its \
                 history row commit in; remove it (migrate commits each step itself), or add \
                 `-- migrate:no-transaction` as its first line to run it outside a transaction; nothing was changed"
            )
        );
        assert_eq!(h.tables().await, Vec::<String>::new(), "nothing ran");
    }
    // A savepoint rolled back to is the script's own business.
    let dir = migration_dir(&[(
        "0001_a.sql",
        "CREATE TABLE a (id INT);\nSAVEPOINT s;\nINSERT INTO a VALUES (1);\nROLLBACK TO SAVEPOINT s;\n",
    )]);
    let set = Migrations::from_dir(dir.path()).unwrap();
    h.upgrade(&set, Target::Head, &defaults()).await.unwrap();
    assert_eq!(h.tables().await, ["a"]);
}
