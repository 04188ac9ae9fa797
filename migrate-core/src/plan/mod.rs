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

mod replan;
mod stamp;
mod up_to_date;
mod views;

pub use replan::replan;
pub use stamp::{StampPlan, plan_stamp};
pub use up_to_date::UpToDate;
pub use views::{culprit, current, history, status};

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

impl<'m> Step<'m> {
    /// The script this step runs, from the build; `None` for a down script
    /// recorded in the history, which is read only when the step runs.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # std::fs::write(dir.path().join("1_a.sql"), "CREATE TABLE a (id INT);").unwrap();
    /// let set = migrate::Migrations::from_dir(dir.path())?;
    /// let plan = migrate::plan::plan(set.as_slice(), &[], migrate::Direction::Up, migrate::Target::Head, &Default::default())?;
    /// assert_eq!(plan.steps[0].script().map(|s| s.sql()), Some("CREATE TABLE a (id INT);"));
    /// # Ok::<(), migrate::Error>(())
    /// ```
    pub fn script(&self) -> Option<&'m Script> {
        match self.action {
            Action::Apply(migration) => Some(migration.up()),
            Action::Revert(script) => Some(script),
            Action::RevertRecorded => None,
        }
    }

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
        match self.script() {
            Some(script) => script.file().to_owned(),
            None => format!(
                "the down script recorded for {}_{}",
                self.version, self.name
            ),
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
        let no_transaction = self.script().is_some_and(Script::no_transaction);
        crate::exec::Rules::new(dialect, &Options::default()).outside(no_transaction)
    }

    /// How this step runs on a `dialect` database, as `--dry-run` and
    /// `--sql` write it after the step: empty in its own transaction,
    /// `", outside a transaction"`, or on MySQL/MariaDB `", in a
    /// transaction that a DDL statement commits implicitly"`.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # std::fs::write(dir.path().join("1_a.sql"), "CREATE TABLE a (id INT);").unwrap();
    /// use migrate::{Dialect, Direction, Target};
    /// let set = migrate::Migrations::from_dir(dir.path())?;
    /// let plan = migrate::plan::plan(set.as_slice(), &[], Direction::Up, Target::Head, &Default::default())?;
    /// assert_eq!(plan.steps[0].transaction_note(Dialect::Postgres), "");
    /// assert_eq!(
    ///     plan.steps[0].transaction_note(Dialect::MySql),
    ///     ", in a transaction that a DDL statement commits implicitly"
    /// );
    /// # Ok::<(), migrate::Error>(())
    /// ```
    pub fn transaction_note(&self, dialect: crate::Dialect) -> &'static str {
        let no_transaction = self.script().is_some_and(Script::no_transaction);
        crate::exec::Rules::new(dialect, &Options::default()).note(no_transaction)
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
        let newest_applied = newest(applied).unwrap_or(row.version);
        return Err(Error::Dirty {
            version: row.version,
            name: find(known, row.version).map_or_else(
                || row.name.clone(),
                |migration| migration.up().file().to_owned(),
            ),
            previous: applied
                .iter()
                .map(|other| other.version)
                .filter(|v| *v < row.version)
                .max(),
            newest: newest_applied,
            also: known
                .iter()
                .map(Migration::version)
                .filter(|&v| {
                    v != row.version
                        && v < newest_applied
                        && !applied.iter().any(|applied| applied.version == v)
                })
                .collect(),
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
