//! The command's tests can use the Galera cluster and PgBouncer: the
//! helpers in `servers` give a database on every node and one behind
//! PgBouncer. These check the test servers and helpers, not `migrate`.

use crate::servers::{GaleraDatabase, Kind, PgBouncerDatabase, execute};

#[test]
fn galera_a_row_written_on_node_1_is_read_on_node_3() {
    let Some(cluster) = GaleraDatabase::create() else {
        return;
    };
    assert_eq!(
        cluster.urls().len(),
        3,
        "MIGRATE_TEST_GALERA_URLS names three nodes"
    );
    execute(
        Kind::MySql,
        &cluster.urls()[0],
        "CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (7)",
    )
    .unwrap();
    assert_eq!(cluster.integers(2, "SELECT id FROM t"), [7]);
}

#[test]
fn pgbouncer_a_transaction_through_it_is_read_directly() {
    let Some(bouncer) = PgBouncerDatabase::create() else {
        return;
    };
    assert_ne!(bouncer.url(), bouncer.direct_url());
    execute(
        Kind::Postgres,
        bouncer.url(),
        "BEGIN; CREATE TABLE t (id INT); INSERT INTO t VALUES (7); COMMIT",
    )
    .unwrap();
    assert_eq!(bouncer.integers("SELECT id::int8 FROM t"), [7]);
}

/// `n` migrations: each creates a table and adds one row to `log`, so a step
/// applied twice shows (a duplicate key).
fn logging_set(n: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("0001_log.sql"),
        "CREATE TABLE log (n INT NOT NULL PRIMARY KEY);\nINSERT INTO log VALUES (1);\n",
    )
    .unwrap();
    for i in 2..=n {
        std::fs::write(
            dir.path().join(format!("{i:04}_m{i}.sql")),
            format!("CREATE TABLE t{i} (id INT PRIMARY KEY);\nINSERT INTO log VALUES ({i});\n"),
        )
        .unwrap();
    }
    dir
}

