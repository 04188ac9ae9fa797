//! `migrate::schema` (the canonical text of a database's schema) and
//! `verify`, on real databases: SQLite through rusqlite and sqlx, and the
//! PostgreSQL and MariaDB servers of `servers.rs`. The sets are
//! `fixtures/schema/<dialect>/` (every kind of object each database has)
//! and `fixtures/verify/leaves_index/` (a down script that forgets an index).

use migrate::{Migrations, Options, Outcome, StepKind, Target};

use crate::common::{TempDb, fixture};
use crate::servers::{Database, Kind};

fn set(name: &str) -> Migrations {
    Migrations::from_dir(fixture(name)).unwrap()
}

/// The schema text of a fresh SQLite file migrated by `steps` (one
/// upgrade per target).
fn sqlite_dump(set: &Migrations, steps: &[Target]) -> String {
    let db = TempDb::new();
    let conn = db.open();
    for target in steps {
        set.upgrade(&conn, *target).unwrap();
    }
    migrate::schema::read(&conn, &Options::default())
        .unwrap()
        .text()
}

#[test]
fn sqlite_dump_is_byte_identical_for_two_databases_migrated_apart() {
    let set = set("schema/sqlite");
    let at_once = sqlite_dump(&set, &[Target::Head]);
    let one_by_one = sqlite_dump(&set, &[Target::Forward(1), Target::Forward(1)]);
    assert_eq!(at_once, one_by_one);
    assert!(!at_once.contains("_migrate_history"));
    insta::assert_snapshot!(at_once);
}

#[tokio::test]
async fn sqlx_sqlite_reads_the_same_text_as_rusqlite() {
    let set = set("schema/sqlite");
    let db = TempDb::new();
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}?mode=rwc", db.path.display()))
        .await
        .unwrap();
    migrate::sqlx::run(&pool, &set).await.unwrap();
    let text = migrate::sqlx::schema(&pool, &Options::default())
        .await
        .unwrap()
        .text();
    assert_eq!(text, sqlite_dump(&set, &[Target::Head]));
}

#[test]
fn a_schema_change_is_a_line_of_the_diff() {
    let set = set("schema/sqlite");
    let db = TempDb::new();
    let conn = db.open();
    migrate::run(&conn, &set).unwrap();
    let before = migrate::schema::read(&conn, &Options::default()).unwrap();
    conn.execute_batch("ALTER TABLE orgs ADD COLUMN note TEXT")
        .unwrap();
    let after = migrate::schema::read(&conn, &Options::default()).unwrap();
    assert_eq!(
        migrate::schema::diff(&before.text(), &after.text(), "a", "b").unwrap(),
        "--- a\n+++ b\n@@ -2,6 +2,7 @@\n   column id integer\n   column name text not null\n   column plan text not null default 'free'\n+  column note text\n   primary key (id)\n   unique (name)\n   check (plan IN ('free', 'paid'))\n"
    );
}

/// Another history table name leaves that table out, and only that one.
#[test]
fn the_history_table_named_in_the_options_is_left_out() {
    let set = set("schema/sqlite");
    let db = TempDb::new();
    let conn = db.open();
    let options = Options::default().table("schema_log").unwrap();
    set.with_options(options.clone())
        .upgrade(&conn, Target::Head)
        .unwrap();
    conn.execute_batch("CREATE TABLE _migrate_history (x INT)")
        .unwrap();
    let text = migrate::schema::read(&conn, &options).unwrap().text();
    assert!(!text.contains("schema_log"), "{text}");
    assert!(
        text.starts_with("table _migrate_history\n  column x int\n"),
        "{text}"
    );
}

macro_rules! server_dump {
    ($name:ident, $db:ty, $kind:expr, $fixture:literal) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let set = set($fixture);
            let mut texts = Vec::new();
            for steps in [
                &[Target::Head][..],
                &[Target::Forward(1), Target::Forward(1)],
            ] {
                let Some(database) = Database::create($kind).await else {
                    return;
                };
                let pool = sqlx::Pool::<$db>::connect(&database.url).await.unwrap();
                for target in steps {
                    migrate::sqlx::upgrade(&pool, &set, *target, &Options::default())
                        .await
                        .unwrap();
                }
                texts.push(
                    migrate::sqlx::schema(&pool, &Options::default())
                        .await
                        .unwrap()
                        .text(),
                );
                pool.close().await;
            }
            assert_eq!(texts[0], texts[1]);
            assert!(!texts[0].contains("_migrate_history"));
            insta::assert_snapshot!(texts[0]);
        }
    };
}

