//! `--sql` and `--dry-run`: they change nothing (the database file stays
//! byte-identical, a missing one is not created), and the SQL, run by
//! hand, leaves the database exactly as the real run would.

use serde_json::json;

use crate::common::{Project, history_rows, migrate, schema, snapshot_files, stable};

/// Runs a preview and asserts the database's directory did not change.
fn unchanged(project: &Project, args: &[&str]) -> String {
    let before = snapshot_files(project.tmp.path());
    let out = project.ok(args);
    let after = snapshot_files(project.tmp.path());
    let names = |files: &[(String, Vec<u8>)]| files.iter().map(|f| f.0.clone()).collect::<Vec<_>>();
    assert_eq!(
        names(&after),
        names(&before),
        "{args:?} added or removed files"
    );
    assert!(after == before, "{args:?} changed the database's bytes");
    out
}

#[test]
fn previews_leave_the_database_byte_identical() {
    let project = Project::fixture("app");
    // A missing database: planned as empty, not created.
    for args in [&["upgrade", "--sql"][..], &["upgrade", "--dry-run"]] {
        unchanged(&project, args);
        assert!(!project.db.exists(), "{args:?} created the database");
    }
    project.ok(&["upgrade", "3"]);
    for args in [
        &["upgrade", "--sql"][..],
        &["upgrade", "--dry-run"],
        &["upgrade", "+1", "--sql"],
        &["downgrade", "base", "--sql"],
        &["downgrade", "-1", "--dry-run"],
        &["--json", "upgrade", "--sql"],
        &["--json", "downgrade", "-2", "--dry-run"],
    ] {
        unchanged(&project, args);
    }
    assert_eq!(project.versions(), [1, 2, 3]);
}

#[test]
fn dry_run_says_which_steps_would_run() {
    let project = Project::fixture("app");
    assert_eq!(
        project.ok(&["upgrade", "+2", "--dry-run"]),
        "would apply 1 create_users (0001_create_users.up.sql)\n\
         would apply 2 create_tokens (0002_create_tokens.up.sql)\n\
         would upgrade from base to 2; nothing was changed\n"
    );
    project.ok(&["upgrade", "3"]);
    assert_eq!(
        project.ok(&["downgrade", "1", "--dry-run"]),
        "would revert 3 create_items (0003_create_items.down.sql)\n\
         would revert 2 create_tokens (0002_create_tokens.down.sql)\n\
         would downgrade from 3 to 1; nothing was changed\n"
    );
    assert_eq!(
        project.run(&["--json", "upgrade", "--dry-run"]).json(),
        json!({
            "from": 3,
            "to": 6,
            "applied": [
                {"version": 4, "name": "index_items_owner", "file": "0004_index_items_owner.up.sql"},
                {"version": 5, "name": "users_display_name", "file": "0005_users_display_name.up.sql"},
                {"version": 6, "name": "users_item_count", "file": "0006_users_item_count.up.sql"},
            ],
            "dry_run": true,
        })
    );
    project.ok(&["upgrade"]);
    assert_eq!(
        project.ok(&["upgrade", "--dry-run"]),
        "nothing to upgrade: the database is at 6\n"
    );
}

#[test]
fn dry_run_refuses_what_the_run_would_refuse() {
    let project = Project::fixture("up_only");
    project.ok(&["upgrade"]);
    let refused = project.run(&["downgrade", "-1", "--dry-run"]);
    assert_eq!(
        (refused.code, refused.stderr.as_str()),
        (
            1,
            "cannot downgrade past migration 3 (0003_seed.sql): it has no down script, neither in this build nor recorded when it was applied; nothing was changed\n"
        )
    );
}

