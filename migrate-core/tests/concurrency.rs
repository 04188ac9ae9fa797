//! Several runners starting at once on one SQLite file: each step applies
//! exactly once, whether they are threads or processes.

use std::path::Path;

use migrate::Migrations;

use crate::common::{TempDb, history_rows, table_rows};

/// 20 migrations; each appends one row to `log`, so a step applied twice
/// would show as a duplicate row.
fn logging_set() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("0001_log.sql"),
        "CREATE TABLE log (step INTEGER NOT NULL);\nINSERT INTO log VALUES (1);\n",
    )
    .unwrap();
    for v in 2..=20 {
        std::fs::write(
            dir.path().join(format!("{v:04}_step.sql")),
            format!("CREATE TABLE t{v} (id INTEGER);\nINSERT INTO log VALUES ({v});\n"),
        )
        .unwrap();
    }
    dir
}

fn assert_each_step_once(db: &Path) {
    let conn = rusqlite::Connection::open(db).unwrap();
    let expected: Vec<String> = (1..=20).map(|v| format!("Integer({v})")).collect();
    assert_eq!(table_rows(&conn, "log"), expected);
    let rows = history_rows(&conn);
    assert_eq!(
        rows.iter().map(|r| r.version).collect::<Vec<_>>(),
        (1..=20).collect::<Vec<i64>>()
    );
    assert!(rows.iter().all(|r| r.success));
}

