//! MySQL/MariaDB steps, on a server and on a Galera cluster: a step's
//! in-flight mark, its script and its mark done share one transaction,
//! which a DDL statement commits implicitly. A failing step without DDL
//! leaves no trace (no history row, none of its rows); a failing step with
//! DDL stays marked dirty, with what it committed. `status` tells a step
//! in flight from a dirty mark.
//!
//! On Galera, `migrate` runs on node 1 and the database is read back on
//! node 3 with causal reads (`wsrep_sync_wait = 1`).

use std::time::Duration;

use migrate::{Error, LockMode, Migrations, Options, Status, Target};

use crate::common::migration_dir;
use crate::servers::{Database, Galera, Kind};

/// A fresh database on a MySQL/MariaDB server or a Galera cluster.
pub struct Server {
    /// What `migrate` runs on: the server, or node 1.
    pool: sqlx::MySqlPool,
    /// What the test reads back with: the server, or node 3 (causal reads).
    reader: sqlx::MySqlPool,
    /// The database's name, as MySQL's messages name it.
    name: String,
    _mysql: Option<Database>,
    _galera: Option<Galera>,
}

impl Server {
    async fn mysql() -> Option<Server> {
        let database = Database::create(Kind::MySql).await?;
        let pool = sqlx::MySqlPool::connect(&database.url).await.unwrap();
        Some(Server::new(pool.clone(), pool, Some(database), None).await)
    }

    async fn galera() -> Option<Server> {
        let cluster = Galera::create().await?;
        let pool = sqlx::MySqlPool::connect(&cluster.urls[0]).await.unwrap();
        let reader = sqlx::mysql::MySqlPoolOptions::new()
            .after_connect(|conn, _| {
                Box::pin(async move {
                    sqlx::raw_sql("SET SESSION wsrep_sync_wait = 1")
                        .execute(conn)
                        .await
                        .map(|_| ())
                })
            })
            .connect(&cluster.urls[2])
            .await
            .unwrap();
        Some(Server::new(pool, reader, None, Some(cluster)).await)
    }

    async fn new(
        pool: sqlx::MySqlPool,
        reader: sqlx::MySqlPool,
        mysql: Option<Database>,
        galera: Option<Galera>,
    ) -> Server {
        let name = sqlx::query_scalar("SELECT CAST(DATABASE() AS CHAR)")
            .fetch_one(&pool)
            .await
            .unwrap();
        Server {
            pool,
            reader,
            name,
            _mysql: mysql,
            _galera: galera,
        }
    }

    /// The history, every column but the time and duration, read back.
    async fn history(&self) -> Vec<HistoryRow> {
        sqlx::query_as(
            "SELECT version, CAST(name AS CHAR), CAST(checksum AS CHAR), CAST(down_sql AS CHAR), \
             success FROM _migrate_history ORDER BY version",
        )
        .fetch_all(&self.reader)
        .await
        .unwrap()
    }

    /// The rows of `log`, read back.
    async fn log(&self) -> Vec<i32> {
        sqlx::query_scalar("SELECT n FROM log ORDER BY n")
            .fetch_all(&self.reader)
            .await
            .unwrap()
    }

    /// The tables but migrate's own, read back.
    async fn tables(&self) -> Vec<String> {
        sqlx::query_scalar(
            "SELECT CAST(table_name AS CHAR) FROM information_schema.tables \
             WHERE table_schema = DATABASE() AND table_name NOT LIKE '\\_migrate\\_history%' \
             ORDER BY 1",
        )
        .fetch_all(&self.reader)
        .await
        .unwrap()
    }

    /// Runs migration 1 (`LOG`) and migration 2 (`file`, holding
    /// `script`), which must fail: their folder, the set and the error.
    async fn run_failing(
        &self,
        file: &str,
        script: &str,
    ) -> (tempfile::TempDir, Migrations, Error) {
        let dir = migration_dir(&[("0001_log.sql", LOG), (file, script)]);
        let set = Migrations::from_dir(dir.path()).unwrap();
        let err = migrate::sqlx::run(&self.pool, &set).await.unwrap_err();
        (dir, set, err)
    }

