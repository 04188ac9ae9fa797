//! The planner: every decision, made once, with no I/O.
//!
//! From the known migrations, the history rows read from the database, a
//! target and the options, [`plan`] returns the ordered steps to run or the
//! error that says what is wrong and what to do. What is pending, edited,
//! unknown or out of order, where `-1` lands, whether a downgrade can run:
//! all of it is here, for every backend, and `status`, `history`, `check`,
//! `--dry-run` and `--sql` are this module plus printing.

use std::cmp::Ordering;

use crate::migration::{Migration, Script};
use crate::options::Options;
use crate::report::{Current, Direction, HistoryEntry, State, Status};
use crate::{Error, Target};

/// One row of the history table, as read (the down script itself is only
/// fetched when a step needs it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedRow {
    /// The version.
    pub version: i64,
    /// The name recorded when it was applied.
    pub name: String,
    /// The checksum recorded when it was applied.
    pub checksum: String,
    /// When it was applied (UTC, RFC 3339); orders the rows by application.
    pub applied_at: String,
    /// How long it took.
    pub execution_ms: i64,
    /// False while a no-transaction step is in flight or after it failed.
    pub success: bool,
    /// The history holds a down script for it.
    pub has_down_sql: bool,
}

/// What a step does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action<'m> {
    /// Run this migration's up script and record it.
    Apply(&'m Migration),
    /// Run this down script from the build and delete the record.
    Revert(&'m Script),
    /// Run the down script recorded in the history (the build has none) and
    /// delete the record.
    RevertRecorded,
}

/// One planned step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step<'m> {
    /// The version.
    pub version: i64,
    /// The name.
    pub name: String,
    /// What to do.
    pub action: Action<'m>,
}

impl Step<'_> {
    /// The file to name in messages about this step.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # std::fs::write(dir.path().join("1_a.sql"), "CREATE TABLE a (id INT);").unwrap();
    /// let set = migrate::Migrations::from_dir(dir.path())?;
    /// let plan = migrate::plan::plan(set.as_slice(), &[], migrate::Direction::Up, migrate::Target::Head, &Default::default())?;
    /// assert_eq!(plan.steps[0].file(), "1_a.sql");
    /// # Ok::<(), migrate::Error>(())
    /// ```
    pub fn file(&self) -> String {
        match self.action {
            Action::Apply(migration) => migration.up().file().to_owned(),
            Action::Revert(script) => script.file().to_owned(),
            Action::RevertRecorded => {
                format!(
                    "the down script recorded for {}_{}",
                    self.version, self.name
                )
            }
        }
    }

    /// Whether this step's script runs outside a transaction on a
    /// `dialect` database, as the execution stage runs it: when it says
    /// `-- migrate:no-transaction`, and always on MySQL/MariaDB, which
    /// commit DDL implicitly. (A down script recorded in the history is
    /// read only when it runs; its directive is not known here.)
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # std::fs::write(dir.path().join("1_a.sql"), "CREATE TABLE a (id INT);").unwrap();
    /// use migrate::{Dialect, Direction, Target};
    /// let set = migrate::Migrations::from_dir(dir.path())?;
    /// let plan = migrate::plan::plan(set.as_slice(), &[], Direction::Up, Target::Head, &Default::default())?;
    /// assert!(!plan.steps[0].runs_outside_transaction(Dialect::Postgres));
    /// assert!(plan.steps[0].runs_outside_transaction(Dialect::MySql));
    /// # Ok::<(), migrate::Error>(())
    /// ```
    pub fn runs_outside_transaction(&self, dialect: crate::Dialect) -> bool {
        let no_transaction = match self.action {
            Action::Apply(migration) => migration.up().no_transaction(),
            Action::Revert(script) => script.no_transaction(),
            Action::RevertRecorded => false,
        };
        crate::exec::Rules::new(dialect, &Options::default()).outside(no_transaction)
    }
}

/// The ordered steps that take the database to a target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan<'m> {
    /// Up or down.
    pub direction: Direction,
    /// The newest applied version now.
    pub from: Option<i64>,
    /// The newest applied version once every step ran.
    pub to: Option<i64>,
    /// The steps, in the order they must run.
    pub steps: Vec<Step<'m>>,
}