#[test]
fn eight_threads_at_once_apply_each_step_once() {
    let dir = logging_set();
    let set = Migrations::from_dir(dir.path()).unwrap();
    let db = TempDb::new();
    let barrier = std::sync::Barrier::new(8);
    let applied: usize = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                scope.spawn(|| {
                    let conn = db.open();
                    barrier.wait();
                    migrate::run(&conn, &set).unwrap().steps.len()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(applied, 20, "the runners' reports add up to each step once");
    assert_each_step_once(&db.path);
}

const CHILD_DB: &str = "MIGRATE_TEST_CHILD_DB";
const CHILD_DIR: &str = "MIGRATE_TEST_CHILD_DIR";

/// Not a test on its own: the body each child process of
/// `eight_processes_at_once_apply_each_step_once` runs, which passes it
/// `--ignored --exact` and the database and migrations in the environment.
/// It used to return early, and pass, without them: an ordinary run counted
/// it as a passing test that tested nothing. Ignored, it runs only when
/// asked for, and then fails without its inputs.
#[test]
#[ignore = "run only as a child process by eight_processes_at_once_apply_each_step_once"]
fn child_process_runner() {
    let (Some(db), Some(dir)) = (std::env::var_os(CHILD_DB), std::env::var_os(CHILD_DIR)) else {
        panic!(
            "child_process_runner runs only as a child of eight_processes_at_once_apply_each_step_once, \
             which sets {CHILD_DB} and {CHILD_DIR}"
        );
    };
    let set = Migrations::from_dir(dir).unwrap();
    let conn = rusqlite::Connection::open(db).unwrap();
    let report = migrate::run(&conn, &set).unwrap();
    println!("applied={}", report.steps.len());
}

#[test]
fn eight_processes_at_once_apply_each_step_once() {
    let dir = logging_set();
    let db = TempDb::new();
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..8)
        .map(|_| {
            std::process::Command::new(&exe)
                .args([
                    "--ignored",
                    "--exact",
                    "concurrency::child_process_runner",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(CHILD_DB, &db.path)
                .env(CHILD_DIR, dir.path())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut applied = 0;
    for child in children {
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "child failed: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // The child must have run its body once: a filter that matches
        // nothing (or an ignored test left out) exits 0 with no report.
        let reports: Vec<usize> = stdout
            .lines()
            .filter_map(|l| l.split_once("applied=").map(|(_, count)| count))
            .map(|count| count.split_whitespace().next().unwrap().parse().unwrap())
            .collect();
        assert_eq!(reports.len(), 1, "the child ran no migration: {stdout}");
        assert!(
            stdout.contains("test result: ok. 1 passed; 0 failed; 0 ignored"),
            "{stdout}"
        );
        applied += reports[0];
    }
    assert_eq!(applied, 20);
    assert_each_step_once(&db.path);
}

#[test]
fn a_no_op_start_takes_no_lock() {
    // Another connection holds the write lock (an application writing):
    // a start with nothing to do neither waits for it nor fails.
    let dir = logging_set();
    let set = Migrations::from_dir(dir.path()).unwrap();
    let db = TempDb::new();
    migrate::run(&db.open(), &set).unwrap();
    let writer = db.open();
    writer
        .execute_batch("PRAGMA journal_mode = WAL; BEGIN IMMEDIATE; INSERT INTO log VALUES (99);")
        .unwrap();
    let conn = db.open();
    conn.busy_timeout(std::time::Duration::ZERO).unwrap();
    assert_eq!(migrate::run(&conn, &set).unwrap().steps.len(), 0);
    writer.execute_batch("ROLLBACK").unwrap();
}

#[test]
fn a_runner_that_cannot_get_the_lock_gives_up_with_a_clear_error() {
    let dir = logging_set();
    let set = Migrations::from_dir(dir.path()).unwrap();
    let db = TempDb::new();
    let writer = db.open();
    writer
        .execute_batch(
            "CREATE TABLE other (id INT); BEGIN IMMEDIATE; INSERT INTO other VALUES (1);",
        )
        .unwrap();
    let conn = db.open();
    let options = migrate::Options::default().lock_timeout(std::time::Duration::from_millis(200));
    let err = set
        .with_options(options)
        .upgrade(&conn, migrate::Target::Head)
        .unwrap_err();
    assert!(matches!(err, migrate::Error::LockTimeout { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "gave up after 200 ms waiting for the database lock, which another migration run or a long write transaction \
         holds; try again, or raise the lock timeout"
    );
    writer.execute_batch("ROLLBACK").unwrap();
    assert_eq!(history_rows(&conn), []);
    // The caller's own busy timeout is restored.
    let timeout: i64 = conn
        .pragma_query_value(None, "busy_timeout", |r| r.get(0))
        .unwrap();
    assert_eq!(timeout, 5000);
}

/// Regression: a writer holding SQLite's EXCLUSIVE lock made every verb
/// fail after the connection's own 5 s busy timeout ("database is locked");
/// the lock timeout applies, to reads too.
#[test]
fn a_writer_holding_an_exclusive_lock_is_waited_for_up_to_the_lock_timeout() {
    let dir = logging_set();
    let set = Migrations::from_dir(dir.path()).unwrap();
    let db = TempDb::new();
    migrate::run(&db.open(), &set).unwrap();
    let writer = db.open();
    writer
        .execute_batch(
            "PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE; INSERT INTO log VALUES (7);",
        )
        .unwrap();
    let conn = db.open();
    let options = migrate::Options::default().lock_timeout(std::time::Duration::from_millis(300));
    let migrator = set.with_options(options);
    let gave_up = "gave up after 300 ms waiting for the database lock, which another migration run or a long \
                   write transaction holds; try again, or raise the lock timeout";
    let started = std::time::Instant::now();
    assert_eq!(migrator.status(&conn).unwrap_err().to_string(), gave_up);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    // A start's one fast-path query waits as the caller set the connection
    // (100 ms here); what is left of the lock timeout applies after it.
    conn.busy_timeout(std::time::Duration::from_millis(100))
        .unwrap();
    let started = std::time::Instant::now();
    assert_eq!(
        migrator
            .upgrade(&conn, migrate::Target::Head)
            .unwrap_err()
            .to_string(),
        gave_up
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    let timeout: i64 = conn
        .pragma_query_value(None, "busy_timeout", |r| r.get(0))
        .unwrap();
    assert_eq!(timeout, 100, "the caller's busy timeout is restored");
    writer
        .execute_batch("COMMIT; PRAGMA locking_mode = NORMAL;")
        .unwrap();
    drop(writer);
    assert_eq!(migrator.status(&conn).unwrap().pending, 0);
}

/// A table, then a `no-transaction` step that takes a while.
fn slow_no_transaction_step() -> tempfile::TempDir {
    crate::common::migration_dir(&[
        ("0001_a.sql", "CREATE TABLE a (id INT);\n"),
        (
            "0002_slow.sql",
            "-- migrate:no-transaction\n\
             WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000) \
             SELECT count(*) FROM c;\n",
        ),
    ])
}

/// Regression: while one runner's `no-transaction` step ran, a second
/// starter saw its in-flight mark and exited "marked dirty … repair the
/// schema by hand", an interruption of its own making. It waits for the run
/// to end instead, and finds nothing left to do.
#[test]
fn a_step_in_flight_on_a_live_runner_is_waited_for_not_called_dirty() {
    let dir = slow_no_transaction_step();
    let set = std::sync::Arc::new(Migrations::from_dir(dir.path()).unwrap());
    let db = TempDb::new();
    migrate::run(&db.open(), &set).map(drop).ok();
    // Back to before the slow step, then race it.
    let conn = db.open();
    conn.execute_batch("DELETE FROM _migrate_history WHERE version = 2;")
        .unwrap();
    let first = {
        let (set, path) = (set.clone(), db.path.clone());
        std::thread::spawn(move || {
            migrate::run(&rusqlite::Connection::open(path).unwrap(), &set).unwrap()
        })
    };
    // Until the first runner's mark is there, in flight.
    let started = std::time::Instant::now();
    while history_rows(&conn).len() < 2 {
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let in_flight = !history_rows(&conn)[1].success;
    // `status` (and so `check`) says so: in progress, not dirty.
    let status = set.status(&conn).unwrap();
    let history = set.history(&conn).unwrap();
    if !history_rows(&conn)[1].success {
        assert!(status.in_progress && !status.dirty, "{status:?}");
        assert_eq!(status.verdict(), migrate::Verdict::InProgress);
        // `history` the same: in progress, not dirty.
        assert_eq!(history[1].state, migrate::State::InProgress, "{history:?}");
    }
    let second = migrate::run(&conn, &set).unwrap();
    assert_eq!(first.join().unwrap().steps.len(), 1);
    assert!(second.steps.is_empty(), "the first runner applied it");
    assert!(history_rows(&conn).iter().all(|row| row.success));
    assert!(in_flight, "the test saw the step in flight");
    // The run lock is a file beside the database.
    let lock = format!("{}-migrate.lock", db.path.display());
    assert!(std::path::Path::new(&lock).is_file(), "{lock}");
}

/// The same through sqlx: a second starter waits for a live runner's
/// `no-transaction` step instead of calling it dirty, and `status` says it
/// is in progress.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlx_sqlite_a_step_in_flight_is_waited_for_not_called_dirty() {
    let dir = slow_no_transaction_step();
    let set = std::sync::Arc::new(Migrations::from_dir(dir.path()).unwrap());
    let db = TempDb::new();
    migrate::run(&db.open(), &set).unwrap();
    let conn = db.open();
    conn.execute_batch("DELETE FROM _migrate_history WHERE version = 2;")
        .unwrap();
    let url = format!("sqlite://{}", db.path.display());
    let first = {
        let (set, url) = (set.clone(), url.clone());
        tokio::spawn(async move {
            let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
            migrate::sqlx::run(&pool, &set).await.unwrap()
        })
    };
    let started = std::time::Instant::now();
    while history_rows(&conn).len() < 2 {
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let options = migrate::Options::default();
    let in_flight = !history_rows(&conn)[1].success;
    let status = migrate::sqlx::status(&pool, &set, &options).await.unwrap();
    if !history_rows(&conn)[1].success {
        assert!(status.in_progress && !status.dirty, "{status:?}");
    }
    let second = migrate::sqlx::run(&pool, &set).await.unwrap();
    assert_eq!(first.await.unwrap().steps.len(), 1);
    assert!(second.steps.is_empty(), "the first runner applied it");
    assert!(history_rows(&conn).iter().all(|row| row.success));
    assert!(in_flight, "the test saw the step in flight");
}

/// Through sqlx too, a writer's EXCLUSIVE lock is waited for up to the lock
/// timeout, not the pool's own busy timeout, and every verb says it gave up
/// on the lock; the pool's setting is restored.
#[tokio::test]
async fn sqlx_sqlite_an_exclusive_lock_is_waited_for_up_to_the_lock_timeout() {
    let dir = logging_set();
    let set = Migrations::from_dir(dir.path()).unwrap();
    let db = TempDb::new();
    migrate::run(&db.open(), &set).unwrap();
    let writer = db.open();
    writer
        .execute_batch(
            "PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE; INSERT INTO log VALUES (7);",
        )
        .unwrap();
    // A start's one fast-path query waits as the pool sets its connections
    // (100 ms here); what is left of the lock timeout applies after it.
    let connect = format!("sqlite://{}", db.path.display())
        .parse::<sqlx::sqlite::SqliteConnectOptions>()
        .unwrap()
        .busy_timeout(std::time::Duration::from_millis(100));
    let pool = sqlx::pool::PoolOptions::<sqlx::Sqlite>::new()
        .max_connections(1)
        .connect_with(connect)
        .await
        .unwrap();
    let options = migrate::Options::default().lock_timeout(std::time::Duration::from_millis(300));
    let gave_up = "gave up after 300 ms waiting for the database lock, which another migration run or a long \
                   write transaction holds; try again, or raise the lock timeout";
    let started = std::time::Instant::now();
    let upgrade = migrate::sqlx::upgrade(&pool, &set, migrate::Target::Head, &options).await;
    assert_eq!(upgrade.unwrap_err().to_string(), gave_up);
    let status = migrate::sqlx::status(&pool, &set, &options).await;
    assert_eq!(status.unwrap_err().to_string(), gave_up);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    writer
        .execute_batch("COMMIT; PRAGMA locking_mode = NORMAL;")
        .unwrap();
    drop(writer);
    let status = migrate::sqlx::status(&pool, &set, &options).await.unwrap();
    assert_eq!(status.pending, 0);
    let timeout: i64 = sqlx::query_scalar("PRAGMA busy_timeout")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(timeout, 100, "the pool's own busy timeout is restored");
}
