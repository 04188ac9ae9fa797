//! The execution stage without a database: a performer that writes down
//! each operation it is asked for, answers reads from a history it is
//! given, and fails the scripts it is told to fail.

use super::*;
use crate::dialect::Dialect;
use crate::plan::AppliedRow;
use crate::run::ScriptError;
use crate::{LockMode, Script, TransactionMode};

/// Migrations 1 and 2 (`up1`, `up2`); 2 says `no-transaction` when asked.
fn set(second_outside: bool) -> Vec<Migration> {
    vec![
        Migration::__embedded(
            1,
            "a",
            "c1",
            Script::__embedded("1_a.sql", "up1", false),
            None,
        ),
        Migration::__embedded(
            2,
            "b",
            "c2",
            Script::__embedded("2_b.sql", "up2", second_outside),
            None,
        ),
    ]
}

fn row(version: i64, checksum: &str) -> AppliedRow {
    AppliedRow {
        version,
        name: "a".into(),
        checksum: checksum.into(),
        applied_at: "2026-01-01T00:00:00.000000Z".into(),
        execution_ms: 0,
        success: true,
        has_down_sql: false,
    }
}

#[derive(Default)]
struct Recorder {
    log: Vec<String>,
    /// What a read under the lock finds.
    history: Vec<AppliedRow>,
    data_version: Option<i64>,
    /// The script that fails.
    failing: Option<&'static str>,
    /// The script after which the transaction is gone.
    ends: Option<&'static str>,
    /// The last script run.
    last: String,
    /// What a read finds after a rollback (a MySQL step's DDL committed).
    after_rollback: Vec<AppliedRow>,
    /// Whether the schema declares a foreign key; checks are logged only
    /// when it is set.
    keys: Option<bool>,
    /// The script after which another connection commits (the data
    /// version moves).
    moves_after: Option<&'static str>,
}

impl PerformNow for Recorder {
    fn announce(&mut self, step: &Step<'_>) {
        self.log.push(format!("-- {}", step.version));
    }
    fn begin(&mut self) -> Result<(), Error> {
        self.log.push("begin".into());
        Ok(())
    }
    fn keep_journal(&mut self) {}
    fn lock_step(&mut self) -> Result<(), Error> {
        self.log.push("lock step".into());
        Ok(())
    }
    fn ensure_table(&mut self) -> Result<(), Error> {
        self.log.push("ensure table".into());
        Ok(())
    }
    fn data_version(&mut self) -> Result<Option<i64>, Error> {
        Ok(self.data_version)
    }
    fn read_history(&mut self) -> Result<Vec<AppliedRow>, Error> {
        self.log.push("read".into());
        Ok(self.history.clone())
    }
    fn read_recorded(&mut self, version: i64) -> Result<Option<String>, Error> {
        self.log.push(format!("read recorded {version}"));
        Ok(None)
    }
    fn run_script(
        &mut self,
        script: &Resolved<'_>,
        sending: Sending,
        outside: bool,
    ) -> Result<(), ScriptError> {
        let how = match (sending, outside) {
            (Sending::EachStatement, _) => "each statement",
            (Sending::Batch, true) => "outside",
            (Sending::Batch, false) => "inside",
        };
        self.log.push(format!("run {} {how}", script.sql));
        self.last = script.sql.to_string();
        if self.moves_after == Some(&*script.sql) {
            self.data_version = self.data_version.map(|v| v + 1);
        }
        if self.failing == Some(&*script.sql) {
            return Err(ScriptError {
                statement: Some(1),
                statement_sql: Some("x".into()),
                message: "boom".into(),
                lock_wait: false,
                source: None,
            });
        }
        Ok(())
    }
    fn foreign_key_violation(&mut self) -> Result<Option<String>, Error> {
        if self.keys.is_some() {
            self.log.push("check keys".into());
        }
        Ok(None)
    }
    fn foreign_keys_declared(&mut self) -> Result<bool, Error> {
        let Some(keys) = self.keys else {
            return Ok(false);
        };
        self.log.push(format!("keys declared? {keys}"));
        Ok(keys)
    }
    fn transaction_ended(&mut self, _: bool) -> Result<bool, Error> {
        Ok(self.ends == Some(&*self.last))
    }
    fn write(&mut self, write: &Write<'_>) -> Result<(), Error> {
        self.log.push(match write {
            Write::Insert { row, .. } => format!("insert {} {}", row.version, row.success),
            Write::Mark {
                version, success, ..
            } => format!("mark {version} {success}"),
            Write::Delete(version) => format!("delete {version}"),
            Write::MarkClean { version, .. } => format!("mark clean {version}"),
            Write::Summary { digest, changes } => format!("summary {digest} {changes}"),
        });
        Ok(())
    }
    fn commit(&mut self) -> Result<(), Error> {
        self.log.push("commit".into());
        Ok(())
    }
    fn rollback(&mut self) -> Result<(), Error> {
        self.log.push("rollback".into());
        self.history = std::mem::take(&mut self.after_rollback);
        Ok(())
    }
}

