//! One lifecycle, written once, on SQLite, PostgreSQL and MySQL/MariaDB:
//! upgrade head, current, history, status, downgrade -1, downgrade base,
//! upgrade +2, check (3), stamp, check (0), check (1) after an edit, new +
//! upgrade; every verb with `--json`, asserted field by field against the
//! database itself. The fixture `portable` is SQL all three accept.

use migrate::Migrations;
use serde_json::{Value, json};

use crate::common::zero_durations;
use crate::servers::{Kind, Subject, every_backend};

const NAMES: [&str; 5] = [
    "create_users",
    "create_items",
    "seed_admin",
    "users_display_name",
    "users_item_count",
];

/// `[{"version", "name", "duration_ms": 0}, …]` for `versions`.
fn steps(versions: &[i64]) -> Value {
    versions
        .iter()
        .map(|&version| json!({"version": version, "name": NAMES[version as usize - 1], "duration_ms": 0}))
        .collect()
}

/// What `history --json` must say: every migration of the directory, the
/// applied ones as the database stores them.
fn expected_history(subject: &Subject) -> Value {
    let set = Migrations::from_dir(&subject.project.dir).unwrap();
    let rows = subject.history();
    set.as_slice()
        .iter()
        .map(|migration| {
            let row = rows.iter().find(|row| row.version == migration.version());
            json!({
                "version": migration.version(),
                "name": migration.name(),
                "state": if row.is_some() { "applied" } else { "pending" },
                "checksum": migration.checksum(),
                "applied_at": row.map(|row| row.applied_at.clone()),
                "execution_ms": row.map(|row| row.execution_ms),
            })
        })
        .collect()
}

fn status(current: Option<i64>, head: i64, pending: usize, verdict: &str) -> Value {
    json!({
        "current": current,
        "head": head,
        "pending": pending,
        "dirty": false,
        "drift": verdict == "drift",
        "verdict": verdict,
    })
}

every_backend!(the_lifecycle_in_json);

fn the_lifecycle_in_json(kind: Kind) {
    let Some(db) = Subject::new(kind, "portable") else {
        return;
    };
    let upgrade = |args: &[&str]| {
        let (code, document) = db.json(args);
        assert_eq!(code, 0, "{args:?}: {document}");
        zero_durations(document)
    };

    // upgrade head from nothing.
    assert_eq!(
        upgrade(&["upgrade", "head"]),
        json!({"from": null, "to": 5, "applied": steps(&[1, 2, 3, 4, 5]), "backup": null})
    );
    assert_eq!(db.versions(), [1, 2, 3, 4, 5]);
    assert!(db.history().iter().all(|row| row.success));
    assert_eq!(
        db.integers("SELECT item_count FROM users WHERE display_name = 'admin'"),
        [1]
    );

    assert_eq!(
        db.json(&["current"]),
        (
            0,
            json!({"version": 5, "name": "users_item_count", "head": true})
        )
    );
    assert_eq!(db.json(&["history"]), (0, expected_history(&db)));
    assert_eq!(
        db.json(&["status"]),
        (
            0,
            json!({"current": 5, "head": 5, "pending": 0, "dirty": false, "drift": false})
        )
    );
    // Again: nothing to do.
    assert_eq!(
        upgrade(&["upgrade"]),
        json!({"from": 5, "to": 5, "applied": [], "backup": null})
    );

    // downgrade -1, then base: nothing but the history table (and its
    // summary) is left.
    assert_eq!(
        upgrade(&["downgrade", "-1"]),
        json!({"from": 5, "to": 4, "reverted": steps(&[5])})
    );
    assert_eq!(
        db.json(&["current"]).1,
        json!({"version": 4, "name": "users_display_name", "head": false})
    );
    assert_eq!(
        upgrade(&["downgrade", "base"]),
        json!({"from": 4, "to": null, "reverted": steps(&[4, 3, 2, 1])})
    );
    assert_eq!(db.versions(), Vec::<i64>::new());
    assert_eq!(
        db.tables(),
        ["_migrate_history", "_migrate_history_summary"]
    );
    assert_eq!(
        db.json(&["current"]).1,
        json!({"version": null, "name": null, "head": false})
    );

    // upgrade +2, and check says 3: pending.
    assert_eq!(
        upgrade(&["upgrade", "+2"]),
        json!({"from": null, "to": 2, "applied": steps(&[1, 2]), "backup": null})
    );
    assert_eq!(db.json(&["history"]), (0, expected_history(&db)));
    assert_eq!(db.json(&["check"]), (3, status(Some(2), 5, 3, "pending")));

    // stamp head: recorded, no script ran (no row in users appears).
    let tables = db.tables();
    assert_eq!(
        db.json(&["stamp", "head"]),
        (
            0,
            json!({"from": 2, "to": 5, "stamped": [
                {"version": 3, "name": "seed_admin", "change": "recorded"},
                {"version": 4, "name": "users_display_name", "change": "recorded"},
                {"version": 5, "name": "users_item_count", "change": "recorded"},
            ]})
        )
    );
    assert_eq!(db.versions(), [1, 2, 3, 4, 5]);
    assert_eq!(db.tables(), tables);
    assert_eq!(db.integers("SELECT count(*) FROM users"), [0]);
    assert_eq!(db.json(&["check"]), (0, status(Some(5), 5, 0, "current")));

    // stamp 2 forgets 3..=5, so that they run for real.
    assert_eq!(
        db.json(&["stamp", "2"]),
        (
            0,
            json!({"from": 5, "to": 2, "stamped": [
                {"version": 3, "name": "seed_admin", "change": "removed"},
                {"version": 4, "name": "users_display_name", "change": "removed"},
                {"version": 5, "name": "users_item_count", "change": "removed"},
            ]})
        )
    );
    assert_eq!(
        upgrade(&["upgrade"]),
        json!({"from": 2, "to": 5, "applied": steps(&[3, 4, 5]), "backup": null})
    );
    assert_eq!(db.integers("SELECT count(*) FROM users"), [1]);

    // check says 1 once an applied file is edited: drift.
    let edited = db.project.dir.join("0002_create_items.up.sql");
    let original = std::fs::read_to_string(&edited).unwrap();
    std::fs::write(&edited, format!("{original}\n-- edited\n")).unwrap();
    assert_eq!(db.json(&["check"]), (1, status(Some(5), 5, 0, "drift")));
    assert_eq!(db.json(&["history"]).1[1]["state"], "modified");
    std::fs::write(&edited, original).unwrap();

    // new + upgrade: the next version in the directory's style.
    let (code, created) = db.json(&["new", "add_email_verified", "--reversible"]);
    assert_eq!(
        (code, created),
        (
            0,
            json!({"version": 6, "files": [
                db.project.dir.join("0006_add_email_verified.up.sql"),
                db.project.dir.join("0006_add_email_verified.down.sql"),
            ]})
        )
    );
    std::fs::write(
        db.project.dir.join("0006_add_email_verified.up.sql"),
        "ALTER TABLE users ADD COLUMN email_verified BOOLEAN NOT NULL DEFAULT FALSE;\n",
    )
    .unwrap();
    std::fs::write(
        db.project.dir.join("0006_add_email_verified.down.sql"),
        "ALTER TABLE users DROP COLUMN email_verified;\n",
    )
    .unwrap();
    assert_eq!(db.json(&["check"]), (3, status(Some(5), 6, 1, "pending")));
    assert_eq!(
        upgrade(&["upgrade"]),
        json!({"from": 5, "to": 6, "applied": [{"version": 6, "name": "add_email_verified", "duration_ms": 0}], "backup": null})
    );
    assert_eq!(
        db.json(&["current"]).1,
        json!({"version": 6, "name": "add_email_verified", "head": true})
    );
    assert_eq!(db.json(&["check"]), (0, status(Some(6), 6, 0, "current")));
    assert_eq!(
        db.integers("SELECT count(*) FROM users WHERE email_verified = FALSE"),
        [1]
    );
}