    /// Asserts that `err` is exactly `failure`: the message to the letter,
    /// whether the step is dirty, and the steps completed before it.
    fn assert_failed(&self, err: &Error, failure: Failure<'_>) {
        let Failure {
            version,
            file,
            statement,
            dirty,
            completed,
        } = failure;
        let outcome = if dirty {
            format!(
                "it ran outside a transaction, so the database may be partly changed and is marked dirty at \
                 {version}: repair it by hand, then run `migrate stamp`"
            )
        } else {
            "it was rolled back, so the database is as it was before this migration: fix the script and \
             run again"
                .to_owned()
        };
        assert_eq!(
            err.to_string(),
            format!(
                "migration {version} ({file}) failed at statement {statement} (`INSERT INTO missing_table \
                 VALUES ({version})`): Table '{}.missing_table' doesn't exist; {outcome}",
                self.name
            )
        );
        assert!(
            matches!(err, Error::Step { version: v, dirty: d, .. } if (*v, *d) == (version, dirty)),
            "{err:?}"
        );
        let versions: Vec<i64> = err.completed().iter().map(|step| step.version).collect();
        assert_eq!(versions, completed);
    }

    /// `status` with `options`: current, pending, dirty, in progress.
    async fn status(
        &self,
        set: &Migrations,
        options: &Options,
    ) -> (Option<i64>, usize, bool, bool) {
        let status = migrate::sqlx::status(&self.pool, set, options)
            .await
            .unwrap();
        (
            status.current,
            status.pending,
            status.dirty,
            status.in_progress,
        )
    }
}

/// A step that failed on `INSERT INTO missing_table VALUES (<version>)`.
struct Failure<'a> {
    version: i64,
    file: &'a str,
    /// The failing statement's number in the script.
    statement: u32,
    dirty: bool,
    /// The versions of the steps completed before it.
    completed: &'a [i64],
}

/// One history row: version, name, checksum, down script, success.
type HistoryRow = (i64, String, String, Option<String>, bool);

/// Migration `version` of `set` as its history row says it, with `success`.
fn row(set: &Migrations, version: i64, success: bool) -> HistoryRow {
    let migration = set.get(version).unwrap();
    (
        version,
        migration.name().to_owned(),
        migration.checksum().to_owned(),
        migration.down().map(|down| down.sql().to_owned()),
        success,
    )
}

const LOG: &str = "CREATE TABLE log (n INT NOT NULL PRIMARY KEY);\nINSERT INTO log VALUES (1);\n";

/// A failing step without DDL is rolled back whole, its in-flight mark and
/// the rows it inserted before failing with it: the message says so, the
/// history has no row for it, and once the script is fixed it runs.
pub async fn a_failing_step_without_ddl_leaves_no_trace(server: &Server) {
    let (dir, set, err) = server
        .run_failing(
            "0002_fill.sql",
            "INSERT INTO log VALUES (2);\nINSERT INTO log VALUES (3);\n\
             INSERT INTO missing_table VALUES (2);\n",
        )
        .await;
    server.assert_failed(
        &err,
        Failure {
            version: 2,
            file: "0002_fill.sql",
            statement: 3,
            dirty: false,
            completed: &[1],
        },
    );
    assert_eq!(server.history().await, [row(&set, 1, true)]);
    assert_eq!(server.log().await, [1], "2 and 3 were rolled back");
    assert_eq!(server.tables().await, ["log"]);
    assert_eq!(
        server.status(&set, &Options::default()).await,
        (Some(1), 1, false, false)
    );

    std::fs::write(
        dir.path().join("0002_fill.sql"),
        "INSERT INTO log VALUES (2);\nINSERT INTO log VALUES (3);\n",
    )
    .unwrap();
    let fixed = Migrations::from_dir(dir.path()).unwrap();
    let report = migrate::sqlx::run(&server.pool, &fixed).await.unwrap();
    assert_eq!(report.steps.len(), 1, "no dirty mark stood in the way");
    assert_eq!(
        server.history().await,
        [row(&fixed, 1, true), row(&fixed, 2, true)]
    );
    assert_eq!(server.log().await, [1, 2, 3]);
}

