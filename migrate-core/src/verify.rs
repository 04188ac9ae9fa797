//! `verify`: every migration applied, reverted and applied again on an
//! empty database, the schema read around each step, so that a down script
//! that does not restore the schema exactly is found before production
//! needs it.
//!
//! The steps run through the ordinary upgrade and downgrade (`+1`, `-1`),
//! so they go through the same planner and execution as any run. The loop
//! is written once (`verify_steps!`) for both runners: the rusqlite one
//! calls it plainly, the sqlx one with `.await` after each call.

use serde::Serialize;

use crate::Migration;
use crate::schema::{Schema, diff};

/// What `verify` found, step by step, in version order. It stops after a
/// step that failed.
///
/// # Examples
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # std::fs::write(dir.path().join("1_t.up.sql"), "CREATE TABLE t (id INT); CREATE INDEX t_id ON t (id);").unwrap();
/// # std::fs::write(dir.path().join("1_t.down.sql"), "DROP INDEX t_id; DROP TABLE t;").unwrap();
/// let set = migrate::Migrations::from_dir(dir.path())?;
/// let verification = set.verify(&rusqlite::Connection::open_in_memory()?)?;
/// assert!(verification.passed());
/// assert_eq!(verification.steps[0].result, migrate::Outcome::Ok);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Verification {
    /// Each migration's result, in the order they ran.
    pub steps: Vec<VerifiedStep>,
}

impl Verification {
    /// True when every step applied and every down script restored the
    /// schema exactly.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(migrate::Verification::default().passed());
    /// ```
    pub fn passed(&self) -> bool {
        self.steps.iter().all(|step| step.result == Outcome::Ok)
    }
}

/// One migration's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifiedStep {
    /// The version.
    pub version: i64,
    /// The name.
    pub name: String,
    /// Reversible, or up-only (applied and noted, never reverted).
    pub kind: StepKind,
    /// What happened.
    pub result: Outcome,
    /// Where the schema differs: after the down script from before the up
    /// (headed with the down file), and after the second up from after the
    /// first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
    /// Why the step failed, naming its file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Whether a migration can be reverted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepKind {
    /// It has a down script: applied, reverted and applied again.
    Reversible,
    /// It has none: applied only.
    UpOnly,
}

/// A step's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Applied (and for a reversible step, reverted to exactly the schema
    /// before, and applied again to exactly the schema after).
    Ok,
    /// Its down script did not restore the schema, or applying it again
    /// gave another schema: see the diff.
    Differs,
    /// A script failed: see the error. Verification stops there.
    Failed,
}

/// Builds a step's result as the loop learns it.
pub(crate) struct Step<'m> {
    migration: &'m Migration,
    diffs: Vec<String>,
}

impl<'m> Step<'m> {
    pub(crate) fn new(migration: &'m Migration) -> Self {
        Step {
            migration,
            diffs: Vec::new(),
        }
    }

    fn kind(&self) -> StepKind {
        match self.migration.down() {
            Some(_) => StepKind::Reversible,
            None => StepKind::UpOnly,
        }
    }

    /// Compares the schema after the down script with the one before the up.
    pub(crate) fn reverted(&mut self, before: &Schema, reverted: &Schema) {
        let up = self.migration.up().file();
        let down = self.migration.down().map_or("", |down| down.file());
        self.diffs.extend(diff(
            &before.text(),
            &reverted.text(),
            &format!("before {up}"),
            &format!("after {down}"),
        ));
    }

    /// Compares the schema after the second up with the one after the first.
    pub(crate) fn reapplied(&mut self, after: &Schema, again: &Schema) {
        let up = self.migration.up().file();
        self.diffs.extend(diff(
            &after.text(),
            &again.text(),
            &format!("after {up}"),
            &format!("after {up} again"),
        ));
    }

    fn diff(&self) -> Option<String> {
        (!self.diffs.is_empty()).then(|| self.diffs.concat())
    }

    pub(crate) fn done(self) -> VerifiedStep {
        let diff = self.diff();
        VerifiedStep {
            version: self.migration.version(),
            name: self.migration.name().to_owned(),
            kind: self.kind(),
            result: if diff.is_some() {
                Outcome::Differs
            } else {
                Outcome::Ok
            },
            diff,
            error: None,
        }
    }

    pub(crate) fn failed(self, error: &crate::Error) -> VerifiedStep {
        VerifiedStep {
            diff: self.diff(),
            error: Some(error.to_string()),
            result: Outcome::Failed,
            kind: self.kind(),
            version: self.migration.version(),
            name: self.migration.name().to_owned(),
        }
    }
}

/// The database `verify` is given must be empty: no object and no history.
pub(crate) fn refuse_unless_empty(
    schema: &Schema,
    history: &[crate::HistoryEntry],
) -> Result<(), crate::Error> {
    let applied = history
        .iter()
        .filter(|entry| entry.state != crate::State::Pending)
        .count();
    if schema.is_empty() && applied == 0 {
        return Ok(());
    }
    Err(crate::Error::NotEmpty {
        what: if applied > 0 {
            format!("{applied} applied migration(s)")
        } else {
            "tables or other objects".to_owned()
        },
    })
}

/// The loop, once for both runners: `$up` and `$down` apply and revert
/// one step, `$read` reads the schema, each followed by `$($wait)*`
/// (nothing, or `.await`).
#[cfg_attr(
    not(any(
        feature = "rusqlite",
        feature = "sqlx-sqlite",
        feature = "sqlx-postgres",
        feature = "sqlx-mysql"
    )),
    allow(unused_macros)
)]
macro_rules! verify_steps {
    ($migrations:expr, up: $up:expr, down: $down:expr, read: $read:expr, $($wait:tt)*) => {{
        let mut verification = $crate::Verification::default();
        let mut before = $read $($wait)* ?;
        for migration in $migrations.iter() {
            let mut step = $crate::verify::Step::new(migration);
            if let Err(err) = $up $($wait)* {
                verification.steps.push(step.failed(&err));
                break;
            }
            let after = $read $($wait)* ?;
            before = match migration.down() {
                None => after,
                Some(_) => {
                    if let Err(err) = $down $($wait)* {
                        verification.steps.push(step.failed(&err));
                        break;
                    }
                    step.reverted(&before, &$read $($wait)* ?);
                    if let Err(err) = $up $($wait)* {
                        verification.steps.push(step.failed(&err));
                        break;
                    }
                    let again = $read $($wait)* ?;
                    step.reapplied(&after, &again);
                    again
                }
            };
            verification.steps.push(step.done());
        }
        Ok(verification)
    }};
}
pub(crate) use verify_steps;
