//! The rusqlite backend end to end on real SQLite files.

use migrate::{Direction, Error, Migrations, Options, State, Target, TransactionMode};
use rusqlite::Connection;

use crate::common::{TempDb, fixture, history_rows, migration_dir, schema, table_rows, versions};

fn app() -> Migrations {
    Migrations::from_dir(fixture("app")).unwrap()
}

#[test]
fn run_migrates_a_file_and_a_second_run_changes_nothing() {
    let db = TempDb::new();
    let set = app();
    let report = migrate::run(&db.open(), &set).unwrap();
    assert_eq!((report.from, report.to), (None, Some(6)));
    assert_eq!(
        report.steps.iter().map(|s| s.version).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5, 6]
    );

    let conn = db.open();
    let rows = history_rows(&conn);
    let tables = schema(&conn);
    let users = table_rows(&conn, "users");
    assert_eq!(
        users,
        ["Integer(1)|\"admin@example.com\"|\"2026-01-01T00:00:00Z\"|\"admin\"|Integer(1)"]
    );
    drop(conn);

    let again = migrate::run(&db.open(), &set).unwrap();
    assert_eq!(
        (again.from, again.to, again.steps.len()),
        (Some(6), Some(6), 0)
    );
    let conn = db.open();
    assert_eq!(history_rows(&conn), rows, "same rows, same applied_at");
    assert_eq!(schema(&conn), tables);
    assert_eq!(table_rows(&conn, "users"), users);
}

#[test]
fn history_rows_match_the_spec_column_for_column() {
    let db = TempDb::new();
    let conn = db.open();
    migrate::run(&conn, &app()).unwrap();
    let mut statement = conn
        .prepare("SELECT name, type, \"notnull\", pk FROM pragma_table_info('_migrate_history')")
        .unwrap();
    let columns: Vec<(String, String, bool, i64)> = statement
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        columns,
        [
            // The table keeps its rows in the key's B-tree (`WITHOUT
            // ROWID`), where a primary key is NOT NULL, as on every server.
            ("version".into(), "BIGINT".into(), true, 1),
            ("name".into(), "TEXT".into(), true, 0),
            ("checksum".into(), "TEXT".into(), true, 0),
            ("down_sql".into(), "TEXT".into(), false, 0),
            ("applied_at".into(), "TEXT".into(), true, 0),
            ("execution_ms".into(), "BIGINT".into(), true, 0),
            ("success".into(), "BOOLEAN".into(), true, 0),
        ]
    );
    // One B-tree: a history row dirties one page, not a second one in an
    // index of `version`.
    let indexes: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = '_migrate_history'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(indexes, 0);
    let rows = history_rows(&conn);
    assert_eq!(rows.len(), 6);
    let first = &rows[0];
    assert_eq!(
        (first.version, first.name.as_str(), first.success),
        (1, "create_users", true)
    );
    assert_eq!(first.down_sql.as_deref(), Some("DROP TABLE users;\n"));
    assert_eq!(
        first.checksum,
        sha256sum(&std::fs::read(fixture("app/0001_create_users.up.sql")).unwrap())
    );
    // UTC, RFC 3339, microseconds, strictly increasing in application order.
    for pair in rows.windows(2) {
        assert!(pair[0].applied_at < pair[1].applied_at, "{pair:?}");
    }
    assert!(chrono::DateTime::parse_from_rfc3339(&first.applied_at).is_ok());
    assert!(
        first.applied_at.ends_with('Z') && first.applied_at.len() == 27,
        "{}",
        first.applied_at
    );
}

/// The checksum as the `sha256sum` tool computes it, independently of our code.
fn sha256sum(bytes: &[u8]) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("sha256sum (coreutils) must be installed");
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