/// Plans an upgrade or a downgrade.
///
/// `known` must be sorted by version (as [`crate::Migrations`] keeps it);
/// `applied` may come in any order.
///
/// # Examples
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # std::fs::write(dir.path().join("1_a.up.sql"), "CREATE TABLE a (id INT);").unwrap();
/// # std::fs::write(dir.path().join("1_a.down.sql"), "DROP TABLE a;").unwrap();
/// # std::fs::write(dir.path().join("2_b.sql"), "CREATE TABLE b (id INT);").unwrap();
/// let set = migrate::Migrations::from_dir(dir.path())?;
/// let applied = vec![migrate::plan::AppliedRow {
///     version: 1, name: "a".into(), checksum: set.get(1).unwrap().checksum().into(),
///     applied_at: "2026-01-01T00:00:00.000000Z".into(), execution_ms: 3, success: true, has_down_sql: true,
/// }];
/// let plan = migrate::plan::plan(set.as_slice(), &applied, migrate::Direction::Up, migrate::Target::Head, &Default::default())?;
/// assert_eq!(plan.steps.iter().map(|s| s.version).collect::<Vec<_>>(), [2]);
/// # Ok::<(), migrate::Error>(())
/// ```
///
/// # Errors
///
/// Every rule of SPEC.md's "Safety rules" that the history breaks, and every
/// target that cannot be reached, as one [`Error`] naming the migration.
pub fn plan<'m>(
    known: &'m [Migration],
    applied: &[AppliedRow],
    direction: Direction,
    target: Target,
    options: &Options,
) -> Result<Plan<'m>, Error> {
    check_history(known, applied, options)?;
    match direction {
        Direction::Up => plan_up(known, applied, target, options),
        Direction::Down => plan_down(known, applied, target),
    }
}

fn find(known: &[Migration], version: i64) -> Option<&Migration> {
    known
        .binary_search_by_key(&version, Migration::version)
        .ok()
        .map(|at| &known[at])
}

fn newest(applied: &[AppliedRow]) -> Option<i64> {
    applied.iter().map(|row| row.version).max()
}

/// Dirty marks and edited files block every operation but `stamp`.
fn check_history(
    known: &[Migration],
    applied: &[AppliedRow],
    options: &Options,
) -> Result<(), Error> {
    if let Some(row) = applied
        .iter()
        .filter(|row| !row.success)
        .min_by_key(|row| row.version)
    {
        return Err(Error::Dirty {
            version: row.version,
            name: row.name.clone(),
            previous: applied
                .iter()
                .map(|other| other.version)
                .filter(|v| *v < row.version)
                .max(),
        });
    }
    if !options.ignore_checksums {
        for row in applied {
            if let Some(migration) = find(known, row.version)
                && migration.checksum() != row.checksum
            {
                return Err(Error::ChecksumMismatch {
                    version: row.version,
                    file: migration.up().file().to_owned(),
                    recorded: row.checksum.clone(),
                    found: migration.checksum().to_owned(),
                });
            }
        }
    }
    Ok(())
}

fn sorted_versions(applied: &[AppliedRow]) -> Vec<i64> {
    let mut versions: Vec<i64> = applied.iter().map(|row| row.version).collect();
    versions.sort_unstable();
    versions
}

fn plan_up<'m>(
    known: &'m [Migration],
    applied: &[AppliedRow],
    target: Target,
    options: &Options,
) -> Result<Plan<'m>, Error> {
    let current = newest(applied);
    check_unknown(known, applied, options)?;
    let applied_versions = sorted_versions(applied);
    let pending: Vec<&Migration> = known
        .iter()
        .filter(|m| applied_versions.binary_search(&m.version()).is_err())
        .collect();
    let chosen: &[&Migration] = match target {
        Target::Head => &pending,
        Target::Version(version) => {
            if find(known, version).is_none() && applied_versions.binary_search(&version).is_err() {
                return Err(Error::UnknownTarget { version });
            }
            let end = pending.partition_point(|m| m.version() <= version);
            if end == 0
                && let Some(current) = current.filter(|current| version < *current)
            {
                return Err(Error::TargetBelowCurrent {
                    target: version,
                    current,
                });
            }
            &pending[..end]
        }
        Target::Forward(count) => {
            let wanted = count as usize;
            if wanted > pending.len() {
                return Err(Error::NotEnoughSteps {
                    target: target.to_string(),
                    requested: count,
                    available: pending.len(),
                    what: "pending",
                });
            }
            &pending[..wanted]
        }
        Target::Base | Target::Back(_) => {
            return Err(Error::WrongDirection {
                target: target.to_string(),
                operation: "an upgrade",
                suggestion: "downgrade",
            });
        }
    };
    check_order(chosen.iter().copied(), current, options)?;
    let to = chosen.iter().map(|m| m.version()).chain(current).max();
    Ok(Plan {
        direction: Direction::Up,
        from: current,
        to,
        steps: chosen
            .iter()
            .map(|m| Step {
                version: m.version(),
                name: m.name().to_owned(),
                action: Action::Apply(m),
            })
            .collect(),
    })
}

