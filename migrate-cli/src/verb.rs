//! Each verb that runs on an opened database, described once: its name,
//! how it needs the database ([`Access`]) and the library call it makes.
//!
//! Both paths run a verb through [`Verb::run`]: with one database
//! (`commands.rs`) the result is printed as it is; with several
//! (`tenants.rs`) the verb runs on each and the results become one table.
//! Neither path knows which library call a verb makes or how it opens the
//! database. `new` and the previews (`--sql`, `--dry-run`) are not verbs
//! here: `new` needs no database, and a preview runs on one database only.

use migrate::{Current, Direction, HistoryEntry, Migrator, Report, Status, Target, Verdict};
use serde::Serialize;

use crate::cli::{Check, Command, Downgrade, Preview, Upgrade};
use crate::db::{Access, Database, DatabaseError, Open};
use crate::error::CliError;

/// A verb that runs on an opened database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verb {
    /// `current`.
    Current,
    /// `history`.
    History,
    /// `status`.
    Status,
    /// `check`.
    Check,
    /// `upgrade TARGET`, not a preview.
    Upgrade(Target),
    /// `downgrade TARGET`, not a preview.
    Downgrade(Target),
    /// `stamp TARGET`.
    Stamp(Target),
}

/// What a verb returned, one variant per kind of result. With several
/// databases, each database's result is an element of the JSON array as
/// it serialises here.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(crate) enum Done {
    /// `current`.
    Current(Current),
    /// `history`.
    History(Vec<HistoryEntry>),
    /// `status`.
    Status(Status),
    /// `check`.
    Checked(Checked),
    /// `upgrade` and `downgrade`: the steps that ran.
    Steps(Report),
    /// `stamp`: where the history was, is now, and each row it changed.
    Stamped(migrate::Stamped),
}

/// `check`'s result: the status and its verdict.
#[derive(Debug, Serialize)]
pub(crate) struct Checked {
    /// The status.
    #[serde(flatten)]
    pub(crate) status: Status,
    /// What `check` makes of it.
    pub(crate) verdict: Verdict,
    /// For drift or a dirty mark, the first migration that makes it (read
    /// from the history after the status: none if a runner changed it
    /// in between).
    #[serde(skip)]
    pub(crate) culprit: Option<HistoryEntry>,
}

impl Verb {
    /// The verb `command` runs on an opened database; `None` for `new`,
    /// `completions` and the previews.
    pub(crate) fn of(command: &Command) -> Option<Verb> {
        if preview_of(command).is_some() {
            return None;
        }
        Some(match command {
            Command::Current => Verb::Current,
            Command::History => Verb::History,
            Command::Status => Verb::Status,
            Command::Check(Check { schema: None, .. }) => Verb::Check,
            Command::Upgrade(Upgrade { target, .. }) => Verb::Upgrade(*target),
            Command::Downgrade(Downgrade { target, .. }) => Verb::Downgrade(*target),
            Command::Stamp { target } => Verb::Stamp(*target),
            Command::New { .. }
            | Command::Lint(_)
            | Command::Check(_)
            | Command::Dump(_)
            | Command::Verify
            | Command::Database(_)
            | Command::Wait { .. }
            | Command::Completions { .. } => return None,
        })
    }

    /// The verb's name, in log lines and messages.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Verb::Current => "current",
            Verb::History => "history",
            Verb::Status => "status",
            Verb::Check => "check",
            Verb::Upgrade(_) => "upgrade",
            Verb::Downgrade(_) => "downgrade",
            Verb::Stamp(_) => "stamp",
        }
    }

    /// How the verb needs the database: `upgrade` creates a missing SQLite
    /// file, `downgrade` and `stamp` write, the others read.
    pub(crate) fn access(self) -> Access {
        match self {
            Verb::Current | Verb::History | Verb::Status | Verb::Check => Access::Read,
            Verb::Upgrade(_) => Access::Create,
            Verb::Downgrade(_) | Verb::Stamp(_) => Access::Write,
        }
    }

    /// Runs the verb on `db`, opened with [`Verb::access`].
    ///
    /// # Errors
    ///
    /// The library's, for the caller to print; for `upgrade` of a SQLite
    /// database it may not write, why, when there is anything to apply.
    pub(crate) fn run(self, db: &Open, migrators: &Migrators<'_>) -> Result<Done, CliError> {
        let migrator = &migrators.plain;
        Ok(match self {
            Verb::Current => Done::Current(db.current(migrator)?),
            Verb::History => Done::History(db.history(migrator)?),
            Verb::Status => Done::Status(db.status(migrator)?),
            Verb::Check => {
                let status = db.status(migrator)?;
                let verdict = status.verdict();
                let culprit = match verdict {
                    Verdict::Drift | Verdict::Dirty => {
                        let history = db.history(migrator)?;
                        migrate::plan::culprit(&history, &status, migrator.options()).cloned()
                    }
                    _ => None,
                };
                Done::Checked(Checked {
                    verdict,
                    status,
                    culprit,
                })
            }
            Verb::Upgrade(target) => match db {
                Open::Sqlite(Database {
                    read_only: Some(refusal),
                    ..
                }) => Done::Steps(up_to_date(db, migrator, target, refusal)?),
                _ => Done::Steps(db.upgrade(migrators.for_upgrade(db), target)?),
            },
            Verb::Downgrade(target) => Done::Steps(db.downgrade(migrator, target)?),
            Verb::Stamp(target) => Done::Stamped(db.stamp(migrator, target)?),
        })
    }
}

/// `upgrade` of a database this command may not write: the report of a
/// run with nothing to do when nothing is pending up to `target`; the
/// refusal otherwise.
fn up_to_date(
    db: &Open,
    migrator: &Migrator<'_>,
    target: Target,
    refusal: &DatabaseError,
) -> Result<Report, CliError> {
    let plan = db.plan(migrator, Direction::Up, target)?;
    if !plan.steps.is_empty() {
        return Err(refusal.clone().into());
    }
    Ok(Report {
        direction: Direction::Up,
        from: plan.from,
        to: plan.to,
        steps: Vec::new(),
        backup: None,
    })
}

/// `upgrade` or `downgrade` with `--sql` or `--dry-run`: the direction,
/// the target and the preview.
pub(crate) fn preview_of(command: &Command) -> Option<(Direction, Target, &Preview)> {
    match command {
        Command::Upgrade(Upgrade {
            target, preview, ..
        }) if preview.mode.sql || preview.mode.dry_run => Some((Direction::Up, *target, preview)),
        Command::Downgrade(Downgrade { target, preview })
            if preview.mode.sql || preview.mode.dry_run =>
        {
            Some((Direction::Down, *target, preview))
        }
        _ => None,
    }
}

/// The run's migrators: one with the run's options, and for `upgrade
/// --backup` one that also backs up.
pub(crate) struct Migrators<'m> {
    /// The options of the command line.
    pub(crate) plain: Migrator<'m>,
    /// The same with `Options::backup`, for `upgrade --backup`.
    pub(crate) backing_up: Option<Migrator<'m>>,
}

impl<'m> Migrators<'m> {
    /// The migrator to upgrade `db` with. Whether there is anything to
    /// apply, and so anything to back up, is the library's to decide; a
    /// SQLite file this command has just created holds nothing to copy.
    fn for_upgrade(&self, db: &Open) -> &Migrator<'m> {
        match (&self.backing_up, db) {
            (Some(_), Open::Sqlite(sqlite)) if sqlite.created => &self.plain,
            (Some(backing_up), _) => backing_up,
            (None, _) => &self.plain,
        }
    }
}