#[test]
fn checksum_ignores_bom_and_crlf_but_a_real_edit_is_refused() {
    let unix = "CREATE TABLE t (id INTEGER);\nINSERT INTO t VALUES (1);\n";
    let dir = migration_dir(&[("0001_t.sql", unix)]);
    let db = TempDb::new();
    let set = Migrations::from_dir(dir.path()).unwrap();
    migrate::run(&db.open(), &set).unwrap();
    let recorded = history_rows(&db.open())[0].checksum.clone();
    assert_eq!(recorded, sha256sum(unix.as_bytes()));

    // A Windows checkout: BOM and CRLF. Nothing changes.
    let windows = format!("\u{feff}{}", unix.replace('\n', "\r\n"));
    std::fs::write(dir.path().join("0001_t.sql"), &windows).unwrap();
    let set = Migrations::from_dir(dir.path()).unwrap();
    assert_eq!(set.get(1).unwrap().checksum(), recorded);
    let before = history_rows(&db.open());
    assert_eq!(migrate::run(&db.open(), &set).unwrap().steps.len(), 0);
    assert_eq!(history_rows(&db.open()), before);

    // A real edit.
    let edited = unix.replace("VALUES (1)", "VALUES (2)");
    std::fs::write(dir.path().join("0001_t.sql"), &edited).unwrap();
    let set = Migrations::from_dir(dir.path()).unwrap();
    let err = migrate::run(&db.open(), &set).unwrap_err();
    let found = sha256sum(edited.as_bytes());
    assert_eq!(
        err.to_string(),
        format!(
            "migration 1 (0001_t.sql) was changed after it was applied: its checksum is {found} but {recorded} was \
             recorded; restore the file as it was applied (add a new migration for new changes), or allow checksum mismatches (`--ignore-checksums`)"
        )
    );
    assert_eq!(history_rows(&db.open()), before);
    // The opt-out.
    let report = set
        .with_options(Options::default().ignore_checksums(true))
        .upgrade(&db.open(), Target::Head)
        .unwrap();
    assert!(report.steps.is_empty());
}

#[test]
fn only_one_leading_bom_is_dropped_from_what_runs() {
    // One BOM is an editor's mark; a second one is content, in the checksum
    // and in the SQL that runs alike (SQLite reads it as part of a name).
    let dir = migration_dir(&[("0001_t.sql", "\u{feff}\u{feff}CREATE TABLE t (id INTEGER);")]);
    let set = Migrations::from_dir(dir.path()).unwrap();
    let up = set.get(1).unwrap().up();
    assert_eq!(up.sql(), "\u{feff}CREATE TABLE t (id INTEGER);");
    assert_eq!(
        set.get(1).unwrap().checksum(),
        sha256sum("\u{feff}CREATE TABLE t (id INTEGER);".as_bytes())
    );
}

#[test]
fn minus_one_reverts_exactly_the_newest_step_with_its_down_script() {
    let db = TempDb::new();
    let conn = db.open();
    let set = app();
    set.upgrade(&conn, "+5".parse().unwrap()).unwrap();
    let at_five = (schema(&conn), table_rows(&conn, "users"));
    set.upgrade(&conn, Target::Head).unwrap();

    let report = set
        .downgrade(&conn, "-1".parse::<Target>().unwrap())
        .unwrap();
    assert_eq!((report.from, report.to), (Some(6), Some(5)));
    assert_eq!(
        report
            .steps
            .iter()
            .map(|s| (s.version, s.name.as_str()))
            .collect::<Vec<_>>(),
        [(6, "users_item_count")]
    );
    assert_eq!(versions(&conn), [1, 2, 3, 4, 5]);
    assert_eq!((schema(&conn), table_rows(&conn, "users")), at_five);

    let report = set.downgrade(&conn, Target::Base).unwrap();
    assert_eq!(
        report.steps.iter().map(|s| s.version).collect::<Vec<_>>(),
        [5, 4, 3, 2, 1]
    );
    assert_eq!(schema(&conn), []);
    assert_eq!(versions(&conn), Vec::<i64>::new());
}

