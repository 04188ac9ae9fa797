//! How one script runs on each backend: a failing statement is named by
//! its number and text (PostgreSQL and MySQL used to name none, and sqlx's
//! SQLite none either), PostgreSQL's DETAIL survives, and a large script
//! runs whole.

use migrate::{Error, Migrations};

use crate::common::{TempDb, migration_dir};
use crate::servers::{Database, Kind};

/// A set whose migration 2 holds `script`.
fn set_with(first: &str, script: &str) -> (tempfile::TempDir, Migrations) {
    let dir = migration_dir(&[("0001_t.sql", first), ("0002_x.sql", script)]);
    let set = Migrations::from_dir(dir.path()).unwrap();
    (dir, set)
}

/// The message of running a set with `first` and `script` on a fresh
/// database of the server, or `None` when the server is not configured.
async fn server_error(kind: Kind, first: &str, script: &str) -> Option<(String, Error)> {
    let database = Database::create(kind).await?;
    let (_dir, set) = set_with(first, script);
    let err = match kind {
        Kind::Postgres => {
            let pool = sqlx::PgPool::connect(&database.url).await.unwrap();
            migrate::sqlx::run(&pool, &set).await.unwrap_err()
        }
        Kind::MySql => {
            let pool = sqlx::MySqlPool::connect(&database.url).await.unwrap();
            migrate::sqlx::run(&pool, &set).await.unwrap_err()
        }
    };
    Some((err.to_string(), err))
}

const ROLLED_BACK: &str = "it was rolled back, so the database is as it was before this migration: fix the \
                           script and run again";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_names_the_failing_statement_and_keeps_the_detail() {
    let Some((message, err)) = server_error(
        Kind::Postgres,
        "CREATE TABLE t (id INT PRIMARY KEY);\n",
        "-- seed\nINSERT INTO t VALUES (1);\nSELECT 'a;b';\n\nINSERT INTO t VALUES (1);\nINSERT INTO t VALUES (2);\n",
    )
    .await
    else {
        return;
    };
    assert_eq!(
        message,
        format!(
            "migration 2 (0002_x.sql) failed at statement 3 (`INSERT INTO t VALUES (1)`): duplicate key value \
             violates unique constraint \"t_pkey\" (DETAIL:  Key (id)=(1) already exists.); {ROLLED_BACK}"
        )
    );
    assert!(matches!(
        err,
        Error::Step {
            statement: Some(3),
            ..
        }
    ));
}

/// PostgreSQL parses the whole query before running any of it: a syntax
/// error is found by its position, not by the statements completed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_names_the_statement_of_a_syntax_error() {
    let Some((message, _)) = server_error(
        Kind::Postgres,
        "CREATE TABLE t (id INT PRIMARY KEY);\n",
        "INSERT INTO t VALUES (1);\nSELECT 'é;';\nINSERTT INTO t VALUES (2);\nSELECT 3;\n",
    )
    .await
    else {
        return;
    };
    assert_eq!(
        message,
        format!(
            "migration 2 (0002_x.sql) failed at statement 3 (`INSERTT INTO t VALUES (2)`): syntax error at or \
             near \"INSERTT\"; {ROLLED_BACK}"
        )
    );
}

const DIRTY_AT_2: &str = "it ran outside a transaction, so the database may be partly changed and is marked \
                          dirty at 2: repair it by hand, then run `migrate stamp`";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_names_the_failing_statement_after_a_trigger() {
    // The trigger's body holds `;`: the server, not us, splits the script.
    let Some((message, _)) = server_error(
        Kind::MySql,
        "CREATE TABLE t (id INT);\n",
        "CREATE TRIGGER t_check BEFORE INSERT ON t FOR EACH ROW BEGIN\n\
           IF NEW.id < 0 THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'negative id'; END IF;\n\
         END;\n\
         INSERT INTO t VALUES (1); # one; two\n\
         INSERT INTO t VALUES (-1);\n\
         INSERT INTO t VALUES (2);\n",
    )
    .await
    else {
        return;
    };
    assert_eq!(
        message,
        format!(
            "migration 2 (0002_x.sql) failed at statement 3 (`INSERT INTO t VALUES (-1)`): negative id; \
             {DIRTY_AT_2}"
        )
    );
}

/// A `CALL` returns a result per `SELECT` in the procedure, so the results
/// no longer count statements: no statement is named rather than a wrong one.
/// The step has no DDL, so its transaction is rolled back whole, in-flight
/// mark included: not dirty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_names_no_statement_when_it_cannot_know() {
    let Some((message, _)) = server_error(
        Kind::MySql,
        "CREATE TABLE t (id INT);\n\
         CREATE PROCEDURE p() BEGIN SELECT 1; SELECT 2; END;\n",
        "CALL p();\n\
         INSERT INTO t VALUES (1);\n\
         SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'stop here';\n",
    )
    .await
    else {
        return;
    };
    assert_eq!(
        message,
        format!("migration 2 (0002_x.sql) failed: stop here; {ROLLED_BACK}")
    );
}

