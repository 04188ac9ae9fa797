//! SQLite table rebuilds and foreign keys.
//!
//! Regression: SQLite's documented way to change a table (create the new
//! one, copy, drop the old, rename) starts with `PRAGMA foreign_keys=OFF`,
//! which SQLite ignores inside a transaction. Inside a migration, on a
//! connection with foreign keys on, `DROP TABLE parent` then cascaded:
//! `migrate::run` returned Ok and the `ON DELETE CASCADE` child rows went
//! from 2 to 0.

use migrate::{Error, Migrations, Target};

use crate::common::{TempDb, migration_dir};

const PARENTS: &str = "CREATE TABLE parent (id INTEGER PRIMARY KEY);\n\
    CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL REFERENCES parent (id) ON DELETE CASCADE);\n\
    INSERT INTO parent VALUES (1);\n\
    INSERT INTO child VALUES (1, 1), (2, 1);\n";

/// SQLite's twelve steps, as a migration writes them.
const REBUILD: &str = "CREATE TABLE parent_new (id INTEGER PRIMARY KEY, name TEXT NOT NULL DEFAULT '');\n\
    INSERT INTO parent_new (id) SELECT id FROM parent;\n\
    DROP TABLE parent;\n\
    ALTER TABLE parent_new RENAME TO parent;\n";

fn set(third: &str) -> (tempfile::TempDir, Migrations) {
    let dir = migration_dir(&[
        ("0001_parents.sql", PARENTS),
        ("0002_rebuild.sql", REBUILD),
        ("0003_third.sql", third),
    ]);
    let set = Migrations::from_dir(dir.path()).unwrap();
    (dir, set)
}

const ORPHANS: &str = "DELETE FROM parent;\n";

fn count(conn: &rusqlite::Connection, table: &str) -> i64 {
    conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |row| {
        row.get(0)
    })
    .unwrap()
}

#[test]
fn a_table_rebuild_keeps_the_rows_that_refer_to_it() {
    let db = TempDb::new();
    let conn = db.open();
    conn.pragma_update(None, "foreign_keys", true).unwrap();
    let (_dir, set) = set("SELECT 1;\n");
    set.upgrade(&conn, "2".parse().unwrap()).unwrap();
    assert_eq!(count(&conn, "child"), 2, "nothing cascaded");
    // Enforcement is the connection's again once the run is over.
    let on: bool = conn
        .pragma_query_value(None, "foreign_keys", |row| row.get(0))
        .unwrap();
    assert!(on);
}

#[test]
fn a_step_that_leaves_orphans_is_rolled_back_naming_the_table() {
    let db = TempDb::new();
    let conn = db.open();
    conn.pragma_update(None, "foreign_keys", true).unwrap();
    let (_dir, set) = set(ORPHANS);
    let err = set.upgrade(&conn, Target::Head).unwrap_err();
    assert!(
        matches!(err, Error::ForeignKeyViolation { version: 3, .. }),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "migration 3 (0003_third.sql) left rows in child that break its foreign keys; it was rolled back, so the \
         database is as it was before this migration: fix the script (copy or delete the rows that refer to what \
         it changed) and run again"
    );
    assert_eq!((count(&conn, "parent"), count(&conn, "child")), (1, 2));
    assert_eq!(set.status(&conn).unwrap().current, Some(2));
    let on: bool = conn
        .pragma_query_value(None, "foreign_keys", |row| row.get(0))
        .unwrap();
    assert!(on, "restored after a failure too");
}

#[test]
fn the_opt_out_keeps_enforcement_on_during_steps() {
    let db = TempDb::new();
    let conn = db.open();
    conn.pragma_update(None, "foreign_keys", true).unwrap();
    let (_dir, set) = set("SELECT 1;\n");
    let options = migrate::Options::default().suspend_foreign_keys(false);
    set.with_options(options)
        .upgrade(&conn, "2".parse().unwrap())
        .unwrap();
    assert_eq!(count(&conn, "child"), 0, "the cascade ran, as asked");
}

