//! The lease (`LockMode::Lease`) on PostgreSQL and MariaDB: runners at once
//! apply each step once and leave the lease free; a lease left by a dead
//! runner is taken over once it expires; a live one is waited for and
//! named; a run whose lease was taken from it stops before recording a
//! step.

use std::time::Duration;

use migrate::{LockMode, Migrations, Options};

use crate::common::migration_dir;
use crate::servers::{Database, Kind, count, execute, upgrade};

/// `n` steps, each adding one row to `log`: a step applied twice shows.
fn logging_set(n: usize) -> tempfile::TempDir {
    let mut files = vec![(
        "0001_log.sql".to_owned(),
        "CREATE TABLE log (n INT NOT NULL PRIMARY KEY);\nINSERT INTO log VALUES (1);\n".to_owned(),
    )];
    for i in 2..=n {
        files.push((
            format!("{i:04}_log{i}.sql"),
            format!("INSERT INTO log VALUES ({i});\n"),
        ));
    }
    let files: Vec<(&str, &str)> = files
        .iter()
        .map(|(name, sql)| (name.as_str(), sql.as_str()))
        .collect();
    migration_dir(&files)
}

fn lease() -> Options {
    Options::default()
        .lock_mode(LockMode::Lease)
        .lease_duration(Duration::from_secs(3))
}

