//! Every error message, snapshotted: messages are part of the API. Each is
//! one sentence naming the migration, file or input, and saying what to do.

use std::time::Duration;

use migrate::{Error, Migrations, StepReport};

use crate::common::fixture;

fn load_error(set: &str) -> String {
    let dir = fixture(&format!("broken/{set}"));
    let message = Migrations::from_dir(&dir).unwrap_err().to_string();
    message.replace(
        &format!("{}/", dir.display()),
        &format!("fixtures/broken/{set}/"),
    )
}

#[test]
fn loader_errors() {
    let sets = [
        "bad_name",
        "duplicate_version",
        "missing_down",
        "missing_up",
        "empty_down",
        "not_utf8",
        "unknown_directive",
        "unreadable",
    ];
    let messages: Vec<String> = sets
        .iter()
        .map(|set| format!("{set}: {}", load_error(set)))
        .collect();
    insta::assert_snapshot!(messages.join("\n"));
}

#[test]
fn run_errors() {
    let step = |dirty, with_earlier_steps| Error::Step {
        version: 2,
        file: "0002_broken.up.sql".into(),
        statement: Some(3),
        statement_sql: Some("INSERT INTO missing_table (id) VALUES (2);".into()),
        message: "no such table: missing_table".into(),
        dirty,
        with_earlier_steps,
        source: None,
        completed: [StepReport {
            version: 1,
            name: "a".into(),
            duration_ms: 1,
        }]
        .into(),
    };
    let errors = [
        "x".parse::<migrate::Target>().unwrap_err(),
        migrate::Options::default().table("a b").unwrap_err(),
        Error::ChecksumMismatch {
            version: 3,
            file: "0003_add_email.up.sql".into(),
            recorded: "aa".into(),
            found: "bb".into(),
        },
        Error::DatabaseAhead {
            current: 7,
            head: Some(5),
        },
        Error::DatabaseAhead {
            current: 7,
            head: None,
        },
        Error::UnknownApplied {
            version: 3,
            name: "add_email".into(),
        },
        Error::OutOfOrder {
            version: 2,
            file: "0002_b.sql".into(),
            current: 3,
        },
        Error::Dirty {
            version: 4,
            name: "index".into(),
            previous: Some(3),
            newest: 4,
            also: Vec::new(),
        },
        Error::Dirty {
            version: 1,
            name: "init".into(),
            previous: None,
            newest: 1,
            also: Vec::new(),
        },
        // Out of order: the steps above it stay.
        Error::Dirty {
            version: 2,
            name: "0002_b.sql".into(),
            previous: Some(1),
            newest: 5,
            also: Vec::new(),
        },
        Error::Dirty {
            version: 2,
            name: "0002_b.sql".into(),
            previous: Some(1),
            newest: 6,
            also: vec![3, 4],
        },
        Error::UnknownTarget { version: 99 },
        Error::NotEnoughSteps {
            target: "+3".into(),
            requested: 3,
            available: 1,
            what: "pending",
        },
        Error::StampTarget {
            target: "+1".into(),
        },
        Error::WrongDirection {
            target: "-1".into(),
            operation: "an upgrade",
            suggestion: "downgrade",
        },
        Error::TargetBelowCurrent {
            target: 2,
            current: 5,
        },
        Error::Irreversible {
            version: 2,
            file: "0002_b.sql".into(),
        },
        Error::NoTransactionInSingle {
            version: 4,
            file: "0004_index.sql".into(),
        },
        step(false, false),
        step(true, false),
        step(false, true),
        Error::LockTimeout {
            waited: Duration::from_secs(60),
            holder: None,
        },
        Error::InTransaction,
        Error::NotEmpty {
            what: "1 applied migration(s)".into(),
        },
        Error::Database {
            action: "read the history table \"_migrate_history\"".into(),
            message: "disk I/O error".into(),
            source: None,
        },
    ];
    let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
    for message in &messages {
        assert!(
            !message.ends_with('.'),
            "one sentence, no trailing period: {message}"
        );
        assert_eq!(message.lines().count(), 1, "one line: {message}");
    }
    insta::assert_snapshot!(messages.join("\n"));
}

/// Regression: database and step errors kept the driver's error only as
/// text, so `source()` was empty and an application could not tell one
/// failure from another.
#[test]
fn database_and_step_errors_keep_the_driver_error_as_their_source() {
    use std::error::Error as _;
    let dir = crate::common::migration_dir(&[
        ("0001_a.sql", "CREATE TABLE a (id INT);"),
        (
            "0002_b.sql",
            "CREATE TABLE b (id INT);\nINSERT INTO missing VALUES (1);",
        ),
    ]);
    let set = Migrations::from_dir(dir.path()).unwrap();
    let db = crate::common::TempDb::new();
    let err = migrate::run(&db.open(), &set).unwrap_err();
    assert!(matches!(err, Error::Step { version: 2, .. }), "{err}");
    let source = err.source().expect("a step error has its cause");
    let sqlite = source
        .downcast_ref::<rusqlite::Error>()
        .expect("the cause is rusqlite's error");
    assert_eq!(
        sqlite.sqlite_error_code(),
        Some(rusqlite::ErrorCode::Unknown)
    );
    assert_eq!(err.to_string().matches("no such table: missing").count(), 1);

    // A history that cannot be read: the cause is the driver's own.
    let other = crate::common::TempDb::new();
    let conn = other.open();
    conn.execute_batch(
        "CREATE TABLE _migrate_history (version BIGINT PRIMARY KEY, name TEXT NOT NULL, \
         checksum TEXT NOT NULL, down_sql TEXT NULL, applied_at TEXT NOT NULL, \
         execution_ms BIGINT NOT NULL, success BOOLEAN NOT NULL); \
         INSERT INTO _migrate_history VALUES ('x', 'a', 'c', NULL, 'now', 0, 1);",
    )
    .unwrap();
    let err = set.status(&conn).unwrap_err();
    assert!(matches!(err, Error::Database { .. }), "{err}");
    let cause = err
        .source()
        .and_then(|source| source.downcast_ref::<rusqlite::Error>());
    assert!(
        matches!(cause, Some(rusqlite::Error::InvalidColumnType(0, ..))),
        "{cause:?}"
    );
}

#[tokio::test]
async fn sqlx_step_errors_keep_sqlx_error_as_their_source() {
    use std::error::Error as _;
    let dir = crate::common::migration_dir(&[("0001_a.sql", "INSERT INTO missing VALUES (1);")]);
    let set = Migrations::from_dir(dir.path()).unwrap();
    let pool = sqlx::SqlitePool::connect("sqlite::memory:").await.unwrap();
    let err = migrate::sqlx::run(&pool, &set).await.unwrap_err();
    let source = err.source().expect("a step error has its cause");
    let sqlx_error = source
        .downcast_ref::<sqlx::Error>()
        .expect("the cause is sqlx's error");
    assert!(
        matches!(sqlx_error, sqlx::Error::Database(db) if db.message() == "no such table: missing"),
        "{sqlx_error:?}"
    );
}