#[test]
fn a_pragma_that_cannot_take_effect_in_the_step_is_refused_before_anything_runs() {
    for (pragma, advice) in [
        (
            "PRAGMA journal_mode = DELETE",
            "set the journal mode on the connection instead, or add `-- migrate:no-transaction` as its first line \
             to run it outside a transaction",
        ),
        (
            "pragma main.journal_mode=WAL",
            "set the journal mode on the connection instead, or add `-- migrate:no-transaction` as its first line \
             to run it outside a transaction",
        ),
    ] {
        let db = TempDb::new();
        let conn = db.open();
        let (_dir, set) = set(&format!(
            "-- rebuild\n{pragma};\nCREATE TABLE t (id INT);\n"
        ));
        let err = set.upgrade(&conn, Target::Head).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "migration 3 (0003_third.sql) has `{pragma}`, which SQLite ignores inside the transaction the \
                 migration runs in; {advice}; nothing was changed"
            )
        );
        let tables: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_master", [], |row| row.get(0))
            .unwrap();
        assert_eq!(tables, 0, "nothing ran");
    }
    // Reading a pragma is harmless.
    let db = TempDb::new();
    let (_dir, set) = set("PRAGMA journal_mode;\n");
    set.upgrade(&db.open(), Target::Head).unwrap();
}

/// SQLite's own recipe, `PRAGMA foreign_keys` lines and all (authelia's sets
/// carry them): the lines are no-ops inside the step, and migrate's own
/// suspension does what they mean.
#[test]
fn the_rebuild_recipe_with_its_pragma_lines_keeps_every_row() {
    let dir = migration_dir(&[
        ("0001_parents.sql", PARENTS),
        (
            "0002_rebuild.sql",
            &format!("PRAGMA foreign_keys = OFF;\n{REBUILD}PRAGMA foreign_keys = ON;\n"),
        ),
    ]);
    let db = TempDb::new();
    let conn = db.open();
    conn.pragma_update(None, "foreign_keys", true).unwrap();
    Migrations::from_dir(dir.path())
        .unwrap()
        .upgrade(&conn, Target::Head)
        .unwrap();
    assert_eq!(count(&conn, "child"), 2, "nothing cascaded");
}

#[tokio::test]
async fn through_sqlx_too() {
    // sqlx turns foreign keys on by default.
    let db = TempDb::new();
    let url = format!("sqlite://{}?mode=rwc", db.path.display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let (_dir, set) = set(ORPHANS);
    let options = migrate::Options::default();
    migrate::sqlx::upgrade(&pool, &set, "2".parse().unwrap(), &options)
        .await
        .unwrap();
    let children: i64 = sqlx::query_scalar("SELECT count(*) FROM child")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(children, 2, "nothing cascaded");
    let err = migrate::sqlx::upgrade(&pool, &set, Target::Head, &options)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::ForeignKeyViolation { version: 3, .. }),
        "{err}"
    );
    let parents: i64 = sqlx::query_scalar("SELECT count(*) FROM parent")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(parents, 1, "rolled back");
    let on: bool = sqlx::query_scalar("PRAGMA foreign_keys")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(on);
}

/// Orphans made by a step on a schema whose key was declared before the
/// run, outside any migration (written in lower case), or earlier in the
/// same run, in each transaction mode.
#[test]
fn orphans_are_found_wherever_the_key_was_declared() {
    use migrate::{Options, TransactionMode};
    let lower = "create table parent (id integer primary key);\n\
        create table child (id integer primary key, parent_id integer not null references parent (id));\n\
        insert into parent values (1);\n\
        insert into child values (1, 1);\n";
    for mode in [TransactionMode::PerStep, TransactionMode::Single] {
        let options = Options::default().transaction_mode(mode);
        // Declared before the run, by hand: the schema is read.
        let db = TempDb::new();
        let conn = db.open();
        conn.pragma_update(None, "foreign_keys", true).unwrap();
        conn.execute_batch(lower).unwrap();
        let dir = migration_dir(&[
            ("0001_log.sql", "CREATE TABLE log (x);\n"),
            ("0002_orphans.sql", ORPHANS),
        ]);
        let set = Migrations::from_dir(dir.path()).unwrap();
        let err = set
            .with_options(options.clone())
            .upgrade(&conn, Target::Head)
            .unwrap_err();
        assert!(
            matches!(err, Error::ForeignKeyViolation { version: 2, ref table, .. } if table == "child"),
            "{mode:?}: {err}"
        );
        assert_eq!(count(&conn, "parent"), 1, "{mode:?}");

        // Declared by a step of the same run, after one that declares none.
        let db = TempDb::new();
        let conn = db.open();
        conn.pragma_update(None, "foreign_keys", true).unwrap();
        let dir = migration_dir(&[
            ("0001_log.sql", "CREATE TABLE log (x);\n"),
            ("0002_parents.sql", PARENTS),
            ("0003_orphans.sql", ORPHANS),
        ]);
        let set = Migrations::from_dir(dir.path()).unwrap();
        let err = set
            .with_options(options)
            .upgrade(&conn, Target::Head)
            .unwrap_err();
        assert!(
            matches!(err, Error::ForeignKeyViolation { version: 3, .. }),
            "{mode:?}: {err}"
        );
    }
}