every_backend!(the_lifecycle_in_words);

/// The same verbs in human output: the text is the same on every backend,
/// but for MySQL/MariaDB's steps, which run in a transaction that DDL
/// commits implicitly.
fn the_lifecycle_in_words(kind: Kind) {
    let Some(db) = Subject::new(kind, "portable") else {
        return;
    };
    assert_eq!(
        crate::common::stable(&db.ok(&["upgrade", "+3"])),
        "applied 1 create_users (N ms)\n\
         applied 2 create_items (N ms)\n\
         applied 3 seed_admin (N ms)\n\
         upgraded from base to 3\n"
    );
    assert_eq!(db.ok(&["current"]), "3 seed_admin\n");
    assert_eq!(
        db.ok(&["status"]),
        "current: 3\nhead:    5\npending: 2\ndirty:   no\ndrift:   no\n"
    );
    insta::assert_snapshot!(
        "history_after_upgrade_3",
        crate::common::stable(&db.ok(&["history"]))
    );
    // Regression: `--dry-run` did not say so on MySQL, where `--sql` did.
    let outside = if matches!(kind, Kind::MySql) {
        ", in a transaction that a DDL statement commits implicitly"
    } else {
        ""
    };
    assert_eq!(
        db.ok(&["upgrade", "--dry-run"]),
        format!(
            "would apply 4 users_display_name (0004_users_display_name.up.sql){outside}\n\
             would apply 5 users_item_count (0005_users_item_count.up.sql){outside}\n\
             would upgrade from 3 to 5; nothing was changed\n"
        )
    );
    assert_eq!(
        db.ok(&["downgrade", "1", "--dry-run"]),
        format!(
            "would revert 3 seed_admin (0003_seed_admin.down.sql){outside}\n\
             would revert 2 create_items (0002_create_items.down.sql){outside}\n\
             would downgrade from 3 to 1; nothing was changed\n"
        )
    );
    assert_eq!(db.versions(), [1, 2, 3]);
    assert_eq!(
        crate::common::stable(&db.ok(&["downgrade", "-1"])),
        "reverted 3 seed_admin (N ms)\ndowngraded from 3 to 2\n"
    );
    assert_eq!(
        db.ok(&["stamp", "head"]),
        "recorded 3 seed_admin as applied\nrecorded 4 users_display_name as applied\nrecorded 5 users_item_count as applied\nstamped the history at 5 (it was at 2); no script ran\n"
    );
    let check = db.run(&["check"]);
    assert_eq!(
        (check.code, check.stdout.as_str()),
        (0, "ok: the database is at head (5)\n")
    );
}
