//! The operations of the execution stage: what a backend carries out, and
//! the values they carry. Which operation runs when is `exec`'s alone.

use std::borrow::Cow;
use std::future::{Future, ready};

use crate::Error;
use crate::dialect::{HistorySql, Literal};
use crate::plan::{AppliedRow, Step};
use crate::run::ScriptError;

/// A step's script, resolved (a recorded down script is fetched first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resolved<'m> {
    /// The file to name in messages.
    pub file: String,
    /// The script.
    pub sql: Cow<'m, str>,
    /// The script says `-- migrate:no-transaction`.
    pub no_transaction: bool,
}

/// How a script is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sending {
    /// As one batch (SQLite parses it statement by statement itself).
    Batch,
    /// One statement at a time, outside any transaction: PostgreSQL wraps a
    /// multi-statement query in an implicit transaction, where `CREATE
    /// INDEX CONCURRENTLY` fails.
    EachStatement,
}

/// One write to the history table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Write<'m> {
    /// A new row; the down script is stored so that an older build can
    /// still undo the step.
    Insert {
        /// The row.
        row: AppliedRow,
        /// The down script, as applied.
        down_sql: Option<&'m str>,
    },
    /// A row's `success` and `execution_ms`.
    Mark {
        /// The version.
        version: i64,
        /// Clean (true) or in flight (false).
        success: bool,
        /// How long the step took.
        execution_ms: i64,
    },
    /// A row deleted (a step reverted, or `stamp` below it).
    Delete(i64),
    /// `stamp`: a dirty row is clean, with this build's checksum.
    MarkClean {
        /// The version.
        version: i64,
        /// The checksum now recorded.
        checksum: String,
    },
    /// The summary beside the table (see `dialect::summary`): the
    /// history's digest after the run's writes, recorded only if the
    /// change counter stands where those writes left it.
    Summary {
        /// The digest, as stored.
        digest: String,
        /// The counter value the run's own writes left.
        changes: i64,
    },
}

impl Write<'_> {
    /// The statement that makes this write, and its values in placeholder
    /// order: bound by a driver, or written in as literals (the preview,
    /// and PostgreSQL, which sends no prepared statement a pooler could
    /// lose). `measured: false` writes the execution time as 0, for SQL
    /// printed before it runs.
    pub(crate) fn statement<'s>(
        &'s self,
        sql: &'s HistorySql,
        measured: bool,
    ) -> (&'s str, Vec<Literal<'s>>) {
        let ms = |ms: i64| Literal::Integer(if measured { ms } else { 0 });
        match self {
            Write::Insert { row, down_sql } => (
                &sql.insert,
                vec![
                    Literal::Integer(row.version),
                    Literal::Text(&row.name),
                    Literal::Text(&row.checksum),
                    down_sql.map_or(Literal::Null, Literal::Text),
                    Literal::Text(&row.applied_at),
                    ms(row.execution_ms),
                    Literal::Boolean(row.success),
                ],
            ),
            Write::Mark {
                version,
                success,
                execution_ms,
            } => (
                &sql.mark,
                vec![
                    Literal::Boolean(*success),
                    ms(*execution_ms),
                    Literal::Integer(*version),
                ],
            ),
            Write::Delete(version) => (&sql.delete, vec![Literal::Integer(*version)]),
            Write::MarkClean { version, checksum } => (
                &sql.mark_clean,
                vec![Literal::Text(checksum), Literal::Integer(*version)],
            ),
            Write::Summary { digest, changes } => (
                &sql.summary.update,
                vec![Literal::Text(digest), Literal::Integer(*changes)],
            ),
        }
    }

    /// What a failure of this write could not do, for its message.
    pub(crate) fn action(&self) -> String {
        match self {
            Write::Insert { row, .. } if !row.success => {
                format!("record migration {} as in flight", row.version)
            }
            Write::Mark {
                version,
                success: false,
                ..
            } => format!("record migration {version} as in flight"),
            Write::Insert { row, .. } => {
                format!("record migration {} in the history table", row.version)
            }
            Write::Mark { version, .. }
            | Write::Delete(version)
            | Write::MarkClean { version, .. } => {
                format!("record migration {version} in the history table")
            }
            Write::Summary { .. } => "record the history's summary".to_owned(),
        }
    }
}

