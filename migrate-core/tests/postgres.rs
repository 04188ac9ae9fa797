//! PostgreSQL's own behaviour: the advisory lock (released on every path,
//! with a timeout), `CREATE INDEX CONCURRENTLY` in no-transaction steps
//! while another runner waits, the transaction-scoped lock mode, and
//! schema-qualified history tables.

use std::time::Duration;

use migrate::{Error, LockMode, Migrations, Options, State, Target};

use crate::common::migration_dir;
use crate::servers::{Database, Kind};

async fn pool(database: &Database, connections: u32) -> sqlx::PgPool {
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(connections)
        .connect(&database.url)
        .await
        .unwrap()
}

/// Whether another session could take the migration lock now.
async fn lock_is_free(pool: &sqlx::PgPool) -> bool {
    let mut conn = pool.acquire().await.unwrap();
    let taken: bool = sqlx::query_scalar(
        "SELECT pg_try_advisory_lock(hashtext(current_database()), hashtext('\"_migrate_history\"'))",
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    if taken {
        sqlx::query("SELECT pg_advisory_unlock(hashtext(current_database()), hashtext('\"_migrate_history\"'))")
            .execute(&mut *conn)
            .await
            .unwrap();
    }
    taken
}

fn concurrent_index_set() -> tempfile::TempDir {
    migration_dir(&[
        (
            "0001_t.sql",
            "CREATE TABLE t (id INT PRIMARY KEY, c INT, d INT);\n\
             INSERT INTO t SELECT g, g % 7, g % 11 FROM generate_series(1, 20000) AS g;\n",
        ),
        (
            "0002_indexes.sql",
            "-- migrate:no-transaction\n\
             CREATE INDEX CONCURRENTLY t_c ON t (c);\n\
             CREATE INDEX CONCURRENTLY t_d ON t (d);\n",
        ),
        ("0003_u.sql", "CREATE TABLE u (id INT);\n"),
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runners_with_create_index_concurrently_both_finish() {
    let Some(database) = Database::create(Kind::Postgres).await else {
        return;
    };
    let dir = concurrent_index_set();
    let set = Migrations::from_dir(dir.path()).unwrap();
    let (first, second) = (pool(&database, 2).await, pool(&database, 2).await);
    let runs = async {
        tokio::join!(
            migrate::sqlx::run(&first, &set),
            migrate::sqlx::run(&second, &set)
        )
    };
    let (a, b) = tokio::time::timeout(Duration::from_secs(60), runs)
        .await
        .expect("no deadlock");
    let applied = a.unwrap().steps.len() + b.unwrap().steps.len();
    assert_eq!(applied, 3, "each step once");
    let valid: Vec<(String, bool)> = sqlx::query_as(
        "SELECT c.relname::text, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
         WHERE c.relname IN ('t_c', 't_d') ORDER BY 1",
    )
    .fetch_all(&first)
    .await
    .unwrap();
    assert_eq!(valid, [("t_c".to_owned(), true), ("t_d".to_owned(), true)]);
    assert!(lock_is_free(&first).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_no_transaction_statement_is_named_and_leaves_a_dirty_mark() {
    let Some(database) = Database::create(Kind::Postgres).await else {
        return;
    };
    let dir = migration_dir(&[
        ("0001_t.sql", "CREATE TABLE t (id INT, c INT);\n"),
        (
            "0002_indexes.sql",
            "-- migrate:no-transaction\nCREATE INDEX CONCURRENTLY t_c ON t (c);\nCREATE INDEX CONCURRENTLY t_x ON t (x);\n",
        ),
    ]);
    let set = Migrations::from_dir(dir.path()).unwrap();
    let pool = pool(&database, 1).await;
    let err = migrate::sqlx::run(&pool, &set).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "migration 2 (0002_indexes.sql) failed at statement 2 (`CREATE INDEX CONCURRENTLY t_x ON t (x)`): column \
         \"x\" does not exist; it ran outside a transaction, so the database may be partly changed and is marked \
         dirty at 2: repair it by hand, then run `migrate stamp`"
    );
    let rows: Vec<(i64, bool)> =
        sqlx::query_as("SELECT version, success FROM _migrate_history ORDER BY version")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(rows, [(1, true), (2, false)]);
    // The error path released the lock on the pool's one connection.
    assert!(lock_is_free(&pool).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_step_releases_the_lock_on_the_pooled_connection() {
    let Some(database) = Database::create(Kind::Postgres).await else {
        return;
    };
    let dir = migration_dir(&[(
        "0001_bad.sql",
        "CREATE TABLE t (id INT);\nSELECT * FROM nowhere;\n",
    )]);
    let set = Migrations::from_dir(dir.path()).unwrap();
    // One connection: the run's, then the check's.
    let pool = pool(&database, 1).await;
    let err = migrate::sqlx::run(&pool, &set).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Step {
                version: 1,
                dirty: false,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        lock_is_free(&pool).await,
        "sqlx's migrator leaves it held here"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_dropped_midway_does_not_leave_the_lock_held() {
    let Some(database) = Database::create(Kind::Postgres).await else {
        return;
    };
    let dir = migration_dir(&[("0001_slow.sql", "SELECT pg_sleep(5);\n")]);
    let set = Migrations::from_dir(dir.path()).unwrap();
    let pool = pool(&database, 2).await;
    let cancelled =
        tokio::time::timeout(Duration::from_millis(500), migrate::sqlx::run(&pool, &set)).await;
    assert!(cancelled.is_err(), "the run was still going");
    // The connection was closed, not returned to the pool with the lock.
    let mut free = false;
    for _ in 0..100 {
        if lock_is_free(&pool).await {
            free = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(free);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runner_waiting_past_the_lock_timeout_gives_up_clearly() {
    let Some(database) = Database::create(Kind::Postgres).await else {
        return;
    };
    let dir = migration_dir(&[("0001_t.sql", "CREATE TABLE t (id INT);\n")]);
    let set = Migrations::from_dir(dir.path()).unwrap();
    let pool = pool(&database, 2).await;
    let mut holder = pool.acquire().await.unwrap();
    sqlx::query(
        "SELECT pg_advisory_lock(hashtext(current_database()), hashtext('\"_migrate_history\"'))",
    )
    .execute(&mut *holder)
    .await
    .unwrap();
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut *holder)
        .await
        .unwrap();
    let options = Options::default().lock_timeout(Duration::from_millis(300));
    let err = migrate::sqlx::upgrade(&pool, &set, Target::Head, &options)
        .await
        .unwrap_err();
    // The holder is named: after `kill -9` of a runner, its server process
    // keeps the lock until its statement ends, and this says which it is.
    let message = err.to_string();
    assert!(
        message.starts_with(&format!(
            "gave up after 300 ms waiting for the database lock, which PostgreSQL server process {pid} \
             (no application name from 127.0.0.1, idle since "
        )) && message.ends_with(
            " UTC) holds (after a killed runner, `SELECT pg_terminate_backend(pid)` frees it); try again, or \
             raise the lock timeout"
        ),
        "{message}"
    );
    drop(holder);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transaction_lock_mode_and_schema_qualified_tables() {
    let Some(database) = Database::create(Kind::Postgres).await else {
        return;
    };
    let dir = migration_dir(&[
        ("0001_a.up.sql", "CREATE TABLE a (id INT);\n"),
        ("0001_a.down.sql", "DROP TABLE a;\n"),
        ("0002_b.up.sql", "CREATE TABLE b (id INT);\n"),
        ("0002_b.down.sql", "DROP TABLE b;\n"),
    ]);
    let set = Migrations::from_dir(dir.path()).unwrap();
    let pool = pool(&database, 8).await;
    let options = Options::default()
        .lock_mode(LockMode::Transaction)
        .table("ops.schema_history")
        .unwrap();
    let runs: Vec<_> = (0..4)
        .map(|_| {
            let (pool, set, options) = (pool.clone(), set.clone(), options.clone());
            tokio::spawn(async move {
                migrate::sqlx::upgrade(&pool, &set, Target::Head, &options).await
            })
        })
        .collect();
    let mut applied = 0;
    for run in runs {
        applied += run.await.unwrap().unwrap().steps.len();
    }
    assert_eq!(applied, 2);
    let rows: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM ops.schema_history ORDER BY version")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(rows, [1, 2]);
    migrate::sqlx::downgrade(&pool, &set, Target::Base, &options)
        .await
        .unwrap();
    let none = Options::default()
        .lock_mode(LockMode::None)
        .table("ops.schema_history")
        .unwrap();
    assert_eq!(
        migrate::sqlx::run(&pool, &set).await.unwrap().steps.len(),
        2,
        "the default table is another history"
    );
    assert_eq!(
        migrate::sqlx::status(&pool, &set, &none)
            .await
            .unwrap()
            .pending,
        2
    );
}

/// Where the split cannot see every statement (a `BEGIN ATOMIC` function
/// body), a `COMMIT` or `ROLLBACK` in the script is not refused before it
/// runs; the runner asks PostgreSQL after the script whether the step's
/// transaction is still open, and when it is gone says so and marks the
/// step dirty, instead of "rolled back, as it was" (after a `COMMIT`) or
/// "applied" (after a `ROLLBACK`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_ended_where_the_split_cannot_see_is_found_and_marked_dirty() {
    let Some(database) = Database::create(Kind::Postgres).await else {
        return;
    };
    let pool = pool(&database, 2).await;
    let atomic = "CREATE FUNCTION one() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END;\n";
    for (end, failing) in [
        ("COMMIT;", "INSERT INTO missing VALUES (1);\n"),
        ("ROLLBACK;", ""),
    ] {
        sqlx::raw_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
            .execute(&pool)
            .await
            .unwrap();
        let dir = migration_dir(&[
            ("0001_a.sql", "CREATE TABLE a (id INT);\n"),
            (
                "0002_b.sql",
                &format!(
                    "{atomic}CREATE TABLE b (id INT);\n{end}\nCREATE TABLE c (id INT);\n{failing}"
                ),
            ),
        ]);
        let set = Migrations::from_dir(dir.path()).unwrap();
        let err = migrate::sqlx::run(&pool, &set).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "migration 2 (0002_b.sql) ended the transaction it runs in (a COMMIT or ROLLBACK inside it), so \
             part of it may be committed without its history row; it is marked dirty at 2: check the schema \
             against the script, repair it by hand, then run `migrate stamp`, and remove the statement that \
             ends the transaction",
            "{end}"
        );
        let dirty: Vec<(i64, bool)> =
            sqlx::query_as("SELECT version, success FROM _migrate_history ORDER BY version")
                .fetch_all(&pool)
                .await
                .unwrap();
        assert_eq!(dirty, [(1, true), (2, false)], "{end}");
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' \
             AND tablename NOT IN ('_migrate_history', '_migrate_history_summary') ORDER BY 1",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        // After COMMIT, b stays (c failed with the INSERT after it); after
        // ROLLBACK, b is gone and c committed on its own.
        let expected: &[&str] = if end == "COMMIT;" {
            &["a", "b"]
        } else {
            &["a", "c"]
        };
        assert_eq!(tables, expected, "{end}");
        // The next start refuses to go on from a dirty step.
        let again = migrate::sqlx::run(&pool, &set).await.unwrap_err();
        assert!(again.to_string().contains("is marked dirty"), "{again}");
    }
}

/// Regression (issue 10, item 9): in transaction lock mode, while one
/// runner's `no-transaction` step ran, a second starter saw its in-flight
/// mark and exited "marked dirty … repair the schema by hand". The step
/// now holds the in-flight lock while it runs: the second runner waits for
/// it and finds nothing left to do, and `status` says it is in progress.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transaction_mode_waits_for_a_step_in_flight_instead_of_calling_it_dirty() {
    let Some(database) = Database::create(Kind::Postgres).await else {
        return;
    };
    let dir = migration_dir(&[
        ("0001_a.sql", "CREATE TABLE a (id INT);\n"),
        (
            "0002_slow.sql",
            "-- migrate:no-transaction\nSELECT pg_sleep(2);\nCREATE INDEX CONCURRENTLY a_id ON a (id);\n",
        ),
    ]);
    let set = std::sync::Arc::new(Migrations::from_dir(dir.path()).unwrap());
    let options = Options::default().lock_mode(LockMode::Transaction);
    let first = {
        let (set, options, url) = (set.clone(), options.clone(), database.url.clone());
        tokio::spawn(async move {
            let pool = sqlx::PgPool::connect(&url).await.unwrap();
            migrate::sqlx::upgrade(&pool, &set, Target::Head, &options).await
        })
    };
    let pool = pool(&database, 2).await;
    let started = std::time::Instant::now();
    loop {
        let marks: Vec<bool> =
            sqlx::query_scalar("SELECT success FROM _migrate_history WHERE version = 2")
                .fetch_all(&pool)
                .await
                .unwrap_or_default();
        if marks == [false] {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "no mark seen");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let status = migrate::sqlx::status(&pool, &set, &options).await.unwrap();
    assert!(status.in_progress && !status.dirty, "{status:?}");
    let history = migrate::sqlx::history(&pool, &set, &options).await.unwrap();
    assert_eq!(
        history.iter().map(|entry| entry.state).collect::<Vec<_>>(),
        [State::Applied, State::InProgress],
        "{history:?}"
    );
    let second = migrate::sqlx::upgrade(&pool, &set, Target::Head, &options)
        .await
        .unwrap();
    assert!(second.steps.is_empty(), "the first runner applied it");
    assert_eq!(first.await.unwrap().unwrap().steps.len(), 2);
    let rows: Vec<(i64, bool)> =
        sqlx::query_as("SELECT version, success FROM _migrate_history ORDER BY version")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(rows, [(1, true), (2, true)]);
    assert!(lock_is_free(&pool).await, "every lock is released");
}

/// Issue 11's lock queue: a step's `ALTER TABLE users …` queued behind an
/// open transaction that read `users` made every later query on `users`
/// wait as long as that transaction lasted. With a statement lock timeout
/// the step gives up its place in the queue after it, is rolled back and
/// tried again later: a fresh `SELECT count(*) FROM users` never waits
/// much longer than the timeout, and the step succeeds once the blocker
/// ends. With too few tries, it fails in one sentence naming the step and
/// the blocker's session, and nothing is changed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_step_behind_a_long_transaction_does_not_stall_readers() {
    let Some(database) = Database::create(Kind::Postgres).await else {
        return;
    };
    let dir = migration_dir(&[
        (
            "0001_users.sql",
            "CREATE TABLE users (id INT);\nINSERT INTO users VALUES (1);\n",
        ),
        (
            "0002_email.up.sql",
            "ALTER TABLE users ADD COLUMN email TEXT;\n",
        ),
        (
            "0002_email.down.sql",
            "ALTER TABLE users DROP COLUMN email;\n",
        ),
    ]);
    let set = std::sync::Arc::new(Migrations::from_dir(dir.path()).unwrap());
    let pool = pool(&database, 4).await;
    migrate::sqlx::upgrade(&pool, &set, "1".parse().unwrap(), &Options::default())
        .await
        .unwrap();
    // The blocker: a report reading `users` in a transaction held for `hold`.
    let blocker = |hold: Duration| {
        let url = database.url.clone();
        async move {
            let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&url)
                .await
                .unwrap();
            sqlx::raw_sql("BEGIN; SELECT * FROM users;")
                .execute(&mut conn)
                .await
                .unwrap();
            let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
                .fetch_one(&mut conn)
                .await
                .unwrap();
            let held = tokio::spawn(async move {
                tokio::time::sleep(hold).await;
                sqlx::raw_sql("COMMIT").execute(&mut conn).await.unwrap();
            });
            (pid, held)
        }
    };

    // Blocker held 8 s, 500 ms per try, 30 tries: readers keep going.
    let (_, held) = blocker(Duration::from_secs(8)).await;
    let options = Options::default()
        .statement_lock_timeout(Duration::from_millis(500))
        .lock_retries(30);
    let run = {
        let (set, url, options) = (set.clone(), database.url.clone(), options.clone());
        tokio::spawn(async move {
            let pool = sqlx::PgPool::connect(&url).await.unwrap();
            migrate::sqlx::upgrade(&pool, &set, Target::Head, &options).await
        })
    };
    let mut longest = Duration::ZERO;
    while !run.is_finished() {
        let started = std::time::Instant::now();
        let mut reader = <sqlx::PgConnection as sqlx::Connection>::connect(&database.url)
            .await
            .unwrap();
        let started_query = std::time::Instant::now();
        let _: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
            .fetch_one(&mut reader)
            .await
            .unwrap();
        longest = longest.max(started_query.elapsed());
        assert!(started.elapsed() < Duration::from_secs(20));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let report = run.await.unwrap().unwrap();
    held.await.unwrap();
    assert_eq!(report.steps.len(), 1, "applied once the blocker ended");
    assert!(
        longest < Duration::from_secs(3),
        "a reader waited {longest:?} behind the step (the blocker held 8 s)"
    );

    // Blocker held 20 s, 3 retries: the run gives up, naming the step.
    migrate::sqlx::downgrade(&pool, &set, "1".parse().unwrap(), &Options::default())
        .await
        .unwrap();
    let (pid, held) = blocker(Duration::from_secs(20)).await;
    let options = Options::default()
        .statement_lock_timeout(Duration::from_millis(500))
        .lock_retries(3);
    let err = migrate::sqlx::upgrade(&pool, &set, Target::Head, &options)
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(
        message.starts_with(&format!(
            "migration 2 (0002_email.up.sql) could not take the locks it needs in 4 tries of 500 ms: the oldest \
             open transaction, PostgreSQL server process {pid} (no application name, idle in transaction, \
             open since "
        )) && message.ends_with(
            " UTC), may hold them; it was rolled back each time, so nothing of it was changed: run it again \
             once that is done, or allow longer waits (--statement-lock-timeout) or more tries (--lock-retries)"
        ),
        "{message}"
    );
    let rows: Vec<(i64, bool)> =
        sqlx::query_as("SELECT version, success FROM _migrate_history ORDER BY version")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(rows, [(1, true)], "not applied, not dirty");
    let columns: Vec<String> = sqlx::query_scalar(
        "SELECT column_name::text FROM information_schema.columns WHERE table_name = 'users' ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(columns, ["id"], "nothing changed");
    held.abort();
}

/// A `no-transaction` step gets the statement lock timeout per statement
/// (a statement that cannot run in a transaction block, `CREATE INDEX
/// CONCURRENTLY`, runs without it) and is tried again while none of its
/// statements has run: its in-flight mark is taken back in between, so it
/// ends applied once and clean.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_no_transaction_step_is_tried_again_while_none_of_it_ran() {
    let Some(database) = Database::create(Kind::Postgres).await else {
        return;
    };
    let dir = migration_dir(&[
        ("0001_users.sql", "CREATE TABLE users (id INT);\n"),
        (
            "0002_email.sql",
            "-- migrate:no-transaction\nALTER TABLE users ADD COLUMN email TEXT;\n\
             CREATE INDEX CONCURRENTLY users_email ON users (email);\n",
        ),
    ]);
    let set = Migrations::from_dir(dir.path()).unwrap();
    let pool = pool(&database, 4).await;
    migrate::sqlx::upgrade(&pool, &set, "1".parse().unwrap(), &Options::default())
        .await
        .unwrap();
    let mut blocker = <sqlx::PgConnection as sqlx::Connection>::connect(&database.url)
        .await
        .unwrap();
    sqlx::raw_sql("BEGIN; SELECT * FROM users;")
        .execute(&mut blocker)
        .await
        .unwrap();
    let held = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(2)).await;
        sqlx::raw_sql("COMMIT").execute(&mut blocker).await.unwrap();
    });
    let options = Options::default()
        .statement_lock_timeout(Duration::from_millis(300))
        .lock_retries(30);
    let report = migrate::sqlx::upgrade(&pool, &set, Target::Head, &options)
        .await
        .unwrap();
    held.await.unwrap();
    assert_eq!(report.steps.len(), 1);
    let rows: Vec<(i64, bool)> =
        sqlx::query_as("SELECT version, success FROM _migrate_history ORDER BY version")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(rows, [(1, true), (2, true)]);
    let indexes: Vec<String> =
        sqlx::query_scalar("SELECT indexname::text FROM pg_indexes WHERE tablename = 'users'")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(indexes, ["users_email"]);
}

/// A database that takes no writes (`default_transaction_read_only`, as a
/// hot standby behaves) is refused in one sentence before any lock is
/// waited for; a start with nothing to do still says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_database_is_refused_before_any_lock() {
    let Some(database) = Database::create(Kind::Postgres).await else {
        return;
    };
    let dir = migration_dir(&[
        ("0001_a.sql", "CREATE TABLE a (id INT);\n"),
        ("0002_b.sql", "CREATE TABLE b (id INT);\n"),
    ]);
    let set = Migrations::from_dir(dir.path()).unwrap();
    let admin = pool(&database, 1).await;
    migrate::sqlx::upgrade(&admin, &set, "1".parse().unwrap(), &Options::default())
        .await
        .unwrap();
    let name: String = sqlx::query_scalar("SELECT current_database()::text")
        .fetch_one(&admin)
        .await
        .unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "ALTER DATABASE {name} SET default_transaction_read_only = on"
    )))
    .execute(&admin)
    .await
    .unwrap();
    // Another runner holds the lock: the refusal does not wait for it.
    let mut holder = admin.acquire().await.unwrap();
    sqlx::query(
        "SELECT pg_advisory_lock(hashtext(current_database()), hashtext('\"_migrate_history\"'))",
    )
    .execute(&mut *holder)
    .await
    .unwrap();
    let read_only = pool(&database, 1).await;
    let started = std::time::Instant::now();
    let err = migrate::sqlx::upgrade(&read_only, &set, Target::Head, &Options::default())
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "the database is read-only (default_transaction_read_only is on): point migrate at the primary; \
         nothing was changed"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "no lock waited for"
    );
    let nothing =
        migrate::sqlx::upgrade(&read_only, &set, "1".parse().unwrap(), &Options::default())
            .await
            .unwrap();
    assert!(nothing.steps.is_empty());
    drop(holder);
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "ALTER DATABASE {name} RESET default_transaction_read_only"
    )))
    .execute(&admin)
    .await
    .unwrap();
}