/// Applied versions this build does not know block an upgrade unless allowed.
fn check_unknown(
    known: &[Migration],
    applied: &[AppliedRow],
    options: &Options,
) -> Result<(), Error> {
    if options.allow_unknown {
        return Ok(());
    }
    let unknown = || {
        applied
            .iter()
            .filter(|row| find(known, row.version).is_none())
    };
    let Some(first) = unknown().min_by_key(|row| row.version) else {
        return Ok(());
    };
    let newest_unknown = unknown()
        .map(|row| row.version)
        .max()
        .unwrap_or(first.version);
    let head = known.last().map(Migration::version);
    if head.is_none_or(|head| newest_unknown > head) {
        return Err(Error::DatabaseAhead {
            current: newest(applied).unwrap_or(newest_unknown),
            head,
        });
    }
    Err(Error::UnknownApplied {
        version: first.version,
        name: first.name.clone(),
    })
}

/// A step below the newest applied version is out of order unless allowed.
fn check_order<'m>(
    mut chosen: impl Iterator<Item = &'m Migration>,
    current: Option<i64>,
    options: &Options,
) -> Result<(), Error> {
    if options.allow_out_of_order {
        return Ok(());
    }
    let Some(current) = current else {
        return Ok(());
    };
    match chosen.find(|m| m.version() < current) {
        Some(early) => Err(Error::OutOfOrder {
            version: early.version(),
            file: early.up().file().to_owned(),
            current,
        }),
        None => Ok(()),
    }
}

/// Re-checks a plan's remaining steps against history that another runner
/// changed since it was planned: the same safety rules, and only the steps
/// that are still to do (a step someone else already did is dropped). The
/// target is not re-resolved, so `-1` still means the step chosen at first.
///
/// # Examples
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # std::fs::write(dir.path().join("1_a.up.sql"), "CREATE TABLE a (id INT);").unwrap();
/// # std::fs::write(dir.path().join("1_a.down.sql"), "DROP TABLE a;").unwrap();
/// # std::fs::write(dir.path().join("2_b.sql"), "CREATE TABLE b (id INT);").unwrap();
/// let set = migrate::Migrations::from_dir(dir.path())?;
/// let applied = vec![migrate::plan::AppliedRow {
///     version: 1, name: "a".into(), checksum: set.get(1).unwrap().checksum().into(),
///     applied_at: "2026-01-01T00:00:00.000000Z".into(), execution_ms: 3, success: true, has_down_sql: true,
/// }];
/// let first = migrate::plan::plan(set.as_slice(), &[], migrate::Direction::Up, migrate::Target::Head, &Default::default())?;
/// // Another runner applied 1 meanwhile: only 2 is left to do.
/// let left = migrate::plan::replan(set.as_slice(), &applied, &first.steps, migrate::Direction::Up, &Default::default())?;
/// assert_eq!(left.iter().map(|s| s.version).collect::<Vec<_>>(), [2]);
/// # Ok::<(), migrate::Error>(())
/// ```
///
/// # Errors
///
/// As [`plan`]: a dirty mark, an edited file, an unknown or out-of-order version.
pub fn replan<'m>(
    known: &'m [Migration],
    applied: &[AppliedRow],
    remaining: &[Step<'m>],
    direction: Direction,
    options: &Options,
) -> Result<Vec<Step<'m>>, Error> {
    check_history(known, applied, options)?;
    let versions = sorted_versions(applied);
    let is_applied = |version: i64| versions.binary_search(&version).is_ok();
    let steps: Vec<Step<'m>> = remaining
        .iter()
        .filter(|step| is_applied(step.version) == (direction == Direction::Down))
        .cloned()
        .collect();
    if direction == Direction::Up {
        check_unknown(known, applied, options)?;
        let migrations = steps.iter().filter_map(|step| match step.action {
            Action::Apply(m) => Some(m),
            _ => None,
        });
        check_order(migrations, newest(applied), options)?;
    }
    Ok(steps)
}

