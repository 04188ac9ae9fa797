//! A database's whole life through the command line, in human output:
//! upgrade head, current, history, status, downgrade -1, downgrade base,
//! upgrade +2, stamp, check (0, 3, 1), new + upgrade.

use crate::common::{Project, schema, stable};

#[test]
fn a_database_from_first_upgrade_to_a_new_migration() {
    let project = Project::copy_of("app");

    // upgrade head: every step, then where it ended.
    let out = project.ok(&["upgrade", "head"]);
    assert_eq!(
        stable(&out),
        "applied 1 create_users (N ms)\n\
         applied 2 create_tokens (N ms)\n\
         applied 3 create_items (N ms)\n\
         applied 4 index_items_owner (N ms)\n\
         applied 5 users_display_name (N ms)\n\
         applied 6 users_item_count (N ms)\n\
         upgraded from base to 6\n"
    );
    assert_eq!(project.versions(), [1, 2, 3, 4, 5, 6]);

    assert_eq!(project.ok(&["current"]), "6 users_item_count (head)\n");
    insta::assert_snapshot!("history_at_head", stable(&project.ok(&["history"])));
    assert_eq!(
        project.ok(&["status"]),
        "current: 6\nhead:    6\npending: 0\ndirty:   no\ndrift:   no\n"
    );
    // Again: nothing to do, nothing changes.
    assert_eq!(
        project.ok(&["upgrade"]),
        "nothing to upgrade: the database is at 6\n"
    );

    // downgrade -1, then base.
    assert_eq!(
        stable(&project.ok(&["downgrade", "-1"])),
        "reverted 6 users_item_count (N ms)\ndowngraded from 6 to 5\n"
    );
    assert_eq!(project.ok(&["current"]), "5 users_display_name\n");
    assert_eq!(
        stable(&project.ok(&["downgrade", "base"])),
        "reverted 5 users_display_name (N ms)\n\
         reverted 4 index_items_owner (N ms)\n\
         reverted 3 create_items (N ms)\n\
         reverted 2 create_tokens (N ms)\n\
         reverted 1 create_users (N ms)\n\
         downgraded from 5 to base\n"
    );
    assert_eq!(project.versions(), Vec::<i64>::new());
    assert_eq!(schema(&project.open()), []);
    assert_eq!(project.ok(&["current"]), "base: no migration is applied\n");

    // upgrade +2.
    assert_eq!(
        stable(&project.ok(&["upgrade", "+2"])),
        "applied 1 create_users (N ms)\napplied 2 create_tokens (N ms)\nupgraded from base to 2\n"
    );
    assert_eq!(project.versions(), [1, 2]);

    // check: 3 while migrations are pending.
    let pending = project.run(&["check"]);
    assert_eq!(
        (
            pending.code,
            pending.stdout.as_str(),
            pending.stderr.as_str()
        ),
        (
            3,
            "pending: 4 migrations to apply (at 2, head 6); run `migrate upgrade`\n",
            ""
        )
    );

    // stamp head: recorded, no script ran (no `items` table appears).
    let tables_before = schema(&project.open());
    assert_eq!(
        project.ok(&["stamp", "head"]),
        "recorded 3 create_items as applied\nrecorded 4 index_items_owner as applied\nrecorded 5 users_display_name as applied\nrecorded 6 users_item_count as applied\nstamped the history at 6 (it was at 2); no script ran\n"
    );
    assert_eq!(project.versions(), [1, 2, 3, 4, 5, 6]);
    assert_eq!(schema(&project.open()), tables_before);

    // check: 0 at head.
    let current = project.run(&["check"]);
    assert_eq!(
        (current.code, current.stdout.as_str()),
        (0, "ok: the database is at head (6)\n")
    );

    // stamp 2 forgets 3..=6 again, so they can run for real.
    assert_eq!(
        project.ok(&["stamp", "2"]),
        "removed 3 create_items from the history\nremoved 4 index_items_owner from the history\nremoved 5 users_display_name from the history\nremoved 6 users_item_count from the history\nstamped the history at 2 (it was at 6); no script ran\n"
    );
    project.ok(&["upgrade"]);

    // check: 1 once an applied file is edited (drift).
    let edited = project.dir.join("0002_create_tokens.up.sql");
    let original = std::fs::read_to_string(&edited).unwrap();
    std::fs::write(&edited, format!("{original}\n-- edited\n")).unwrap();
    let drift = project.run(&["check"]);
    assert_eq!(
        (drift.code, drift.stdout.as_str()),
        (
            1,
            "drift: the applied migrations differ from this directory's: migration 2 (create_tokens) was edited after it was applied; run `migrate history` to see every difference\n"
        )
    );
    std::fs::write(&edited, original).unwrap();

    // new + upgrade: the next version in the directory's style.
    assert_eq!(
        project.anonymous(&project.ok(&["new", "add_email_verified", "--reversible"])),
        "created [TMP]/migrations/0007_add_email_verified.up.sql\n\
         created [TMP]/migrations/0007_add_email_verified.down.sql\n"
    );
    std::fs::write(
        project.dir.join("0007_add_email_verified.up.sql"),
        "ALTER TABLE users ADD COLUMN email_verified BOOLEAN NOT NULL DEFAULT FALSE;\n",
    )
    .unwrap();
    std::fs::write(
        project.dir.join("0007_add_email_verified.down.sql"),
        "ALTER TABLE users DROP COLUMN email_verified;\n",
    )
    .unwrap();
    assert_eq!(project.run(&["check"]).code, 3);
    assert_eq!(
        stable(&project.ok(&["upgrade"])),
        "applied 7 add_email_verified (N ms)\nupgraded from 6 to 7\n"
    );
    assert_eq!(project.ok(&["current"]), "7 add_email_verified (head)\n");
    assert_eq!(project.run(&["check"]).code, 0);
    let has_column: i64 = project
        .open()
        .query_row(
            "SELECT count(*) FROM pragma_table_info('users') WHERE name = 'email_verified'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(has_column, 1);
}

#[test]
fn a_dirty_database_fails_check_and_shows_in_history() {
    let project = Project::with_files(&[
        ("0001_a.sql", "CREATE TABLE a (id INTEGER PRIMARY KEY);\n"),
        (
            "0002_b.sql",
            "-- migrate:no-transaction\nCREATE TABLE b (id INTEGER PRIMARY KEY);\nINSERT INTO missing (id) VALUES (1);\n",
        ),
    ]);
    let failed = project.run(&["upgrade"]);
    assert_eq!(failed.code, 1);
    assert_eq!(stable(&failed.stdout), "applied 1 a (N ms)\n");
    assert_eq!(
        failed.stderr,
        "migration 2 (0002_b.sql) failed at statement 2 (`INSERT INTO missing (id) VALUES (1);`): \
         no such table: missing; it ran outside a transaction, so the database may be partly changed \
         and is marked dirty at 2: repair it by hand, then run `migrate stamp`\n"
    );
    let dirty = project.run(&["check"]);
    assert_eq!(
        (dirty.code, dirty.stdout.as_str()),
        (
            1,
            "dirty: migration 2 (b) failed or was interrupted outside a transaction; repair the schema, then `migrate stamp` (`migrate upgrade` says at which version)\n"
        )
    );
    assert!(stable(&project.ok(&["history"])).contains("\n2        b     dirty    "));
    assert_eq!(
        project.ok(&["status"]),
        "current: 2\nhead:    2\npending: 0\ndirty:   yes\ndrift:   no\n"
    );
    // Repaired by hand, the stamp clears the mark.
    project.ok(&["stamp", "2"]);
    assert_eq!(project.run(&["check"]).code, 0);
}

#[test]
fn history_names_every_state() {
    let project = Project::copy_of("app");
    project.ok(&["upgrade", "3"]);
    let conn = project.open();
    conn.execute_batch(
        "UPDATE _migrate_history SET checksum = 'edited-since' WHERE version = 2;
         INSERT INTO _migrate_history VALUES (4, 'index_items_owner', 'x', NULL, '2030-01-01T00:00:00.000000Z', 0, FALSE);
         INSERT INTO _migrate_history VALUES (99, 'gone_from_this_build', 'y', NULL, '2030-01-02T00:00:00.000000Z', 1234, TRUE);",
    )
    .unwrap();
    insta::assert_snapshot!("history_every_state", stable(&project.ok(&["history"])));
}

#[test]
fn history_of_an_empty_directory_and_database_says_so() {
    let project = Project::with_files(&[]);
    project.ok(&["upgrade"]);
    assert_eq!(
        project.ok(&["history"]),
        "no migrations: the directory has none and the database has no history\n"
    );
}

#[test]
fn output_has_no_colour_when_stdout_is_not_a_terminal() {
    let project = Project::fixture("app");
    project.ok(&["upgrade", "+3"]);
    let history = project.ok(&["history"]);
    assert!(history.contains("applied") && history.contains("pending"));
    assert!(!history.contains('\x1b'), "{history:?}");
}

#[test]
fn a_history_table_of_another_name_is_used_throughout() {
    let project = Project::fixture("app");
    project.ok(&["--table", "schema_history", "upgrade", "+1"]);
    assert_eq!(
        crate::common::tables(&project.open()),
        ["schema_history", "schema_history_summary", "users"]
    );
    assert_eq!(
        project.ok(&["--table", "schema_history", "current"]),
        "1 create_users\n"
    );
    // The default table does not exist, so nothing is applied there.
    assert_eq!(project.ok(&["current"]), "base: no migration is applied\n");
}

#[test]
fn flyway_and_up_only_sets_run_too() {
    let flyway = Project::fixture("flyway");
    assert_eq!(
        stable(&flyway.ok(&["upgrade"])),
        "applied 1 create_t (N ms)\napplied 2 label (N ms)\nupgraded from base to 2\n"
    );
    assert_eq!(
        stable(&flyway.ok(&["downgrade", "-1"])),
        "reverted 2 label (N ms)\ndowngraded from 2 to 1\n"
    );
    let up_only = Project::fixture("up_only");
    up_only.ok(&["upgrade"]);
    let refused = up_only.run(&["downgrade", "-1"]);
    assert_eq!(
        (refused.code, refused.stderr.as_str()),
        (
            1,
            "cannot downgrade past migration 3 (0003_seed.sql): it has no down script, neither in this build nor recorded when it was applied; nothing was changed\n"
        )
    );
}

// Regression: a step applied out of order (below the newest applied one)
// ended with "upgraded from 3 to 3", and its revert with "downgraded from
// 3 to 3".
#[test]
fn a_step_out_of_order_says_the_database_stays_where_it_was() {
    let project = Project::with_files(&[
        ("0001_a.sql", "CREATE TABLE a (id INT);\n"),
        ("0003_c.up.sql", "CREATE TABLE c (id INT);\n"),
        ("0003_c.down.sql", "DROP TABLE c;\n"),
    ]);
    project.ok(&["upgrade"]);
    std::fs::write(
        project.dir.join("0002_b.up.sql"),
        "CREATE TABLE b (id INT);\n",
    )
    .unwrap();
    std::fs::write(project.dir.join("0002_b.down.sql"), "DROP TABLE b;\n").unwrap();
    let out = |args: &[&str]| stable(&project.ok(args));
    assert_eq!(
        out(&["upgrade", "--allow-out-of-order", "--dry-run"]),
        "would apply 2 b (0002_b.up.sql, out of order)\nwould apply 1 migration out of order; the database would stay at 3; nothing was changed\n"
    );
    assert_eq!(
        out(&["upgrade", "--allow-out-of-order"]),
        "applied 2 b (N ms, out of order)\napplied 1 migration out of order; the database stays at 3\n"
    );
    assert_eq!(project.versions(), [1, 2, 3]);
    assert_eq!(
        out(&["downgrade", "-1", "--dry-run"]),
        "would revert 2 b (0002_b.down.sql, out of order)\nwould revert 1 migration out of order; the database would stay at 3; nothing was changed\n"
    );
    assert_eq!(
        out(&["downgrade", "-1"]),
        "reverted 2 b (N ms, out of order)\nreverted 1 migration out of order; the database stays at 3\n"
    );
    assert_eq!(project.versions(), [1, 3]);
    // In order, the usual words.
    assert_eq!(
        out(&["downgrade", "-1"]),
        "reverted 3 c (N ms)\ndowngraded from 3 to 1\n"
    );
    // A run of both: the step below the newest says so.
    project.ok(&["upgrade", "3"]);
    project
        .open()
        .execute_batch("DELETE FROM _migrate_history WHERE version = 2; DROP TABLE b;")
        .unwrap();
    std::fs::write(project.dir.join("0004_d.sql"), "CREATE TABLE d (id INT);\n").unwrap();
    assert_eq!(
        out(&["upgrade", "--allow-out-of-order"]),
        "applied 2 b (N ms, out of order)\napplied 4 d (N ms)\nupgraded from 3 to 4\n"
    );
}

// A history row deleted by hand reads as an out-of-order pending step; the
// refusal's advice for that case (stamp at the newest applied version)
// records it again without running its script, which would fail.
#[test]
fn a_deleted_history_row_is_recorded_again_as_the_refusal_says() {
    let project = Project::with_files(&[
        ("0001_a.sql", "CREATE TABLE a (id INT);\n"),
        ("0002_b.sql", "CREATE TABLE b (id INT);\n"),
        ("0003_c.sql", "CREATE TABLE c (id INT);\n"),
    ]);
    project.ok(&["upgrade"]);
    project
        .open()
        .execute("DELETE FROM _migrate_history WHERE version = 2", [])
        .unwrap();
    let refused = project.run(&["upgrade"]);
    assert_eq!(
        (refused.code, refused.stderr.as_str()),
        (
            1,
            "migration 2 (0002_b.sql) is pending but older than the newest applied version 3; give it a version above 3, or allow out-of-order migrations (`--allow-out-of-order`); if it was applied and its history row deleted, `migrate stamp 3` records it again without running it (with any other pending version below 3)\n"
        )
    );
    assert_eq!(
        project.ok(&["stamp", "3"]),
        "recorded 2 b as applied\nstamped the history at 3 (it was at 3); no script ran\n"
    );
    assert_eq!(project.versions(), [1, 2, 3]);
    assert_eq!(
        project.ok(&["upgrade"]),
        "nothing to upgrade: the database is at 3\n"
    );
    assert_eq!(project.run(&["check"]).code, 0);
}

// Regression: a step applied out of order that failed outside a
// transaction advised `migrate stamp 2` or `migrate stamp 1`, which
// forgot the steps applied above it (4 and 5 read as pending again, to be
// run twice). The advice is now to finish it and stamp the newest.
#[test]
fn a_dirty_step_out_of_order_is_cleared_as_its_message_says_keeping_the_steps_above() {
    let project = Project::with_files(&[
        ("0001_a.sql", "CREATE TABLE a (id INT);\n"),
        ("0004_d.sql", "CREATE TABLE d (id INT);\n"),
        ("0005_e.sql", "CREATE TABLE e (id INT);\n"),
    ]);
    project.ok(&["upgrade"]);
    std::fs::write(
        project.dir.join("0002_b.sql"),
        "-- migrate:no-transaction\nCREATE TABLE b (id INT);\nCREATE TABLE b2 (id INT REFERENCES nowhere (id) ON);\n",
    )
    .unwrap();
    // Pending too, after it: a stamp at 5 would record it.
    std::fs::write(project.dir.join("0003_c.sql"), "CREATE TABLE c (id INT);\n").unwrap();
    let failed = project.run(&["upgrade", "--allow-out-of-order"]);
    assert_eq!(failed.code, 1, "{failed:?}");
    let blocked = project.run(&["upgrade", "--allow-out-of-order"]);
    assert_eq!(
        (blocked.code, blocked.stderr.as_str()),
        (
            1,
            "migration 2 (0002_b.sql) is marked dirty: it failed or was interrupted outside a transaction, so the database may be partly changed; repair the schema by hand until it has all of migration 2's changes, then run `migrate stamp 5` (the newest applied version: a lower target would also forget the migrations applied above 2); that stamp also records the pending migration 3 as applied without running it, so run its script by hand first\n"
        )
    );
    // The repair: the statement that failed, and 3's script, by hand.
    project
        .open()
        .execute_batch("CREATE TABLE b2 (id INT); CREATE TABLE c (id INT);")
        .unwrap();
    assert_eq!(
        project.ok(&["stamp", "5"]),
        "cleared the dirty mark of 2 b\nrecorded 3 c as applied\nstamped the history at 5 (it was at 5); no script ran\n"
    );
    assert_eq!(project.versions(), [1, 2, 3, 4, 5]);
    assert_eq!(project.run(&["check"]).code, 0);
    assert_eq!(
        project.ok(&["upgrade"]),
        "nothing to upgrade: the database is at 5\n"
    );
}