#[test]
fn upgrade_sql_run_by_hand_equals_the_upgrade() {
    let by_hand = Project::fixture("app");
    let by_migrate = Project::fixture("app");
    for project in [&by_hand, &by_migrate] {
        project.ok(&["upgrade", "2"]);
    }
    let sql = by_hand.ok(&["upgrade", "--sql"]);
    assert!(!sql.contains("CREATE TABLE IF NOT EXISTS \"_migrate_history\""));
    assert_eq!(sql.matches("BEGIN IMMEDIATE;").count(), 4);
    assert_eq!(sql.matches("COMMIT;").count(), 4);
    by_hand.open().execute_batch(&sql).unwrap();
    by_migrate.ok(&["upgrade"]);

    let (hand, real) = (by_hand.open(), by_migrate.open());
    assert_eq!(schema(&hand), schema(&real));
    let strip = |rows: Vec<crate::common::Row>| {
        rows.into_iter()
            .map(|row| {
                (
                    row.version,
                    row.name,
                    row.checksum,
                    row.down_sql,
                    row.success,
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(history_rows(&hand)), strip(history_rows(&real)));
    // The printed times follow the recorded ones, strictly increasing.
    let times: Vec<String> = history_rows(&hand)
        .into_iter()
        .map(|row| row.applied_at)
        .collect();
    assert!(times.windows(2).all(|pair| pair[0] < pair[1]), "{times:?}");
    // And the library agrees: at head, consistent.
    assert_eq!(by_hand.run(&["check"]).code, 0);
}

/// The printed SQL without the summary's writes (one per run, after its
/// last history write; tested apart).
fn without_summary(sql: &str) -> String {
    sql.lines()
        .filter(|line| !line.starts_with("UPDATE \"_migrate_history_summary\""))
        .map(|line| format!("{line}\n"))
        .collect()
}

#[test]
fn downgrade_sql_run_by_hand_equals_the_downgrade() {
    let project = Project::fixture("app");
    project.ok(&["upgrade"]);
    let sql = project.ok(&["downgrade", "-2", "--sql"]);
    // The summary of 4 rows, in the last step's transaction.
    assert!(
        sql.contains(
            "DELETE FROM \"_migrate_history\" WHERE version = 5;\n\
             UPDATE \"_migrate_history_summary\" SET digest = CASE id WHEN 1 THEN '4:"
        ),
        "{sql}"
    );
    assert!(without_summary(&sql).ends_with(
        "\n-- revert 5 users_display_name (0005_users_display_name.down.sql)\n\
         BEGIN IMMEDIATE;\n\
         ALTER TABLE users DROP COLUMN display_name;\n\
         DELETE FROM \"_migrate_history\" WHERE version = 5;\n\
         COMMIT;\n"
    ));
    project.open().execute_batch(&sql).unwrap();
    assert_eq!(project.versions(), [1, 2, 3, 4]);
    assert_eq!(project.ok(&["current"]), "4 index_items_owner\n");
}

#[test]
fn sql_from_a_missing_database_starts_with_the_history_table() {
    let project = Project::fixture("app");
    let sql = project.ok(&["upgrade", "--sql"]);
    assert!(!project.db.exists());
    assert!(sql.starts_with(
        "-- upgrade from base to 6: 6 steps\n\n\
         CREATE TABLE IF NOT EXISTS \"_migrate_history\" (version BIGINT PRIMARY KEY, name TEXT NOT NULL, \
         checksum TEXT NOT NULL, down_sql TEXT NULL, applied_at TEXT NOT NULL, execution_ms BIGINT NOT NULL, \
         success BOOLEAN NOT NULL) WITHOUT ROWID;\n"
    ));
    project.open().execute_batch(&sql).unwrap();
    assert_eq!(project.versions(), [1, 2, 3, 4, 5, 6]);
    assert_eq!(project.run(&["check"]).code, 0);
}

#[test]
fn offline_sql_needs_no_database() {
    // No --database-url at all: --from says where the database is.
    let run = migrate(&["--dir", "fixtures/app", "upgrade", "--sql", "--from", "4"]);
    insta::assert_snapshot!("offline_upgrade_sql_from_4", stable(run.ok()));

    // Running it on a database at 4 takes it to head.
    let project = Project::fixture("app");
    project.ok(&["upgrade", "4"]);
    project.open().execute_batch(&run.stdout).unwrap();
    assert_eq!(project.run(&["check"]).code, 0);

    // From base: the history table first; from head, a downgrade to base.
    let from_base = migrate(&[
        "--dir",
        "fixtures/app",
        "upgrade",
        "--sql",
        "--from",
        "base",
    ]);
    assert!(from_base.ok().contains("CREATE TABLE IF NOT EXISTS"));
    let down = migrate(&[
        "--dir",
        "fixtures/app",
        "downgrade",
        "base",
        "--sql",
        "--from",
        "head",
    ]);
    assert_eq!(
        down.ok()
            .matches("DELETE FROM \"_migrate_history\"")
            .count(),
        6
    );
    assert_eq!(
        migrate(&[
            "--dir",
            "fixtures/app",
            "upgrade",
            "--dry-run",
            "--from",
            "+5"
        ])
        .ok(),
        "would apply 6 users_item_count (0006_users_item_count.up.sql)\n\
         would upgrade from 5 to 6; nothing was changed\n"
    );
}

#[test]
fn offline_planning_refuses_unknown_versions_and_bad_forms() {
    let unknown = migrate(&["--dir", "fixtures/app", "upgrade", "--sql", "--from", "9"]);
    assert_eq!(
        (unknown.code, unknown.stderr.as_str()),
        (
            1,
            "no migration has version 9, neither in this build nor in the database; use a version that `migrate history` lists\n"
        )
    );
    let back = migrate(&["--dir", "fixtures/app", "upgrade", "--sql", "--from", "-1"]);
    assert_eq!(back.code, 2);
    assert!(back.stderr.starts_with(
        "error: invalid value '-1' for '--from <VERSION>': `-1` is not a version to plan from; use `base`, `head`, `+N` or a version number\n"
    ), "{}", back.stderr);
    let alone = migrate(&["--dir", "fixtures/app", "upgrade", "--from", "3"]);
    assert_eq!(alone.code, 2);
    assert!(
        alone.stderr.starts_with(
            "error: the following required arguments were not provided:\n  <--sql|--dry-run>\n"
        ),
        "{}",
        alone.stderr
    );
    let both = migrate(&["--dir", "fixtures/app", "upgrade", "--sql", "--dry-run"]);
    assert_eq!(both.code, 2);
    assert!(
        both.stderr
            .starts_with("error: the argument '--sql' cannot be used with '--dry-run'\n"),
        "{}",
        both.stderr
    );
}

#[test]
fn no_transaction_scripts_are_printed_outside_a_transaction_with_a_dirty_mark_first() {
    // The in-flight mark commits under the write lock before the script
    // runs, as the runner does it (the printed SQL once left out the
    // transaction around the mark).
    let project = Project::with_files(&[
        (
            "0001_t.up.sql",
            "CREATE TABLE t (id INTEGER PRIMARY KEY, note TEXT);\n",
        ),
        ("0001_t.down.sql", "DROP TABLE t;\n"),
        (
            "0002_index.up.sql",
            "-- migrate:no-transaction\nCREATE INDEX t_note ON t (note)",
        ),
        (
            "0002_index.down.sql",
            "-- migrate:no-transaction\nDROP INDEX t_note; -- it's gone\n",
        ),
    ]);
    project.ok(&["upgrade", "1"]);
    let sql = project.ok(&["upgrade", "--sql"]);
    let checksum =
        migrate_files::checksum(b"-- migrate:no-transaction\nCREATE INDEX t_note ON t (note)");
    // The summary once the step is done, not while it is in flight.
    assert_eq!(sql.matches("_migrate_history_summary").count(), 1, "{sql}");
    assert!(
        sql.contains(
            "WHERE version = 2;\nUPDATE \"_migrate_history_summary\" SET digest = CASE id WHEN 1 THEN '2:"
        ) && sql.ends_with("WHERE id = 1 AND changes = 2 OR id = 2;\n"),
        "{sql}"
    );
    assert_eq!(
        stable(&without_summary(&sql)),
        format!(
            "-- upgrade from 1 to 2: 1 step\n\
             \n\
             -- apply 2 index (0002_index.up.sql), outside a transaction\n\
             BEGIN IMMEDIATE;\n\
             INSERT INTO \"_migrate_history\" (version, name, checksum, down_sql, applied_at, execution_ms, success) \
             VALUES (2, 'index', '{checksum}', \
             '-- migrate:no-transaction\nDROP INDEX t_note; -- it''s gone\n', 'YYYY-MM-DDTHH:MM:SS.ffffffZ', 0, FALSE);\n\
             COMMIT;\n\
             -- migrate:no-transaction\n\
             CREATE INDEX t_note ON t (note)\n\
             ;\n\
             UPDATE \"_migrate_history\" SET success = TRUE, execution_ms = 0 WHERE version = 2;\n"
        )
    );
    project.open().execute_batch(&sql).unwrap();
    let rows = history_rows(&project.open());
    assert_eq!(
        rows[1].down_sql.as_deref(),
        Some("-- migrate:no-transaction\nDROP INDEX t_note; -- it's gone\n")
    );
    assert!(rows[1].success);
    assert_eq!(project.run(&["check"]).code, 0);

    let down = project.ok(&["downgrade", "-1", "--sql"]);
    assert!(
        without_summary(&down).ends_with(
            "BEGIN IMMEDIATE;\n\
         UPDATE \"_migrate_history\" SET success = FALSE, execution_ms = 0 WHERE version = 2;\n\
         COMMIT;\n\
         -- migrate:no-transaction\n\
         DROP INDEX t_note; -- it's gone\n\
         ;\n\
         DELETE FROM \"_migrate_history\" WHERE version = 2;\n"
        ),
        "{down}"
    );
    project.open().execute_batch(&down).unwrap();
    assert_eq!(project.versions(), [1]);
}

#[test]
fn sql_in_json_is_the_same_text() {
    let project = Project::fixture("app");
    project.ok(&["upgrade"]);
    let text = project.ok(&["downgrade", "-1", "--sql"]);
    let document = project.run(&["--json", "downgrade", "-1", "--sql"]).json();
    assert_eq!(
        document["sql"].as_str().unwrap().trim_end(),
        text.trim_end()
    );
}