server_dump!(
    postgres_dump_is_byte_identical_for_two_databases,
    sqlx::Postgres,
    Kind::Postgres,
    "schema/postgres"
);
server_dump!(
    mariadb_dump_is_byte_identical_for_two_databases,
    sqlx::MySql,
    Kind::MySql,
    "schema/mysql"
);

/// The diff `verify` shows for `fixtures/verify/leaves_index` on SQLite.
const LEFT_INDEX_SQLITE: &str = "\
--- before 0002_items_owner.up.sql
+++ after 0002_items_owner.down.sql
@@ -2,3 +2,4 @@
   column id integer
   column owner text not null
   primary key (id)
+  index items_owner (owner)
";

#[test]
fn verify_names_the_index_a_down_script_leaves_behind() {
    let set = set("verify/leaves_index");
    let db = TempDb::new();
    let conn = db.open();
    let verification = set.verify(&conn).unwrap();
    assert!(!verification.passed());
    let summary: Vec<(i64, StepKind, Outcome)> = verification
        .steps
        .iter()
        .map(|step| (step.version, step.kind, step.result))
        .collect();
    assert_eq!(
        summary,
        [
            (1, StepKind::Reversible, Outcome::Ok),
            (2, StepKind::Reversible, Outcome::Differs),
            (3, StepKind::UpOnly, Outcome::Ok),
        ]
    );
    assert_eq!(
        verification.steps[1].diff.as_deref(),
        Some(LEFT_INDEX_SQLITE)
    );
    assert_eq!(verification.steps[1].error, None);
    assert_eq!(
        serde_json::to_value(&verification.steps[2]).unwrap(),
        serde_json::json!({"version": 3, "name": "seed", "kind": "up-only", "result": "ok"})
    );
}

#[test]
fn verify_stops_at_a_failing_script_naming_its_file() {
    let set = set("failing");
    let db = TempDb::new();
    let conn = db.open();
    let verification = set.verify(&conn).unwrap();
    assert_eq!(verification.steps.len(), 2, "it stops at the failure");
    let failed = &verification.steps[1];
    assert_eq!((failed.version, failed.result), (2, Outcome::Failed));
    assert!(
        failed
            .error
            .as_deref()
            .unwrap()
            .starts_with("migration 2 (0002_broken.up.sql) failed"),
        "{failed:?}"
    );
}

#[test]
fn verify_refuses_a_database_that_is_not_empty() {
    let set = set("verify/leaves_index");
    let db = TempDb::new();
    let conn = db.open();
    conn.execute_batch("CREATE TABLE precious (id INT)")
        .unwrap();
    let err = set.verify(&conn).unwrap_err();
    assert!(matches!(err, migrate::Error::NotEmpty { .. }), "{err}");
    let db = TempDb::new();
    let conn = db.open();
    set.upgrade(&conn, Target::Forward(1)).unwrap();
    conn.execute_batch("DROP TABLE items").unwrap();
    let err = set.verify(&conn).unwrap_err().to_string();
    assert!(err.contains("holds 1 applied migration(s)"), "{err}");
}

macro_rules! server_verify {
    ($name:ident, $db:ty, $kind:expr, $index:literal) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let set = set("verify/leaves_index");
            let Some(database) = Database::create($kind).await else {
                return;
            };
            let pool = sqlx::Pool::<$db>::connect(&database.url).await.unwrap();
            let verification = migrate::sqlx::verify(&pool, &set, &Options::default())
                .await
                .unwrap();
            let results: Vec<Outcome> = verification.steps.iter().map(|s| s.result).collect();
            assert_eq!(results, [Outcome::Ok, Outcome::Differs, Outcome::Ok]);
            let diff = verification.steps[1].diff.as_deref().unwrap();
            assert!(
                diff.starts_with(
                    "--- before 0002_items_owner.up.sql\n+++ after 0002_items_owner.down.sql\n"
                ),
                "{diff}"
            );
            let added: Vec<&str> = diff
                .lines()
                .filter(|l| l.starts_with('+') && !l.starts_with("+++"))
                .collect();
            assert_eq!(added, [$index], "{diff}");
            pool.close().await;
        }
    };
}

server_verify!(
    postgres_verify_names_the_index_left_behind,
    sqlx::Postgres,
    Kind::Postgres,
    "+  CREATE INDEX items_owner ON public.items USING btree (owner)"
);
server_verify!(
    mariadb_verify_names_the_index_left_behind,
    sqlx::MySql,
    Kind::MySql,
    "+  index items_owner (owner(768))"
);
