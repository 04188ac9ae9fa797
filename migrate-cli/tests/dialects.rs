//! `--sql` in each dialect: SQLite's `BEGIN IMMEDIATE`, PostgreSQL's
//! `BEGIN`, MySQL's in-flight mark instead of a transaction, each history
//! row as literals. The printed SQL, run by hand on a database, leaves it
//! exactly as `migrate` would have: the same tables, rows and history.

use crate::common::{Row, migrate, stable};
use crate::servers::{Kind, Subject, every_backend};

fn name(kind: Kind) -> &'static str {
    match kind {
        Kind::Sqlite => "sqlite",
        Kind::Postgres => "postgres",
        Kind::MySql => "mysql",
    }
}

/// With `--from`, no database is opened: the URL only names the dialect
/// (these servers do not exist), and its password is not shown.
#[test]
fn offline_sql_follows_the_dialect_of_the_url() {
    for (kind, url) in [
        (Kind::Sqlite, "sqlite://never-created.db"),
        (Kind::Postgres, "postgres://app:hunter2@127.0.0.1:1/app"),
        (Kind::MySql, "mariadb://root:hunter2@127.0.0.1:1/app"),
    ] {
        let run = |args: &[&str]| {
            let mut all = vec!["--database-url", url, "--dir", "fixtures/portable"];
            all.extend_from_slice(args);
            migrate(&all).ok().to_owned()
        };
        let up = run(&["upgrade", "--sql", "--from", "base"]);
        let down = run(&["downgrade", "base", "--sql", "--from", "head"]);
        assert!(!up.contains("hunter2") && !down.contains("hunter2"));
        insta::assert_snapshot!(
            format!("offline_sql_{}", name(kind)),
            stable(&format!("{up}\n{down}"))
        );
    }
    assert!(!crate::common::workspace().join("never-created.db").exists());
}

/// The history as compared: everything but the times.
fn recorded(db: &Subject) -> Vec<(i64, String, String, Option<String>, bool)> {
    db.history()
        .into_iter()
        .map(|row: Row| {
            (
                row.version,
                row.name,
                row.checksum,
                row.down_sql,
                row.success,
            )
        })
        .collect()
}

/// The data the fixture's scripts write, to compare.
fn users(db: &Subject) -> Vec<i64> {
    db.integers("SELECT id * 100 + item_count FROM users ORDER BY id")
}

every_backend!(sql_run_by_hand_equals_the_run);

fn sql_run_by_hand_equals_the_run(kind: Kind) {
    let (Some(by_hand), Some(by_migrate)) = (
        Subject::new(kind, "portable"),
        Subject::new(kind, "portable"),
    ) else {
        return;
    };

    // From an empty database: the history table's DDL first.
    let first = by_hand.ok(&["upgrade", "2", "--sql"]);
    insta::assert_snapshot!(
        format!("live_sql_{}_upgrade_from_empty", name(kind)),
        stable(&first)
    );
    by_hand.execute(&first);
    by_migrate.ok(&["upgrade", "2"]);
    assert_eq!(recorded(&by_hand), recorded(&by_migrate));

    // From 2: no DDL, the rest of the steps; the rows' times follow.
    let rest = by_hand.ok(&["upgrade", "--sql"]);
    insta::assert_snapshot!(
        format!("live_sql_{}_upgrade_from_2", name(kind)),
        stable(&rest)
    );
    by_hand.execute(&rest);
    by_migrate.ok(&["upgrade"]);
    assert_eq!(recorded(&by_hand), recorded(&by_migrate));
    assert_eq!(by_hand.tables(), by_migrate.tables());
    assert_eq!(users(&by_hand), [101]);
    assert_eq!(users(&by_hand), users(&by_migrate));
    let times: Vec<String> = by_hand
        .history()
        .into_iter()
        .map(|row| row.applied_at)
        .collect();
    assert!(times.windows(2).all(|pair| pair[0] < pair[1]), "{times:?}");
    // The library agrees: at head, consistent.
    assert_eq!(by_hand.run(&["check"]).code, 0);

    // The printed SQL kept the summary as the run did: up to date.
    let summary = "SELECT changes - recorded FROM _migrate_history_summary WHERE id = 1";
    assert_eq!(by_hand.integers(summary), [0]);
    assert_eq!(by_migrate.integers(summary), [0]);

    // Down to base by hand: nothing but the history table (and its
    // summary) is left.
    let down = by_hand.ok(&["downgrade", "base", "--sql"]);
    insta::assert_snapshot!(
        format!("live_sql_{}_downgrade_to_base", name(kind)),
        stable(&down)
    );
    by_hand.execute(&down);
    by_migrate.ok(&["downgrade", "base"]);
    assert_eq!(recorded(&by_hand), []);
    assert_eq!(
        by_hand.tables(),
        ["_migrate_history", "_migrate_history_summary"]
    );
    assert_eq!(by_hand.tables(), by_migrate.tables());
    assert_eq!(by_hand.integers(summary), [0]);
}
