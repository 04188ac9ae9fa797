//! The one error type. Every message is one sentence that names the
//! migration (version and file) or the input involved and says what to do.
//! No message ever holds a database password: the library never sees a URL
//! for rusqlite, and server backends redact theirs.

use std::time::Duration;

use crate::report::StepReport;

/// Everything that can go wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A migration directory could not be loaded (bad file name, duplicate
    /// version, missing half of a pair, unreadable or non-UTF-8 file).
    #[error(transparent)]
    Load(#[from] migrate_files::LoadError),

    /// A target string is not `head`, `base`, `+N`, `-N` or a version.
    #[error(
        "`{input}` is not a migration target; use `head`, `base`, `+N` or `-N` with N at least 1, or a version number"
    )]
    BadTarget {
        /// What was given.
        input: String,
    },

    /// The history table named is some other table: refused, never altered.
    #[error(
        "the table {table} is not a migrate history table (it has no `{missing}` column), so it was left as it is; name another history table, or leave the name out to use `_migrate_history`"
    )]
    NotAHistoryTable {
        /// The table, quoted as in SQL.
        table: String,
        /// A column every history table has, which this one lacks.
        missing: String,
    },

    /// A history table name is not a plain SQL identifier.
    #[error(
        "`{name}` is not a valid history table name; use letters, digits and `_` (not starting with a digit), optionally as `schema.table`"
    )]
    BadTableName {
        /// What was given.
        name: String,
    },

    /// A history table name puts the table in a temporary schema (SQLite's
    /// `temp`, PostgreSQL's `pg_temp`), which vanishes with the connection,
    /// so every run would apply every migration again.
    #[error(
        "`{name}` would keep the history table in the connection's temporary schema, which vanishes when the connection closes so that every run applies every migration again; use a permanent schema, or none"
    )]
    TemporaryTable {
        /// What was given.
        name: String,
    },

    /// An applied migration's file was edited after it was applied.
    #[error(
        "migration {version} ({file}) was changed after it was applied: its checksum is {found} but {recorded} was recorded; restore the file as it was applied (add a new migration for new changes), or allow checksum mismatches (`--ignore-checksums`)"
    )]
    ChecksumMismatch {
        /// The version.
        version: i64,
        /// The up file.
        file: String,
        /// The checksum in the history table.
        recorded: String,
        /// The checksum of the file in this build.
        found: String,
    },

    /// The database has versions newer than this build's newest migration
    /// (typically after rolling the application back).
    #[error("{}", ahead(*current, *head))]
    DatabaseAhead {
        /// The newest applied version.
        current: i64,
        /// This build's newest version.
        head: Option<i64>,
    },

    /// An applied version below this build's head has no file in this build.
    #[error(
        "migration {version} ({name}) is applied in the database but this build has no file for it; restore the file, or allow unknown versions (`--allow-unknown`)"
    )]
    UnknownApplied {
        /// The version.
        version: i64,
        /// The name recorded when it was applied.
        name: String,
    },

    /// A pending migration is older than the newest applied one.
    #[error(
        "migration {version} ({file}) is pending but older than the newest applied version {current}; give it a version above {current}, or allow out-of-order migrations (`--allow-out-of-order`); if it was applied and its history row deleted, `migrate stamp {current}` records it again without running it (with any other pending version below {current})"
    )]
    OutOfOrder {
        /// The pending version.
        version: i64,
        /// Its up file.
        file: String,
        /// The newest applied version.
        current: i64,
    },

    /// A migration that ran outside a transaction failed or was interrupted.
    #[error(
        "migration {version} ({name}) is marked dirty: it failed or was interrupted outside a transaction, so the database may be partly changed; {}",
        dirty_advice(*version, *previous, *newest, also)
    )]
    Dirty {
        /// The dirty version.
        version: i64,
        /// Its file, where this build has it; otherwise the name its
        /// history row records.
        name: String,
        /// The applied version below it, the stamp target that undoes its record.
        previous: Option<i64>,
        /// The newest applied version: above `version` when the dirty step
        /// ran out of order, and then the only stamp target that keeps the
        /// steps above it.
        newest: i64,
        /// The other pending versions below `newest`, which a stamp at
        /// `newest` would record too, without running them.
        also: Vec<i64>,
    },

    /// A version target names no known or applied migration.
    #[error(
        "no migration has version {version}, neither in this build nor in the database; use a version that `migrate history` lists"
    )]
    UnknownTarget {
        /// The version asked for.
        version: i64,
    },

    /// A relative target asks for more steps than there are.
    #[error(
        "`{target}` asks for {requested} step(s) but only {available} {} {what}; nothing was changed",
        if *available == 1 { "is" } else { "are" }
    )]
    NotEnoughSteps {
        /// The target as given.
        target: String,
        /// How many steps it asks for.
        requested: u32,
        /// How many there are.
        available: usize,
        /// `pending` or `applied`.
        what: &'static str,
    },

    /// `stamp` was given a relative target.
    #[error("`{target}` is not a stamp target; use `head`, `base` or a version number")]
    StampTarget {
        /// The target as given.
        target: String,
    },

    /// A target points the other way from the operation.
    #[error("`{target}` is not a target for {operation}: use `migrate {suggestion} {target}`")]
    WrongDirection {
        /// The target as given.
        target: String,
        /// `an upgrade` or `a downgrade`.
        operation: &'static str,
        /// `upgrade` or `downgrade`.
        suggestion: &'static str,
    },

    /// An upgrade target lies below the current version.
    #[error(
        "version {target} is below the current version {current}, so there is nothing to upgrade to; to go back, run `migrate downgrade {target}`"
    )]
    TargetBelowCurrent {
        /// The target version.
        target: i64,
        /// The newest applied version.
        current: i64,
    },

    /// A downgrade would have to undo a migration without a down script.
    #[error(
        "cannot downgrade past migration {version} ({file}): it has no down script, neither in this build nor recorded when it was applied; nothing was changed"
    )]
    Irreversible {
        /// The version.
        version: i64,
        /// Its up file (or its name when this build has no file for it).
        file: String,
    },

    /// A script that runs in its step's transaction ends (or opens) one:
    /// refused before anything runs.
    #[error(
        "migration {version} ({file}) has `{statement}`, which would end the transaction the migration and its history row commit in; remove it (migrate commits each step itself), or add `-- migrate:no-transaction` as its first line to run it outside a transaction; nothing was changed"
    )]
    EndsTransaction {
        /// The version.
        version: i64,
        /// The file.
        file: String,
        /// The statement, as written.
        statement: String,
    },

    /// A script ended the transaction its step runs in with a statement
    /// that could not be seen before it ran: what it did may be committed
    /// in part, and the step is marked dirty.
    #[error(
        "migration {version} ({file}) ended the transaction it runs in (a COMMIT or ROLLBACK inside it), so part of it may be committed without its history row; it is marked dirty at {version}: check the schema against the script, repair it by hand, then run `migrate stamp`, and remove the statement that ends the transaction"
    )]
    TransactionEnded {
        /// The version.
        version: i64,
        /// The file.
        file: String,
    },

    /// A step left rows that break a foreign key (checked before it commits
    /// when the run turned enforcement off): rolled back.
    #[error(
        "migration {version} ({file}) left rows in {table} that break its foreign keys; it was rolled back, so the database is as it was before this migration: fix the script (copy or delete the rows that refer to what it changed) and run again"
    )]
    ForeignKeyViolation {
        /// The version.
        version: i64,
        /// The file.
        file: String,
        /// A table with a row whose foreign key points nowhere.
        table: String,
    },

    /// A SQLite script sets a `PRAGMA` that cannot take effect inside the
    /// step's transaction: refused before anything runs.
    #[error(
        "migration {version} ({file}) has `{statement}`, which SQLite ignores inside the transaction the migration runs in; {advice}; nothing was changed"
    )]
    PragmaInTransaction {
        /// The version.
        version: i64,
        /// The file.
        file: String,
        /// The statement, as written.
        statement: String,
        /// What to do instead.
        advice: &'static str,
    },

    /// A script larger than the server accepts in one packet: refused
    /// before anything is marked or run.
    #[error(
        "migration {version} ({file}) is {size} bytes, more than the server's max_allowed_packet ({limit} bytes); raise max_allowed_packet on the server (for example `SET GLOBAL max_allowed_packet = {}`) and run again; nothing was changed",
        size.next_power_of_two().max(*limit)
    )]
    ScriptTooLarge {
        /// The version.
        version: i64,
        /// The file.
        file: String,
        /// The script's size in bytes.
        size: u64,
        /// The server's `max_allowed_packet`.
        limit: u64,
    },

    /// All-in-one transaction mode met a `no-transaction` migration.
    #[error(
        "migration {version} ({file}) is marked `-- migrate:no-transaction`, so it cannot run inside one all-or-nothing transaction; use one transaction per step for this upgrade"
    )]
    NoTransactionInSingle {
        /// The version.
        version: i64,
        /// The file with the directive.
        file: String,
    },

    /// All-in-one transaction mode on MySQL/MariaDB, which commit DDL implicitly.
    #[error(
        "MySQL and MariaDB commit schema changes implicitly, so an all-or-nothing upgrade cannot be done there; use one transaction per step"
    )]
    SingleTransactionUnsupported,

    /// The backup before an upgrade could not be made; nothing was changed.
    #[error("could not back up the database to {}: {message}; nothing was changed", path.display())]
    Backup {
        /// Where the backup was to go.
        path: std::path::PathBuf,
        /// What went wrong.
        message: String,
    },

    /// An upgrade failed after it backed the database up.
    #[error("{source}; the backup made before this upgrade, {}, holds the database as it was", backup.display())]
    AfterBackup {
        /// The backup file.
        backup: std::path::PathBuf,
        /// The failure.
        source: Box<Error>,
    },

    /// A backup was asked of a database that is not a SQLite file.
    #[error(
        "migrate backs up SQLite files only; back up this {database} database with {tool} before you upgrade, and run without the backup option"
    )]
    BackupUnsupported {
        /// `PostgreSQL` or `MySQL`.
        database: &'static str,
        /// `pg_dump` or `mysqldump`.
        tool: &'static str,
    },

    /// A database was not tried because an earlier one failed and the run
    /// was to stop at the first failure.
    #[error("not tried: an earlier database failed and the run stops at the first failure")]
    Skipped,

    /// A migration's script failed.
    #[error("migration {version} ({file}) failed{}: {message}; {}", at(*statement, statement_sql), outcome(*dirty, *with_earlier_steps, *version))]
    Step {
        /// The version.
        version: i64,
        /// The file whose script failed.
        file: String,
        /// The 1-based number of the failing statement within the script, when known.
        statement: Option<u32>,
        /// The start of the failing statement's text, when known.
        statement_sql: Option<Box<str>>,
        /// The database's message.
        message: String,
        /// True when the script ran outside a transaction and the history
        /// now marks the database dirty.
        dirty: bool,
        /// True when the run's steps shared one transaction
        /// ([`TransactionMode::Single`](crate::TransactionMode::Single), or
        /// `Auto`) and the steps before this one were rolled back with it.
        with_earlier_steps: bool,
        /// The steps completed before this one, in the order they ran.
        completed: Box<[StepReport]>,
        /// The driver's error (`rusqlite::Error` or `sqlx::Error`), when
        /// the failure came from the database.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
    },

    /// Another runner (or writer) held the database lock for too long.
    #[error(
        "gave up after {} waiting for the database lock, which {}; try again, or raise the lock timeout",
        human(*waited),
        holder.as_deref().unwrap_or("another migration run or a long write transaction holds")
    )]
    LockTimeout {
        /// How long we waited.
        waited: Duration,
        /// Who holds the lock, where the database can tell, as a clause
        /// ("… holds (…)"): PostgreSQL's server process, its client and
        /// what it is doing; a lease's runner, its host and process, and
        /// until when; and how it is freed after a killed runner.
        holder: Option<String>,
    },

    /// A step waited for a lock longer than the statement lock timeout (or
    /// lost a deadlock) on every try: each was rolled back, so nothing of
    /// it was changed.
    #[error(
        "migration {version} ({file}) could not take the locks it needs in {tries} {}{}: {}; it was rolled back each time, so nothing of it was changed: run it again once that is done, or allow longer waits (--statement-lock-timeout) or more tries (--lock-retries)",
        if *tries == 1 { "try" } else { "tries" },
        waited.map(|waited| format!(" of {}", human(waited))).unwrap_or_default(),
        holder.as_deref().unwrap_or("another session holds a lock on a table it changes")
    )]
    StepLockTimeout {
        /// The version.
        version: i64,
        /// The file.
        file: String,
        /// How many times it was tried.
        tries: u32,
        /// The statement lock timeout, where one was set.
        waited: Option<Duration>,
        /// Who may hold the lock, as a clause, where the database can tell.
        holder: Option<String>,
        /// The steps that completed before it.
        completed: Box<[StepReport]>,
    },

    /// The server takes no writes (a PostgreSQL hot standby or
    /// `default_transaction_read_only`, a MySQL/MariaDB `read_only`
    /// replica): refused before any lock is waited for.
    #[error(
        "the database is read-only ({reason}): point migrate at the primary; nothing was changed"
    )]
    ReadOnly {
        /// Why, as the server says it.
        reason: &'static str,
    },

    /// The run's lease was taken over by another runner: it was not
    /// renewed in time (the database or the network stalled this runner
    /// for longer than the lease lasts). The transaction that found it out,
    /// about to commit, was rolled back; or a step whose script ran outside
    /// a transaction (or committed its own, as MySQL's DDL does) was left
    /// marked dirty instead of recorded as applied.
    #[error(
        "this run lost its migration lease to another runner (it was not renewed within {}), so it stopped: {}, and raise the lease duration if the database or network stalls this long",
        human(*lease),
        lost_with(*version, file.as_deref(), *dirty)
    )]
    LeaseLost {
        /// How long the lease lasts.
        lease: Duration,
        /// The step that found it out (`None`: a transaction of more than
        /// one step, every step in it rolled back).
        version: Option<i64>,
        /// That step's file.
        file: Option<String>,
        /// The step's script ran and part of it may be committed: the step
        /// is marked dirty, not applied.
        dirty: bool,
    },

    /// The connection is already inside a transaction.
    #[error(
        "the connection is inside an open transaction; run migrations on a connection with no transaction open"
    )]
    InTransaction,

    /// `verify` was given a database that is not empty: it applies and
    /// reverts every migration, so it works on a scratch database only.
    #[error(
        "verify works on an empty scratch database, and this one holds {what}; give it a new, empty database (the `migrate verify` command makes one of its own)"
    )]
    NotEmpty {
        /// What the database holds.
        what: String,
    },

    /// A database error outside any migration's script.
    #[error("could not {action}: {message}")]
    Database {
        /// What we were doing, e.g. `read the history table "_migrate_history"`.
        action: String,
        /// The database's message.
        message: String,
        /// The driver's error (`rusqlite::Error` or `sqlx::Error`), so that a
        /// caller can tell "connection refused" from "permission denied".
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
    },
}