/// Starts `migrate ARGS…` without waiting for it.
fn spawn(args: &[&str]) -> std::process::Child {
    std::process::Command::new(assert_cmd::cargo::cargo_bin!("migrate"))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for a runner: its exit code and stderr.
fn finish(child: std::process::Child) -> (i32, String) {
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Issue 11's acceptance: 9 runners at once, 3 on each node of a Galera
/// cluster, 5 rounds, no lock mode given: all exit 0, each migration is
/// applied once (the `log` rows), and every node has the same history.
/// (Before the lease, two of three failed in every round: `GET_LOCK` is
/// local to one node.)
#[test]
fn galera_nine_runners_on_three_nodes_apply_each_step_once() {
    let dir = logging_set(20);
    let migrations = dir.path().display().to_string();
    for round in 1..=5 {
        let Some(cluster) = GaleraDatabase::create() else {
            return;
        };
        let runners: Vec<_> = (0..9)
            .map(|i| {
                let url = &cluster.urls()[i % 3];
                spawn(&["--database-url", url, "--dir", &migrations, "upgrade"])
            })
            .collect();
        for runner in runners {
            let (code, stderr) = finish(runner);
            assert_eq!((code, stderr.as_str()), (0, ""), "round {round}");
        }
        let expected: Vec<i64> = (1..=20).collect();
        for node in 0..3 {
            assert_eq!(
                cluster.integers(node, "SELECT n FROM log ORDER BY n"),
                expected,
                "round {round}, node {node}"
            );
            assert_eq!(
                cluster.integers(
                    node,
                    "SELECT version FROM _migrate_history WHERE success ORDER BY version"
                ),
                expected,
                "round {round}, node {node}"
            );
            assert_eq!(
                cluster.integers(node, "SELECT count(*) FROM _migrate_history_lock"),
                [0],
                "the lease is given back"
            );
        }
    }
}

/// A runner killed (`kill -9`) in the middle of a long step without DDL:
/// the step's transaction dies with it, the others take over once its lease
/// expires, every step is applied once, and nothing is dirty.
#[test]
fn galera_a_killed_runner_s_lease_expires_and_the_others_finish() {
    let Some(cluster) = GaleraDatabase::create() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("0001_log.sql"),
        "CREATE TABLE log (n INT NOT NULL PRIMARY KEY);\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("0002_slow.sql"),
        "INSERT INTO log VALUES (2);\nSELECT SLEEP(4);\nINSERT INTO log VALUES (3);\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("0003_after.sql"),
        "INSERT INTO log VALUES (4);\n",
    )
    .unwrap();
    let migrations = dir.path().display().to_string();
    let args = |url: &str| -> Vec<String> {
        [
            "--database-url",
            url,
            "--dir",
            &migrations,
            "--lease-duration",
            "2s",
            "upgrade",
        ]
        .map(str::to_owned)
        .to_vec()
    };
    let first = args(&cluster.urls()[0]);
    let mut victim = spawn(&first.iter().map(String::as_str).collect::<Vec<_>>());
    // Migration 1 takes a moment; then the victim sleeps in the slow step
    // (4 s), its first row written but not committed.
    std::thread::sleep(std::time::Duration::from_millis(2000));
    victim.kill().unwrap();
    let _ = victim.wait();
    let others: Vec<_> = [1, 2]
        .into_iter()
        .map(|node| {
            let args = args(&cluster.urls()[node]);
            spawn(&args.iter().map(String::as_str).collect::<Vec<_>>())
        })
        .collect();
    for other in others {
        let (code, stderr) = finish(other);
        assert_eq!((code, stderr.as_str()), (0, ""));
    }
    for node in 0..3 {
        assert_eq!(
            cluster.integers(node, "SELECT n FROM log ORDER BY n"),
            [2, 3, 4]
        );
        assert_eq!(
            cluster.integers(
                node,
                "SELECT version FROM _migrate_history WHERE success ORDER BY version"
            ),
            [1, 2, 3],
            "nothing dirty"
        );
        assert_eq!(
            cluster.integers(
                node,
                "SELECT count(*) FROM _migrate_history WHERE NOT success"
            ),
            [0]
        );
    }
}

/// Issue 11's acceptance: 12 runners at once through PgBouncer in
/// transaction pooling mode (4 server connections), 5 rounds, in
/// `transaction` and in `lease` lock mode (and the default): all exit 0,
/// each step applied once. (Before, most failed with `prepared statement
/// "sqlx_s_3" already exists`.)
#[test]
fn pgbouncer_twelve_runners_apply_each_step_once_in_every_lock_mode() {
    let dir = logging_set(12);
    let migrations = dir.path().display().to_string();
    for mode in ["transaction", "lease", "session"] {
        for round in 1..=5 {
            let Some(bouncer) = PgBouncerDatabase::create() else {
                return;
            };
            let runners: Vec<_> = (0..12)
                .map(|_| {
                    spawn(&[
                        "--database-url",
                        bouncer.url(),
                        "--dir",
                        &migrations,
                        "--lock-mode",
                        mode,
                        "upgrade",
                    ])
                })
                .collect();
            for runner in runners {
                let (code, stderr) = finish(runner);
                assert_eq!((code, stderr.as_str()), (0, ""), "{mode}, round {round}");
            }
            assert_eq!(
                bouncer.integers("SELECT n::int8 FROM log ORDER BY n"),
                (1..=12).collect::<Vec<i64>>(),
                "{mode}, round {round}"
            );
        }
    }
}

/// PostgreSQL (direct): a runner killed with `kill -9` in the middle of a
/// step loses the migration lock at once (it is held in the open
/// transaction of a connection that is then gone), so the next runner does
/// not wait for it, finishes the run, and every step is applied once.
#[test]
fn postgres_a_killed_runner_s_lock_goes_with_it() {
    let Some(database) = crate::servers::ServerDatabase::create(Kind::Postgres) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("0001_log.sql"),
        "CREATE TABLE log (n INT PRIMARY KEY);\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("0002_slow.sql"),
        "INSERT INTO log VALUES (2);\nSELECT pg_sleep(6);\n",
    )
    .unwrap();
    let migrations = dir.path().display().to_string();
    let args = [
        "--database-url",
        database.url(),
        "--dir",
        &migrations,
        "upgrade",
    ];
    let mut victim = spawn(&args);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    victim.kill().unwrap();
    let _ = victim.wait();
    let started = std::time::Instant::now();
    let (code, stderr) = finish(spawn(&[
        "--database-url",
        database.url(),
        "--dir",
        &migrations,
        "--lock-timeout",
        "3s",
        "upgrade",
    ]));
    assert_eq!((code, stderr.as_str()), (0, ""));
    // The lock was free at once: the next runner waited only for the step
    // it ran itself (the orphaned step's row lock, until its statement
    // noticed its client gone), not for a lock timeout.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    let versions = pg_integers(
        database.url(),
        "SELECT version FROM _migrate_history WHERE success ORDER BY version",
    );
    assert_eq!(versions, [1, 2]);
    assert_eq!(pg_integers(database.url(), "SELECT n::int8 FROM log"), [2]);
}

fn pg_integers(url: &str, query: &str) -> Vec<i64> {
    crate::servers::block_on(async {
        let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(url)
            .await
            .unwrap();
        sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(query.to_owned()))
            .fetch_all(&mut conn)
            .await
            .unwrap()
    })
}
