//! Eight `migrate upgrade head` processes started together on one database:
//! all succeed and every step runs exactly once (each step of the fixture
//! `logged` writes a row into `run_log`). On PostgreSQL, also with the
//! transaction-scoped lock of `--lock-mode transaction`. A lock held from
//! the test is waited for no longer than `--lock-timeout`.

use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;
use sqlx::Connection as _;

use crate::servers::{Kind, Subject, block_on, every_backend};

/// Starts `processes` upgrades at once and asserts that together they
/// applied each of the six steps once.
fn upgrade_together(db: &Subject, processes: usize, options: &[&str]) {
    let url = db.url();
    let dir = db.project.dir.display().to_string();
    let children: Vec<_> = (0..processes)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_migrate"))
                .env_remove("DATABASE_URL")
                .env_remove("MIGRATE_DIR")
                .env_remove("RUST_LOG")
                .args(["--database-url", &url, "--dir", &dir, "--json"])
                .args(options)
                .args(["upgrade", "head"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut applied: Vec<i64> = Vec::new();
    for child in children {
        let output = child.wait_with_output().unwrap();
        let (stdout, stderr) = (
            String::from_utf8(output.stdout).unwrap(),
            String::from_utf8(output.stderr).unwrap(),
        );
        assert_eq!(
            (output.status.code(), stderr.as_str()),
            (Some(0), ""),
            "{:?}: {stdout}",
            db.kind
        );
        let report: Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(report["to"], 6, "{report}");
        applied.extend(
            report["applied"]
                .as_array()
                .unwrap()
                .iter()
                .map(|step| step["version"].as_i64().unwrap()),
        );
    }
    applied.sort_unstable();
    assert_eq!(applied, [1, 2, 3, 4, 5, 6], "the steps the reports name");
    assert_eq!(
        db.integers("SELECT version FROM run_log ORDER BY version"),
        [1, 2, 3, 4, 5, 6],
        "the steps that ran"
    );
    assert_eq!(db.versions(), [1, 2, 3, 4, 5, 6]);
    assert!(db.history().iter().all(|row| row.success));
}

every_backend!(eight_processes_apply_each_step_once);

fn eight_processes_apply_each_step_once(kind: Kind) {
    let Some(db) = Subject::new(kind, "logged") else {
        return;
    };
    upgrade_together(&db, 8, &[]);
}

#[test]
fn eight_processes_with_transaction_scoped_locks_on_postgres() {
    let Some(db) = Subject::new(Kind::Postgres, "logged") else {
        return;
    };
    upgrade_together(&db, 8, &["--lock-mode", "transaction"]);
}

#[test]
fn postgres_runs_without_a_lock_when_told() {
    let Some(db) = Subject::new(Kind::Postgres, "logged") else {
        return;
    };
    upgrade_together(&db, 1, &["--lock-mode", "none"]);
    let (code, check) = db.json(&["--lock-mode", "none", "check"]);
    assert_eq!((code, &check["verdict"]), (0, &Value::from("current")));
}

/// A step marked in flight while another run holds the SQLite run lock (the
/// file beside the database) is in progress, not dirt: `check` exits 3 and
/// says so, `status` says the database is not dirty. Once the lock is free,
/// the same mark is dirt.
#[test]
fn check_and_status_say_in_progress_while_a_run_holds_the_lock() {
    let project = crate::common::Project::fixture("app");
    project.ok(&["upgrade"]);
    project
        .open()
        .execute_batch("UPDATE _migrate_history SET success = FALSE WHERE version = 6;")
        .unwrap();
    let lock = std::fs::File::create(format!("{}-migrate.lock", project.db.display())).unwrap();
    lock.lock().unwrap();
    let check = project.run(&["check"]);
    assert_eq!(
        (check.code, check.stdout.as_str()),
        (
            3,
            "in progress: another runner is applying a migration outside a transaction; check again when it ends\n"
        )
    );
    assert_eq!(
        project.ok(&["status"]),
        "current: 6\nhead:    6\npending: 0\ndirty:   no (a migration is in progress)\ndrift:   no\n"
    );
    lock.unlock().unwrap();
    assert_eq!(
        project.run(&["check"]).code,
        1,
        "a mark nobody holds is dirt"
    );
}

/// The migration lock of a database, held from the test as another run
/// (or, on SQLite, a long write transaction) holds it, on a thread of its
/// own until dropped.
struct HeldLock {
    release: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// PostgreSQL: the server process that holds it.
    pid: Option<i32>,
}

/// PostgreSQL's key for the default history table (`lock_is_free` in
/// migrate-core's tests).
const POSTGRES_LOCK: &str =
    "SELECT pg_advisory_lock(hashtext(current_database()), hashtext('\"_migrate_history\"'))";

/// MySQL/MariaDB's named lock for the default history table, taken at once
/// (1) or not at all.
const MYSQL_LOCK: &str =
    "SELECT GET_LOCK(SHA1(CONCAT('migrate:', DATABASE(), '.', '`_migrate_history`')), 0)";

impl HeldLock {
    fn take(db: &Subject) -> HeldLock {
        let (kind, url, file) = (db.kind, db.url(), db.project.db.clone());
        let (taken, has_taken) = mpsc::channel();
        let (release, released) = mpsc::channel::<()>();
        let thread = std::thread::spawn(move || match kind {
            Kind::Sqlite => {
                let conn = rusqlite::Connection::open(file).unwrap();
                conn.execute_batch("PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE;")
                    .unwrap();
                taken.send(None).unwrap();
                let _ = released.recv();
            }
            Kind::Postgres => block_on(async {
                let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
                sqlx::query(POSTGRES_LOCK).execute(&mut conn).await.unwrap();
                let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
                    .fetch_one(&mut conn)
                    .await
                    .unwrap();
                taken.send(Some(pid)).unwrap();
                let _ = released.recv();
                conn.close().await.unwrap();
            }),
            Kind::MySql => block_on(async {
                let mut conn = sqlx::MySqlConnection::connect(&url).await.unwrap();
                let got: i64 = sqlx::query_scalar(MYSQL_LOCK)
                    .fetch_one(&mut conn)
                    .await
                    .unwrap();
                assert_eq!(got, 1, "the test could not take the lock");
                taken.send(None).unwrap();
                let _ = released.recv();
                conn.close().await.unwrap();
            }),
        });
        let pid = has_taken.recv().expect("the holder took the lock");
        HeldLock {
            release: Some(release),
            thread: Some(thread),
            pid,
        }
    }
}

impl Drop for HeldLock {
    fn drop(&mut self) {
        drop(self.release.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

every_backend!(a_held_lock_is_waited_for_up_to_the_lock_timeout);

/// `--lock-timeout` bounds the wait for a held lock: the run gives up
/// after it (not after the default 60 s, nor on SQLite after rusqlite's own
/// 5 s busy timeout), says so in one sentence, and changes nothing; once
/// the lock is free the same command applies what is pending.
fn a_held_lock_is_waited_for_up_to_the_lock_timeout(kind: Kind) {
    let Some(db) = Subject::new(kind, "portable") else {
        return;
    };
    db.ok(&["upgrade", "3"]);
    // MySQL's GET_LOCK waits whole seconds: 500 ms is rounded up, and
    // the message says what it waited.
    let (timeout, shown) = match kind {
        Kind::MySql => ("500ms", "1 s"),
        _ => ("300ms", "300 ms"),
    };
    let held = HeldLock::take(&db);
    let started = Instant::now();
    let run = db.run(&["--lock-timeout", timeout, "upgrade"]);
    let waited = started.elapsed();
    let gave_up = format!("gave up after {shown} waiting for the database lock, which ");
    let advice = "; try again, or raise the lock timeout\n";
    match held.pid {
        // The holder is named, with its client and state since a time.
        Some(pid) => assert!(
            run.stderr
                .starts_with(&format!("{gave_up}PostgreSQL server process {pid} ("))
                && run.stderr.ends_with(&format!(
                    " holds (after a killed runner, `SELECT pg_terminate_backend(pid)` frees it){advice}"
                )),
            "{}",
            run.stderr
        ),
        // MySQL names the connection that holds the named lock.
        None if kind == Kind::MySql => assert!(
            run.stderr
                .starts_with(&format!("{gave_up}MySQL connection "))
                && run.stderr.ends_with(&format!(" holds{advice}")),
            "{}",
            run.stderr
        ),
        None => assert_eq!(
            run.stderr,
            format!(
                "{gave_up}another migration run or a long write transaction holds{advice}"
            )
        ),
    }
    assert_eq!((run.code, run.stdout.as_str()), (1, ""));
    assert!(waited < Duration::from_secs(4), "waited {waited:?}");
    drop(held);
    assert_eq!(db.versions(), [1, 2, 3]);
    db.ok(&["--lock-timeout", timeout, "upgrade"]);
    assert_eq!(db.versions(), [1, 2, 3, 4, 5]);
}

/// Regression: on SQLite every verb gave up after rusqlite's 5 s busy
/// timeout, whatever the lock timeout (60 s by default), with "cannot open
/// the database …: database is locked", because the command's check that
/// the file is SQLite waited for a writer's lock on its own. Reads wait up
/// to the lock timeout and say they gave up on the lock.
#[test]
fn sqlite_reads_wait_for_a_writer_up_to_the_lock_timeout() {
    let Some(db) = Subject::new(Kind::Sqlite, "app") else {
        return;
    };
    db.ok(&["upgrade", "3"]);
    let _held = HeldLock::take(&db);
    for verb in [
        &["status"][..],
        &["current"],
        &["history"],
        &["check"],
        &["upgrade", "--dry-run"],
    ] {
        let mut args = vec!["--lock-timeout", "300ms"];
        args.extend_from_slice(verb);
        let started = Instant::now();
        let run = db.run(&args);
        assert_eq!(
            (run.code, run.stdout.as_str(), run.stderr.as_str()),
            (
                1,
                "",
                "gave up after 300 ms waiting for the database lock, which another migration run \
                 or a long write transaction holds; try again, or raise the lock timeout\n"
            ),
            "{verb:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(4), "{verb:?}");
    }
}

/// Every documented form of a duration is taken; a lock timeout longer
/// than SQLite can count (about 24.8 days) waits that long at most rather
/// than making rusqlite panic.
#[test]
fn the_lock_timeout_takes_every_documented_form() {
    let Some(db) = Subject::new(Kind::Sqlite, "app") else {
        return;
    };
    db.ok(&["upgrade", "3"]);
    for timeout in ["0", "500ms", "2s", "1.5s", "1m", "1h", "100000h"] {
        db.ok(&["--lock-timeout", timeout, "status"]);
    }
}
