//! Eight `migrate upgrade head` processes started together on one database:
//! all succeed and every step runs exactly once (each step of the fixture
//! `logged` writes a row into `run_log`). On PostgreSQL, also with the
//! transaction-scoped lock of `--lock-mode transaction`.

use std::process::{Command, Stdio};

use serde_json::Value;

use crate::servers::{Kind, Subject, every_backend};

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