#[test]
fn a_downgrade_through_an_irreversible_step_refuses_before_changing_anything() {
    let dir = migration_dir(&[
        ("1_a.up.sql", "CREATE TABLE a (id INT);"),
        ("1_a.down.sql", "DROP TABLE a;"),
        ("2_b.sql", "CREATE TABLE b (id INT);"),
        ("3_c.up.sql", "CREATE TABLE c (id INT);"),
        ("3_c.down.sql", "DROP TABLE c;"),
    ]);
    let set = Migrations::from_dir(dir.path()).unwrap();
    let db = TempDb::new();
    let conn = db.open();
    migrate::run(&conn, &set).unwrap();
    let before = (schema(&conn), history_rows(&conn));
    let err = set.downgrade(&conn, Target::Base).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot downgrade past migration 2 (2_b.sql): it has no down script, neither in this build nor recorded when \
         it was applied; nothing was changed"
    );
    assert_eq!(
        (schema(&conn), history_rows(&conn)),
        before,
        "c was not reverted"
    );
    // Down to the irreversible step itself is fine.
    set.downgrade(&conn, Target::Version(2)).unwrap();
    assert_eq!(versions(&conn), [1, 2]);
}

#[test]
fn a_failing_statement_leaves_the_database_as_before_that_migration() {
    let set = Migrations::from_dir(fixture("failing")).unwrap();
    let db = TempDb::new();
    let conn = db.open();
    set.upgrade(&conn, Target::Version(1)).unwrap();
    let before = (schema(&conn), history_rows(&conn));

    let err = migrate::run(&conn, &set).unwrap_err();
    assert_eq!(
        err.to_string(),
        "migration 2 (0002_broken.up.sql) failed at statement 3 (`INSERT INTO missing_table (id) VALUES (2);`): \
         no such table: missing_table; it was rolled back, so the database is as it was before this migration: fix \
         the script and run again"
    );
    assert!(matches!(
        err,
        Error::Step {
            version: 2,
            statement: Some(3),
            dirty: false,
            ..
        }
    ));
    assert_eq!((schema(&conn), history_rows(&conn)), before);
    assert!(conn.is_autocommit(), "no transaction is left open");

    // Steps applied in the same run before the failure stay, and the error says which.
    let db = TempDb::new();
    let conn = db.open();
    let err = migrate::run(&conn, &set).unwrap_err();
    assert_eq!(
        err.completed()
            .iter()
            .map(|s| s.version)
            .collect::<Vec<_>>(),
        [1]
    );
    assert_eq!(versions(&conn), [1]);
    assert_eq!(
        schema(&conn)
            .iter()
            .map(|o| o.1.as_str())
            .collect::<Vec<_>>(),
        ["a"]
    );
}

#[test]
fn all_in_one_mode_is_all_or_nothing() {
    let set = Migrations::from_dir(fixture("failing")).unwrap();
    let db = TempDb::new();
    let conn = db.open();
    let single = set.with_options(Options::default().transaction_mode(TransactionMode::Single));
    let err = single.upgrade(&conn, Target::Head).unwrap_err();
    assert!(matches!(err, Error::Step { version: 2, .. }), "{err}");
    assert!(err.completed().is_empty());
    assert_eq!(schema(&conn), [], "migration 1 was rolled back too");
    assert_eq!(history_rows(&conn), []);

    let report = app()
        .with_options(Options::default().transaction_mode(TransactionMode::Single))
        .upgrade(&conn, Target::Head)
        .unwrap();
    assert_eq!(report.steps.len(), 6);
    assert_eq!(versions(&conn), [1, 2, 3, 4, 5, 6]);
    // The rows, written after the last script, keep the order of application.
    let back = app().downgrade(&conn, "-2".parse().unwrap()).unwrap();
    assert_eq!(
        back.steps.iter().map(|s| s.version).collect::<Vec<_>>(),
        [6, 5]
    );
}