/// Runs an upgrade to head of `known` from `applied` (read without the
/// lock; `None`: no table yet).
fn upgrade(
    recorder: &mut Recorder,
    known: &[Migration],
    applied: Option<Vec<AppliedRow>>,
    dialect: Dialect,
    options: &Options,
) -> Result<Outcome, Error> {
    let rows = applied.clone().unwrap_or_default();
    let table = match applied {
        Some(rows) => Table::Rows(rows),
        None => Table::Missing,
    };
    let first = plan::plan(known, &rows, Direction::Up, Target::Head, options)?;
    let run = Run {
        rules: Rules::new(dialect, options),
        options,
        known,
        direction: Direction::Up,
        target: Target::Head,
        table,
        first: Some(first),
        data_version: recorder.data_version,
        changes: None,
    };
    block_on(super::run(recorder, run))
}

fn log(recorder: &Recorder) -> Vec<&str> {
    recorder.log.iter().map(String::as_str).collect()
}

#[test]
fn sqlite_steps_run_in_their_transactions_and_read_again_only_when_moved() {
    let known = set(false);
    let mut recorder = Recorder {
        data_version: Some(7),
        ..Recorder::default()
    };
    let outcome = upgrade(
        &mut recorder,
        &known,
        None,
        Dialect::Sqlite,
        &Options::default(),
    );
    assert_eq!(outcome.unwrap().to, Some(2));
    assert_eq!(
        log(&recorder),
        [
            "ensure table",
            "-- 1",
            "begin",
            "run up1 inside",
            "insert 1 true",
            "commit",
            "-- 2",
            "begin",
            "run up2 inside",
            "insert 2 true",
            "commit"
        ]
    );
}

#[test]
fn a_step_applied_meanwhile_is_planned_away_under_the_lock() {
    // Another connection committed (the data version moved) and applied 1.
    let known = set(false);
    let mut recorder = Recorder {
        data_version: Some(8),
        history: vec![row(1, "c1")],
        ..Recorder::default()
    };
    let options = Options::default();
    let first = plan::plan(&known, &[], Direction::Up, Target::Head, &options).unwrap();
    let run = Run {
        rules: Rules::new(Dialect::Sqlite, &options),
        options: &options,
        known: &known,
        direction: Direction::Up,
        target: Target::Head,
        table: Table::Rows(Vec::new()),
        first: Some(first),
        data_version: Some(7),
        changes: None,
    };
    let outcome = block_on(super::run(&mut recorder, run)).unwrap();
    assert_eq!(
        outcome.steps.iter().map(|s| s.version).collect::<Vec<_>>(),
        [2]
    );
    assert_eq!(
        log(&recorder),
        [
            "-- 1",
            "begin",
            "read",
            "run up2 inside",
            "insert 2 true",
            "commit",
        ]
    );
}