/// A failing step with DDL is dirty: the DDL committed the in-flight mark
/// with everything before it, and what ran after it committed statement by
/// statement; the next run refuses to go on.
pub async fn a_failing_step_with_ddl_is_marked_dirty(server: &Server) {
    let (_dir, set, err) = server
        .run_failing(
            "0002_half.sql",
            "INSERT INTO log VALUES (2);\nCREATE TABLE half (id INT);\nINSERT INTO log VALUES (3);\n\
             INSERT INTO missing_table VALUES (2);\n",
        )
        .await;
    server.assert_failed(
        &err,
        Failure {
            version: 2,
            file: "0002_half.sql",
            statement: 4,
            dirty: true,
            completed: &[1],
        },
    );
    assert_eq!(
        server.history().await,
        [row(&set, 1, true), row(&set, 2, false)]
    );
    assert_eq!(
        server.log().await,
        [1, 2, 3],
        "committed by the DDL and after it"
    );
    assert_eq!(server.tables().await, ["half", "log"]);
    // The dirty row counts as applied, as every row does.
    assert_eq!(
        server.status(&set, &Options::default()).await,
        (Some(2), 0, true, false)
    );
    let again = migrate::sqlx::run(&server.pool, &set).await.unwrap_err();
    assert!(matches!(again, Error::Dirty { version: 2, .. }), "{again}");
    assert_eq!(server.log().await, [1, 2, 3], "nothing ran again");
}

/// A failing down script without DDL is rolled back: the steps undone
/// before it stay undone, its own history row stays as it was (applied),
/// and so do the rows it deleted before failing.
pub async fn a_failing_downgrade_step_without_ddl_keeps_its_row_applied(server: &Server) {
    let dir = migration_dir(&[
        ("0001_log.up.sql", LOG),
        ("0001_log.down.sql", "DROP TABLE log;\n"),
        ("0002_two.up.sql", "INSERT INTO log VALUES (2);\n"),
        (
            "0002_two.down.sql",
            "DELETE FROM log WHERE n = 2;\nINSERT INTO missing_table VALUES (2);\n",
        ),
        ("0003_three.up.sql", "INSERT INTO log VALUES (3);\n"),
        ("0003_three.down.sql", "DELETE FROM log WHERE n = 3;\n"),
    ]);
    let set = Migrations::from_dir(dir.path()).unwrap();
    migrate::sqlx::run(&server.pool, &set).await.unwrap();
    let err = migrate::sqlx::downgrade(&server.pool, &set, Target::Base, &Options::default())
        .await
        .unwrap_err();
    server.assert_failed(
        &err,
        Failure {
            version: 2,
            file: "0002_two.down.sql",
            statement: 2,
            dirty: false,
            completed: &[3],
        },
    );
    assert_eq!(
        server.history().await,
        [row(&set, 1, true), row(&set, 2, true)]
    );
    assert_eq!(server.log().await, [1, 2], "3 is undone, 2 is back");
    assert_eq!(
        server.status(&set, &Options::default()).await,
        (Some(2), 1, false, false)
    );
}

