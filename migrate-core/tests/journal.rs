//! SQLite's rollback journal during a run: kept between the commits of a
//! run that commits more than once (`PERSIST`), deleted again at its end,
//! and never changed where a script chose another mode; through rusqlite
//! and through sqlx.

use std::cell::RefCell;
use std::path::PathBuf;

use migrate::{Migrations, Options, TransactionMode};
use rusqlite::Connection;
use rusqlite::functions::FunctionFlags;
use rusqlite::trace::{TraceEvent, TraceEventCodes};

use crate::common::{TempDb, migration_dir, versions};

thread_local! {
    /// The statements the traced connection ran, on this test's thread.
    static TRACED: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

fn traced(event: TraceEvent<'_>) {
    if let TraceEvent::Stmt(_, sql) = event {
        TRACED.with(|traced| traced.borrow_mut().push(sql.to_owned()));
    }
}

/// A connection on `db` with `journal_on_disk()`: whether the rollback
/// journal's file exists as a statement runs.
fn open(db: &TempDb) -> Connection {
    let conn = db.open();
    let journal = PathBuf::from(format!("{}-journal", db.path.display()));
    conn.create_scalar_function(
        "journal_on_disk",
        0,
        FunctionFlags::SQLITE_UTF8,
        move |_| Ok(journal.exists()),
    )
    .unwrap();
    TRACED.with(|traced| traced.borrow_mut().clear());
    conn.trace_v2(TraceEventCodes::SQLITE_TRACE_STMT, Some(traced));
    conn
}

/// Runs `files` on `conn` one transaction per step.
fn per_step(conn: &Connection, files: &[(&str, &str)]) -> Result<migrate::Report, migrate::Error> {
    let dir = migration_dir(files);
    Migrations::from_dir(dir.path())
        .unwrap()
        .with_options(Options::default().transaction_mode(TransactionMode::PerStep))
        .upgrade(conn, migrate::Target::Head)
}

fn journal_mode(conn: &Connection) -> String {
    conn.query_row("PRAGMA main.journal_mode", [], |row| row.get(0))
        .unwrap()
}

fn probes(conn: &Connection) -> Vec<(i64, bool)> {
    let mut statement = conn
        .prepare("SELECT step, on_disk FROM probe ORDER BY step")
        .unwrap();
    statement
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn kept() -> usize {
    TRACED.with(|traced| {
        traced
            .borrow()
            .iter()
            .filter(|sql| *sql == "PRAGMA main.journal_mode = PERSIST")
            .count()
    })
}

/// The journal was kept once, and is gone with its mode after the run;
/// steps 1 to 3 applied.
fn deleted_again(db: &TempDb, conn: &Connection) {
    assert_eq!(kept(), 1);
    assert_eq!(journal_mode(conn), "delete");
    assert!(!PathBuf::from(format!("{}-journal", db.path.display())).exists());
    assert_eq!(versions(conn), [1, 2, 3]);
}

/// Each probe reads, before its step writes anything, whether the journal's
/// file is there: from the third transaction on it is, left by the commit
/// before; at the end the connection deletes it again.
const PROBED: [(&str, &str); 3] = [
    (
        "1_probe.sql",
        "CREATE TABLE probe (step INT, on_disk INT);\nINSERT INTO probe VALUES (1, journal_on_disk());",
    ),
    (
        "2_second.sql",
        "INSERT INTO probe VALUES (2, journal_on_disk());",
    ),
    (
        "3_third.sql",
        "INSERT INTO probe VALUES (3, journal_on_disk());",
    ),
];

#[test]
fn a_run_of_several_commits_keeps_the_journal_between_them_and_deletes_it_at_the_end() {
    let db = TempDb::new();
    let conn = open(&db);
    let report = per_step(&conn, &PROBED).unwrap();
    assert_eq!(report.steps.len(), 3);
    // Step 1 made its table, so its journal was open already; its commit
    // deleted the journal, and step 2's commit kept it for step 3.
    assert_eq!(probes(&conn), [(1, true), (2, false), (3, true)]);
    deleted_again(&db, &conn);
}

#[test]
fn a_run_of_one_commit_leaves_the_journal_mode_alone() {
    let db = TempDb::new();
    let conn = open(&db);
    // The three steps in one transaction, one commit.
    let dir = migration_dir(&PROBED);
    let set = Migrations::from_dir(dir.path()).unwrap();
    set.with_options(Options::default().transaction_mode(TransactionMode::Single))
        .upgrade(&conn, migrate::Target::Head)
        .unwrap();
    assert_eq!(kept(), 0);
    assert_eq!(journal_mode(&conn), "delete");
    // One step, per step: one commit.
    let db = TempDb::new();
    let conn = open(&db);
    per_step(&conn, &PROBED[..1]).unwrap();
    assert_eq!(kept(), 0);
}

#[test]
fn a_failing_step_still_deletes_the_kept_journal() {
    let db = TempDb::new();
    let conn = open(&db);
    let mut files = PROBED.to_vec();
    files.push(("4_fails.sql", "INSERT INTO nowhere VALUES (1);"));
    let err = per_step(&conn, &files).unwrap_err();
    assert!(err.to_string().contains("4_fails.sql"), "{err}");
    deleted_again(&db, &conn);
}

#[test]
fn a_journal_mode_a_script_chose_stays() {
    let db = TempDb::new();
    let conn = open(&db);
    let mut files = PROBED.to_vec();
    files.push((
        "4_wal.sql",
        "-- migrate:no-transaction\nPRAGMA journal_mode = WAL;",
    ));
    files.push(("5_after.sql", "INSERT INTO probe VALUES (5, 0);"));
    per_step(&conn, &files).unwrap();
    assert_eq!(journal_mode(&conn), "wal");
    assert_eq!(versions(&conn), [1, 2, 3, 4, 5]);
}

#[test]
fn a_database_not_in_delete_mode_is_left_as_it_is() {
    for mode in ["truncate", "wal"] {
        let db = TempDb::new();
        let conn = open(&db);
        let set: String = conn
            .query_row(&format!("PRAGMA journal_mode = {mode}"), [], |row| {
                row.get(0)
            })
            .unwrap();
        assert_eq!(set, mode);
        per_step(&conn, &PROBED).unwrap();
        assert_eq!(kept(), 0, "{mode}");
        assert_eq!(journal_mode(&conn), mode);
    }
}

/// Each probe records the journal mode its step ran under.
const MODES: [(&str, &str); 3] = [
    (
        "1_probe.sql",
        "CREATE TABLE probe (step INT, mode TEXT);\n\
         INSERT INTO probe SELECT 1, journal_mode FROM pragma_journal_mode;",
    ),
    (
        "2_second.sql",
        "INSERT INTO probe SELECT 2, journal_mode FROM pragma_journal_mode;",
    ),
    (
        "3_third.sql",
        "INSERT INTO probe SELECT 3, journal_mode FROM pragma_journal_mode;",
    ),
];

/// A sqlx pool of one connection on `db` (so that the connection read
/// after a run is the run's).
async fn one_connection_pool(db: &TempDb) -> sqlx::SqlitePool {
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&db.path)
        .create_if_missing(true);
    sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .unwrap()
}

/// The run through a one-connection sqlx pool (so that the connection
/// read afterwards is the run's), and whether it succeeded; then the
/// modes each step ran under, the connection's mode after the run, and
/// whether the journal's file is left.
async fn through_sqlx(files: &[(&str, &str)]) -> (bool, Vec<(i64, String)>, String, bool) {
    let db = TempDb::new();
    let pool = one_connection_pool(&db).await;
    let dir = migration_dir(files);
    let set = Migrations::from_dir(dir.path()).unwrap();
    let per_step = Options::default().transaction_mode(TransactionMode::PerStep);
    let ran = migrate::sqlx::upgrade(&pool, &set, migrate::Target::Head, &per_step)
        .await
        .is_ok();
    let modes = sqlx::query_as("SELECT step, mode FROM probe ORDER BY step")
        .fetch_all(&pool)
        .await
        .unwrap();
    let after = sqlx::query_scalar("PRAGMA main.journal_mode")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    let left = PathBuf::from(format!("{}-journal", db.path.display())).exists();
    (ran, modes, after, left)
}

/// Steps 1 to 3's modes: the journal kept from the second transaction on.
fn kept_from_step_2() -> Vec<(i64, String)> {
    modes(&[(1, "delete"), (2, "persist"), (3, "persist")])
}

fn modes(expected: &[(i64, &str)]) -> Vec<(i64, String)> {
    expected
        .iter()
        .map(|(step, mode)| (*step, (*mode).to_owned()))
        .collect()
}

#[tokio::test]
async fn through_sqlx_the_journal_is_kept_from_the_second_transaction_and_deleted_at_the_end() {
    let (ran, probed, after, left) = through_sqlx(&MODES).await;
    assert!(ran);
    assert_eq!(probed, kept_from_step_2());
    assert_eq!((after.as_str(), left), ("delete", false));
}

#[tokio::test]
async fn through_sqlx_a_failing_step_still_deletes_the_kept_journal() {
    let mut files = MODES.to_vec();
    files.push(("4_fails.sql", "INSERT INTO nowhere VALUES (1);"));
    let (ran, probed, after, left) = through_sqlx(&files).await;
    assert!(!ran);
    assert_eq!(probed, kept_from_step_2());
    assert_eq!((after.as_str(), left), ("delete", false));
}

#[tokio::test]
async fn through_sqlx_a_journal_mode_a_script_chose_stays() {
    let mut files = MODES.to_vec();
    files.push((
        "4_wal.sql",
        "-- migrate:no-transaction\nPRAGMA journal_mode = WAL;",
    ));
    files.push((
        "5_after.sql",
        "INSERT INTO probe SELECT 5, journal_mode FROM pragma_journal_mode;",
    ));
    let (ran, probed, after, _) = through_sqlx(&files).await;
    assert!(ran);
    assert_eq!(
        probed,
        modes(&[(1, "delete"), (2, "persist"), (3, "persist"), (5, "wal")])
    );
    assert_eq!(after, "wal");
}

/// A run dropped while the journal is kept (here, cancelled during a
/// long `no-transaction` step, once step 2 committed in `persist`) does not
/// hand its connection back to the pool in that mode: the pool's next
/// connection is a new one, in the database's own mode.
#[tokio::test]
async fn through_sqlx_a_run_dropped_while_the_journal_is_kept_closes_its_connection() {
    let db = TempDb::new();
    let pool = one_connection_pool(&db).await;
    let mut files = MODES[..2].to_vec();
    files.push((
        "3_long.sql",
        "-- migrate:no-transaction\n\
         WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 5000000) \
         SELECT count(*) FROM c;",
    ));
    let dir = migration_dir(&files);
    let set = Migrations::from_dir(dir.path()).unwrap();
    let per_step = Options::default().transaction_mode(TransactionMode::PerStep);
    let run = migrate::sqlx::upgrade(&pool, &set, migrate::Target::Head, &per_step);
    // Step 3 has begun once step 2's probe is committed; then the run is
    // dropped during it (its statement goes on in sqlx's worker until the
    // connection closes).
    let watcher = db.open();
    let step_3 = async {
        while watcher
            .query_row("SELECT count(*) FROM probe", [], |row| row.get::<_, i64>(0))
            .unwrap_or(0)
            < 2
        {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    tokio::select! {
        ran = run => panic!("the long step finished first: {ran:?}"),
        () = step_3 => {}
    }
    let mut conn = pool.acquire().await.unwrap();
    let probed: Vec<(i64, String)> = sqlx::query_as("SELECT step, mode FROM probe ORDER BY step")
        .fetch_all(&mut *conn)
        .await
        .unwrap();
    assert_eq!(probed, modes(&[(1, "delete"), (2, "persist")]));
    let mode: String = sqlx::query_scalar("PRAGMA main.journal_mode")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!(mode, "delete");
    drop(conn);
    pool.close().await;
}
