//! What the sync (rusqlite) and async (sqlx) runners share: the shape of the
//! history table as read, a step's resolved script, its history row, its
//! failure. The loops themselves live in each runner; every decision lives
//! in the planner.

use crate::dialect::{Dialect, added_columns};
use crate::plan::{Action, AppliedRow, Step};
use crate::report::StepReport;
use crate::{Error, Migration};

pub(crate) use crate::script::ScriptError;

/// What the history table looks like.
pub(crate) enum Table {
    /// It does not exist yet.
    Missing,
    /// It exists in an older format and must be upgraded in place.
    Outdated,
    /// Its rows.
    Rows(Vec<AppliedRow>),
}

impl Table {
    /// After the history query failed: missing (no columns), outdated (some
    /// of the columns added since the first format are missing), or `None`
    /// when the table looks right and the failure is real.
    pub(crate) fn from_columns(columns: &[String], dialect: Dialect) -> Option<Table> {
        if columns.is_empty() {
            Some(Table::Missing)
        } else if added_columns(dialect)
            .iter()
            .any(|(name, _)| !columns.iter().any(|c| c.eq_ignore_ascii_case(name)))
        {
            Some(Table::Outdated)
        } else {
            None
        }
    }

    /// The rows as read, put in version order here rather than by the
    /// database: an `ORDER BY version` walks the primary key's index and
    /// looks every row up in the table (on SQLite, where `BIGINT PRIMARY
    /// KEY` is not the rowid), while the table's own order is almost always
    /// already by version, which the sort sees in one pass.
    pub(crate) fn rows(mut rows: Vec<AppliedRow>) -> Table {
        rows.sort_unstable_by_key(|row| row.version);
        Table::Rows(rows)
    }

    /// The rows, or none for a table about to be created.
    pub(crate) fn into_rows(self) -> Vec<AppliedRow> {
        match self {
            Table::Rows(rows) => rows,
            Table::Missing | Table::Outdated => Vec::new(),
        }
    }
}

/// A step's script, resolved (a recorded down script is fetched first).
pub(crate) struct Resolved {
    pub file: String,
    pub sql: String,
    pub no_transaction: bool,
}

impl Resolved {
    /// The script of a step from the build; `None` for a recorded one.
    pub(crate) fn from_build(step: &Step<'_>) -> Option<Resolved> {
        let script = match step.action {
            Action::Apply(migration) => migration.up(),
            Action::Revert(script) => script,
            Action::RevertRecorded => return None,
        };
        Some(Resolved {
            file: step.file(),
            sql: script.sql().to_owned(),
            no_transaction: script.no_transaction(),
        })
    }

    /// The script recorded in the history for a step.
    ///
    /// # Errors
    ///
    /// [`Error::Irreversible`] when the history holds none after all.
    pub(crate) fn recorded(step: &Step<'_>, sql: Option<String>) -> Result<Resolved, Error> {
        let Some(sql) = sql else {
            return Err(Error::Irreversible {
                version: step.version,
                file: format!("{}_{}", step.version, step.name),
            });
        };
        // A recorded script keeps its directives; an unknown one is ignored.
        let no_transaction = migrate_files::directives(&sql).is_ok_and(|d| d.no_transaction);
        Ok(Resolved {
            file: step.file(),
            sql,
            no_transaction,
        })
    }
}

/// The history as a runner knows it, kept in step with what it writes, and
/// the newest `applied_at` it has seen (kept, not searched for at each step).
pub(crate) struct History {
    pub rows: Vec<AppliedRow>,
    newest_at: Option<String>,
}

impl History {
    pub(crate) fn new(rows: Vec<AppliedRow>) -> Self {
        let mut history = History {
            rows: Vec::new(),
            newest_at: None,
        };
        history.replace(rows);
        history
    }

    /// After a re-read. The newest time never goes back: a step reverted
    /// meanwhile leaves later steps after its time all the same.
    pub(crate) fn replace(&mut self, rows: Vec<AppliedRow>) {
        if let Some(newest) = rows.iter().map(|row| &row.applied_at).max()
            && self.newest_at.as_ref().is_none_or(|at| newest > at)
        {
            self.newest_at = Some(newest.clone());
        }
        self.rows = rows;
    }