#[test]
fn all_in_one_mode_refuses_a_no_transaction_step_before_running_anything() {
    let dir = migration_dir(&[
        ("1_a.sql", "CREATE TABLE a (id INT);"),
        ("2_vacuum.sql", "-- migrate:no-transaction\nVACUUM;"),
    ]);
    let set = Migrations::from_dir(dir.path()).unwrap();
    let db = TempDb::new();
    let conn = db.open();
    let err = set
        .with_options(Options::default().transaction_mode(TransactionMode::Single))
        .upgrade(&conn, Target::Head)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "migration 2 (2_vacuum.sql) is marked `-- migrate:no-transaction`, so it cannot run inside one \
         all-or-nothing transaction; use one transaction per step for this upgrade"
    );
    assert_eq!(schema(&conn), []);
    // Per step, VACUUM (which SQLite refuses inside a transaction) runs.
    migrate::run(&conn, &set).unwrap();
    assert_eq!(versions(&conn), [1, 2]);
    assert!(history_rows(&conn).iter().all(|row| row.success));
}

#[test]
fn a_failing_no_transaction_step_leaves_a_dirty_mark_that_stamp_clears() {
    let dir = migration_dir(&[
        ("1_a.sql", "CREATE TABLE a (id INT);"),
        (
            "2_half.sql",
            "-- migrate:no-transaction\nCREATE TABLE b (id INT);\nINSERT INTO nowhere VALUES (1);",
        ),
        ("3_c.sql", "CREATE TABLE c (id INT);"),
    ]);
    let set = Migrations::from_dir(dir.path()).unwrap();
    let db = TempDb::new();
    let conn = db.open();
    let err = migrate::run(&conn, &set).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Step {
                version: 2,
                dirty: true,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().ends_with(
        "it ran outside a transaction, so the database may be partly changed and is marked dirty at 2: repair it by \
         hand, then run `migrate stamp`"
    ));
    let rows = history_rows(&conn);
    assert_eq!(
        rows.iter()
            .map(|r| (r.version, r.success))
            .collect::<Vec<_>>(),
        [(1, true), (2, false)]
    );
    assert!(set.status(&conn).unwrap().dirty);
    assert_eq!(set.history(&conn).unwrap()[1].state, State::Dirty);

    let blocked = migrate::run(&conn, &set).unwrap_err();
    assert_eq!(
        blocked.to_string(),
        "migration 2 (2_half.sql) is marked dirty: it failed or was interrupted outside a transaction, so the database may \
         be partly changed; repair the schema by hand, then run `migrate stamp 2` if the schema has migration 2's \
         changes (its up script finished, or an interrupted downgrade's down script did not start) or `migrate \
         stamp 1` if it has none of them"
    );
    // The operator finishes the change by hand and stamps.
    conn.execute_batch("DROP TABLE b;").unwrap();
    set.stamp(&conn, Target::Version(1)).unwrap();
    assert_eq!(versions(&conn), [1]);
    std::fs::write(
        dir.path().join("2_half.sql"),
        "-- migrate:no-transaction\nCREATE TABLE b (id INT);",
    )
    .unwrap();
    let set = Migrations::from_dir(dir.path()).unwrap();
    let report = migrate::run(&conn, &set).unwrap();
    assert_eq!(
        report.steps.iter().map(|s| s.version).collect::<Vec<_>>(),
        [2, 3]
    );
    assert!(history_rows(&conn).iter().all(|row| row.success));
}

