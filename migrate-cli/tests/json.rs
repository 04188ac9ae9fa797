//! Every verb with `--json`: one document on stdout in SPEC.md's shape,
//! asserted field by field against the database itself.

use migrate::Migrations;
use serde_json::{Value, json};

use crate::common::{APP_NAMES, Project, history_rows, zero_durations};

fn app_checksum(version: i64) -> String {
    let set = Migrations::from_dir(crate::common::workspace().join("fixtures/app")).unwrap();
    set.get(version).unwrap().checksum().to_owned()
}

#[test]
fn the_lifecycle_in_json() {
    let project = Project::copy_of("app");

    // current on an empty (but existing) database: an empty file is one.
    std::fs::write(&project.db, b"").unwrap();
    assert_eq!(
        project.run(&["--json", "current"]).json(),
        json!({"version": null, "name": null, "head": false})
    );

    // upgrade +3 from nothing.
    let upgrade = project.run(&["--json", "upgrade", "+3"]);
    assert_eq!(upgrade.stderr, "");
    assert_eq!(
        zero_durations(upgrade.json()),
        json!({
            "from": null,
            "to": 3,
            "applied": [
                {"version": 1, "name": "create_users", "duration_ms": 0},
                {"version": 2, "name": "create_tokens", "duration_ms": 0},
                {"version": 3, "name": "create_items", "duration_ms": 0},
            ],
            "backup": null,
        })
    );

    assert_eq!(
        project.run(&["--json", "current"]).json(),
        json!({"version": 3, "name": "create_items", "head": false})
    );
    assert_eq!(
        project.run(&["--json", "status"]).json(),
        json!({"current": 3, "head": 6, "pending": 3, "dirty": false, "drift": false})
    );

    // history: applied rows exactly as stored, pending ones with nulls.
    let rows = history_rows(&project.open());
    let history = project.run(&["--json", "history"]).json();
    let expected: Vec<Value> = (1..=6)
        .map(|version| {
            let row = rows.iter().find(|row| row.version == version);
            json!({
                "version": version,
                "name": APP_NAMES[version as usize - 1],
                "state": if row.is_some() { "applied" } else { "pending" },
                "checksum": app_checksum(version),
                "applied_at": row.map(|row| row.applied_at.clone()),
                "execution_ms": row.map(|row| row.execution_ms),
            })
        })
        .collect();
    assert_eq!(history, Value::Array(expected));
    assert_eq!(rows.len(), 3);

    // check: pending, with the verdict.
    let check = project.run(&["--json", "check"]);
    assert_eq!(check.code, 3);
    assert_eq!(
        check.json(),
        json!({"current": 3, "head": 6, "pending": 3, "dirty": false, "drift": false, "verdict": "pending"})
    );

    // downgrade -2.
    assert_eq!(
        zero_durations(project.run(&["--json", "downgrade", "-2"]).json()),
        json!({
            "from": 3,
            "to": 1,
            "reverted": [
                {"version": 3, "name": "create_items", "duration_ms": 0},
                {"version": 2, "name": "create_tokens", "duration_ms": 0},
            ],
        })
    );

    // stamp head.
    assert_eq!(
        project.run(&["--json", "stamp", "head"]).json(),
        json!({"from": 1, "to": 6, "stamped": [
            {"version": 2, "name": "create_tokens", "change": "recorded"},
            {"version": 3, "name": "create_items", "change": "recorded"},
            {"version": 4, "name": "index_items_owner", "change": "recorded"},
            {"version": 5, "name": "users_display_name", "change": "recorded"},
            {"version": 6, "name": "users_item_count", "change": "recorded"},
        ]})
    );
    let check = project.run(&["--json", "check"]);
    assert_eq!(
        (check.code, check.json()),
        (
            0,
            json!({"current": 6, "head": 6, "pending": 0, "dirty": false, "drift": false, "verdict": "current"})
        )
    );

    // upgrade with nothing to do.
    assert_eq!(
        project.run(&["--json", "upgrade"]).json(),
        json!({"from": 6, "to": 6, "applied": [], "backup": null})
    );

    // new.
    let new = project.run(&["--json", "new", "add_email"]);
    assert_eq!(
        new.json(),
        json!({"version": 7, "files": [project.dir.join("0007_add_email.sql")]})
    );
}