    /// The history row of a step applied now: `applied_at` is now, or just
    /// after the newest recorded one if the clock says otherwise, so the
    /// order steps were applied in is never ambiguous.
    pub(crate) fn new_row(
        &self,
        migration: &Migration,
        execution_ms: i64,
        success: bool,
    ) -> AppliedRow {
        AppliedRow {
            version: migration.version(),
            name: migration.name().to_owned(),
            checksum: migration.checksum().to_owned(),
            applied_at: crate::clock::after(self.newest_at.as_deref()),
            execution_ms,
            success,
            has_down_sql: migration.down().is_some(),
        }
    }

    /// Records a row this runner wrote.
    pub(crate) fn push(&mut self, row: AppliedRow) {
        self.newest_at = Some(row.applied_at.clone());
        self.rows.push(row);
    }

    /// The newest applied version.
    pub(crate) fn head(&self) -> Option<i64> {
        self.rows.iter().map(|row| row.version).max()
    }
}

/// The report of an upgrade to head that found every known migration
/// applied (the runners' fast path).
pub(crate) fn nothing_to_do(known: &[Migration]) -> crate::Report {
    let head = known.last().map(Migration::version);
    crate::Report {
        direction: crate::Direction::Up,
        from: head,
        to: head,
        steps: Vec::new(),
        backup: None,
    }
}

/// A failed script as the error the user sees.
pub(crate) fn step_failed(
    step: &Step<'_>,
    script: &Resolved,
    failure: ScriptError,
    dirty: bool,
    completed: Vec<StepReport>,
) -> Error {
    Error::Step {
        version: step.version,
        file: script.file.clone(),
        statement: failure.statement,
        statement_sql: failure.statement_sql,
        message: failure.message,
        dirty,
        completed,
    }
}

/// One write of `stamp`, in order.
pub(crate) enum StampWrite<'m> {
    /// Forget a version above the target.
    Delete(i64),
    /// A dirty row at or below the target is clean, with this checksum.
    MarkClean(i64, String),
    /// Record a known migration at or below the target as applied.
    Insert(&'m Migration, AppliedRow),
}

/// The writes that carry out a stamp plan on `rows`, and the report; `rows`
/// ends as the history will be.
pub(crate) fn stamp_writes<'m>(
    stamp: crate::plan::StampPlan<'m>,
    rows: &mut Vec<AppliedRow>,
) -> (Vec<StampWrite<'m>>, crate::Report) {
    let mut history = History::new(std::mem::take(rows));
    let from = history.head();
    let mut writes: Vec<StampWrite<'m>> = stamp
        .delete
        .iter()
        .map(|v| StampWrite::Delete(*v))
        .collect();
    history
        .rows
        .retain(|row| !stamp.delete.contains(&row.version));
    writes.extend(
        stamp
            .mark_clean
            .into_iter()
            .map(|(v, checksum)| StampWrite::MarkClean(v, checksum)),
    );
    for migration in stamp.insert {
        let row = history.new_row(migration, 0, true);
        history.push(row.clone());
        writes.push(StampWrite::Insert(migration, row));
    }
    let to = history.head();
    *rows = history.rows;
    let report = crate::Report {
        direction: if to >= from {
            crate::Direction::Up
        } else {
            crate::Direction::Down
        },
        from,
        to,
        steps: Vec::new(),
        backup: None,
    };
    (writes, report)
}

/// The `tracing` span of one step: version, name, direction, and the
/// duration once it is known.
pub(crate) fn step_span(step: &Step<'_>, direction: crate::Direction) -> tracing::Span {
    tracing::info_span!(
        "migration",
        version = step.version,
        name = %step.name,
        direction = ?direction,
        duration_ms = tracing::field::Empty
    )
}

/// A step is done: its duration goes on its span, in the log, and into the
/// report.
pub(crate) fn finish_step(
    span: &tracing::Span,
    step: &Step<'_>,
    direction: crate::Direction,
    started: std::time::Instant,
    completed: &mut Vec<StepReport>,
) {
    let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    span.record("duration_ms", duration_ms);
    let what = match direction {
        crate::Direction::Up => "applied",
        crate::Direction::Down => "reverted",
    };
    span.in_scope(|| tracing::info!(duration_ms, "{what}"));
    completed.push(StepReport {
        version: step.version,
        name: step.name.clone(),
        duration_ms,
    });
}