async fn runners_at_once_apply_each_step_once(kind: Kind) {
    let Some(database) = Database::create(kind).await else {
        return;
    };
    let dir = logging_set(12);
    let set = std::sync::Arc::new(Migrations::from_dir(dir.path()).unwrap());
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (set, url) = (set.clone(), database.url.clone());
            tokio::spawn(async move { upgrade(&url, kind, &set, &lease()).await.unwrap() })
        })
        .collect();
    let mut applied = 0;
    for task in tasks {
        applied += task.await.unwrap();
    }
    assert_eq!(applied, 12, "each step applied once");
    assert_eq!(
        count(&database.url, kind, "SELECT count(*) FROM log").await,
        12
    );
    // Given back at the end.
    let left = count(
        &database.url,
        kind,
        "SELECT count(*) FROM _migrate_history_lock",
    )
    .await;
    assert_eq!(left, 0, "the lease is given back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_runners_at_once_apply_each_step_once() {
    runners_at_once_apply_each_step_once(Kind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_runners_at_once_apply_each_step_once() {
    runners_at_once_apply_each_step_once(Kind::MySql).await;
}

/// A lease row another runner holds: while it is live, a runner waits up to
/// its lock timeout and names the holder; once it expired (the runner
/// died), the next runner takes it over.
async fn a_live_lease_is_waited_for_and_a_dead_one_taken_over(kind: Kind) {
    let Some(database) = Database::create(kind).await else {
        return;
    };
    let dir = logging_set(2);
    let set = Migrations::from_dir(dir.path()).unwrap();
    upgrade(
        &database.url,
        kind,
        &Migrations::from_dir(logging_set(1).path()).unwrap(),
        &lease(),
    )
    .await
    .unwrap();
    let (live, dead) = match kind {
        Kind::Postgres => (
            "INSERT INTO _migrate_history_lock VALUES (1, 'other', 'web-7', 4242, \
             TIMESTAMPTZ '2026-01-02 03:04:05+00', clock_timestamp() + interval '1 hour')",
            "UPDATE _migrate_history_lock SET expires_at = clock_timestamp() - interval '1 second'",
        ),
        Kind::MySql => (
            "INSERT INTO _migrate_history_lock VALUES (1, 'other', 'web-7', 4242, \
             '2026-01-02 03:04:05', UTC_TIMESTAMP(6) + INTERVAL 1 HOUR)",
            "UPDATE _migrate_history_lock SET expires_at = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND",
        ),
    };
    execute(&database.url, kind, live).await;
    let options = lease().lock_timeout(Duration::from_millis(300));
    // A start with nothing to do takes no lock: it does not wait.
    let applied = Migrations::from_dir(logging_set(1).path()).unwrap();
    assert_eq!(
        upgrade(&database.url, kind, &applied, &options)
            .await
            .unwrap(),
        0
    );
    let err = upgrade(&database.url, kind, &set, &options)
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(
        message.starts_with(
            "gave up after 300 ms waiting for the database lock, which a runner on web-7 (process 4242) \
             since 2026-01-02 03:04:05 UTC, whose lease runs until "
        ) && message.ends_with(
            " UTC, holds (a runner that died loses it then); try again, or raise the lock timeout"
        ),
        "{message}"
    );
    assert_eq!(
        count(&database.url, kind, "SELECT count(*) FROM log").await,
        1,
        "nothing ran"
    );
    execute(&database.url, kind, dead).await;
    assert_eq!(
        upgrade(&database.url, kind, &set, &options).await.unwrap(),
        1
    );
    assert_eq!(
        count(
            &database.url,
            kind,
            "SELECT count(*) FROM _migrate_history_lock"
        )
        .await,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_live_lease_is_waited_for_and_a_dead_one_taken_over() {
    a_live_lease_is_waited_for_and_a_dead_one_taken_over(Kind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_a_live_lease_is_waited_for_and_a_dead_one_taken_over() {
    a_live_lease_is_waited_for_and_a_dead_one_taken_over(Kind::MySql).await;
}

/// Runs two steps with `options` (the second, after `directive`, sleeps
/// for a second and makes table `b`), takes the run's lease while the
/// second runs, and returns the run's error.
async fn lose_lease(
    database: &Database,
    kind: Kind,
    directive: &str,
    options: Options,
) -> migrate::Error {
    let (sleep, running) = match kind {
        Kind::Postgres => (
            "SELECT pg_sleep(1);",
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
             AND state = 'active' AND query LIKE '%SELECT pg_sleep(1)%' \
             AND pid <> pg_backend_pid()",
        ),
        Kind::MySql => (
            "SELECT SLEEP(1);",
            "SELECT count(*) FROM information_schema.PROCESSLIST WHERE DB = DATABASE() \
             AND INFO LIKE '%SELECT SLEEP(1)%' AND ID <> CONNECTION_ID()",
        ),
    };
    let slow = format!("{directive}{sleep}\nCREATE TABLE b (id INT);\n");
    let dir = migration_dir(&[
        ("0001_a.sql", "CREATE TABLE a (id INT);\n"),
        ("0002_slow.sql", &slow),
    ]);
    let set = std::sync::Arc::new(Migrations::from_dir(dir.path()).unwrap());
    let run = {
        let (set, url) = (set.clone(), database.url.clone());
        tokio::spawn(async move { upgrade(&url, kind, &set, &options).await })
    };
    // The sleep shows the run is in step 2 (whose step 1 may not be
    // committed yet).
    let started = std::time::Instant::now();
    while count(&database.url, kind, running).await == 0 {
        assert!(started.elapsed() < Duration::from_secs(10));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    execute(
        &database.url,
        kind,
        "UPDATE _migrate_history_lock SET holder = 'thief'",
    )
    .await;
    run.await.unwrap().unwrap_err()
}

/// While a step runs, the lease is taken from the run (as if it had
/// stalled past its lease): the step is rolled back when it would commit,
/// and the run says so; the steps before it stay recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_run_that_lost_its_lease_records_nothing_more() {
    let Some(database) = Database::create(Kind::Postgres).await else {
        return;
    };
    let err = lose_lease(&database, Kind::Postgres, "", lease()).await;
    assert_eq!(
        err.to_string(),
        "this run lost its migration lease to another runner (it was not renewed within 3 s), so it \
         stopped: migration 2 (0002_slow.sql) was rolled back, and the steps before it are recorded; \
         run again to finish, and raise the lease duration if the database or network stalls this long"
    );
    let tables = count(
        &database.url,
        Kind::Postgres,
        "SELECT count(*) FROM pg_tables WHERE tablename = 'b'",
    )
    .await;
    assert_eq!(tables, 0, "the step was rolled back");
    let recorded = count(
        &database.url,
        Kind::Postgres,
        "SELECT count(*) FROM _migrate_history",
    )
    .await;
    assert_eq!(recorded, 1);
}

/// The same in one transaction for all steps: the lease is found lost at
/// its one commit, and every step is rolled back with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_run_in_one_transaction_that_lost_its_lease_records_nothing() {
    let Some(database) = Database::create(Kind::Postgres).await else {
        return;
    };
    let single = lease().transaction_mode(migrate::TransactionMode::Single);
    let err = lose_lease(&database, Kind::Postgres, "", single).await;
    assert_eq!(
        err.to_string(),
        "this run lost its migration lease to another runner (it was not renewed within 3 s), so it \
         stopped: its transaction was rolled back, with every step in it; run again to finish, and \
         raise the lease duration if the database or network stalls this long"
    );
    // Both steps rolled back, and the history table with them: it was made
    // in the same transaction.
    let tables = count(
        &database.url,
        Kind::Postgres,
        "SELECT count(*) FROM pg_tables WHERE tablename IN ('a', 'b', '_migrate_history')",
    )
    .await;
    assert_eq!(tables, 0);
}

/// A step that outlasts the lease does not lose it: the heartbeat renews
/// it every third of its duration, so a runner starting meanwhile waits
/// instead of taking it over, and each step is applied once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_the_heartbeat_keeps_the_lease_through_a_long_step() {
    let Some(database) = Database::create(Kind::Postgres).await else {
        return;
    };
    let dir = migration_dir(&[
        ("0001_log.sql", "CREATE TABLE log (n INT PRIMARY KEY);\n"),
        (
            "0002_slow.sql",
            "SELECT pg_sleep(3.5);\nINSERT INTO log VALUES (2);\n",
        ),
    ]);
    let set = std::sync::Arc::new(Migrations::from_dir(dir.path()).unwrap());
    let short = Options::default()
        .lock_mode(LockMode::Lease)
        .lease_duration(Duration::from_secs(1))
        .lock_timeout(Duration::from_secs(30));
    let first = {
        let (set, url, options) = (set.clone(), database.url.clone(), short.clone());
        tokio::spawn(async move { upgrade(&url, Kind::Postgres, &set, &options).await })
    };
    // Well past the lease's 1 s: only renewals keep it.
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let second = upgrade(&database.url, Kind::Postgres, &set, &short).await;
    assert_eq!(
        first.await.unwrap().unwrap(),
        2,
        "the first runner kept its lease"
    );
    assert_eq!(
        second.unwrap(),
        0,
        "the second waited, then found nothing to do"
    );
    assert_eq!(
        count(&database.url, Kind::Postgres, "SELECT count(*) FROM log").await,
        1
    );
}

/// The history rows of `database`: (version, success).
async fn history(database: &Database, kind: Kind) -> Vec<(i64, bool)> {
    let sql = "SELECT version, success FROM _migrate_history ORDER BY version";
    match kind {
        Kind::Postgres => {
            let pool = sqlx::PgPool::connect(&database.url).await.unwrap();
            sqlx::query_as(sql).fetch_all(&pool).await.unwrap()
        }
        Kind::MySql => {
            let pool = sqlx::MySqlPool::connect(&database.url).await.unwrap();
            sqlx::query_as(sql).fetch_all(&pool).await.unwrap()
        }
    }
}

const DIRTY_AT_2: &str = "this run lost its migration lease to another runner (it was not renewed \
    within 3 s), so it stopped: migration 2 (0002_slow.sql) ran, but not in a transaction that \
    could be rolled back, so the database may be partly changed and is marked dirty at 2 (the \
    steps before it are recorded): check the schema against the script, repair it by hand, then \
    run `migrate stamp`, and raise the lease duration if the database or network stalls this long";

/// On MariaDB a step's DDL commits as it runs, so a run that lost its
/// lease during step 2 cannot take the step back: it does not record it as
/// applied, and the history shows it in flight (dirty), which blocks the
/// runner that took the lease until someone checks the schema.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_a_run_that_lost_its_lease_does_not_record_a_step_its_ddl_committed() {
    let Some(database) = Database::create(Kind::MySql).await else {
        return;
    };
    let err = lose_lease(&database, Kind::MySql, "", lease()).await;
    assert_eq!(err.to_string(), DIRTY_AT_2);
    assert_eq!(
        history(&database, Kind::MySql).await,
        [(1, true), (2, false)]
    );
    let made = count(
        &database.url,
        Kind::MySql,
        "SELECT count(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() \
         AND TABLE_NAME = 'b'",
    )
    .await;
    assert_eq!(made, 1, "the step's DDL committed");
    // The runner that took the lease stops at the mark instead of running
    // the step again.
    let set = Migrations::from_dir(
        migration_dir(&[
            ("0001_a.sql", "CREATE TABLE a (id INT);\n"),
            (
                "0002_slow.sql",
                "SELECT SLEEP(1);\nCREATE TABLE b (id INT);\n",
            ),
        ])
        .path(),
    )
    .unwrap();
    let again = upgrade(&database.url, Kind::MySql, &set, &lease()).await;
    assert!(
        matches!(again, Err(migrate::Error::Dirty { version: 2, .. })),
        "{again:?}"
    );
}

/// The same on PostgreSQL for a `no-transaction` step: its in-flight mark
/// stays, not the row of a step applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_run_that_lost_its_lease_does_not_record_a_no_transaction_step() {
    let Some(database) = Database::create(Kind::Postgres).await else {
        return;
    };
    let directive = "-- migrate:no-transaction\n";
    let err = lose_lease(&database, Kind::Postgres, directive, lease()).await;
    assert_eq!(err.to_string(), DIRTY_AT_2);
    assert_eq!(
        history(&database, Kind::Postgres).await,
        [(1, true), (2, false)]
    );
}