/// Tells, one history row at a time, whether an upgrade to head has nothing
/// to do: the runners' fast path for a start with nothing pending, which
/// compares each row where it lies instead of building [`AppliedRow`]s.
///
/// It says "up to date" only when every row is a known version, clean, with
/// the build's checksum (unless checksums are ignored), and every known
/// migration has a row: exactly the histories for which
/// [`plan`]`(.., Direction::Up, Target::Head, ..)` returns no steps and no
/// error without allowing unknown versions. Anything else (a pending step,
/// an edit, a dirty mark, an unknown version) answers "not known to be up to
/// date", and the runner reads the whole history and asks [`plan`], which
/// decides and explains.
///
/// # Examples
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # std::fs::write(dir.path().join("1_a.sql"), "CREATE TABLE a (id INT);").unwrap();
/// # std::fs::write(dir.path().join("2_b.sql"), "CREATE TABLE b (id INT);").unwrap();
/// let set = migrate::Migrations::from_dir(dir.path())?;
/// let options = migrate::Options::default();
/// let mut check = migrate::plan::UpToDate::new(set.as_slice(), &options);
/// assert!(check.row(1, set.get(1).unwrap().checksum(), true));
/// assert!(!check.finish(), "2 is pending");
///
/// let mut check = migrate::plan::UpToDate::new(set.as_slice(), &options);
/// assert!(check.row(2, set.get(2).unwrap().checksum(), true));
/// assert!(check.row(1, set.get(1).unwrap().checksum(), true));
/// assert!(check.finish());
///
/// let mut check = migrate::plan::UpToDate::new(set.as_slice(), &options);
/// assert!(!check.row(1, "edited", true), "a checksum differs: stop reading");
/// # Ok::<(), migrate::Error>(())
/// ```
#[derive(Debug)]
pub struct UpToDate<'m> {
    known: &'m [Migration],
    compare_checksums: bool,
    rows: usize,
    /// Where the next row is looked for first: rows usually come in
    /// version order, so most lookups are one comparison.
    next: usize,
}

impl<'m> UpToDate<'m> {
    /// Starts a check of the history against `known` (sorted by version, as
    /// [`crate::Migrations`] keeps it).
    ///
    /// # Examples
    ///
    /// ```
    /// let check = migrate::plan::UpToDate::new(&[], &migrate::Options::default());
    /// assert!(check.finish(), "no migrations and no history: nothing to do");
    /// ```
    pub fn new(known: &'m [Migration], options: &Options) -> Self {
        UpToDate {
            known,
            compare_checksums: !options.ignore_checksums,
            rows: 0,
            next: 0,
        }
    }

    /// Whether the fast path may answer this request at all: an upgrade to
    /// head. Every other target and every downgrade is planned in full.
    ///
    /// # Examples
    ///
    /// ```
    /// use migrate::{Direction, Target, plan::UpToDate};
    /// assert!(UpToDate::answers(Direction::Up, Target::Head));
    /// assert!(!UpToDate::answers(Direction::Up, Target::Version(3)));
    /// assert!(!UpToDate::answers(Direction::Down, Target::Head));
    /// ```
    pub fn answers(direction: Direction, target: Target) -> bool {
        direction == Direction::Up && target == Target::Head
    }

    /// Takes one row (the checksum as text or as its bytes); false means
    /// the history is not known to be up to date, and reading can stop.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut check = migrate::plan::UpToDate::new(&[], &migrate::Options::default());
    /// assert!(!check.row(7, "abc", true), "7 is not a known version");
    /// ```
    pub fn row(&mut self, version: i64, checksum: impl AsRef<[u8]>, success: bool) -> bool {
        let at = match self.known.get(self.next) {
            Some(m) if m.version() == version => self.next,
            _ => match self
                .known
                .binary_search_by_key(&version, Migration::version)
            {
                Ok(at) => at,
                Err(_) => return false,
            },
        };
        self.next = at + 1;
        self.rows += 1;
        success
            && (!self.compare_checksums
                || self.known[at].checksum().as_bytes() == checksum.as_ref())
    }