/// MySQL: the in-flight mark, the script and the mark done share a
/// transaction (DDL commits it implicitly); a `no-transaction` step's mark
/// is committed on its own first.
#[test]
fn mysql_marks_every_step_in_flight_in_its_transaction_and_reads_once_under_its_lock() {
    let known = set(true);
    let mut recorder = Recorder::default();
    upgrade(
        &mut recorder,
        &known,
        Some(Vec::new()),
        Dialect::MySql,
        &Options::default(),
    )
    .unwrap();
    assert_eq!(
        log(&recorder),
        [
            "-- 1",
            "read",
            "begin",
            "insert 1 false",
            "run up1 outside",
            "mark 1 true",
            "commit",
            "-- 2",
            "insert 2 false",
            "run up2 outside",
            "mark 2 true"
        ]
    );
}

/// MySQL: a failed step is rolled back and the history read again; it is
/// dirty only if its mark outlived the rollback (a DDL statement committed
/// it).
#[test]
fn a_failed_mysql_step_is_dirty_only_if_its_mark_outlived_the_rollback() {
    let known = set(false);
    for (committed, dirty) in [(false, false), (true, true)] {
        let mut recorder = Recorder {
            failing: Some("up1"),
            after_rollback: if committed {
                vec![AppliedRow {
                    success: false,
                    ..row(1, "c1")
                }]
            } else {
                Vec::new()
            },
            ..Recorder::default()
        };
        let err = upgrade(
            &mut recorder,
            &known,
            Some(Vec::new()),
            Dialect::MySql,
            &Options::default(),
        )
        .unwrap_err();
        assert!(
            matches!(err, Error::Step { version: 1, dirty: d, .. } if d == dirty),
            "{err:?}"
        );
        assert_eq!(
            log(&recorder),
            [
                "-- 1",
                "read",
                "begin",
                "insert 1 false",
                "run up1 outside",
                "rollback",
                "read"
            ]
        );
    }
}

#[test]
fn postgres_transaction_lock_mode_locks_and_reads_in_every_step() {
    let known = set(true);
    let mut recorder = Recorder::default();
    let options = Options::default().lock_mode(LockMode::Transaction);
    upgrade(&mut recorder, &known, None, Dialect::Postgres, &options).unwrap();
    assert_eq!(
        log(&recorder),
        [
            "-- 1",
            "begin",
            "lock step",
            "ensure table",
            "read",
            "run up1 inside",
            "insert 1 true",
            "commit",
            "-- 2",
            "begin",
            "lock step",
            "read",
            "insert 2 false",
            "commit",
            "run up2 each statement",
            "mark 2 true"
        ]
    );
}

#[test]
fn a_failing_step_reports_what_completed_and_whether_it_is_dirty() {
    for (outside, dirty) in [(false, false), (true, true)] {
        let known = set(outside);
        let mut recorder = Recorder {
            failing: Some("up2"),
            ..Recorder::default()
        };
        let err = upgrade(
            &mut recorder,
            &known,
            Some(Vec::new()),
            Dialect::Postgres,
            &Options::default(),
        )
        .unwrap_err();
        let Error::Step {
            version,
            dirty: was_dirty,
            completed,
            ..
        } = err
        else {
            panic!("{err}");
        };
        assert_eq!((version, was_dirty), (2, dirty));
        assert_eq!(completed.iter().map(|s| s.version).collect::<Vec<_>>(), [1]);
        // No history row follows a failed script, and no commit.
        let last = recorder.log.last().map(String::as_str).unwrap_or("");
        assert!(last.starts_with("run up2"), "{:?}", recorder.log);
    }
}

#[test]
fn all_in_one_writes_the_history_after_the_last_script_and_commits_once() {
    let known = set(false);
    let mut recorder = Recorder::default();
    let options = Options::default().transaction_mode(TransactionMode::Single);
    upgrade(
        &mut recorder,
        &known,
        Some(Vec::new()),
        Dialect::Sqlite,
        &options,
    )
    .unwrap();
    assert_eq!(
        log(&recorder),
        [
            "begin",
            "read",
            "-- 1",
            "run up1 inside",
            "-- 2",
            "run up2 inside",
            "insert 1 true",
            "insert 2 true",
            "commit"
        ]
    );
    // A no-transaction step cannot join it: refused before any script.
    let known = set(true);
    let mut recorder = Recorder::default();
    let err = upgrade(
        &mut recorder,
        &known,
        Some(Vec::new()),
        Dialect::Sqlite,
        &options,
    )
    .unwrap_err();
    assert!(
        matches!(err, Error::NoTransactionInSingle { version: 2, .. }),
        "{err}"
    );
    assert!(!recorder.log.iter().any(|op| op.starts_with("run")));
}

