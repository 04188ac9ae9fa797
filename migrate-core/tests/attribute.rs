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

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The databases on the server whose names start with `prefix`.
async fn databases_like(kind: Kind, url: &str, prefix: &str) -> Vec<String> {
    match kind {
        Kind::Postgres => {
            let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(url)
                .await
                .unwrap();
            sqlx::query_scalar(
                "SELECT datname::text FROM pg_database WHERE starts_with(datname, $1) ORDER BY 1",
            )
            .bind(prefix)
            .fetch_all(&mut conn)
            .await
            .unwrap()
        }
        Kind::MySql => {
            let mut conn = <sqlx::MySqlConnection as sqlx::Connection>::connect(url)
                .await
                .unwrap();
            sqlx::query_scalar(
                "SELECT CAST(schema_name AS CHAR) FROM information_schema.schemata \
                 WHERE LEFT(schema_name, CHAR_LENGTH(?)) = ? ORDER BY 1",
            )
            .bind(prefix)
            .bind(prefix)
            .fetch_all(&mut conn)
            .await
            .unwrap()
        }
    }
}

async fn drop_database(kind: Kind, url: &str, name: &str) {
    let statement = match kind {
        Kind::Postgres => format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
        Kind::MySql => format!("DROP DATABASE IF EXISTS `{name}`"),
    };
    match kind {
        Kind::Postgres => {
            let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(url)
                .await
                .unwrap();
            sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
                .execute(&mut conn)
                .await
                .unwrap();
        }
        Kind::MySql => {
            let mut conn = <sqlx::MySqlConnection as sqlx::Connection>::connect(url)
                .await
                .unwrap();
            sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
                .execute(&mut conn)
                .await
                .unwrap();
        }
    }
}

/// How many users a database holds (the seeded admin: 1).
async fn users(kind: Kind, url: &str, name: &str) -> i64 {
    let url = format!("{}/{name}", url.rsplit_once('/').unwrap().0);
    let query = "SELECT count(*) FROM users";
    match kind {
        Kind::Postgres => {
            let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&url)
                .await
                .unwrap();
            sqlx::query_scalar(query)
                .fetch_one(&mut conn)
                .await
                .unwrap()
        }
        Kind::MySql => {
            let mut conn = <sqlx::MySqlConnection as sqlx::Connection>::connect(&url)
                .await
                .unwrap();
            sqlx::query_scalar(query)
                .fetch_one(&mut conn)
                .await
                .unwrap()
        }
    }
}

/// On PostgreSQL and MySQL/MariaDB, through the attribute's own runner: a
/// passing test's database is removed, a failing one's kept, migrated.
#[test]
fn on_servers_a_failing_test_keeps_its_database_and_a_passing_one_does_not() {
    fn body<T: migrate::testing::AsyncArgument>(kind: Kind, url: &str) {
        let set = portable();
        let pid = std::process::id();
        let prefix = |test: &str| format!("migrate_test_{test}_{pid}_");
        migrate::testing::__run_async(
            &set,
            "attribute::passes_on_server",
            kind.variable(),
            |_: T| async {},
        );
        let rt = runtime();
        assert_eq!(
            rt.block_on(databases_like(kind, url, &prefix("passes_on_server"))),
            Vec::<String>::new(),
            "removed after a pass"
        );
        let failed = std::panic::catch_unwind(|| {
            migrate::testing::__run_async(
                &set,
                "attribute::fails_on_server",
                kind.variable(),
                |_: T| async { panic!("on purpose") as () },
            )
        });
        assert!(failed.is_err());
        let kept = rt.block_on(databases_like(kind, url, &prefix("fails_on_server")));
        assert_eq!(kept.len(), 1, "kept after a failure: {kept:?}");
        assert_eq!(rt.block_on(users(kind, url, &kept[0])), 1, "migrated");
        rt.block_on(drop_database(kind, url, &kept[0]));
    }
    if let Some(url) = crate::servers::url(Kind::Postgres) {
        body::<sqlx::PgPool>(Kind::Postgres, &url);
    }
    if let Some(url) = crate::servers::url(Kind::MySql) {
        body::<sqlx::MySqlPool>(Kind::MySql, &url);
    }
}