/// What a lost lease rolled back.
fn lost_with(version: Option<i64>, file: Option<&str>, dirty: bool) -> String {
    match (version, file) {
        (Some(version), Some(file)) if dirty => format!(
            "migration {version} ({file}) ran, but not in a transaction that could be rolled back, so the database may be partly changed and is marked dirty at {version} (the steps before it are recorded): check the schema against the script, repair it by hand, then run `migrate stamp`"
        ),
        (Some(version), Some(file)) => format!(
            "migration {version} ({file}) was rolled back, and the steps before it are recorded; run again to finish"
        ),
        _ => {
            "its transaction was rolled back, with every step in it; run again to finish".to_owned()
        }
    }
}

fn human(duration: Duration) -> String {
    if duration < Duration::from_secs(1) {
        format!("{} ms", duration.as_millis())
    } else {
        format!("{} s", duration.as_secs())
    }
}

fn ahead(current: i64, head: Option<i64>) -> String {
    let (build, target) = match head {
        Some(head) => (
            format!("newer than this build's head {head}"),
            head.to_string(),
        ),
        None => (
            "but this build has no migrations".to_owned(),
            "base".to_owned(),
        ),
    };
    format!(
        "the database is at version {current}, {build}: run `migrate downgrade {target}` to roll back, or allow unknown versions (`--allow-unknown`) to start anyway"
    )
}

