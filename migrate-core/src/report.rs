//! What a run did ([`Report`]) and what a database holds ([`Status`],
//! [`HistoryEntry`], [`Current`]); all serialise to the JSON of SPEC.md.

use std::path::PathBuf;

use serde::ser::{Serialize, SerializeStruct, Serializer};

/// Which way a run went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Applying up scripts.
    Up,
    /// Running down scripts.
    Down,
}

/// One step that ran.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StepReport {
    /// The version.
    pub version: i64,
    /// The name.
    pub name: String,
    /// How long its script and history row took, in milliseconds.
    pub duration_ms: u64,
}

/// What a run did. Serialises as SPEC.md's `upgrade` document
/// (`from`, `to`, `applied`, `backup`) or `downgrade` document
/// (`from`, `to`, `reverted`).
///
/// # Examples
///
/// ```
/// let conn = rusqlite::Connection::open_in_memory()?;
/// # let dir = tempfile::tempdir().unwrap();
/// # std::fs::write(dir.path().join("0001_init.sql"), "CREATE TABLE t (id INT);").unwrap();
/// let set = migrate::Migrations::from_dir(dir.path())?;
/// let report = migrate::run(&conn, &set)?;
/// assert_eq!(serde_json::to_value(&report).unwrap(), serde_json::json!({
///     "from": null, "to": 1, "backup": null,
///     "applied": [{"version": 1, "name": "init", "duration_ms": report.steps[0].duration_ms}],
/// }));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Up or down.
    pub direction: Direction,
    /// The newest applied version before the run.
    pub from: Option<i64>,
    /// The newest applied version after the run.
    pub to: Option<i64>,
    /// The steps that ran, in order.
    pub steps: Vec<StepReport>,
    /// The backup made before the run, if any.
    pub backup: Option<PathBuf>,
}

impl Serialize for Report {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let up = self.direction == Direction::Up;
        let mut doc = serializer.serialize_struct("Report", if up { 4 } else { 3 })?;
        doc.serialize_field("from", &self.from)?;
        doc.serialize_field("to", &self.to)?;
        if up {
            doc.serialize_field("applied", &self.steps)?;
            doc.serialize_field("backup", &self.backup)?;
        } else {
            doc.serialize_field("reverted", &self.steps)?;
        }
        doc.end()
    }
}

/// What a stamp did: where the history was and is, and each row it
/// changed, no script run. Serialises as `{"from", "to", "stamped":
/// [{"version", "name", "change"}]}`.
///
/// # Examples
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # std::fs::write(dir.path().join("0001_init.sql"), "CREATE TABLE t (id INT);").unwrap();
/// # std::fs::write(dir.path().join("0002_more.sql"), "CREATE TABLE u (id INT);").unwrap();
/// let set = migrate::Migrations::from_dir(dir.path())?;
/// let conn = rusqlite::Connection::open_in_memory()?;
/// let stamped = set.stamp(&conn, migrate::Target::Head)?;
/// assert_eq!((stamped.from, stamped.to), (None, Some(2)));
/// assert_eq!(stamped.rows.iter().map(|row| row.version).collect::<Vec<_>>(), [1, 2]);
/// assert_eq!(stamped.rows[0].change, migrate::Stamp::Recorded);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Stamped {
    /// The newest applied version before the stamp.
    pub from: Option<i64>,
    /// The newest applied version after it.
    pub to: Option<i64>,
    /// Each history row it changed, in version order.
    #[serde(rename = "stamped")]
    pub rows: Vec<StampedRow>,
}

/// One history row a stamp changed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StampedRow {
    /// The version.
    pub version: i64,
    /// Its name (from the build, or as its row recorded it).
    pub name: String,
    /// What the stamp did to it.
    pub change: Stamp,
}

/// What a stamp did to one history row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stamp {
    /// Recorded as applied; its script did not run.
    Recorded,
    /// Its dirty mark cleared: recorded as applied.
    Cleared,
    /// Its row removed: no longer applied; its down script did not run.
    Removed,
}

/// A database's migration state, for health checks and `migrate status`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Status {
    /// The newest applied version.
    pub current: Option<i64>,
    /// This build's newest version.
    pub head: Option<i64>,
    /// How many of this build's migrations are not applied.
    pub pending: usize,
    /// A migration that ran outside a transaction failed or is in flight.
    pub dirty: bool,
    /// Applied migrations were edited, or are unknown to this build, or
    /// pending ones are older than the newest applied one.
    pub drift: bool,
    /// A migration outside a transaction is being applied right now by a
    /// live runner (it holds the migration lock), so its in-flight mark
    /// is not dirt: `dirty` is then false. Serialized only when true.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub in_progress: bool,
}

impl Status {
    /// A dirty mark that a live runner holds the run lock for is its step
    /// in flight: in progress, not dirty.
    pub(crate) fn in_flight_if(mut self, held: bool) -> Status {
        if self.dirty && held {
            self.dirty = false;
            self.in_progress = true;
        }
        self
    }
}

/// The state of one migration in `migrate history`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Applied, and the file matches.
    Applied,
    /// Not applied.
    Pending,
    /// Applied, but the file changed since.
    Modified,
    /// Applied, but this build has no file for it.
    Unknown,
    /// Ran outside a transaction and failed, or was interrupted.
    Dirty,
    /// Running outside a transaction right now: its runner holds the
    /// migration lock. Serialises as `in_progress`.
    #[serde(rename = "in_progress")]
    InProgress,
}

/// The history as a live runner's step in flight makes it: a dirty mark
/// is that step, in progress, while a runner holds the migration lock
/// (the rule [`Status`] follows).
pub(crate) fn history_in_flight_if(
    mut entries: Vec<HistoryEntry>,
    held: bool,
) -> Vec<HistoryEntry> {
    if held {
        for entry in &mut entries {
            if entry.state == State::Dirty {
                entry.state = State::InProgress;
            }
        }
    }
    entries
}

/// One line of `migrate history`: a known or applied migration.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HistoryEntry {
    /// The version.
    pub version: i64,
    /// The name (as recorded, for an applied migration).
    pub name: String,
    /// Its state.
    pub state: State,
    /// The recorded checksum (the file's, when pending).
    pub checksum: String,
    /// When it was applied (UTC, RFC 3339).
    pub applied_at: Option<String>,
    /// How long it took.
    pub execution_ms: Option<i64>,
}

/// The newest applied migration, as `migrate current` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Current {
    /// The version, `None` on an empty database.
    pub version: Option<i64>,
    /// Its name.
    pub name: Option<String>,
    /// True when it is this build's newest migration.
    pub head: bool,
}