/// A start with nothing to do takes no lock: while another session holds
/// the migration lock, it answers at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_with_nothing_to_do_does_not_wait_for_the_lock() {
    let Some(database) = Database::create(Kind::Postgres).await else {
        return;
    };
    let dir = migration_dir(&[("0001_a.sql", "CREATE TABLE a (id INT);\n")]);
    let set = Migrations::from_dir(dir.path()).unwrap();
    let pool = pool(&database, 2).await;
    migrate::sqlx::run(&pool, &set).await.unwrap();
    let mut holder = pool.acquire().await.unwrap();
    sqlx::query(
        "SELECT pg_advisory_lock(hashtext(current_database()), hashtext('\"_migrate_history\"'))",
    )
    .execute(&mut *holder)
    .await
    .unwrap();
    for mode in [LockMode::Session, LockMode::Transaction, LockMode::Lease] {
        let options = Options::default()
            .lock_mode(mode)
            .lock_timeout(Duration::from_millis(200));
        let report = migrate::sqlx::upgrade(&pool, &set, Target::Head, &options)
            .await
            .unwrap();
        assert!(report.steps.is_empty(), "{mode:?}");
    }
    drop(holder);
}

/// The lock (and a `no-transaction` step's in-flight lock) is held on a
/// connection of the run's own, opened beside the pool: a pool of one
/// connection does not wait for itself, in either lock mode.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_of_one_connection_runs_in_every_lock_mode() {
    let Some(database) = Database::create(Kind::Postgres).await else {
        return;
    };
    let dir = migration_dir(&[
        ("0001_t.sql", "CREATE TABLE t (id INT, c INT);\n"),
        (
            "0002_index.sql",
            "-- migrate:no-transaction\nCREATE INDEX CONCURRENTLY t_c ON t (c);\n",
        ),
    ]);
    let set = Migrations::from_dir(dir.path()).unwrap();
    for mode in [LockMode::Session, LockMode::Transaction, LockMode::Lease] {
        let pool = pool(&database, 1).await;
        sqlx::raw_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
            .execute(&pool)
            .await
            .unwrap();
        let options = Options::default()
            .lock_mode(mode)
            .lock_timeout(Duration::from_secs(5));
        let report = migrate::sqlx::upgrade(&pool, &set, Target::Head, &options)
            .await
            .unwrap();
        assert_eq!(report.steps.len(), 2, "{mode:?}");
        pool.close().await;
    }
}