fn syntax_error_in_statement_3() -> (tempfile::TempDir, Migrations) {
    set_with(
        "CREATE TABLE t (id INT);\n",
        "INSERT INTO t VALUES (1);\n-- two\nINSERT INTO t VALUES (';');\nINSERT INTOO t VALUES (3);\nINSERT INTO t VALUES (4);\n",
    )
}

const SYNTAX_ERROR_IN_3: &str = "migration 2 (0002_x.sql) failed at statement 3 (`INSERT INTOO t VALUES (3);`): \
                                 near \"INTOO\": syntax error";

#[test]
fn sqlite_names_the_statement_of_a_syntax_error() {
    let (_dir, set) = syntax_error_in_statement_3();
    let db = TempDb::new();
    let err = migrate::run(&db.open(), &set).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("{SYNTAX_ERROR_IN_3}; {ROLLED_BACK}")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlx_sqlite_names_the_statement_of_a_syntax_error() {
    let (_dir, set) = syntax_error_in_statement_3();
    let db = TempDb::new();
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}?mode=rwc", db.path.display()))
        .await
        .unwrap();
    let err = migrate::sqlx::run(&pool, &set).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("{SYNTAX_ERROR_IN_3}; {ROLLED_BACK}")
    );
}

/// 20,000 `INSERT`s (about 1 MB), with a trigger and a failing statement
/// far into it for the failing variant: sqlx's SQLite driver gets such a
/// script in pieces, and the numbers must run on across them.
fn large_script(failing: Option<usize>) -> String {
    let mut script = String::from(
        "CREATE TABLE log (n INT);\n\
         CREATE TRIGGER counted AFTER INSERT ON t BEGIN INSERT INTO log VALUES (NEW.id); END;\n",
    );
    for n in 1..=20_000 {
        if Some(n) == failing {
            script.push_str("INSERT INTO missing_table VALUES (0);\n");
        }
        script.push_str(&format!(
            "INSERT INTO t (id, note) VALUES ({n}, 'row {n}; it''s -- all text');\n"
        ));
    }
    script
}

const LARGE_FIRST: &str = "CREATE TABLE t (id INTEGER PRIMARY KEY, note TEXT NOT NULL);\n";

#[test]
fn a_large_sqlite_script_runs_whole() {
    let (_dir, set) = set_with(LARGE_FIRST, &large_script(None));
    let db = TempDb::new();
    let conn = db.open();
    migrate::run(&conn, &set).unwrap();
    let counts: (i64, i64, i64) = conn
        .query_row(
            "SELECT (SELECT count(*) FROM t), (SELECT sum(id) FROM t), (SELECT count(*) FROM log)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(counts, (20_000, 20_000 * 20_001 / 2, 20_000));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_sqlx_sqlite_script_runs_whole_and_names_a_late_statement() {
    let db = TempDb::new();
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}?mode=rwc", db.path.display()))
        .await
        .unwrap();
    let (_dir, set) = set_with(LARGE_FIRST, &large_script(Some(15_000)));
    let err = migrate::sqlx::run(&pool, &set).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "migration 2 (0002_x.sql) failed at statement 15002 (`INSERT INTO missing_table VALUES (0);`): no \
             such table: missing_table; {ROLLED_BACK}"
        )
    );

    let (_dir, set) = set_with(LARGE_FIRST, &large_script(None));
    migrate::sqlx::run(&pool, &set).await.unwrap();
    let counts: (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM t), (SELECT sum(id) FROM t), (SELECT count(*) FROM log)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(counts, (20_000, 20_000 * 20_001 / 2, 20_000));
}

/// Regression: a MariaDB script larger than `max_allowed_packet` failed with
/// "Connection reset by peer" and left a dirty mark though nothing ran. It
/// is refused before its step marks anything, naming the setting.
#[tokio::test]
async fn a_mysql_script_larger_than_max_allowed_packet_is_refused_cleanly() {
    let Some(db) = Database::create(Kind::MySql).await else {
        return;
    };
    let pool = sqlx::MySqlPool::connect(&db.url).await.unwrap();
    let limit: u64 = sqlx::query_scalar("SELECT CAST(@@max_allowed_packet AS UNSIGNED)")
        .fetch_one(&pool)
        .await
        .unwrap();
    let padding = "x".repeat(usize::try_from(limit).unwrap());
    let script = format!("CREATE TABLE big (id INT);\n-- {padding}\n");
    let (_dir, set) = set_with("CREATE TABLE small (id INT);\n", &script);
    let err = migrate::sqlx::run(&pool, &set).await.unwrap_err();
    let size = script.len();
    assert_eq!(
        err.to_string(),
        format!(
            "migration 2 (0002_x.sql) is {size} bytes, more than the server's max_allowed_packet ({limit} bytes); \
             raise max_allowed_packet on the server (for example `SET GLOBAL max_allowed_packet = {}`) and run \
             again; nothing was changed",
            size.next_power_of_two()
        )
    );
    let rows: Vec<(i64, bool)> =
        sqlx::query_as("SELECT version, success FROM _migrate_history ORDER BY version")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(rows, [(1, true)], "no dirty mark");
    let big: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'big'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(big, 0);
}