/// The operations a backend carries out, each one a statement or a few.
/// Every decision about them is made by this module. Their futures are
/// `Send` so that the async runner's are; a backend that does its work at
/// once (rusqlite, the preview) does it when called and returns a ready
/// future.
pub(crate) trait Perform {
    /// Printers only: the step the program runs next, before its first
    /// operation (backends ignore it).
    fn announce(&mut self, _step: &Step<'_>) {}

    /// Opens a transaction (SQLite's `BEGIN IMMEDIATE` takes the write
    /// lock, waiting up to the lock timeout).
    fn begin(&mut self) -> impl Future<Output = Result<(), Error>> + Send;

    /// Before a run's second transaction, outside any: SQLite's rollback
    /// journal kept between commits where the database deletes it at each
    /// (`PERSIST` for `DELETE`), set back when the run ends. Only a
    /// speed-up: a failure leaves the mode as it was.
    fn keep_journal(&mut self) -> impl Future<Output = ()> + Send;

    /// First thing in a transaction: takes the step's lock
    /// (PostgreSQL's transaction-scoped advisory lock).
    fn lock_step(&mut self) -> impl Future<Output = Result<(), Error>> + Send;

    /// After a step's script ran outside a transaction (or committed the
    /// step's own, as MySQL's DDL does), before the history says the step
    /// is done: under a lease, renews it, and fails with
    /// [`Error::LeaseLost`] if another runner took it. Nothing where the
    /// run holds no lease.
    fn confirm_lease(&mut self) -> impl Future<Output = Result<(), Error>> + Send;

    /// Creates the history table, or brings an older format up to date.
    fn ensure_table(&mut self) -> impl Future<Output = Result<(), Error>> + Send;

    /// A number that changes whenever another connection commits (SQLite's
    /// `data_version`), where the database has one.
    fn data_version(&mut self) -> impl Future<Output = Result<Option<i64>, Error>> + Send;

    /// Reads the whole history.
    fn read_history(&mut self) -> impl Future<Output = Result<Vec<AppliedRow>, Error>> + Send;

    /// Creates the summary beside the history table (its table, triggers
    /// and row) where missing; true when it is there to be kept. Never
    /// fails the run for want of a privilege, and leaves an open
    /// transaction usable either way.
    fn ensure_summary(&mut self) -> impl Future<Output = Result<bool, Error>> + Send {
        ready(Ok(false))
    }

    /// The summary's change counter, where there is a summary. Called
    /// only where it is known to exist, and always before the history is
    /// read, so that the history read is at least as new as the counter.
    fn read_changes(&mut self) -> impl Future<Output = Result<Option<i64>, Error>> + Send {
        ready(Ok(None))
    }

    /// Before a step marks or runs anything: whether the database can take
    /// its script at all (MySQL's `max_allowed_packet`).
    fn admits(&mut self, _step: &Step<'_>, _script: &Resolved<'_>) -> Result<(), Error> {
        Ok(())
    }

    /// Reads the down script recorded for `version`.
    fn read_recorded(
        &mut self,
        version: i64,
    ) -> impl Future<Output = Result<Option<String>, Error>> + Send;

    /// Runs a step's script.
    fn run_script(
        &mut self,
        script: &Resolved<'_>,
        sending: Sending,
        outside: bool,
    ) -> impl Future<Output = Result<(), ScriptError>> + Send;

    /// Inside a step's transaction, after its script: a table with a row
    /// whose foreign key points nowhere, where the run turned enforcement
    /// off (SQLite) and so must check.
    fn foreign_key_violation(
        &mut self,
    ) -> impl Future<Output = Result<Option<String>, Error>> + Send;

    /// Inside a step's transaction, after its script, where the run turned
    /// enforcement off: whether the schema declares any foreign key (one
    /// read of the schema's text), so that [`Perform::foreign_key_violation`]
    /// can find anything. False where nothing is checked.
    fn foreign_keys_declared(&mut self) -> impl Future<Output = Result<bool, Error>> + Send;

    /// After a step's script in its transaction: whether the transaction
    /// is gone (a statement the split could not see ended it); the driver
    /// then no longer counts it open. `ask` allows a query for it, where
    /// the driver cannot tell otherwise (PostgreSQL); without it, and
    /// where nothing tells at no cost, the answer is false.
    fn transaction_ended(&mut self, ask: bool) -> impl Future<Output = Result<bool, Error>> + Send;

    /// Before a `no-transaction` step's in-flight mark commits, where the
    /// run's lock is taken per step (PostgreSQL's transaction lock mode):
    /// holds the in-flight lock until [`Perform::end_guard`], so that a
    /// runner that sees the mark waits for the step instead of calling it
    /// dirty.
    fn guard_in_flight(&mut self) -> impl Future<Output = Result<(), Error>> + Send;

    /// Releases what [`Perform::guard_in_flight`] took.
    fn end_guard(&mut self) -> impl Future<Output = Result<(), Error>> + Send;

    /// Writes to the history table.
    fn write(&mut self, write: &Write<'_>) -> impl Future<Output = Result<(), Error>> + Send;

    /// Commits the open transaction.
    fn commit(&mut self) -> impl Future<Output = Result<(), Error>> + Send;

    /// Rolls the open transaction back (a failed MySQL step's).
    fn rollback(&mut self) -> impl Future<Output = Result<(), Error>> + Send;

    /// Waits before a step is tried again.
    fn pause(&mut self, pause: std::time::Duration) -> impl Future<Output = ()> + Send;

    /// Who may hold the lock a step waited for too long, where the database
    /// can tell (PostgreSQL: the oldest open transaction), as a clause.
    fn blocker(&mut self) -> impl Future<Output = Result<Option<String>, Error>> + Send;
}

/// [`Perform`] for a backend that does each operation at once, when called
/// (rusqlite, the preview): the same operations, without futures.
pub(crate) trait PerformNow {
    /// As [`Perform::announce`].
    fn announce(&mut self, _step: &Step<'_>) {}
    /// As [`Perform::begin`].
    fn begin(&mut self) -> Result<(), Error>;
    /// As [`Perform::keep_journal`].
    fn keep_journal(&mut self);
    /// As [`Perform::lock_step`].
    fn lock_step(&mut self) -> Result<(), Error>;
    /// As [`Perform::confirm_lease`]: no backend that does each operation
    /// at once holds a lease.
    fn confirm_lease(&mut self) -> Result<(), Error> {
        Ok(())
    }
    /// As [`Perform::ensure_table`].
    fn ensure_table(&mut self) -> Result<(), Error>;
    /// As [`Perform::data_version`].
    fn data_version(&mut self) -> Result<Option<i64>, Error>;
    /// As [`Perform::read_history`].
    fn read_history(&mut self) -> Result<Vec<AppliedRow>, Error>;
    /// As [`Perform::ensure_summary`].
    fn ensure_summary(&mut self) -> Result<bool, Error> {
        Ok(false)
    }
    /// As [`Perform::read_changes`].
    fn read_changes(&mut self) -> Result<Option<i64>, Error> {
        Ok(None)
    }
    /// As [`Perform::read_recorded`].
    fn read_recorded(&mut self, version: i64) -> Result<Option<String>, Error>;
    /// As [`Perform::run_script`].
    fn run_script(
        &mut self,
        script: &Resolved<'_>,
        sending: Sending,
        outside: bool,
    ) -> Result<(), ScriptError>;
    /// As [`Perform::foreign_key_violation`].
    fn foreign_key_violation(&mut self) -> Result<Option<String>, Error>;
    /// As [`Perform::foreign_keys_declared`].
    fn foreign_keys_declared(&mut self) -> Result<bool, Error>;
    /// As [`Perform::transaction_ended`].
    fn transaction_ended(&mut self, _ask: bool) -> Result<bool, Error> {
        Ok(false)
    }
    /// As [`Perform::write`].
    fn write(&mut self, write: &Write<'_>) -> Result<(), Error>;
    /// As [`Perform::commit`].
    fn commit(&mut self) -> Result<(), Error>;
    /// As [`Perform::rollback`]: only MySQL steps, which run through sqlx,
    /// ask for it.
    fn rollback(&mut self) -> Result<(), Error> {
        Ok(())
    }
    /// As [`Perform::pause`].
    fn pause(&mut self, pause: std::time::Duration) {
        std::thread::sleep(pause);
    }
    /// As [`Perform::blocker`].
    fn blocker(&mut self) -> Result<Option<String>, Error> {
        Ok(None)
    }
}

impl<T: PerformNow> Perform for T {
    fn announce(&mut self, step: &Step<'_>) {
        PerformNow::announce(self, step);
    }
    fn begin(&mut self) -> impl Future<Output = Result<(), Error>> + Send {
        ready(PerformNow::begin(self))
    }
    fn keep_journal(&mut self) -> impl Future<Output = ()> + Send {
        PerformNow::keep_journal(self);
        ready(())
    }
    fn lock_step(&mut self) -> impl Future<Output = Result<(), Error>> + Send {
        ready(PerformNow::lock_step(self))
    }
    fn confirm_lease(&mut self) -> impl Future<Output = Result<(), Error>> + Send {
        ready(PerformNow::confirm_lease(self))
    }
    fn ensure_table(&mut self) -> impl Future<Output = Result<(), Error>> + Send {
        ready(PerformNow::ensure_table(self))
    }
    fn data_version(&mut self) -> impl Future<Output = Result<Option<i64>, Error>> + Send {
        ready(PerformNow::data_version(self))
    }
    fn read_history(&mut self) -> impl Future<Output = Result<Vec<AppliedRow>, Error>> + Send {
        ready(PerformNow::read_history(self))
    }
    fn ensure_summary(&mut self) -> impl Future<Output = Result<bool, Error>> + Send {
        ready(PerformNow::ensure_summary(self))
    }
    fn read_changes(&mut self) -> impl Future<Output = Result<Option<i64>, Error>> + Send {
        ready(PerformNow::read_changes(self))
    }
    fn read_recorded(
        &mut self,
        version: i64,
    ) -> impl Future<Output = Result<Option<String>, Error>> + Send {
        ready(PerformNow::read_recorded(self, version))
    }
    fn run_script(
        &mut self,
        script: &Resolved<'_>,
        sending: Sending,
        outside: bool,
    ) -> impl Future<Output = Result<(), ScriptError>> + Send {
        ready(PerformNow::run_script(self, script, sending, outside))
    }
    fn foreign_key_violation(
        &mut self,
    ) -> impl Future<Output = Result<Option<String>, Error>> + Send {
        ready(PerformNow::foreign_key_violation(self))
    }
    fn foreign_keys_declared(&mut self) -> impl Future<Output = Result<bool, Error>> + Send {
        ready(PerformNow::foreign_keys_declared(self))
    }
    fn transaction_ended(&mut self, ask: bool) -> impl Future<Output = Result<bool, Error>> + Send {
        ready(PerformNow::transaction_ended(self, ask))
    }
    /// Only PostgreSQL, through sqlx, locks per step.
    fn guard_in_flight(&mut self) -> impl Future<Output = Result<(), Error>> + Send {
        ready(Ok(()))
    }
    fn end_guard(&mut self) -> impl Future<Output = Result<(), Error>> + Send {
        ready(Ok(()))
    }
    fn write(&mut self, write: &Write<'_>) -> impl Future<Output = Result<(), Error>> + Send {
        ready(PerformNow::write(self, write))
    }
    fn commit(&mut self) -> impl Future<Output = Result<(), Error>> + Send {
        ready(PerformNow::commit(self))
    }
    fn rollback(&mut self) -> impl Future<Output = Result<(), Error>> + Send {
        ready(PerformNow::rollback(self))
    }
    fn pause(&mut self, pause: std::time::Duration) -> impl Future<Output = ()> + Send {
        PerformNow::pause(self, pause);
        ready(())
    }
    fn blocker(&mut self) -> impl Future<Output = Result<Option<String>, Error>> + Send {
        ready(PerformNow::blocker(self))
    }
}