/// `Auto` (a run over many databases): one transaction where every step
/// allows it, as `Single`; one per step where a step is `no-transaction`
/// or the dialect's DDL commits (MySQL), without refusing anything.
#[test]
fn auto_runs_all_in_one_only_where_every_step_allows_it() {
    let options = Options::default().for_many();
    let run = |second_outside: bool, dialect: Dialect| {
        let known = set(second_outside);
        let mut recorder = Recorder::default();
        upgrade(&mut recorder, &known, Some(Vec::new()), dialect, &options).unwrap();
        recorder.log
    };
    let single = Options::default().transaction_mode(TransactionMode::Single);
    let known = set(false);
    let mut recorder = Recorder::default();
    upgrade(
        &mut recorder,
        &known,
        Some(Vec::new()),
        Dialect::Sqlite,
        &single,
    )
    .unwrap();
    for dialect in [Dialect::Sqlite, Dialect::Postgres] {
        assert_eq!(run(false, dialect), recorder.log, "{dialect:?}");
        assert_eq!(
            run(false, dialect)
                .iter()
                .filter(|op| *op == "commit")
                .count(),
            1
        );
    }
    // A missing table is made in the one transaction: one commit in all.
    let known = set(false);
    let mut recorder = Recorder::default();
    upgrade(&mut recorder, &known, None, Dialect::Sqlite, &options).unwrap();
    assert_eq!(
        log(&recorder),
        [
            "begin",
            "ensure table",
            "read",
            "-- 1",
            "run up1 inside",
            "-- 2",
            "run up2 inside",
            "insert 1 true",
            "insert 2 true",
            "commit"
        ]
    );
    let per_step = Options::default();
    for (second_outside, dialect) in [
        (true, Dialect::Sqlite),
        (true, Dialect::Postgres),
        (false, Dialect::MySql),
    ] {
        let known = set(second_outside);
        let mut recorder = Recorder::default();
        upgrade(&mut recorder, &known, Some(Vec::new()), dialect, &per_step).unwrap();
        assert_eq!(
            run(second_outside, dialect),
            recorder.log,
            "{second_outside} {dialect:?}: per step"
        );
    }
}

#[test]
fn an_outdated_table_is_brought_up_to_date_then_planned_under_the_lock() {
    let known = set(false);
    let options = Options::default();
    let rules = Rules::new(Dialect::Sqlite, &options);
    let table = Table::Outdated(vec!["version".into()]);
    let Start::Run(first) = start(
        &known,
        &table,
        Direction::Up,
        Target::Head,
        &options,
        rules,
        || false,
    )
    .unwrap() else {
        panic!("an outdated table is not up to date");
    };
    assert!(first.is_none(), "planned only once the table is read");
    let mut recorder = Recorder {
        data_version: Some(1),
        history: vec![row(1, "c1")],
        ..Recorder::default()
    };
    let run = Run {
        rules,
        options: &options,
        known: &known,
        direction: Direction::Up,
        target: Target::Head,
        table,
        first,
        data_version: Some(1),
        changes: None,
    };
    let outcome = block_on(super::run(&mut recorder, run)).unwrap();
    assert_eq!((outcome.from, outcome.to), (Some(1), Some(2)));
    assert_eq!(
        log(&recorder),
        [
            "begin",
            "ensure table",
            "commit",
            "begin",
            "read",
            "run up2 inside",
            "insert 2 true",
            "commit"
        ]
    );
}

#[test]
fn a_transaction_a_script_ended_is_marked_dirty_outside_it() {
    let known = set(false);
    let mut recorder = Recorder {
        ends: Some("up2"),
        ..Recorder::default()
    };
    let err = upgrade(
        &mut recorder,
        &known,
        None,
        Dialect::Sqlite,
        &Options::default(),
    )
    .unwrap_err();
    assert!(
        matches!(err, Error::TransactionEnded { version: 2, ref file } if file == "2_b.sql"),
        "{err:?}"
    );
    // 2's row is written dirty, and nothing is committed: there is no
    // transaction left to commit.
    assert_eq!(
        log(&recorder),
        [
            "ensure table",
            "-- 1",
            "begin",
            "read",
            "run up1 inside",
            "insert 1 true",
            "commit",
            "-- 2",
            "begin",
            "run up2 inside",
            "insert 2 false"
        ]
    );
}