#[test]
fn relative_and_version_targets() {
    let db = TempDb::new();
    let conn = db.open();
    let set = app();
    assert_eq!(
        set.upgrade(&conn, "+2".parse().unwrap()).unwrap().to,
        Some(2)
    );
    assert_eq!(
        set.upgrade(&conn, Target::Version(4)).unwrap().steps.len(),
        2
    );
    assert_eq!(
        set.upgrade(&conn, Target::Version(4)).unwrap().steps.len(),
        0
    );
    let err = set.upgrade(&conn, "+3".parse().unwrap()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "`+3` asks for 3 step(s) but only 2 are pending; nothing was changed"
    );
    let err = set.upgrade(&conn, Target::Version(2)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "version 2 is below the current version 4, so there is nothing to upgrade to; to go back, run `migrate downgrade 2`"
    );
    let err = set.downgrade(&conn, "-5".parse().unwrap()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "`-5` asks for 5 step(s) but only 4 are applied; nothing was changed"
    );
    let err = set.downgrade(&conn, Target::Version(99)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "no migration has version 99, neither in this build nor in the database; use a version that `migrate history` lists"
    );
    let err = set.upgrade(&conn, "-1".parse().unwrap()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "`-1` is not a target for an upgrade: use `migrate downgrade -1`"
    );
    assert_eq!(
        set.downgrade(&conn, "-2".parse().unwrap()).unwrap().to,
        Some(2)
    );
    assert_eq!(versions(&conn), [1, 2]);
}

#[test]
fn out_of_order_and_unknown_versions_are_refused_unless_allowed() {
    let db = TempDb::new();
    let conn = db.open();
    let both = migration_dir(&[
        ("1_a.sql", "CREATE TABLE a (id INT);"),
        ("3_c.sql", "CREATE TABLE c (id INT);"),
    ]);
    migrate::run(&conn, &Migrations::from_dir(both.path()).unwrap()).unwrap();

    std::fs::write(both.path().join("2_b.sql"), "CREATE TABLE b (id INT);").unwrap();
    let set = Migrations::from_dir(both.path()).unwrap();
    let err = migrate::run(&conn, &set).unwrap_err();
    assert_eq!(
        err.to_string(),
        "migration 2 (2_b.sql) is pending but older than the newest applied version 3; give it a version above 3, or \
         allow out-of-order migrations (`--allow-out-of-order`); if it was applied and its history row deleted, \
         `migrate stamp 3` records it again without running it (with any other pending version below 3)"
    );
    assert!(set.status(&conn).unwrap().drift);
    let report = set
        .with_options(Options::default().allow_out_of_order(true))
        .upgrade(&conn, Target::Head)
        .unwrap();
    assert_eq!(
        report.steps.iter().map(|s| s.version).collect::<Vec<_>>(),
        [2]
    );

    // -1 undoes the most recently applied step (2), not the highest version (3).
    let report = set.downgrade(&conn, "-1".parse().unwrap()).unwrap_err();
    assert!(
        matches!(report, Error::Irreversible { version: 2, .. }),
        "{report}"
    );

    // An older build that does not know 3 (nor 2).
    let older =
        Migrations::from_dir(migration_dir(&[("1_a.sql", "CREATE TABLE a (id INT);")]).path())
            .unwrap();
    let err = migrate::run(&conn, &older).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the database is at version 3, newer than this build's head 1: run `migrate downgrade 1` to roll back, or \
         allow unknown versions (`--allow-unknown`) to start anyway"
    );
    let history = older.history(&conn).unwrap();
    assert_eq!(
        history
            .iter()
            .map(|e| (e.version, e.state))
            .collect::<Vec<_>>(),
        [
            (1, State::Applied),
            (2, State::Unknown),
            (3, State::Unknown)
        ]
    );
    let report = older
        .with_options(Options::default().allow_unknown(true))
        .upgrade(&conn, Target::Head)
        .unwrap();
    assert!(report.steps.is_empty());
}

