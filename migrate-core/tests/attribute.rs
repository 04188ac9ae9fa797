//! `#[migrate::test]` and `migrate::testing`: every test gets its own
//! database with every migration applied, isolated from the others running
//! at the same time (40 tests per database insert the same row), removed
//! after a passing test and kept after a failing one, and cloned from a
//! template that is rebuilt when a migration changes.

use migrate::Migrations;

use crate::common::migration_dir;
use crate::servers::Kind;

const SAME_ROW: &str = "INSERT INTO users (id, email, created_at) VALUES (1000, 'same@example.com', '2026-01-01T00:00:00Z')";

macro_rules! forty {
    ($kind:ident, $($name:ident)*) => {
        $(
            forty!(@one $kind $name);
        )*
    };
    (@one rusqlite $name:ident) => {
        #[migrate::test(migrations = "../fixtures/portable")]
        fn $name(conn: ::rusqlite::Connection) {
            assert_eq!(conn.execute(SAME_ROW, []).unwrap(), 1, "alone in its database");
            let users: i64 = conn.query_row("SELECT count(*) FROM users", [], |r| r.get(0)).unwrap();
            assert_eq!(users, 2, "the seeded admin and this test's row");
        }
    };
    (@one sqlx_sqlite $name:ident) => {
        #[migrate::test(migrations = "../fixtures/portable")]
        async fn $name(pool: sqlx::SqlitePool) {
            let done = sqlx::query(SAME_ROW).execute(&pool).await.unwrap();
            assert_eq!(done.rows_affected(), 1);
            let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(&pool).await.unwrap();
            assert_eq!(users, 2);
        }
    };
    (@one postgres $name:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            on_server::<sqlx::Postgres>(Kind::Postgres, stringify!($name)).await;
        }
    };
    (@one mysql $name:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            on_server::<sqlx::MySql>(Kind::MySql, stringify!($name)).await;
        }
    };
}

macro_rules! forty_tests {
    ($module:ident, $kind:ident) => {
        mod $module {
            #[allow(unused_imports)]
            use super::*;
            forty!($kind, t01 t02 t03 t04 t05 t06 t07 t08 t09 t10 t11 t12 t13 t14 t15 t16 t17 t18 t19 t20
                t21 t22 t23 t24 t25 t26 t27 t28 t29 t30 t31 t32 t33 t34 t35 t36 t37 t38 t39 t40);
        }
    };
}

forty_tests!(on_rusqlite, rusqlite);
forty_tests!(on_sqlx_sqlite, sqlx_sqlite);
forty_tests!(on_postgres, postgres);
forty_tests!(on_mysql, mysql);

fn portable() -> Migrations {
    Migrations::from_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/portable")).unwrap()
}

/// The server half, through `migrate::testing::fresh` with the test
/// server's URL (the attribute reads `DATABASE_URL`, one server per run).
async fn on_server<DB>(kind: Kind, test: &str)
where
    DB: migrate::sqlx::Backend,
    sqlx::Pool<DB>: migrate::testing::AsyncArgument,
    for<'c> &'c sqlx::Pool<DB>: sqlx::Executor<'c, Database = DB>,
    for<'q> <DB as sqlx::Database>::Arguments: sqlx::IntoArguments<DB>,
    i64: sqlx::Type<DB> + for<'r> sqlx::Decode<'r, DB>,
    usize: sqlx::ColumnIndex<DB::Row>,
{
    let Some(url) = crate::servers::url(kind) else {
        return;
    };
    let set = portable();
    let (pool, fresh): (sqlx::Pool<DB>, _) = migrate::testing::fresh(&set, test, Some(&url))
        .await
        .unwrap();
    sqlx::query(SAME_ROW).execute(&pool).await.unwrap();
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(users, 2, "the seeded admin and this test's row");
    let status = migrate::sqlx::status(&pool, &set, &Default::default())
        .await
        .unwrap();
    assert_eq!((status.current, status.pending), (set.head(), 0));
    pool.close().await;
    let described = fresh.describe();
    fresh.remove().await.unwrap();
    assert!(
        !database_exists(kind, &url, &described).await,
        "{described} is removed"
    );
}

async fn database_exists(kind: Kind, url: &str, described: &str) -> bool {
    let name = described.rsplit(' ').next().unwrap();
    let query =
        format!("SELECT count(*) FROM information_schema.schemata WHERE schema_name = '{name}'");
    match kind {
        Kind::Postgres => {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT count(*) FROM pg_database WHERE datname = '{name}'"
            )))
            .fetch_one(&pool)
            .await
            .unwrap();
            n > 0
        }
        Kind::MySql => {
            let pool = sqlx::MySqlPool::connect(url).await.unwrap();
            let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(query))
                .fetch_one(&pool)
                .await
                .unwrap();
            n > 0
        }
    }
}