/// A dirty mark before the lock: on SQLite a step in flight only if another
/// live runner holds the run lock (the driver says), then planned under the
/// lock; otherwise dirty at once. The driver is asked only then.
#[test]
fn a_dirty_mark_waits_only_where_another_runner_holds_the_run_lock() {
    let known = set(false);
    let options = Options::default();
    let rules = Rules::new(Dialect::Sqlite, &options);
    let table = Table::Rows(vec![AppliedRow {
        success: false,
        ..row(1, "c1")
    }]);
    let dirty = start(
        &known,
        &table,
        Direction::Up,
        Target::Head,
        &options,
        rules,
        || false,
    );
    assert!(matches!(dirty, Err(Error::Dirty { version: 1, .. })));
    let waits = start(
        &known,
        &table,
        Direction::Up,
        Target::Head,
        &options,
        rules,
        || true,
    );
    assert!(matches!(waits, Ok(Start::Run(None))));
    let clean = Table::Rows(vec![row(1, "c1")]);
    let asked = std::cell::Cell::new(false);
    let _ = start(
        &known,
        &clean,
        Direction::Up,
        Target::Head,
        &options,
        rules,
        || {
            asked.set(true);
            false
        },
    );
    assert!(!asked.get(), "not asked without a dirty mark");
}

/// Migrations 1 to 3 with the given up scripts, none `no-transaction`.
fn three(scripts: [&'static str; 3]) -> Vec<Migration> {
    (1..=3)
        .zip(scripts)
        .map(|(version, sql)| {
            Migration::__embedded(
                version,
                "m",
                "c",
                Script::__embedded("m.sql", sql, false),
                None,
            )
        })
        .collect()
}

/// Upgrades three steps from an empty history on SQLite whose schema
/// declares no key, in `mode`, another connection committing after
/// `moves_after`: the scripts and the key reads and checks, in order.
fn key_log(
    scripts: [&'static str; 3],
    moves_after: Option<&'static str>,
    mode: TransactionMode,
) -> Vec<String> {
    let mut recorder = Recorder {
        data_version: Some(7),
        keys: Some(false),
        moves_after,
        ..Recorder::default()
    };
    let options = Options::default().transaction_mode(mode);
    upgrade(
        &mut recorder,
        &three(scripts),
        Some(Vec::new()),
        Dialect::Sqlite,
        &options,
    )
    .unwrap();
    recorder
        .log
        .into_iter()
        .filter(|line| line.contains("keys") || line.starts_with("run"))
        .collect()
}

#[test]
fn foreign_keys_are_checked_only_where_the_schema_may_declare_one() {
    // No key anywhere: the schema is read once, after the first script.
    for mode in [TransactionMode::PerStep, TransactionMode::Single] {
        assert_eq!(
            key_log(["up1", "up2", "up3"], None, mode),
            [
                "run up1 inside",
                "keys declared? false",
                "run up2 inside",
                "run up3 inside"
            ],
            "{mode:?}"
        );
    }
    // A script that declares one: every step from there on is checked.
    assert_eq!(
        key_log(
            ["up1", "create child REFERENCES parent", "up3"],
            None,
            TransactionMode::PerStep
        ),
        [
            "run up1 inside",
            "keys declared? false",
            "run create child REFERENCES parent inside",
            "check keys",
            "run up3 inside",
            "check keys"
        ]
    );
    // Another connection committed between two steps: the schema is read
    // again, since it may have declared one.
    assert_eq!(
        key_log(["up1", "up2", "up3"], Some("up1"), TransactionMode::PerStep),
        [
            "run up1 inside",
            "keys declared? false",
            "run up2 inside",
            "keys declared? false",
            "run up3 inside"
        ]
    );
}
