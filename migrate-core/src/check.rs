//! What `migrate check` concludes from a [`Status`]: one verdict, decided
//! here so that every caller (the command, a health endpoint, a test) reads
//! a status the same way.

use crate::report::Status;

/// What `migrate check` concludes about a database, worst first in
/// [`Status::verdict`]'s order: dirty, drift, pending, current.
///
/// # Examples
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # std::fs::write(dir.path().join("1_t.sql"), "CREATE TABLE t (id INT);").unwrap();
/// let set = migrate::Migrations::from_dir(dir.path())?;
/// let conn = rusqlite::Connection::open_in_memory()?;
/// assert_eq!(set.status(&conn)?.verdict(), migrate::Verdict::Pending);
/// migrate::run(&conn, &set)?;
/// assert_eq!(set.status(&conn)?.verdict(), migrate::Verdict::Current);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Every known migration is applied and the history is consistent.
    Current,
    /// The history is consistent and migrations are pending.
    Pending,
    /// Applied migrations were edited or are unknown to this build, or
    /// pending ones are older than the newest applied one.
    Drift,
    /// A migration that ran outside a transaction failed or was
    /// interrupted.
    Dirty,
    /// A migration outside a transaction is being applied right now by a
    /// live runner: check again when it ends.
    #[serde(rename = "in_progress")]
    InProgress,
}

impl Status {
    /// The verdict: [`Verdict::Dirty`] before [`Verdict::InProgress`] before
    /// [`Verdict::Drift`] before [`Verdict::Pending`]; [`Verdict::Current`]
    /// when none applies.
    ///
    /// # Examples
    ///
    /// ```
    /// let status = migrate::Status { current: Some(2), head: Some(3), pending: 1, dirty: false, drift: true, in_progress: false };
    /// assert_eq!(status.verdict(), migrate::Verdict::Drift);
    /// ```
    pub fn verdict(&self) -> Verdict {
        if self.dirty {
            Verdict::Dirty
        } else if self.in_progress {
            Verdict::InProgress
        } else if self.drift {
            Verdict::Drift
        } else if self.pending > 0 {
            Verdict::Pending
        } else {
            Verdict::Current
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worst_finding_wins() {
        let status = |pending, dirty, drift| Status {
            current: Some(1),
            head: Some(2),
            pending,
            dirty,
            drift,
            in_progress: false,
        };
        assert_eq!(status(0, false, false).verdict(), Verdict::Current);
        assert_eq!(status(1, false, false).verdict(), Verdict::Pending);
        assert_eq!(status(1, false, true).verdict(), Verdict::Drift);
        assert_eq!(status(0, false, true).verdict(), Verdict::Drift);
        assert_eq!(status(1, true, true).verdict(), Verdict::Dirty);
        assert_eq!(status(0, true, false).verdict(), Verdict::Dirty);
    }
}