/// A failing test's database is kept, its name printed; a passing one's
/// is removed.
#[test]
fn a_failing_test_keeps_its_database_and_a_passing_one_does_not() {
    let set = portable();
    let dir = std::env::temp_dir().join("migrate-tests");
    let mine = |prefix: &str| -> Vec<std::path::PathBuf> {
        std::fs::read_dir(&dir)
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| {
                        p.file_name()
                            .unwrap()
                            .to_string_lossy()
                            .starts_with(&format!("migrate_test_{prefix}_{}_", std::process::id()))
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    migrate::testing::__run(
        &set,
        "attribute::passes_quietly",
        |conn: ::rusqlite::Connection| {
            conn.execute(SAME_ROW, []).unwrap();
        },
    );
    assert!(mine("passes_quietly").is_empty(), "removed after a pass");
    let failed = std::panic::catch_unwind(|| {
        migrate::testing::__run(
            &set,
            "attribute::fails_loudly",
            |_: ::rusqlite::Connection| -> () { panic!("on purpose") },
        )
    });
    assert!(failed.is_err());
    let kept = mine("fails_loudly");
    assert_eq!(kept.len(), 1, "kept after a failure");
    let conn = ::rusqlite::Connection::open(&kept[0]).unwrap();
    let users: i64 = conn
        .query_row("SELECT count(*) FROM users", [], |r| r.get(0))
        .unwrap();
    assert_eq!(users, 1, "migrated: the seeded admin");
    drop(conn);
    std::fs::remove_file(&kept[0]).unwrap();
    // A test that returns an error fails too.
    let result: Result<(), String> = migrate::testing::__run(
        &set,
        "attribute::returns_err",
        |_: ::rusqlite::Connection| Err("on purpose".to_owned()),
    );
    assert!(result.is_err());
    let kept = mine("returns_err");
    assert_eq!(kept.len(), 1);
    std::fs::remove_file(&kept[0]).unwrap();
}

/// Editing a migration names a new template: the next test sees the change.
#[test]
fn an_edited_migration_rebuilds_the_template() {
    let dir = migration_dir(&[("0001_t.sql", "CREATE TABLE t (a INT);\n")]);
    let columns = |set: &Migrations| {
        let file = migrate::testing::sqlite_file(set, "edited").unwrap();
        let conn = ::rusqlite::Connection::open(&file).unwrap();
        let names: Vec<String> = conn
            .prepare("SELECT name FROM pragma_table_info('t') ORDER BY cid")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        drop(conn);
        std::fs::remove_file(file).unwrap();
        names
    };
    let before = Migrations::from_dir(dir.path()).unwrap();
    assert_eq!(columns(&before), ["a"]);
    std::fs::write(
        dir.path().join("0001_t.sql"),
        "CREATE TABLE t (a INT, b INT);\n",
    )
    .unwrap();
    let after = Migrations::from_dir(dir.path()).unwrap();
    assert_ne!(
        migrate::testing::digest(&before),
        migrate::testing::digest(&after)
    );
    assert_eq!(columns(&after), ["a", "b"]);
}

/// The attribute on servers: `env` names the variable with the server's
/// URL (`DATABASE_URL` by default). Ignored by themselves (they need the
/// server); `the_attribute_on_servers` runs them where it is configured.
#[migrate::test(migrations = "../fixtures/portable", env = "MIGRATE_TEST_POSTGRES_URL")]
#[ignore = "run by the_attribute_on_servers where the server is configured"]
async fn postgres_through_the_attribute(pool: sqlx::PgPool) {
    sqlx::query(SAME_ROW).execute(&pool).await.unwrap();
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(users, 2);
}

#[migrate::test(migrations = "../fixtures/portable", env = "MIGRATE_TEST_MYSQL_URL")]
#[ignore = "run by the_attribute_on_servers where the server is configured"]
async fn mysql_through_the_attribute(pool: sqlx::MySqlPool) {
    sqlx::query(SAME_ROW).execute(&pool).await.unwrap();
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(users, 2);
}

#[test]
fn the_attribute_on_servers() {
    if crate::servers::url(Kind::Postgres).is_some() {
        postgres_through_the_attribute();
    }
    if crate::servers::url(Kind::MySql).is_some() {
        mysql_through_the_attribute();
    }
}
