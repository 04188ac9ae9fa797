//! What the runners and the execution stage share: the shape of the
//! history table as read, the history as a run keeps it, a step's failure
//! and its span. What runs is the planner's decision, how it runs the
//! execution stage's (`exec`); the drivers only carry operations out.

use crate::dialect::{Dialect, added_columns};
use crate::exec::Write;
use crate::plan::{AppliedRow, Step};
use crate::report::StepReport;
use crate::{Error, Migration};

pub(crate) use crate::script::ScriptError;

/// The columns of the history table's first format: a table without one
/// of them is not a history table this library ever wrote.
const FIRST_FORMAT: [&str; 4] = ["version", "name", "checksum", "applied_at"];

/// What the history table looks like.
pub(crate) enum Table {
    /// It does not exist yet.
    Missing,
    /// It exists in an older format (these are its columns): read as it
    /// is, upgraded in place only by a run that changes the database.
    Outdated(Vec<String>),
    /// Its rows.
    Rows(Vec<AppliedRow>),
}

impl Table {
    /// After the history query failed: missing (no columns), outdated (some
    /// of the columns added since the first format are missing), or `None`
    /// when the table looks right and the failure is real.
    ///
    /// # Errors
    ///
    /// [`Error::NotAHistoryTable`] when the table lacks a column of the
    /// first format: some other table, never to be altered.
    pub(crate) fn from_columns(
        columns: Vec<String>,
        dialect: Dialect,
        table: &str,
    ) -> Result<Option<Table>, Error> {
        let has = |name: &str| columns.iter().any(|c| c.eq_ignore_ascii_case(name));
        if columns.is_empty() {
            return Ok(Some(Table::Missing));
        }
        if let Some(missing) = FIRST_FORMAT.iter().find(|name| !has(name)) {
            return Err(Error::NotAHistoryTable {
                table: table.to_owned(),
                missing: (*missing).to_owned(),
            });
        }
        if added_columns(dialect).iter().any(|(name, _)| !has(name)) {
            Ok(Some(Table::Outdated(columns)))
        } else {
            Ok(None)
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
            Table::Missing | Table::Outdated(_) => Vec::new(),
        }
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
        self.new_row_at(migration, execution_ms, success, chrono::Utc::now())
    }

    /// A row for `migration`, applied at `at` (or just after the newest
    /// row, where that is not earlier).
    pub(crate) fn new_row_at(
        &self,
        migration: &Migration,
        execution_ms: i64,
        success: bool,
        at: chrono::DateTime<chrono::Utc>,
    ) -> AppliedRow {
        AppliedRow {
            version: migration.version(),
            name: migration.name().to_owned(),
            checksum: migration.checksum().to_owned(),
            applied_at: crate::clock::after_at(self.newest_at.as_deref(), at),
            execution_ms,
            success,
            has_down_sql: migration.down().is_some(),
        }
    }

    /// Records a row this runner wrote.
    pub(crate) fn push(&mut self, row: AppliedRow) {
        self.stamped(&row);
        self.rows.push(row);
    }

    /// Notes the time of a row about to be written, for the next
    /// [`History::new_row`], before the row itself is kept.
    pub(crate) fn stamped(&mut self, row: &AppliedRow) {
        match &mut self.newest_at {
            Some(newest) => newest.clone_from(&row.applied_at),
            None => self.newest_at = Some(row.applied_at.clone()),
        }
    }

    /// Keeps the rows in step with a write to the history table.
    pub(crate) fn apply(&mut self, write: &Write<'_>) {
        match write {
            Write::Insert { row, .. } => self.push(row.clone()),
            Write::Mark {
                version,
                success,
                execution_ms,
            } => {
                if let Some(row) = self.rows.iter_mut().find(|row| row.version == *version) {
                    row.success = *success;
                    row.execution_ms = *execution_ms;
                }
            }
            Write::Delete(version) => self.rows.retain(|row| row.version != *version),
            Write::MarkClean { version, checksum } => {
                if let Some(row) = self.rows.iter_mut().find(|row| row.version == *version) {
                    row.success = true;
                    row.checksum.clone_from(checksum);
                }
            }
            Write::Summary { .. } => {}
        }
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
    file: &str,
    failure: ScriptError,
    dirty: bool,
    completed: Vec<StepReport>,
) -> Error {
    Error::Step {
        version: step.version,
        file: file.to_owned(),
        statement: failure.statement,
        statement_sql: failure.statement_sql.map(String::into_boxed_str),
        message: failure.message,
        dirty,
        with_earlier_steps: false,
        completed: completed.into_boxed_slice(),
        source: failure.source,
    }
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
    let duration_ms = log_step(span, direction, started);
    completed.push(StepReport {
        version: step.version,
        name: step.name.clone(),
        duration_ms,
    });
}

/// A step is done: its duration (returned) goes on its span and in the log.
pub(crate) fn log_step(
    span: &tracing::Span,
    direction: crate::Direction,
    started: std::time::Instant,
) -> u64 {
    let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    span.record("duration_ms", duration_ms);
    let what = match direction {
        crate::Direction::Up => "applied",
        crate::Direction::Down => "reverted",
    };
    span.in_scope(|| tracing::info!(duration_ms, "{what}"));
    duration_ms
}