/// A set of its own (a comment unique to this run), so that its template
/// is this test's alone.
fn own_set(files: &[(&str, &str)]) -> (tempfile::TempDir, Migrations) {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let files: Vec<(&str, String)> = files
        .iter()
        .map(|(name, text)| {
            (
                *name,
                format!("-- run {} {nanos}\n{text}", std::process::id()),
            )
        })
        .collect();
    let files: Vec<(&str, &str)> = files.iter().map(|(n, t)| (*n, t.as_str())).collect();
    let dir = migration_dir(&files);
    let set = Migrations::from_dir(dir.path()).unwrap();
    (dir, set)
}

/// A fresh database of `set`, and the columns of its table `t`.
async fn columns_of_t<DB>(
    set: &Migrations,
    url: &str,
    name: &str,
    schema: &str,
) -> (Vec<String>, migrate::testing::Fresh)
where
    DB: sqlx::Database,
    sqlx::Pool<DB>: migrate::testing::AsyncArgument,
    for<'c> &'c sqlx::Pool<DB>: sqlx::Executor<'c, Database = DB>,
    for<'q> <DB as sqlx::Database>::Arguments: sqlx::IntoArguments<DB>,
    String: sqlx::Type<DB> + for<'r> sqlx::Decode<'r, DB>,
    usize: sqlx::ColumnIndex<DB::Row>,
{
    let (pool, fresh): (sqlx::Pool<DB>, _) = migrate::testing::fresh(set, "edited", Some(url))
        .await
        .unwrap();
    let query = format!(
        "SELECT {name} FROM information_schema.columns \
         WHERE table_name = 't' AND table_schema = {schema} ORDER BY ordinal_position"
    );
    let columns: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(query))
        .fetch_all(&pool)
        .await
        .unwrap();
    pool.close().await;
    (columns, fresh)
}

/// Editing a migration names a new template on the servers too: the next
/// test sees the change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_servers_an_edited_migration_rebuilds_the_template() {
    for kind in [Kind::Postgres, Kind::MySql] {
        let Some(url) = crate::servers::url(kind) else {
            continue;
        };
        let (dir, before) = own_set(&[("0001_t.sql", "CREATE TABLE t (a INT);\n")]);
        std::fs::write(
            dir.path().join("0001_t.sql"),
            std::fs::read_to_string(dir.path().join("0001_t.sql"))
                .unwrap()
                .replace("(a INT)", "(a INT, b INT)"),
        )
        .unwrap();
        let after = Migrations::from_dir(dir.path()).unwrap();
        for (set, expected) in [(&before, "a"), (&after, "a,b")] {
            let (columns, fresh) = match kind {
                Kind::Postgres => {
                    columns_of_t::<sqlx::Postgres>(
                        set,
                        &url,
                        "column_name::text",
                        "current_schema()",
                    )
                    .await
                }
                Kind::MySql => {
                    columns_of_t::<sqlx::MySql>(
                        set,
                        &url,
                        "CAST(column_name AS CHAR)",
                        "DATABASE()",
                    )
                    .await
                }
            };
            fresh.remove().await.unwrap();
            assert_eq!(columns.join(","), expected, "{kind:?}");
            let template = format!("migrate_tpl_{}", migrate::testing::digest(set));
            for name in databases_like(kind, &url, &template).await {
                drop_database(kind, &url, &name).await;
            }
        }
    }
}

/// PostgreSQL: a test takes a ready copy of the template (a rename), and
/// `refill` makes one while fewer than the machine's share are ready.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_a_ready_copy_is_taken_and_made_again() {
    let Some(url) = crate::servers::url(Kind::Postgres) else {
        return;
    };
    let (_dir, set) = own_set(&[(
        "0001_t.sql",
        "CREATE TABLE t (a INT);\nINSERT INTO t VALUES (7);\n",
    )]);
    let template = format!("migrate_tpl_{}", migrate::testing::digest(&set));
    let prefix = format!("{template}_s");
    let spares = || databases_like(Kind::Postgres, &url, &prefix);
    let (pool, first): (sqlx::PgPool, _) = migrate::testing::fresh(&set, "ready", Some(&url))
        .await
        .unwrap();
    pool.close().await;
    assert_eq!(spares().await.len(), 0, "none made by fresh itself");
    let kept = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 8));
    for made in 1..=kept + 1 {
        first.refill().await.unwrap();
        assert_eq!(spares().await.len(), made.min(kept), "at most {kept} ready");
    }
    let ready = spares().await;
    let (pool, second): (sqlx::PgPool, _) = migrate::testing::fresh(&set, "ready", Some(&url))
        .await
        .unwrap();
    let a: i32 = sqlx::query_scalar("SELECT a FROM t")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(a, 7, "a copy of the migrated template");
    pool.close().await;
    let left = spares().await;
    assert_eq!(left.len(), kept - 1, "one taken");
    assert!(left.iter().all(|name| ready.contains(name)));
    first.remove().await.unwrap();
    second.remove().await.unwrap();
    for name in databases_like(Kind::Postgres, &url, &template).await {
        drop_database(Kind::Postgres, &url, &name).await;
    }
}