fn at(statement: Option<u32>, sql: &Option<Box<str>>) -> String {
    match (statement, sql) {
        (Some(n), Some(sql)) => format!(" at statement {n} (`{sql}`)"),
        (Some(n), None) => format!(" at statement {n}"),
        _ => String::new(),
    }
}

fn outcome(dirty: bool, with_earlier_steps: bool, version: i64) -> String {
    if with_earlier_steps {
        return "it was rolled back with the steps before it in the run's one transaction, so the database is as it was before the run: fix the script and run again".to_owned();
    }
    if dirty {
        format!(
            "it ran outside a transaction, so the database may be partly changed and is marked dirty at {version}: repair it by hand, then run `migrate stamp`"
        )
    } else {
        "it was rolled back, so the database is as it was before this migration: fix the script and run again".to_owned()
    }
}

impl Error {
    /// The steps that completed before a failing step (empty for other errors).
    ///
    /// # Examples
    ///
    /// ```
    /// let err = "+0".parse::<migrate::Target>().unwrap_err();
    /// assert!(err.completed().is_empty());
    /// ```
    pub fn completed(&self) -> &[StepReport] {
        match self {
            Error::Step { completed, .. } | Error::StepLockTimeout { completed, .. } => completed,
            Error::AfterBackup { source, .. } => source.completed(),
            _ => &[],
        }
    }
}