#[test]
fn an_older_build_rolls_back_with_the_recorded_down_scripts() {
    let mut files: Vec<(String, String)> = Vec::new();
    for v in 1..=6 {
        files.push((
            format!("{v}_t{v}.up.sql"),
            format!("CREATE TABLE t{v} (id INT);"),
        ));
        files.push((format!("{v}_t{v}.down.sql"), format!("DROP TABLE t{v};")));
    }
    let all: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let new_build = Migrations::from_dir(migration_dir(&all).path()).unwrap();
    let old_build = Migrations::from_dir(migration_dir(&all[..8]).path()).unwrap();
    let db = TempDb::new();
    let conn = db.open();
    migrate::run(&conn, &new_build).unwrap();
    let fresh = TempDb::new();
    old_build
        .upgrade(&fresh.open(), Target::Version(4))
        .unwrap();

    let report = old_build.downgrade(&conn, Target::Head).unwrap();
    assert_eq!(
        report.steps.iter().map(|s| s.version).collect::<Vec<_>>(),
        [6, 5]
    );
    assert_eq!(schema(&conn), schema(&fresh.open()));
    assert_eq!(versions(&conn), [1, 2, 3, 4]);
}

#[test]
fn dry_run_plans_change_nothing() {
    let db = TempDb::new();
    let set = app();
    set.upgrade(&db.open(), Target::Version(2)).unwrap();
    let before = std::fs::read(&db.path).unwrap();
    let plan = set.plan(&db.open(), Direction::Up, Target::Head).unwrap();
    assert_eq!(
        plan.steps.iter().map(|s| s.version).collect::<Vec<_>>(),
        [3, 4, 5, 6]
    );
    assert_eq!((plan.from, plan.to), (Some(2), Some(6)));
    let plan = set.plan(&db.open(), Direction::Down, Target::Base).unwrap();
    assert_eq!(
        plan.steps.iter().map(|s| s.version).collect::<Vec<_>>(),
        [2, 1]
    );
    assert_eq!(std::fs::read(&db.path).unwrap(), before);
}

#[test]
fn status_history_and_current() {
    let db = TempDb::new();
    let conn = db.open();
    let set = app();
    assert_eq!(
        serde_json::to_value(set.status(&conn).unwrap()).unwrap(),
        serde_json::json!({"current": null, "head": 6, "pending": 6, "dirty": false, "drift": false})
    );
    set.upgrade(&conn, Target::Version(3)).unwrap();
    assert_eq!(
        serde_json::to_value(set.current(&conn).unwrap()).unwrap(),
        serde_json::json!({"version": 3, "name": "create_items", "head": false})
    );
    let history = set.history(&conn).unwrap();
    let states: Vec<_> = history
        .iter()
        .map(|e| (e.version, e.state, e.applied_at.is_some()))
        .collect();
    assert_eq!(
        states,
        [
            (1, State::Applied, true),
            (2, State::Applied, true),
            (3, State::Applied, true),
            (4, State::Pending, false),
            (5, State::Pending, false),
            (6, State::Pending, false)
        ]
    );
    set.upgrade(&conn, Target::Head).unwrap();
    assert!(set.current(&conn).unwrap().head);
    assert_eq!(set.status(&conn).unwrap().pending, 0);
}

#[test]
fn stamp_baselines_an_existing_database() {
    let db = TempDb::new();
    let conn = db.open();
    let set = app();
    set.stamp(&conn, Target::Version(3)).unwrap();
    assert_eq!(versions(&conn), [1, 2, 3]);
    assert_eq!(schema(&conn), [], "stamp runs no script");
    assert!(
        history_rows(&conn)
            .iter()
            .all(|r| r.execution_ms == 0 && r.success)
    );
    set.stamp(&conn, Target::Base).unwrap();
    assert_eq!(versions(&conn), Vec::<i64>::new());
    assert_eq!(
        set.stamp(&conn, "-1".parse().unwrap())
            .unwrap_err()
            .to_string(),
        "`-1` is not a stamp target; use `head`, `base` or a version number"
    );
}