    /// After the last row: true when the history holds every known
    /// migration, and so an upgrade to head has nothing to do. Versions are
    /// unique in the history table, so the count says it.
    ///
    /// # Examples
    ///
    /// ```
    /// let check = migrate::plan::UpToDate::new(&[], &migrate::Options::default());
    /// assert!(check.finish());
    /// ```
    pub fn finish(self) -> bool {
        self.rows == self.known.len()
    }
}

/// The history in the order it was applied: by `applied_at`, which the
/// runners keep strictly increasing, then by version for rows written by
/// other tools with equal times.
pub(crate) fn applied_order(a: &AppliedRow, b: &AppliedRow) -> Ordering {
    a.applied_at
        .cmp(&b.applied_at)
        .then(a.version.cmp(&b.version))
}

fn plan_down<'m>(
    known: &'m [Migration],
    applied: &[AppliedRow],
    target: Target,
) -> Result<Plan<'m>, Error> {
    let mut order: Vec<&AppliedRow> = applied.iter().collect();
    order.sort_by(|a, b| applied_order(a, b));
    let undo: Vec<&AppliedRow> = match target {
        Target::Back(count) => {
            let wanted = count as usize;
            if wanted > order.len() {
                return Err(Error::NotEnoughSteps {
                    target: target.to_string(),
                    requested: count,
                    available: order.len(),
                    what: "applied",
                });
            }
            order[order.len() - wanted..]
                .iter()
                .rev()
                .copied()
                .collect()
        }
        Target::Version(version) => {
            if find(known, version).is_none() && !applied.iter().any(|row| row.version == version) {
                return Err(Error::UnknownTarget { version });
            }
            order
                .iter()
                .rev()
                .filter(|row| row.version > version)
                .copied()
                .collect()
        }
        Target::Base => order.iter().rev().copied().collect(),
        Target::Head => {
            let head = known.last().map(Migration::version);
            order
                .iter()
                .rev()
                .filter(|row| head.is_none_or(|head| row.version > head))
                .copied()
                .collect()
        }
        Target::Forward(_) => {
            return Err(Error::WrongDirection {
                target: target.to_string(),
                operation: "a downgrade",
                suggestion: "upgrade",
            });
        }
    };
    let mut steps = Vec::with_capacity(undo.len());
    for row in &undo {
        let migration = find(known, row.version);
        let action = match (migration.and_then(Migration::down), row.has_down_sql) {
            (Some(script), _) => Action::Revert(script),
            (None, true) => Action::RevertRecorded,
            (None, false) => {
                return Err(Error::Irreversible {
                    version: row.version,
                    file: migration.map_or_else(
                        || format!("{}_{}", row.version, row.name),
                        |m| m.up().file().to_owned(),
                    ),
                });
            }
        };
        steps.push(Step {
            version: row.version,
            name: row.name.clone(),
            action,
        });
    }
    let to = applied
        .iter()
        .map(|row| row.version)
        .filter(|v| !undo.iter().any(|row| row.version == *v))
        .max();
    Ok(Plan {
        direction: Direction::Down,
        from: newest(applied),
        to,
        steps,
    })
}

/// What `stamp` writes: rows to insert (as applied by this build), rows to
/// mark clean, rows to delete.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StampPlan<'m> {
    /// Known migrations at or below the target that are not recorded.
    pub insert: Vec<&'m Migration>,
    /// Dirty rows at or below the target, with the checksum to record.
    pub mark_clean: Vec<(i64, String)>,
    /// Recorded versions above the target.
    pub delete: Vec<i64>,
}

impl StampPlan<'_> {
    /// True when the history already is as stamped.
    ///
    /// # Examples
    ///
    /// ```
    /// let set = migrate::Migrations::from_dir(tempfile::tempdir().unwrap().path())?;
    /// assert!(migrate::plan::plan_stamp(set.as_slice(), &[], migrate::Target::Base)?.is_empty());
    /// # Ok::<(), migrate::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.insert.is_empty() && self.mark_clean.is_empty() && self.delete.is_empty()
    }
}

