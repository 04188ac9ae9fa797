//! The history's summary as a run keeps it (see `dialect::summary`): the
//! digest of the rows it knows, updated in O(1) per write, and the change
//! counter value that goes with them.
//!
//! Every history write goes through the execution stage, which tells this
//! state; once no step is left, before the last commit (or right after a
//! write made outside a transaction) the stage writes the summary,
//! conditioned on the counter standing at `base` plus the writes since. A write this state cannot
//! follow (a transaction a script ended) makes it stop writing: the
//! counter then stays ahead of what was recorded, and starts read the
//! full history until a later run with work records it again.

use std::collections::HashMap;

use migrate_files::HistoryDigest;

use super::Write;
use crate::plan::AppliedRow;

/// One row as the summary knows it: its term, and its checksum (to make
/// the term again when the row is marked).
#[derive(Debug, Clone)]
struct Row {
    term: u128,
    checksum: String,
}

impl Row {
    fn new(version: i64, checksum: &str, success: bool) -> Self {
        Row {
            term: HistoryDigest::term(version, checksum.as_bytes(), success),
            checksum: checksum.to_owned(),
        }
    }
}

/// The summary of the history as the run knows it.
#[derive(Debug, Default)]
pub(crate) struct Summary {
    /// The summary table exists and its counter was read.
    available: bool,
    /// The counter value at which the database's history holds exactly
    /// the rows of `digest` (less the pending writes); `None`: not known,
    /// nothing is recorded.
    base: Option<i64>,
    digest: HistoryDigest,
    rows: HashMap<i64, Row>,
    /// Writes made since `base`, not yet recorded.
    pending: i64,
    /// The last write marked a step in flight: not recorded (a step's
    /// summary is recorded once it is done).
    in_flight: bool,
    /// Made this run: recorded even without a write after it.
    fresh: bool,
    /// The writes of the open transaction, and the row each replaced (to
    /// undo them when it rolls back).
    undo: Vec<(i64, Option<Row>)>,
}

impl Summary {
    /// The summary of `rows`, read after the counter read `changes`
    /// (`None`: no summary).
    pub(crate) fn new(rows: &[AppliedRow], changes: Option<i64>) -> Self {
        let mut summary = Summary::default();
        summary.reset(rows, changes);
        summary
    }

    /// The history was read again (after the counter, `changes`).
    pub(crate) fn reset(&mut self, rows: &[AppliedRow], changes: Option<i64>) {
        self.available = changes.is_some();
        self.base = changes;
        self.digest = HistoryDigest::default();
        self.rows.clear();
        self.pending = 0;
        self.undo.clear();
        for row in rows {
            let new = Row::new(row.version, &row.checksum, row.success);
            let term = new.term;
            // Versions are the table's key: one term each.
            if self.rows.insert(row.version, new).is_none() {
                self.digest.add(term);
            }
        }
    }

    /// The summary table was made just now: its counter is to be read,
    /// and (once read with the history) recorded even if nothing is
    /// written after.
    pub(crate) fn made(&mut self) {
        self.available = true;
        self.fresh = true;
    }

    /// Whether the summary table is there (its counter was read).
    pub(crate) fn available(&self) -> bool {
        self.available
    }

    /// A write made to the history table.
    pub(crate) fn wrote(&mut self, write: &Write<'_>) {
        let (version, new) = match write {
            Write::Insert { row, .. } => (
                row.version,
                Some(Row::new(row.version, &row.checksum, row.success)),
            ),
            Write::Delete(version) => (*version, None),
            Write::Mark {
                version, success, ..
            } => match self.rows.get(version) {
                Some(row) => (*version, Some(Row::new(*version, &row.checksum, *success))),
                // A mark of a row not known: what it did is not known.
                None => return self.lost(),
            },
            Write::MarkClean { version, checksum } => {
                (*version, Some(Row::new(*version, checksum, true)))
            }
            Write::Summary { .. } => return,
        };
        self.in_flight = matches!(
            write,
            Write::Insert { row, .. } if !row.success
        ) || matches!(write, Write::Mark { success: false, .. });
        self.replace(version, new);
    }

    /// Puts `new` in the place of `version`'s row; returns the row it
    /// replaced, which the undo log keeps.
    fn replace(&mut self, version: i64, new: Option<Row>) {
        let old = self.swap(version, new);
        self.undo.push((version, old));
        self.pending += 1;
    }

    fn swap(&mut self, version: i64, new: Option<Row>) -> Option<Row> {
        if let Some(new) = &new {
            self.digest.add(new.term);
        }
        let old = match new {
            Some(new) => self.rows.insert(version, new),
            None => self.rows.remove(&version),
        };
        if let Some(old) = &old {
            self.digest.remove(old.term);
        }
        old
    }

    /// The summary write that records the writes since the last one, if
    /// there were any and the counter is known.
    pub(crate) fn record(&mut self) -> Option<Write<'static>> {
        if (self.pending == 0 && !std::mem::take(&mut self.fresh)) || self.in_flight {
            return None;
        }
        let writes = std::mem::take(&mut self.pending);
        let changes = self.base?.checked_add(writes)?;
        self.base = Some(changes);
        Some(Write::Summary {
            digest: self.digest.to_string(),
            changes,
        })
    }

    /// The writes since the last record were rolled back, with their
    /// counter bumps.
    pub(crate) fn rolled_back(&mut self) {
        while let Some((version, old)) = self.undo.pop() {
            self.swap(version, old);
            self.pending -= 1;
        }
    }

    /// The open transaction committed: its writes stay.
    pub(crate) fn committed(&mut self) {
        self.undo.clear();
    }

    /// What the database holds is no longer known: nothing more is
    /// recorded this run.
    pub(crate) fn lost(&mut self) {
        self.base = None;
    }
}