/// MySQL/MariaDB: a test's database is a copy of the template's tables,
/// definitions (keys, foreign keys, indexes, auto-increment counters) and
/// rows; a template with a view gets the migrations replayed instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_mysql_a_copy_has_the_templates_tables_and_rows() {
    let Some(url) = crate::servers::url(Kind::MySql) else {
        return;
    };
    let base = url.rsplit_once('/').unwrap().0.to_owned();
    let tables = "CREATE TABLE p (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(20) NOT NULL UNIQUE);\n\
                  CREATE TABLE c (id INT PRIMARY KEY, p_id INT NOT NULL, note TEXT, \
                  KEY c_note (note(10)), FOREIGN KEY (p_id) REFERENCES p (id) ON DELETE CASCADE);\n\
                  CREATE TABLE e (x INT);\n\
                  INSERT INTO p (name) VALUES ('one'), ('two');\n\
                  INSERT INTO c VALUES (1, 2, 'child');\n";
    for view in [false, true] {
        let script = if view {
            format!("{tables}CREATE VIEW v AS SELECT name FROM p;\n")
        } else {
            tables.to_owned()
        };
        let (_dir, set) = own_set(&[("0001_t.sql", &script)]);
        let template = format!("migrate_tpl_{}", migrate::testing::digest(&set));
        let (pool, fresh): (sqlx::MySqlPool, _) = migrate::testing::fresh(&set, "copy", Some(&url))
            .await
            .unwrap();
        let name: String = sqlx::query_scalar("SELECT CAST(DATABASE() AS CHAR)")
            .fetch_one(&pool)
            .await
            .unwrap();
        let template_pool = sqlx::MySqlPool::connect(&format!("{base}/{template}"))
            .await
            .unwrap();
        let copy: Option<String> = sqlx::query_scalar("SELECT script FROM _migrate_template_copy")
            .fetch_one(&template_pool)
            .await
            .unwrap();
        assert_eq!(copy.is_none(), view, "a view is not copied: replayed");
        for table in ["p", "c", "e", "_migrate_history"] {
            let show = |pool| {
                let query = format!("SHOW CREATE TABLE `{table}`");
                async move {
                    let (_, create): (String, String) = sqlx::query_as(sqlx::AssertSqlSafe(query))
                        .fetch_one(pool)
                        .await
                        .unwrap();
                    create
                }
            };
            assert_eq!(show(&pool).await, show(&template_pool).await, "{table}");
        }
        let rows: Vec<(i32, String)> = sqlx::query_as("SELECT id, name FROM p ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap();
        assert_eq!(rows, [(1, "one".to_owned()), (2, "two".to_owned())]);
        let status = migrate::sqlx::status(&pool, &set, &Default::default())
            .await
            .unwrap();
        assert_eq!((status.current, status.pending), (set.head(), 0));
        // Foreign keys are checked again.
        assert!(
            sqlx::query("INSERT INTO c VALUES (2, 99, NULL)")
                .execute(&pool)
                .await
                .is_err()
        );
        if view {
            let names: i64 = sqlx::query_scalar("SELECT count(*) FROM v")
                .fetch_one(&pool)
                .await
                .unwrap();
            assert_eq!(names, 2);
        }
        assert!(name.starts_with("migrate_test_copy_"));
        pool.close().await;
        template_pool.close().await;
        fresh.remove().await.unwrap();
        drop_database(Kind::MySql, &url, &template).await;
    }
}