/// Plans `stamp`: the history as if the database were at `target`, without
/// running any script. It checks nothing else, since it is how a dirty mark
/// or a baseline is recorded.
///
/// # Examples
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # std::fs::write(dir.path().join("1_a.up.sql"), "CREATE TABLE a (id INT);").unwrap();
/// # std::fs::write(dir.path().join("1_a.down.sql"), "DROP TABLE a;").unwrap();
/// # std::fs::write(dir.path().join("2_b.sql"), "CREATE TABLE b (id INT);").unwrap();
/// let set = migrate::Migrations::from_dir(dir.path())?;
/// let applied = vec![migrate::plan::AppliedRow {
///     version: 1, name: "a".into(), checksum: set.get(1).unwrap().checksum().into(),
///     applied_at: "2026-01-01T00:00:00.000000Z".into(), execution_ms: 3, success: true, has_down_sql: true,
/// }];
/// let stamp = migrate::plan::plan_stamp(set.as_slice(), &applied, migrate::Target::Head)?;
/// assert_eq!(stamp.insert.iter().map(|m| m.version()).collect::<Vec<_>>(), [2]);
/// assert!(stamp.delete.is_empty() && stamp.mark_clean.is_empty());
/// # Ok::<(), migrate::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::StampTarget`] for `+N`/`-N`, [`Error::UnknownTarget`] for a
/// version neither known nor applied.
pub fn plan_stamp<'m>(
    known: &'m [Migration],
    applied: &[AppliedRow],
    target: Target,
) -> Result<StampPlan<'m>, Error> {
    let limit = match target {
        Target::Head => known.last().map(Migration::version).or(newest(applied)),
        Target::Base => None,
        Target::Version(version) => {
            if find(known, version).is_none() && !applied.iter().any(|row| row.version == version) {
                return Err(Error::UnknownTarget { version });
            }
            Some(version)
        }
        Target::Forward(_) | Target::Back(_) => {
            return Err(Error::StampTarget {
                target: target.to_string(),
            });
        }
    };
    let below = |version: i64| limit.is_some_and(|limit| version <= limit);
    let applied_versions = sorted_versions(applied);
    Ok(StampPlan {
        insert: known
            .iter()
            .filter(|m| below(m.version()) && applied_versions.binary_search(&m.version()).is_err())
            .collect(),
        mark_clean: applied
            .iter()
            .filter(|row| !row.success && below(row.version))
            .map(|row| {
                let checksum = find(known, row.version).map_or(&*row.checksum, Migration::checksum);
                (row.version, checksum.to_owned())
            })
            .collect(),
        delete: applied_versions
            .into_iter()
            .filter(|v| !below(*v))
            .collect(),
    })
}

/// The state of every known or applied migration, in version order.
///
/// # Examples
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # std::fs::write(dir.path().join("1_a.up.sql"), "CREATE TABLE a (id INT);").unwrap();
/// # std::fs::write(dir.path().join("1_a.down.sql"), "DROP TABLE a;").unwrap();
/// # std::fs::write(dir.path().join("2_b.sql"), "CREATE TABLE b (id INT);").unwrap();
/// let set = migrate::Migrations::from_dir(dir.path())?;
/// let applied = vec![migrate::plan::AppliedRow {
///     version: 1, name: "a".into(), checksum: set.get(1).unwrap().checksum().into(),
///     applied_at: "2026-01-01T00:00:00.000000Z".into(), execution_ms: 3, success: true, has_down_sql: true,
/// }];
/// let states: Vec<_> = migrate::plan::history(set.as_slice(), &applied).iter().map(|e| e.state).collect();
/// assert_eq!(states, [migrate::State::Applied, migrate::State::Pending]);
/// # Ok::<(), migrate::Error>(())
/// ```
pub fn history(known: &[Migration], applied: &[AppliedRow]) -> Vec<HistoryEntry> {
    let mut rows: Vec<&AppliedRow> = applied.iter().collect();
    rows.sort_by_key(|row| row.version);
    let mut entries = Vec::with_capacity(known.len().max(rows.len()));
    let (mut k, mut a) = (0, 0);
    while k < known.len() || a < rows.len() {
        let next_known = known.get(k);
        let next_row = rows.get(a).copied();
        let order = match (next_known, next_row) {
            (Some(m), Some(row)) => m.version().cmp(&row.version),
            (Some(_), None) => Ordering::Less,
            (None, _) => Ordering::Greater,
        };
        let entry = match order {
            Ordering::Less => {
                let m = &known[k];
                k += 1;
                HistoryEntry {
                    version: m.version(),
                    name: m.name().to_owned(),
                    state: State::Pending,
                    checksum: m.checksum().to_owned(),
                    applied_at: None,
                    execution_ms: None,
                }
            }
            Ordering::Greater | Ordering::Equal => {
                let row = rows[a];
                a += 1;
                let migration = if order == Ordering::Equal {
                    k += 1;
                    next_known
                } else {
                    None
                };
                let state = match migration {
                    _ if !row.success => State::Dirty,
                    None => State::Unknown,
                    Some(m) if m.checksum() != row.checksum => State::Modified,
                    Some(_) => State::Applied,
                };
                HistoryEntry {
                    version: row.version,
                    name: row.name.clone(),
                    state,
                    checksum: row.checksum.clone(),
                    applied_at: Some(row.applied_at.clone()),
                    execution_ms: Some(row.execution_ms),
                }
            }
        };
        entries.push(entry);
    }
    entries
}