#[test]
fn a_custom_table_name_and_flyway_files() {
    let db = TempDb::new();
    let conn = db.open();
    let set = Migrations::from_dir(fixture("flyway")).unwrap();
    let migrator = set.with_options(Options::default().table("schema_history").unwrap());
    migrator.upgrade(&conn, Target::Head).unwrap();
    assert_eq!(
        crate::common::history_rows_of(&conn, "schema_history").len(),
        2
    );
    assert_eq!(history_rows(&conn), []);
    migrator.downgrade(&conn, "-1".parse().unwrap()).unwrap();
    assert_eq!(
        crate::common::history_rows_of(&conn, "schema_history").len(),
        1
    );
    assert_eq!(table_rows(&conn, "t"), Vec::<String>::new());
    let columns: i64 = conn
        .query_row("SELECT count(*) FROM pragma_table_info('t')", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(columns, 1, "U2__label.sql dropped the column");
    // A schema-qualified name in an attached database.
    let other = TempDb::new();
    conn.execute("ATTACH DATABASE ?1 AS ops", [other.path.to_str().unwrap()])
        .unwrap();
    let attached = set.with_options(Options::default().table("ops.history").unwrap());
    attached.stamp(&conn, Target::Head).unwrap();
    assert_eq!(
        crate::common::history_rows_of(&other.open(), "history").len(),
        2
    );
}

#[test]
fn an_older_history_format_is_upgraded_in_place() {
    let db = TempDb::new();
    let conn = db.open();
    // The first format's required columns only, as a future release must
    // expect to find them.
    conn.execute_batch(
        "CREATE TABLE _migrate_history (version BIGINT PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, \
         applied_at TEXT NOT NULL);",
    )
    .unwrap();
    let set = app();
    let checksum = set.get(1).unwrap().checksum().to_owned();
    conn.execute(
        "INSERT INTO _migrate_history VALUES (1, 'create_users', ?1, '2026-01-01T00:00:00.000000Z')",
        [&checksum],
    )
    .unwrap();
    conn.execute_batch(&std::fs::read_to_string(fixture("app/0001_create_users.up.sql")).unwrap())
        .unwrap();
    // `status` reads it as it is (a read-only verb never writes) ...
    assert_eq!(set.status(&conn).unwrap().pending, 5);
    // ... and the run that has work upgrades it in place.
    migrate::run(&conn, &set).unwrap();
    let rows = history_rows(&conn);
    assert_eq!(
        (
            rows[0].execution_ms,
            rows[0].success,
            rows[0].down_sql.clone()
        ),
        (0, true, None)
    );
    assert_eq!(versions(&conn), [1, 2, 3, 4, 5, 6]);
    // Its columns were added; the table itself, a rowid table, stays one.
    let sql: String = conn
        .query_row(
            "SELECT sql FROM sqlite_master WHERE name = '_migrate_history'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(!sql.contains("WITHOUT ROWID"), "{sql}");
}

#[test]
fn a_connection_inside_a_transaction_is_refused() {
    let db = TempDb::new();
    let conn: Connection = db.open();
    conn.execute_batch("BEGIN").unwrap();
    let err = migrate::run(&conn, &app()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the connection is inside an open transaction; run migrations on a connection with no transaction open"
    );
}

#[test]
fn a_syntax_error_is_one_line_naming_the_statement() {
    let dir = migration_dir(&[(
        "1_bad.sql",
        "CREATE TABLE a (id INT);\nCREATE TABLEE b (id INT);\nCREATE TABLE c (id INT);\n",
    )]);
    let set = Migrations::from_dir(dir.path()).unwrap();
    let db = TempDb::new();
    let err = migrate::run(&db.open(), &set).unwrap_err();
    assert_eq!(
        err.to_string(),
        "migration 1 (1_bad.sql) failed at statement 2 (`CREATE TABLEE b (id INT);`): near \"TABLEE\": syntax error; \
         it was rolled back, so the database is as it was before this migration: fix the script and run again"
    );
}