/// How to clear a dirty mark at `version`: stamp it or the version below
/// it, or, where newer steps are applied (it ran out of order), finish it
/// and stamp the newest, since a lower target forgets the steps above.
fn dirty_advice(version: i64, previous: Option<i64>, newest: i64, also: &[i64]) -> String {
    if newest > version {
        let also = match also {
            [] => String::new(),
            [one] => format!(
                "; that stamp also records the pending migration {one} as applied without running it, so run its script by hand first"
            ),
            [rest @ .., last] => format!(
                "; that stamp also records the pending migrations {} and {last} as applied without running them, so run their scripts by hand first",
                rest.iter()
                    .map(i64::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        return format!(
            "repair the schema by hand until it has all of migration {version}'s changes, then run `migrate stamp {newest}` (the newest applied version: a lower target would also forget the migrations applied above {version}){also}"
        );
    }
    format!(
        "repair the schema by hand, then run `migrate stamp {version}` if the schema has migration {version}'s changes (its up script finished, or an interrupted downgrade's down script did not start) or `migrate stamp {}` if it has none of them",
        previous.map_or_else(|| "base".to_owned(), |v| v.to_string())
    )
}

#[cfg(test)]
mod tests {
    /// Clippy's `result_large_err` warns, in every application that returns
    /// `Result<_, migrate::Error>`, once the error reaches 128 bytes.
    #[test]
    fn the_error_stays_small_enough_to_return() {
        assert!(
            size_of::<super::Error>() < 128,
            "{}",
            size_of::<super::Error>()
        );
    }
}