/// PostgreSQL: `#[migrate::test]` makes a ready copy of the template while
/// the test runs, which the next test takes.
#[test]
fn on_postgres_the_attribute_makes_the_next_ready_copy() {
    let Some(url) = crate::servers::url(Kind::Postgres) else {
        return;
    };
    let (_dir, set) = own_set(&[("0001_t.sql", "CREATE TABLE t (a INT);\n")]);
    let template = format!("migrate_tpl_{}", migrate::testing::digest(&set));
    let rt = runtime();
    let spares = || {
        rt.block_on(databases_like(
            Kind::Postgres,
            &url,
            &format!("{template}_s"),
        ))
    };
    let mut seen = Vec::new();
    for _ in 0..2 {
        migrate::testing::__run_async(
            &set,
            "attribute::makes_the_next",
            Kind::Postgres.variable(),
            |pool: sqlx::PgPool| async move {
                sqlx::query("INSERT INTO t VALUES (1)")
                    .execute(&pool)
                    .await
                    .unwrap();
            },
        );
        seen.push(spares());
    }
    assert_eq!(seen[0].len(), 1, "one made during the first test");
    assert_eq!(seen[1].len(), 1, "taken by the second, which made another");
    assert_ne!(seen[0], seen[1]);
    for name in rt.block_on(databases_like(Kind::Postgres, &url, &template)) {
        rt.block_on(drop_database(Kind::Postgres, &url, &name));
    }
}

/// Fail on purpose, for `a_failing_test_prints_the_name_of_its_kept_database`.
#[migrate::test(migrations = "../fixtures/portable")]
#[ignore = "fails on purpose; run by a_failing_test_prints_the_name_of_its_kept_database"]
fn fails_on_purpose_on_sqlite(conn: ::rusqlite::Connection) {
    conn.execute(SAME_ROW, []).unwrap();
    panic!("on purpose");
}

#[migrate::test(migrations = "../fixtures/portable", env = "MIGRATE_TEST_POSTGRES_URL")]
#[ignore = "fails on purpose; run by a_failing_test_prints_the_name_of_its_kept_database"]
async fn fails_on_purpose_on_postgres(pool: sqlx::PgPool) {
    sqlx::query(SAME_ROW).execute(&pool).await.unwrap();
    panic!("on purpose");
}

/// A failing `#[migrate::test]` prints, on stderr, the name of the
/// database it kept, which holds what the test did: run in a process of
/// its own (this test binary, with the failing tests named).
#[test]
fn a_failing_test_prints_the_name_of_its_kept_database() {
    let mut tests = vec!["attribute::fails_on_purpose_on_sqlite"];
    if crate::servers::url(Kind::Postgres).is_some() {
        tests.push("attribute::fails_on_purpose_on_postgres");
    }
    for test in tests {
        let output = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--ignored", "--exact", "--test-threads=1", test])
            .output()
            .unwrap();
        assert!(!output.status.success(), "{test} fails");
        let stderr = String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr);
        let prefix = format!("migrate::test kept the database of the failed test main::{test}: ");
        let line = stderr
            .lines()
            .find_map(|line| line.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("no line {prefix:?} in:\n{stderr}"))
            .to_owned();
        if test.ends_with("sqlite") {
            let conn = ::rusqlite::Connection::open(&line).unwrap();
            let rows: i64 = conn
                .query_row("SELECT count(*) FROM users", [], |r| r.get(0))
                .unwrap();
            assert_eq!(rows, 2, "the test's own row is there to look at");
            drop(conn);
            std::fs::remove_file(&line).unwrap();
        } else {
            let url = crate::servers::url(Kind::Postgres).unwrap();
            let name = line.strip_prefix("PostgreSQL database ").unwrap();
            let rt = runtime();
            assert_eq!(rt.block_on(users(Kind::Postgres, &url, name)), 2);
            rt.block_on(drop_database(Kind::Postgres, &url, name));
        }
    }
}

/// With no argument, the attribute embeds `migrations/` beside Cargo.toml
/// (here a link to fixtures/app, six migrations) and reads `DATABASE_URL`.
#[migrate::test]
fn with_no_argument_the_attribute_uses_migrations_beside_cargo_toml(conn: ::rusqlite::Connection) {
    let versions: Vec<i64> = conn
        .prepare("SELECT version FROM _migrate_history ORDER BY version")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let app =
        Migrations::from_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/app")).unwrap();
    let expected: Vec<i64> = app.iter().map(|m| m.version()).collect();
    assert_eq!(versions, expected);
    assert_eq!(versions.len(), 6);
}
