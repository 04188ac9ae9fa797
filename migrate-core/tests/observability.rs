//! What a run costs: a start with nothing to do runs one statement (the
//! summary's row; `tests/summary.rs` tests what it catches). (That
//! every step is a `tracing` span is tested in `tests/spans.rs`, a binary of
//! its own.)

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::common::{TempDb, fixture};

static STATEMENTS: AtomicUsize = AtomicUsize::new(0);
static TRACED: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn count_statement(sql: &str) {
    STATEMENTS.fetch_add(1, Ordering::SeqCst);
    TRACED.lock().unwrap().push(sql.to_owned());
}

#[test]
// `trace` is what every supported rusqlite (0.32 to 0.39) has.
#[allow(deprecated)]
fn a_start_with_nothing_to_do_reads_the_history_summary_alone() {
    let set = migrate::Migrations::from_dir(fixture("app")).unwrap();
    let db = TempDb::new();
    migrate::run(&db.open(), &set).unwrap();
    let mut conn = db.open();
    conn.trace(Some(count_statement));
    STATEMENTS.store(0, Ordering::SeqCst);
    let report = migrate::run(&conn, &set).unwrap();
    conn.trace(None);
    assert!(report.steps.is_empty());
    let traced = TRACED.lock().unwrap().clone();
    // The schema cookie (from the file's header), then the summary's row.
    assert_eq!(STATEMENTS.load(Ordering::SeqCst), 2, "{traced:?}");
    assert_eq!(traced[0], "PRAGMA main.schema_version", "{traced:?}");
    assert!(traced[1].starts_with("SELECT digest || '|'"), "{traced:?}");
}
