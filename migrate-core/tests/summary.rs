//! The summary beside the history table: a start with nothing to do reads
//! one row, and a history written by anyone but the runner (a row deleted,
//! a checksum changed, a dirty mark, an unknown version, an older release)
//! is always read in full, as before the summary existed.

use std::cell::RefCell;

use migrate::{Direction, Migrations, Options, Target};
use proptest::prelude::*;
use rusqlite::Connection;

use crate::common::TempDb;

thread_local! {
    static TRACED: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

fn record(sql: &str) {
    TRACED.with(|traced| traced.borrow_mut().push(sql.to_owned()));
}

/// The statements `f` sends on `conn`.
// `trace` is what every supported rusqlite (0.32 to 0.39) has.
#[allow(deprecated)]
fn traced<T>(conn: &mut Connection, f: impl FnOnce(&Connection) -> T) -> (T, Vec<String>) {
    TRACED.with(|traced| traced.borrow_mut().clear());
    conn.trace(Some(record));
    let out = f(conn);
    conn.trace(None);
    (out, TRACED.with(|traced| traced.take()))
}

/// Whether an upgrade to head was answered by the summary alone: the
/// schema cookie and the summary's row.
fn fast(conn: &mut Connection, set: &Migrations, options: &Options) -> (bool, bool) {
    let (report, statements) = traced(conn, |conn| {
        set.with_options(options.clone())
            .upgrade(conn, Target::Head)
    });
    // The schema cookie (from the file's header), then the summary's row.
    let summary_alone = statements.len() == 2
        && statements[0] == "PRAGMA main.schema_version"
        && statements[1].starts_with("SELECT digest");
    (summary_alone, report.is_ok_and(|r| r.steps.is_empty()))
}

/// A set of `n` reversible migrations whose scripts run again harmlessly;
/// `edit` changes one file's text (and so its checksum).
fn set(n: i64, edit: Option<i64>) -> (tempfile::TempDir, Migrations) {
    let dir = tempfile::tempdir().unwrap();
    for v in 1..=n {
        let extra = if edit == Some(v) { " -- edited" } else { "" };
        std::fs::write(
            dir.path().join(format!("{v}_m{v}.up.sql")),
            format!("SELECT {v};{extra}"),
        )
        .unwrap();
        std::fs::write(dir.path().join(format!("{v}_m{v}.down.sql")), "SELECT 0;").unwrap();
    }
    let set = Migrations::from_dir(dir.path()).unwrap();
    (dir, set)
}

#[test]
fn a_start_with_nothing_to_do_reads_one_summary_row() {
    let (_dir, set) = set(3, None);
    let db = TempDb::new();
    migrate::run(&db.open(), &set).unwrap();
    let mut conn = db.open();
    assert_eq!(fast(&mut conn, &set, &Options::default()), (true, true));
    // Checksums ignored: the summary holds them, so the rows are read.
    let ignoring = Options::default().ignore_checksums(true);
    assert_eq!(fast(&mut conn, &set, &ignoring), (false, true));
}

#[test]
fn every_hand_edit_is_read_in_full() {
    let edits = [
        "DELETE FROM _migrate_history WHERE version = 2",
        "DELETE FROM _migrate_history",
        "UPDATE _migrate_history SET checksum = 'x' WHERE version = 1",
        "UPDATE _migrate_history SET success = FALSE WHERE version = 3",
        "INSERT INTO _migrate_history (version, name, checksum, applied_at, execution_ms, success) \
         VALUES (9, 'n', 'c', '2026-01-01T00:00:00Z', 0, TRUE)",
        // Changes nothing, and is still a write the runner did not make.
        "UPDATE _migrate_history SET name = name",
    ];
    let (_dir, set) = set(3, None);
    for edit in edits {
        let db = TempDb::new();
        migrate::run(&db.open(), &set).unwrap();
        let mut conn = db.open();
        conn.execute_batch(edit).unwrap();
        let (summary_alone, _) = fast(&mut conn, &set, &Options::default());
        assert!(!summary_alone, "{edit}");
    }
}

/// The history table copied, dropped and made again, as GUI tools alter a
/// table: its triggers go with it.
const REBUILD: &str = "CREATE TABLE copied AS SELECT * FROM _migrate_history; \
    DROP TABLE _migrate_history; \
    CREATE TABLE _migrate_history (version BIGINT PRIMARY KEY, name TEXT NOT NULL, \
    checksum TEXT NOT NULL, down_sql TEXT, applied_at TEXT NOT NULL, \
    execution_ms BIGINT NOT NULL, success BOOLEAN NOT NULL) WITHOUT ROWID; \
    INSERT INTO _migrate_history SELECT * FROM copied; DROP TABLE copied";

/// Once a trigger is gone, a hand edit moves no counter: the start sees
/// that the schema changed since the summary was written, and reads the
/// history in full, so the edit is caught; a run with work makes the
/// triggers again, and the summary is read alone once more.
#[test]
fn a_hand_edit_made_once_a_trigger_is_gone_is_still_read_in_full() {
    let losses = [
        "DROP TRIGGER _migrate_history_summary_insert",
        "DROP TRIGGER _migrate_history_summary_update",
        "DROP TRIGGER _migrate_history_summary_delete",
        REBUILD,
    ];
    let edits = [
        "UPDATE _migrate_history SET checksum = 'x' WHERE version = 1",
        "DELETE FROM _migrate_history WHERE version = 2",
        "INSERT INTO _migrate_history (version, name, checksum, applied_at, execution_ms, success) \
         VALUES (9, 'n', 'c', '2026-01-01T00:00:00Z', 0, TRUE)",
    ];
    let (_dir4, four) = set(4, None);
    let (_dir, set) = set(3, None);
    for loss in losses {
        for edit in edits {
            let db = TempDb::new();
            migrate::run(&db.open(), &set).unwrap();
            let mut conn = db.open();
            conn.execute_batch(loss).unwrap();
            conn.execute_batch(edit).unwrap();
            let (summary_alone, _) = fast(&mut conn, &set, &Options::default());
            assert!(!summary_alone, "{loss}; {edit}");
        }
        // Lost, then a run with work: the triggers are back, and the
        // summary answers again (and catches the next edit by its counter).
        let db = TempDb::new();
        migrate::run(&db.open(), &set).unwrap();
        let mut conn = db.open();
        conn.execute_batch(loss).unwrap();
        assert_eq!(
            fast(&mut conn, &set, &Options::default()),
            (false, true),
            "{loss}"
        );
        migrate::run(&conn, &four).unwrap();
        assert_eq!(
            fast(&mut conn, &four, &Options::default()),
            (true, true),
            "{loss}"
        );
        conn.execute_batch(edits[0]).unwrap();
        let (summary_alone, _) = fast(&mut conn, &four, &Options::default());
        assert!(!summary_alone, "{loss}, then a run, then an edit");
    }
}

/// `VACUUM`, and the application's own DDL, change SQLite's schema
/// cookie: the next starts read the history in full (correct, slower)
/// until a run with work records the summary again.
#[test]
fn after_vacuum_or_other_ddl_the_history_is_read_in_full_until_a_run_with_work() {
    let (_dir4, four) = set(4, None);
    let (_dir, set) = set(3, None);
    for change in ["VACUUM", "CREATE TABLE the_apps_own (id INT)"] {
        let db = TempDb::new();
        let mut conn = db.open();
        migrate::run(&conn, &set).unwrap();
        conn.execute_batch(change).unwrap();
        assert_eq!(
            fast(&mut conn, &set, &Options::default()),
            (false, true),
            "{change}"
        );
        migrate::run(&conn, &four).unwrap();
        assert_eq!(
            fast(&mut conn, &four, &Options::default()),
            (true, true),
            "{change}"
        );
    }
}

#[test]
fn a_run_with_work_records_the_summary_again() {
    let (_dir, set) = set(3, None);
    let db = TempDb::new();
    let mut conn = db.open();
    migrate::run(&conn, &set).unwrap();
    conn.execute_batch("DELETE FROM _migrate_history WHERE version = 3")
        .unwrap();
    // Read in full, 3 applied again (its script runs twice harmlessly).
    let (summary_alone, _) = fast(&mut conn, &set, &Options::default());
    assert!(!summary_alone);
    assert_eq!(fast(&mut conn, &set, &Options::default()), (true, true));
}

#[test]
fn sql_printed_and_run_by_hand_keeps_the_summary_as_a_run_does() {
    let (_dir, two) = set(2, None);
    let (_dir3, three) = set(3, None);
    for (summary_first, edited_meanwhile) in [(true, false), (false, false), (true, true)] {
        let db = TempDb::new();
        let mut conn = db.open();
        if summary_first {
            migrate::run(&conn, &two).unwrap();
        }
        // From an empty database, the printed SQL makes the summary too.
        let sql = three
            .with_options(Options::default())
            .sql(&conn, Direction::Up, Target::Head)
            .unwrap();
        if edited_meanwhile {
            conn.execute_batch("UPDATE _migrate_history SET name = name")
                .unwrap();
        }
        conn.execute_batch(&sql).unwrap();
        // Something written between the printing and the running leaves
        // the summary unread.
        assert_eq!(
            fast(&mut conn, &three, &Options::default()),
            (!edited_meanwhile, true),
            "summary first: {summary_first}, edited meanwhile: {edited_meanwhile}"
        );
    }
}

#[test]
fn a_table_written_by_an_older_release_is_upgraded_only_by_a_run_with_work() {
    let (_dir, two) = set(2, None);
    let (_dir3, three) = set(3, None);
    let db = TempDb::new();
    let mut conn = db.open();
    migrate::run(&conn, &two).unwrap();
    // As an older release left it: no summary.
    conn.execute_batch(
        "DROP TRIGGER _migrate_history_summary_insert; DROP TRIGGER _migrate_history_summary_update; \
         DROP TRIGGER _migrate_history_summary_delete; DROP TABLE _migrate_history_summary",
    )
    .unwrap();
    assert_eq!(fast(&mut conn, &two, &Options::default()), (false, true));
    // Read-only verbs write nothing.
    two.status(&conn).unwrap();
    two.with_options(Options::default())
        .plan(&conn, Direction::Up, Target::Head)
        .unwrap();
    let made: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE name LIKE '%summary%'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(made, 0, "a read-only verb made the summary");
    // A run with work makes it, and the next start reads one row.
    migrate::run(&conn, &three).unwrap();
    assert_eq!(fast(&mut conn, &three, &Options::default()), (true, true));
}

/// What happens to the database between two starts.
#[derive(Debug, Clone)]
enum Event {
    /// The runner upgrades to head with build `b` (0: the set, 1: one file
    /// edited, 2: one migration fewer, 3: one more).
    Upgrade(usize),
    /// The runner goes down to version `v`.
    Downgrade(i64),
    /// `stamp` at version `v`.
    Stamp(i64),
    /// By hand: a row deleted.
    Delete(i64),
    /// By hand: a checksum changed.
    Checksum(i64),
    /// By hand: a dirty mark.
    Dirty(i64),
    /// By hand: an unknown version.
    Unknown(i64),
    /// By hand: an update that changes no value.
    Noop,
    /// By hand: one of the summary's triggers dropped (0: insert, 1:
    /// update, 2: delete).
    DropTrigger(usize),
    /// By hand: the history table copied, dropped and made again, as GUI
    /// tools alter a table (its triggers go with it).
    Rebuild,
    /// `VACUUM` (a schema change for SQLite's cookie).
    Vacuum,
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        (0..4usize).prop_map(Event::Upgrade),
        (0..5i64).prop_map(Event::Downgrade),
        (0..5i64).prop_map(Event::Stamp),
        (1..5i64).prop_map(Event::Delete),
        (1..5i64).prop_map(Event::Checksum),
        (1..5i64).prop_map(Event::Dirty),
        (5..9i64).prop_map(Event::Unknown),
        Just(Event::Noop),
        (0..3usize).prop_map(Event::DropTrigger),
        Just(Event::Rebuild),
        Just(Event::Vacuum),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// For random histories, the summary's answer is the full path's:
    /// whenever one row answered "nothing to do", the planner reading every
    /// row agrees; when the runner wrote last, it answers exactly when the
    /// planner would; after a hand edit it never answers.
    #[test]
    fn the_summary_agrees_with_the_full_read(
        events in proptest::collection::vec(event(), 0..8),
        asked in 0..4usize,
    ) {
        let builds = [set(4, None), set(4, Some(2)), set(3, None), set(5, None)];
        let conn_db = TempDb::new();
        let mut conn = conn_db.open();
        // The runner wrote last (false after a hand edit until it writes).
        let mut runner_last = true;
        // A trigger dropped or the schema changed since the runner last
        // wrote: the summary is not read until it writes again.
        let mut disarmed = false;
        for event in &events {
            let base = &builds[0].1;
            let hand = |sql: String| conn.execute_batch(&sql).map(|_| ());
            let before = conn.total_changes();
            match event {
                Event::Upgrade(b) => {
                    let _ = migrate::run(&conn, &builds[*b].1);
                }
                Event::Downgrade(v) => {
                    let target = if *v == 0 { Target::Base } else { Target::Version(*v) };
                    let _ = base.downgrade(&conn, target);
                }
                Event::Stamp(v) => {
                    let target = if *v == 0 { Target::Base } else { Target::Version(*v) };
                    let _ = base.stamp(&conn, target);
                }
                Event::Delete(v) => {
                    if hand(format!("DELETE FROM _migrate_history WHERE version = {v}")).is_ok()
                        && conn.changes() > 0
                    {
                        runner_last = false;
                    }
                }
                Event::Checksum(v) => {
                    if hand(format!("UPDATE _migrate_history SET checksum = 'edited' WHERE version = {v}")).is_ok()
                        && conn.changes() > 0
                    {
                        runner_last = false;
                    }
                }
                Event::Dirty(v) => {
                    if hand(format!("UPDATE _migrate_history SET success = FALSE WHERE version = {v}")).is_ok()
                        && conn.changes() > 0
                    {
                        runner_last = false;
                    }
                }
                Event::Unknown(v) => {
                    if hand(format!(
                        "INSERT INTO _migrate_history (version, name, checksum, applied_at, execution_ms, success) \
                         VALUES ({v}, 'u', 'c', '2026-01-01T00:00:00Z', 0, TRUE)"
                    )).is_ok()
                    {
                        runner_last = false;
                    }
                }
                Event::Noop => {
                    if hand("UPDATE _migrate_history SET name = name".to_owned()).is_ok()
                        && conn.changes() > 0
                    {
                        runner_last = false;
                    }
                }
                Event::DropTrigger(which) => {
                    let which = ["insert", "update", "delete"][*which];
                    if hand(format!("DROP TRIGGER _migrate_history_summary_{which}")).is_ok() {
                        disarmed = true;
                    }
                }
                Event::Rebuild => {
                    let rebuilt = hand(
                        "BEGIN; CREATE TABLE copied AS SELECT * FROM _migrate_history; \
                         DROP TABLE _migrate_history; \
                         CREATE TABLE _migrate_history (version BIGINT PRIMARY KEY, name TEXT NOT NULL, \
                         checksum TEXT NOT NULL, down_sql TEXT, applied_at TEXT NOT NULL, \
                         execution_ms BIGINT NOT NULL, success BOOLEAN NOT NULL) WITHOUT ROWID; \
                         INSERT INTO _migrate_history SELECT * FROM copied; DROP TABLE copied; COMMIT"
                            .to_owned(),
                    );
                    match rebuilt {
                        Ok(()) => disarmed = true,
                        Err(_) => hand("ROLLBACK".to_owned()).unwrap_or(()),
                    }
                }
                Event::Vacuum => {
                    hand("VACUUM".to_owned()).unwrap();
                    disarmed = true;
                }
            }
            // The runner wrote to the history (the summary's counter).
            if matches!(event, Event::Upgrade(_) | Event::Downgrade(_) | Event::Stamp(_))
                && conn.total_changes() > before
            {
                runner_last = true;
                disarmed = false;
            }
        }
        let set = &builds[asked].1;
        let full = set
            .with_options(Options::default())
            .plan(&conn, Direction::Up, Target::Head)
            .is_ok_and(|plan| plan.steps.is_empty());
        let (summary_alone, nothing_done) = fast(&mut conn, set, &Options::default());
        if summary_alone {
            prop_assert!(full, "the summary said up to date, the full read did not");
            prop_assert!(nothing_done);
            prop_assert!(runner_last, "a hand-edited history took the summary's word");
        }
        if runner_last && full && !disarmed {
            // Only a table the runner never wrote with work has no summary.
            let has_summary = conn
                .query_row("SELECT count(*) FROM _migrate_history_summary WHERE id = 1", [], |r| r.get::<_, i64>(0))
                .is_ok_and(|n| n == 1);
            prop_assert_eq!(summary_alone, has_summary);
        }
    }
}

/// `sql` (if any), then a run of `set` to head, on `database`.
async fn server_run(
    database: &crate::servers::Database,
    set: &Migrations,
    sql: Option<&str>,
) -> Result<usize, migrate::Error> {
    if let Some(sql) = sql {
        crate::servers::execute(&database.url, database.kind, sql).await;
    }
    crate::servers::upgrade(&database.url, database.kind, set, &Options::default()).await
}

/// On PostgreSQL and MySQL/MariaDB the start checks the triggers
/// themselves: one dropped (or, on PostgreSQL, disabled) and a checksum
/// edited by hand, the next run reads the history in full and refuses the
/// edit. A dropped trigger is made again by the next run with work.
async fn server_edit_after_a_trigger_is_lost(
    kind: crate::servers::Kind,
    losses: &[&str],
    triggers: &str,
    all: i64,
) {
    use crate::servers::Database;
    let (_dir4, four) = set(4, None);
    let (_dir, set) = set(3, None);
    for loss in losses {
        let Some(database) = Database::create(kind).await else {
            return;
        };
        server_run(&database, &set, None).await.unwrap();
        let edit = format!(
            "{loss}; UPDATE _migrate_history SET checksum = '{}' WHERE version = 1",
            "0".repeat(64)
        );
        let err = server_run(&database, &set, Some(&edit)).await.unwrap_err();
        assert!(
            err.to_string()
                .starts_with("migration 1 (1_m1.up.sql) was changed after it was applied"),
            "{loss}: {err}"
        );
    }
    let Some(database) = Database::create(kind).await else {
        return;
    };
    server_run(&database, &set, None).await.unwrap();
    server_run(&database, &four, Some(losses[0])).await.unwrap();
    let count = format!("SELECT count(*) FROM ({triggers}) AS t");
    let made = crate::servers::count(&database.url, kind, &count).await;
    assert_eq!(made, all, "the run with work made the trigger again");
}

#[tokio::test]
async fn postgres_a_hand_edit_made_once_a_trigger_is_gone_is_still_caught() {
    server_edit_after_a_trigger_is_lost(
        crate::servers::Kind::Postgres,
        &[
            "DROP TRIGGER _migrate_history_summary_rows ON _migrate_history",
            "ALTER TABLE _migrate_history DISABLE TRIGGER _migrate_history_summary_rows",
        ],
        "SELECT tgname FROM pg_trigger WHERE tgrelid = '_migrate_history'::regclass \
         AND tgname LIKE '_migrate_history_summary%'",
        2,
    )
    .await;
}

#[tokio::test]
async fn mysql_a_hand_edit_made_once_a_trigger_is_gone_is_still_caught() {
    server_edit_after_a_trigger_is_lost(
        crate::servers::Kind::MySql,
        &["DROP TRIGGER _migrate_history_summary_update"],
        "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS \
         WHERE EVENT_OBJECT_SCHEMA = DATABASE() AND EVENT_OBJECT_TABLE = '_migrate_history'",
        3,
    )
    .await;
}

/// A history table in an attached SQLite schema has its triggers looked up
/// at start (its schema's cookie cannot be read in the query): one dropped,
/// an edit is caught all the same.
#[test]
fn in_an_attached_schema_a_hand_edit_made_once_a_trigger_is_gone_is_caught() {
    let (_dir, set) = set(3, None);
    let db = TempDb::new();
    let other = TempDb::new();
    let conn = db.open();
    conn.execute("ATTACH DATABASE ?1 AS aux", [other.path.to_str().unwrap()])
        .unwrap();
    let set = set.with_options(Options::default().table("aux.h").unwrap());
    set.upgrade(&conn, Target::Head).unwrap();
    conn.execute_batch(
        "DROP TRIGGER aux.h_summary_update; \
         UPDATE aux.h SET checksum = 'x' WHERE version = 1",
    )
    .unwrap();
    let err = set.upgrade(&conn, Target::Head).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("migration 1 (1_m1.up.sql) was changed after it was applied"),
        "{err}"
    );
}
