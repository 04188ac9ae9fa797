//! Every rule of the execution stage that depends on the dialect and the
//! options, and the decision a run takes before its lock.

use super::Sending;
use crate::dialect::Dialect;
use crate::plan::{self, Plan, Step};
use crate::report::{Direction, Report};
use crate::run::Table;
use crate::split::Refusal;
use crate::{Error, LockMode, Migration, Options, Target, TransactionMode};

/// How one dialect and one set of options run steps: every rule of the
/// execution stage, in one place.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rules {
    pub(crate) dialect: Dialect,
    lock_mode: LockMode,
}

impl Rules {
    pub(crate) fn new(dialect: Dialect, options: &Options) -> Self {
        Rules {
            dialect,
            lock_mode: options.lock_mode,
        }
    }

    /// Steps run in transactions (MySQL/MariaDB commit DDL implicitly).
    pub(super) fn transactional(self) -> bool {
        self.dialect != Dialect::MySql
    }

    /// MySQL/MariaDB: a step (without `no-transaction`) writes its
    /// in-flight mark, runs and marks itself done in one transaction,
    /// which DDL commits implicitly.
    pub(super) fn marks_in_transaction(self, no_transaction: bool) -> bool {
        self.dialect == Dialect::MySql && !no_transaction
    }

    /// How a script with (or without) `-- migrate:no-transaction` runs, as
    /// `--dry-run` and `--sql` say it after a step's name: nothing in its
    /// own transaction.
    pub(crate) fn note(self, no_transaction: bool) -> &'static str {
        if !self.outside(no_transaction) {
            ""
        } else if self.marks_in_transaction(no_transaction) {
            ", in a transaction that a DDL statement commits implicitly"
        } else {
            ", outside a transaction"
        }
    }

    /// Whether a script with (or without) `-- migrate:no-transaction` runs
    /// outside a transaction on this database.
    pub(crate) fn outside(self, no_transaction: bool) -> bool {
        no_transaction || !self.transactional()
    }

    /// Refuses a script that would end the transaction it runs in (its
    /// history row would then commit apart from it, or not at all).
    pub(crate) fn check(
        self,
        step: &Step<'_>,
        file: &str,
        sql: &str,
        no_transaction: bool,
    ) -> Result<(), Error> {
        if self.outside(no_transaction) {
            return Ok(());
        }
        match crate::split::refusal(self.dialect, sql) {
            None => Ok(()),
            Some(Refusal::EndsTransaction(statement)) => Err(Error::EndsTransaction {
                version: step.version,
                file: file.to_owned(),
                statement: crate::script::excerpt(&statement),
            }),
            Some(Refusal::Pragma(statement, advice)) => Err(Error::PragmaInTransaction {
                version: step.version,
                file: file.to_owned(),
                statement: crate::script::excerpt(&statement),
                advice,
            }),
        }
    }

    /// [`Rules::check`] for every step's script from the build, before
    /// anything runs (a recorded one is checked when it is read).
    pub(crate) fn check_all(self, steps: &[Step<'_>]) -> Result<(), Error> {
        for step in steps {
            if let Some(script) = step.script() {
                self.check(step, script.file(), script.sql(), script.no_transaction())?;
            }
        }
        Ok(())
    }

    /// How a script that runs outside a transaction (or inside) is sent.
    pub(super) fn sending(self, outside: bool) -> Sending {
        if outside && self.dialect == Dialect::Postgres {
            Sending::EachStatement
        } else {
            Sending::Batch
        }
    }

    /// Each step takes its own lock (and so reads the history again).
    pub(super) fn lock_per_step(self) -> bool {
        self.dialect == Dialect::Postgres && self.lock_mode == LockMode::Transaction
    }

    /// A run lock keeps every other runner out for the whole run, so a
    /// dirty mark seen without it may be a step in flight: plan under it.
    pub(crate) fn holds_run_lock(self) -> bool {
        match self.dialect {
            Dialect::Postgres => matches!(self.lock_mode, LockMode::Session | LockMode::Lease),
            Dialect::MySql => true,
            Dialect::Sqlite => false,
        }
    }

    /// A dirty mark seen before the lock may be a step in flight on a live
    /// runner, which the lock (or, per step, the in-flight lock) makes this
    /// one wait for: plan under it.
    pub(crate) fn waits_for_in_flight(self) -> bool {
        self.holds_run_lock() || self.lock_per_step()
    }
}

/// What the read without the lock decided.
pub(crate) enum Start<'m> {
    /// Nothing to do: the report says where the database is.
    Done(Report),
    /// Take the lock and run, with the plan made without it, or (`None`)
    /// planning under the lock, after the table is brought up to date.
    Run(Option<Plan<'m>>),
}

/// Decides, from the history read without the lock, whether a run has
/// anything to do. A dirty mark is planned again under the lock where the
/// lock makes this run wait for a step in flight, or where the driver says
/// another live runner holds the run lock now (`held_elsewhere`: SQLite's
/// run lock file, asked only then).
pub(crate) fn start<'m>(
    known: &'m [Migration],
    table: &Table,
    direction: Direction,
    target: Target,
    options: &Options,
    rules: Rules,
    held_elsewhere: impl FnOnce() -> bool,
) -> Result<Start<'m>, Error> {
    let first = match table {
        // Its rows cannot be read until its format is brought up to date.
        Table::Outdated(_) => None,
        Table::Missing | Table::Rows(_) => {
            let rows = match table {
                Table::Rows(rows) => rows.as_slice(),
                _ => &[],
            };
            match plan::plan(known, rows, direction, target, options) {
                Ok(first) if first.steps.is_empty() => {
                    return Ok(Start::Done(Report {
                        direction,
                        from: first.from,
                        to: first.to,
                        steps: Vec::new(),
                        backup: None,
                    }));
                }
                Ok(first) => Some(first),
                Err(Error::Dirty { .. }) if rules.waits_for_in_flight() || held_elsewhere() => None,
                Err(err) => return Err(err),
            }
        }
    };
    if options.mode() == TransactionMode::Single && !rules.transactional() {
        return Err(Error::SingleTransactionUnsupported);
    }
    if let Some(plan) = &first {
        rules.check_all(&plan.steps)?;
    }
    Ok(Start::Run(first))
}