/// The summary a health check or `migrate status` shows. `drift` follows the
/// options: what an upgrade with them would refuse.
///
/// # Examples
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # std::fs::write(dir.path().join("1_a.up.sql"), "CREATE TABLE a (id INT);").unwrap();
/// # std::fs::write(dir.path().join("1_a.down.sql"), "DROP TABLE a;").unwrap();
/// # std::fs::write(dir.path().join("2_b.sql"), "CREATE TABLE b (id INT);").unwrap();
/// let set = migrate::Migrations::from_dir(dir.path())?;
/// let applied = vec![migrate::plan::AppliedRow {
///     version: 1, name: "a".into(), checksum: set.get(1).unwrap().checksum().into(),
///     applied_at: "2026-01-01T00:00:00.000000Z".into(), execution_ms: 3, success: true, has_down_sql: true,
/// }];
/// let status = migrate::plan::status(set.as_slice(), &applied, &Default::default());
/// assert_eq!((status.current, status.head, status.pending), (Some(1), Some(2), 1));
/// # Ok::<(), migrate::Error>(())
/// ```
pub fn status(known: &[Migration], applied: &[AppliedRow], options: &Options) -> Status {
    let current = newest(applied);
    let applied_versions = sorted_versions(applied);
    let pending: Vec<i64> = known
        .iter()
        .map(Migration::version)
        .filter(|v| applied_versions.binary_search(v).is_err())
        .collect();
    let modified = !options.ignore_checksums
        && applied
            .iter()
            .any(|row| find(known, row.version).is_some_and(|m| m.checksum() != row.checksum));
    let unknown =
        !options.allow_unknown && applied.iter().any(|row| find(known, row.version).is_none());
    let out_of_order = !options.allow_out_of_order
        && current.is_some_and(|current| pending.iter().any(|v| *v < current));
    Status {
        current,
        head: known.last().map(Migration::version),
        pending: pending.len(),
        dirty: applied.iter().any(|row| !row.success),
        drift: modified || unknown || out_of_order,
    }
}

/// The newest applied migration.
///
/// # Examples
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # std::fs::write(dir.path().join("1_a.up.sql"), "CREATE TABLE a (id INT);").unwrap();
/// # std::fs::write(dir.path().join("1_a.down.sql"), "DROP TABLE a;").unwrap();
/// # std::fs::write(dir.path().join("2_b.sql"), "CREATE TABLE b (id INT);").unwrap();
/// let set = migrate::Migrations::from_dir(dir.path())?;
/// let applied = vec![migrate::plan::AppliedRow {
///     version: 1, name: "a".into(), checksum: set.get(1).unwrap().checksum().into(),
///     applied_at: "2026-01-01T00:00:00.000000Z".into(), execution_ms: 3, success: true, has_down_sql: true,
/// }];
/// assert_eq!(migrate::plan::current(set.as_slice(), &applied).version, Some(1));
/// # Ok::<(), migrate::Error>(())
/// ```
pub fn current(known: &[Migration], applied: &[AppliedRow]) -> Current {
    let row = applied.iter().max_by_key(|row| row.version);
    let head = known.last().map(Migration::version);
    Current {
        version: row.map(|row| row.version),
        name: row.map(|row| row.name.clone()),
        head: row.is_some_and(|row| Some(row.version) == head),
    }
}