/// Waits until the history marks `version` in flight (success = false),
/// as read on `pool`.
async fn until_marked(pool: &sqlx::MySqlPool, version: i64) {
    let started = std::time::Instant::now();
    loop {
        let marks: Vec<bool> =
            sqlx::query_scalar("SELECT success FROM _migrate_history WHERE version = ?")
                .bind(version)
                .fetch_all(pool)
                .await
                .unwrap_or_default();
        if marks == [false] {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no in-flight mark seen"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// While a runner is inside a long step whose DDL has committed its
/// in-flight mark, `status` says the step is in progress, not dirty, and a
/// second runner waits for it and finds nothing left to do; once no runner
/// holds the mark, it is dirty.
pub async fn status_tells_a_step_in_flight_from_a_dirty_mark(server: &Server, options: &Options) {
    let dir = migration_dir(&[
        ("0001_a.sql", "CREATE TABLE a (id INT);\n"),
        // The CREATE TABLE commits the mark implicitly, then SLEEP runs.
        (
            "0002_slow.sql",
            "CREATE TABLE x (id INT);\nSELECT SLEEP(3);\n",
        ),
    ]);
    let set = Migrations::from_dir(dir.path()).unwrap();
    let first = {
        let (pool, set, options) = (server.pool.clone(), set.clone(), options.clone());
        tokio::spawn(
            async move { migrate::sqlx::upgrade(&pool, &set, Target::Head, &options).await },
        )
    };
    until_marked(&server.pool, 2).await;
    let in_flight = migrate::sqlx::status(&server.pool, &set, options)
        .await
        .unwrap();
    assert_eq!(
        in_flight,
        Status {
            current: Some(2),
            head: Some(2),
            pending: 0,
            dirty: false,
            drift: false,
            in_progress: true,
        }
    );
    let history = migrate::sqlx::history(&server.pool, &set, options)
        .await
        .unwrap();
    assert_eq!(
        history.iter().map(|entry| entry.state).collect::<Vec<_>>(),
        [migrate::State::Applied, migrate::State::InProgress],
        "{history:?}"
    );
    assert!(!first.is_finished(), "the step was still in flight");
    let second = migrate::sqlx::upgrade(&server.pool, &set, Target::Head, options)
        .await
        .unwrap();
    assert!(second.steps.is_empty(), "the first runner applied it");
    let report = first.await.unwrap().unwrap();
    assert_eq!(
        report.steps.iter().map(|s| s.version).collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(
        server.history().await,
        [row(&set, 1, true), row(&set, 2, true)]
    );

    // A runner gone in the middle of the step leaves its mark: dirty.
    sqlx::raw_sql("UPDATE _migrate_history SET success = FALSE WHERE version = 2")
        .execute(&server.pool)
        .await
        .unwrap();
    assert_eq!(
        server.status(&set, options).await,
        (Some(2), 0, true, false)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_in_flight_on_a_server_with_the_session_lock() {
    if let Some(server) = Server::mysql().await {
        status_tells_a_step_in_flight_from_a_dirty_mark(&server, &Options::default()).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_in_flight_on_a_server_with_the_lease() {
    if let Some(server) = Server::mysql().await {
        let lease = Options::default().lock_mode(LockMode::Lease);
        status_tells_a_step_in_flight_from_a_dirty_mark(&server, &lease).await;
    }
}

/// On Galera the runner takes the lease by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_in_flight_on_galera() {
    if let Some(server) = Server::galera().await {
        status_tells_a_step_in_flight_from_a_dirty_mark(&server, &Options::default()).await;
    }
}

/// Each test on a MySQL/MariaDB server and on a Galera cluster.
macro_rules! on_mysql_and_galera {
    ($($test:ident),* $(,)?) => {
        mod server {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    if let Some(server) = super::Server::mysql().await {
                        super::$test(&server).await;
                    }
                }
            )*
        }
        mod galera {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    if let Some(server) = super::Server::galera().await {
                        super::$test(&server).await;
                    }
                }
            )*
        }
    };
}

on_mysql_and_galera!(
    a_failing_step_without_ddl_leaves_no_trace,
    a_failing_step_with_ddl_is_marked_dirty,
    a_failing_downgrade_step_without_ddl_keeps_its_row_applied,
);