#[test]
fn drift_and_dirt_show_in_json() {
    let project = Project::copy_of("app");
    project.ok(&["upgrade", "2"]);
    project
        .open()
        .execute_batch(
            "INSERT INTO _migrate_history VALUES (99, 'later', 'x', NULL, '2030-01-01T00:00:00.000000Z', 0, TRUE)",
        )
        .unwrap();
    let check = project.run(&["--json", "check"]);
    assert_eq!(
        (check.code, check.json()),
        (
            1,
            json!({"current": 99, "head": 6, "pending": 4, "dirty": false, "drift": true, "verdict": "drift"})
        )
    );
    let history = project.run(&["--json", "history"]).json();
    assert_eq!(history[6]["version"], 99);
    assert_eq!(history[6]["state"], "unknown");
    assert_eq!(history[6]["checksum"], "x");

    project
        .open()
        .execute_batch("UPDATE _migrate_history SET success = FALSE WHERE version = 2")
        .unwrap();
    let check = project.run(&["--json", "check"]);
    assert_eq!(check.code, 1);
    assert_eq!(check.json()["verdict"], "dirty");
    assert_eq!(
        project.run(&["--json", "history"]).json()[1]["state"],
        "dirty"
    );
}

#[test]
fn an_error_is_a_document_on_stdout_and_a_sentence_on_stderr() {
    let project = Project::fixture("app");
    let run = project.run(&["--json", "current"]);
    let message = format!(
        "the database {} does not exist; check --database-url, or run `migrate upgrade` to create it",
        project.url()
    );
    assert_eq!(run.code, 1);
    assert_eq!(run.json(), json!({"error": message}));
    assert_eq!(run.stderr, format!("{message}\n"));
}

#[test]
fn a_failed_upgrade_reports_the_steps_that_stay_applied() {
    let project = Project::fixture("failing");
    let run = project.run(&["--json", "upgrade"]);
    assert_eq!(run.code, 1);
    let message = "migration 2 (0002_broken.up.sql) failed at statement 3 \
                   (`INSERT INTO missing_table (id) VALUES (2);`): no such table: missing_table; \
                   it was rolled back, so the database is as it was before this migration: \
                   fix the script and run again";
    assert_eq!(
        zero_durations(run.json()),
        json!({"error": message, "completed": [{"version": 1, "name": "a", "duration_ms": 0}]})
    );
    assert_eq!(run.stderr, format!("{message}\n"));
    assert_eq!(project.versions(), [1]);
}

#[test]
fn usage_errors_are_documents_too() {
    let run = crate::common::migrate(&["--json", "downgrade", "+0"]);
    assert_eq!(run.code, 2);
    assert_eq!(
        run.json(),
        json!({"error": "invalid value '+0' for '<TARGET>': `+0` is not a migration target; use `head`, `base`, `+N` or `-N` with N at least 1, or a version number"})
    );
    let run = crate::common::migrate(&["--json", "status"]);
    assert_eq!(run.code, 2);
    assert_eq!(
        run.json(),
        json!({"error": "no database given: pass --database-url URL, or set DATABASE_URL in the environment or in a `.env` file"})
    );
    // Regression: what is missing stood on clap's next line, and the
    // document held only "the following required arguments were not
    // provided:".
    let run = crate::common::migrate(&["--json", "downgrade"]);
    assert_eq!(run.code, 2);
    assert_eq!(
        run.json(),
        json!({"error": "the following required arguments were not provided: <TARGET>"})
    );
}

#[test]
fn logs_never_mix_into_json_stdout() {
    let project = Project::fixture("app");
    let run = project.run(&["-vvv", "--json", "upgrade", "+1"]);
    assert_eq!(run.code, 0);
    assert_eq!(run.json()["to"], 1);
    assert!(run.stderr.contains("applied"), "{}", run.stderr);
}
