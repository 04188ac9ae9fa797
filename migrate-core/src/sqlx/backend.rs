//! What a database must offer the async runner: a handful of operations
//! (read, execute, run a script, lock), each carried out in
//! `backends.rs`. Every decision about when to call them is the execution
//! stage's (`crate::exec`).

use std::future::Future;

use crate::dialect::{Dialect, HistorySql};
use crate::plan::AppliedRow;
use crate::run::ScriptError;
use crate::{Error, Options};

/// A database `migrate` runs on through `sqlx`: `sqlx::Sqlite`,
/// `sqlx::Postgres` or `sqlx::MySql`, as the crate's features allow. Its
/// methods are internal.
pub trait Backend: sqlx::Database + private::Sealed {
    #[doc(hidden)]
    const DIALECT: Dialect;

    /// Reads every history row with `statement` (the current format's read,
    /// or an older format's).
    #[doc(hidden)]
    fn read_rows(
        conn: &mut Self::Connection,
        statement: &str,
    ) -> impl Future<Output = Result<Vec<AppliedRow>, sqlx::Error>> + Send;

    /// Runs a statement with no result, binding `params` in order; returns
    /// how many rows it changed (MySQL: matched).
    #[doc(hidden)]
    fn execute(
        conn: &mut Self::Connection,
        statement: &str,
        params: &[Param<'_>],
    ) -> impl Future<Output = Result<u64, sqlx::Error>> + Send;

    /// Reads the first column of a statement's rows as text.
    #[doc(hidden)]
    fn texts(
        conn: &mut Self::Connection,
        statement: &str,
        params: &[Param<'_>],
    ) -> impl Future<Output = Result<Vec<Option<String>>, sqlx::Error>> + Send;

    /// Sends one statement unprepared, in one round trip (MySQL's text
    /// protocol, PostgreSQL's simple query), and reads the first column of
    /// its first row as text: a start's summary, and statements MySQL does
    /// not prepare (`CREATE TRIGGER`).
    #[doc(hidden)]
    fn text_once(
        conn: &mut Self::Connection,
        statement: &str,
    ) -> impl Future<Output = Result<Option<String>, sqlx::Error>> + Send;

    /// Runs a whole script as one batch (`file` names it in messages),
    /// naming the failing statement where it can be known.
    #[doc(hidden)]
    fn run_script(
        conn: &mut Self::Connection,
        script: &str,
        file: &str,
    ) -> impl Future<Output = Result<(), ScriptError>> + Send;

    /// Runs a script one statement at a time, outside any transaction,
    /// each statement waiting at most `lock_timeout` for a lock where it
    /// can be given one.
    #[doc(hidden)]
    fn run_each_statement(
        conn: &mut Self::Connection,
        script: &str,
        lock_timeout: Option<std::time::Duration>,
    ) -> impl Future<Output = Result<(), ScriptError>> + Send;

    /// The statement that begins a step's transaction: with the statement
    /// lock timeout where the database sets one per transaction
    /// (PostgreSQL's `SET LOCAL lock_timeout`).
    #[doc(hidden)]
    fn begin(sql: &HistorySql, _options: &Options) -> std::borrow::Cow<'static, str> {
        sql.begin.into()
    }

    /// Bounds each statement's wait for a lock for the rest of the run
    /// where the database sets it per session (MySQL's
    /// `lock_wait_timeout`); returns the setting to restore.
    #[doc(hidden)]
    fn bound_statements(
        _conn: &mut Self::Connection,
        _options: &Options,
    ) -> impl Future<Output = Result<Option<i64>, Error>> + Send {
        async { Ok(None) }
    }

    /// Refuses a server that takes no writes (a hot standby, a read-only
    /// replica), before any lock is waited for.
    #[doc(hidden)]
    fn writable(_conn: &mut Self::Connection) -> impl Future<Output = Result<(), Error>> + Send {
        async { Ok(()) }
    }

    /// Who may hold the lock a step waited for too long, as a clause,
    /// where the database can tell (PostgreSQL: the oldest open
    /// transaction in the database).
    #[doc(hidden)]
    fn blocker(
        _conn: &mut Self::Connection,
        _sql: &HistorySql,
    ) -> impl Future<Output = Result<Option<String>, Error>> + Send {
        async { Ok(None) }
    }

    /// Restores what [`Backend::bound_statements`] changed.
    #[doc(hidden)]
    fn restore_statements(
        _conn: &mut Self::Connection,
        _previous: i64,
    ) -> impl Future<Output = Result<(), Error>> + Send {
        async { Ok(()) }
    }

    /// Takes the lock that spans a whole run, where this database and the
    /// options have one.
    #[doc(hidden)]
    fn lock_run(
        conn: &mut Self::Connection,
        sql: &HistorySql,
        options: &Options,
    ) -> impl Future<Output = Result<RunLock, Error>> + Send;

    /// Bounds every wait for another connection's lock by the lock timeout
    /// (SQLite's busy timeout), reads included; returns the setting to
    /// restore at the end, where one was changed.
    #[doc(hidden)]
    fn bound_waits(
        _conn: &mut Self::Connection,
        _timeout: std::time::Duration,
    ) -> impl Future<Output = Result<Option<i64>, Error>> + Send {
        async { Ok(None) }
    }

    /// Restores what [`Backend::bound_waits`] changed.
    #[doc(hidden)]
    fn restore_waits(
        _conn: &mut Self::Connection,
        _previous: i64,
    ) -> impl Future<Output = Result<(), Error>> + Send {
        async { Ok(()) }
    }

    /// SQLite's rollback journal kept between commits where it is deleted
    /// at each (`Perform::keep_journal`); true if it is, to restore at the
    /// end. Only a speed-up: a failure leaves the mode as it was.
    #[doc(hidden)]
    fn keep_journal(_conn: &mut Self::Connection) -> impl Future<Output = bool> + Send {
        async { false }
    }

    /// Deletes the journal at each commit again, unless a script chose
    /// another mode meanwhile.
    #[doc(hidden)]
    fn restore_journal(
        _conn: &mut Self::Connection,
    ) -> impl Future<Output = Result<(), Error>> + Send {
        async { Ok(()) }
    }

    /// Who holds the migration lock now, if another runner does (a dirty
    /// mark is then its step in flight): SQLite's run lock file, the
    /// server's lock elsewhere.
    #[doc(hidden)]
    fn lock_holder(
        conn: &mut Self::Connection,
        sql: &HistorySql,
    ) -> impl Future<Output = Result<Option<String>, Error>> + Send;

    /// The database's file (SQLite's main database), beside which a run
    /// takes its run lock (`crate::run_file`); empty where there is none.
    #[doc(hidden)]
    fn database_file(
        _conn: &mut Self::Connection,
    ) -> impl Future<Output = Result<String, Error>> + Send {
        async { Ok(String::new()) }
    }

    /// Whether the transaction a step began is gone (its script ended it),
    /// where the database can be asked; false where it cannot.
    #[doc(hidden)]
    fn transaction_ended(
        _conn: &mut Self::Connection,
    ) -> impl Future<Output = Result<bool, sqlx::Error>> + Send {
        async { Ok(false) }
    }

    /// On a connection of its own (PostgreSQL), begins a transaction and
    /// takes the migration lock in it, waiting up to the lock timeout:
    /// both keys for a run (`in_flight: false`), or the in-flight key
    /// alone while a `no-transaction` step runs in transaction lock mode.
    /// The lock is released when that transaction ends or the connection
    /// closes, whatever killed the run.
    #[doc(hidden)]
    fn hold(
        _conn: &mut Self::Connection,
        _sql: &HistorySql,
        _options: &Options,
        _in_flight: bool,
    ) -> impl Future<Output = Result<(), Error>> + Send {
        async { Ok(()) }
    }

    /// Releases the run's lock.
    #[doc(hidden)]
    fn unlock_run(
        conn: &mut Self::Connection,
        sql: &HistorySql,
        lock: &RunLock,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// First thing in a step's transaction: takes the step's lock
    /// (PostgreSQL's transaction-scoped advisory lock).
    #[doc(hidden)]
    fn lock_step(
        conn: &mut Self::Connection,
        sql: &HistorySql,
        options: &Options,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// SQLite's schema cookie, read by `statement` (the summary's
    /// `cookie`), which a start compares with the summary's; `None` where
    /// the database has none.
    #[doc(hidden)]
    fn schema_cookie(
        _conn: &mut Self::Connection,
        _statement: &str,
    ) -> impl Future<Output = Result<Option<i64>, sqlx::Error>> + Send {
        async { Ok(None) }
    }

    /// A number that changes whenever another connection commits (SQLite's
    /// `data_version`); `None` where the database has none.
    #[doc(hidden)]
    fn data_version(
        conn: &mut Self::Connection,
    ) -> impl Future<Output = Result<Option<i64>, sqlx::Error>> + Send;

    /// A table with a row whose foreign key points nowhere (SQLite's
    /// `PRAGMA foreign_key_check`); `None` where the database checks keys
    /// itself.
    #[doc(hidden)]
    fn foreign_key_violation(
        conn: &mut Self::Connection,
    ) -> impl Future<Output = Result<Option<String>, Error>> + Send;

    /// Whether the schema declares a foreign key, so that
    /// [`Backend::foreign_key_violation`] can find anything; false where
    /// the database checks keys itself.
    #[doc(hidden)]
    fn foreign_keys_declared(
        conn: &mut Self::Connection,
    ) -> impl Future<Output = Result<bool, Error>> + Send;

    /// Refuses a backup where `migrate` cannot make one (server databases).
    #[doc(hidden)]
    fn can_back_up() -> Result<(), Error>;

    /// Copies the database before an upgrade; returns the copy's path.
    #[doc(hidden)]
    fn back_up(
        conn: &mut Self::Connection,
        backup: &crate::Backup,
        current: Option<i64>,
    ) -> impl Future<Output = Result<std::path::PathBuf, Error>> + Send;
}

pub(crate) mod private {
    pub trait Sealed {}
}

/// The lock a run holds, one kind per database. Released explicitly at the
/// end of the run; if the run's future is dropped while it holds a server
/// lock, its connection is closed instead of going back to the pool, and
/// the server releases the lock.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunLock {
    /// PostgreSQL (`LockMode::Session`): a connection of its own holds
    /// the lock for the run, in an open transaction (see
    /// [`Backend::hold`]); the run's connection holds nothing.
    Hold,
    /// MySQL's named lock (`GET_LOCK`), and the server's
    /// `max_allowed_packet`: the largest script it takes.
    Named {
        /// `@@max_allowed_packet`, in bytes.
        max_packet: u64,
    },
    /// SQLite: its write lock is taken per step; the run holds the run
    /// lock file (`crate::run_file`) beside it.
    Sqlite {
        /// Foreign key enforcement was on and is off for the run
        /// (`Options::suspend_foreign_keys`): each step's keys are
        /// checked, and it is turned back on at the end.
        foreign_keys_off: bool,
    },
    /// The lease (`LockMode::Lease`, and on a MariaDB Galera cluster
    /// whatever the mode): taken by the runner (`sqlx::lease`).
    Lease {
        /// MySQL's `@@max_allowed_packet`, in bytes (elsewhere: no limit).
        max_packet: u64,
        /// A Galera cluster: the history is read with causal reads
        /// (`wsrep_sync_wait`), so that a node sees what another committed.
        causal: bool,
    },
    /// No lock: PostgreSQL's `LockMode::Transaction` (locked per step) and
    /// `LockMode::None`.
    Unlocked,
}

impl RunLock {
    /// What only closing the connection undoes when the run cannot: a lock
    /// the server holds for it, or foreign keys left off.
    pub(crate) fn close_if_dropped(self) -> bool {
        matches!(
            self,
            RunLock::Named { .. }
                | RunLock::Sqlite {
                    foreign_keys_off: true
                }
        )
    }

    /// The run turned foreign key enforcement off: each step is checked.
    pub(crate) fn check_foreign_keys(self) -> bool {
        matches!(
            self,
            RunLock::Sqlite {
                foreign_keys_off: true
            }
        )
    }
}

/// A value bound to a statement's placeholder (or written in as a literal,
/// on PostgreSQL).
#[doc(hidden)]
pub type Param<'v> = crate::dialect::Literal<'v>;
