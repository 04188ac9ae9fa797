//! How a run behaves: the history table's name, the safety opt-outs, the
//! transaction mode and the lock timeout.

use std::time::Duration;

use crate::Error;
use crate::backup::Backup;

/// How each run wraps its steps in transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TransactionMode {
    /// One transaction per step (the default): a failure keeps the steps
    /// before it.
    #[default]
    PerStep,
    /// All pending steps in one transaction: the database ends either where
    /// it started or at the target. Refused when a step is `no-transaction`.
    Single,
    /// All pending steps in one transaction where every one of them can run
    /// in it (none is `no-transaction`, and the database's DDL is
    /// transactional: SQLite and PostgreSQL), one per step otherwise. The
    /// default of a run over many databases ([`crate::tenants`], and the
    /// CLI's): each ends at its old head or its new one, with one commit.
    Auto,
}

/// How runners on PostgreSQL and MySQL/MariaDB keep each other out (SQLite
/// has one way: its write lock and the run lock file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LockMode {
    /// A lock held for the whole run (the default): on PostgreSQL an
    /// advisory lock, on MySQL/MariaDB a named lock (`GET_LOCK`). On a
    /// MariaDB Galera cluster (`wsrep_on=ON`), where a named lock is local
    /// to one node, the runner takes the lease instead.
    #[default]
    Session,
    /// A transaction-scoped advisory lock taken in each step's transaction,
    /// the history re-read under it: for poolers in transaction mode such as
    /// PgBouncer, where a session lock could be released on another
    /// server connection.
    Transaction,
    /// A lease: a row in a small lock table beside the history table
    /// (`<table>_lock`), taken and renewed with ordinary writes, so that it
    /// holds across the nodes of a cluster, through any pooler, and on
    /// PostgreSQL-compatible databases without advisory locks. A heartbeat
    /// renews it while the run lasts; a runner that dies loses it when it
    /// expires (see [`Options::lease_duration`]).
    Lease,
    /// No lock, for PostgreSQL-compatible databases without advisory locks
    /// (CockroachDB): run one migrator at a time yourself.
    None,
}

/// Options of a run. The defaults are the safe ones.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let options = migrate::Options::default()
///     .table("app.schema_history")?
///     .allow_out_of_order(true)
///     .transaction_mode(migrate::TransactionMode::Single)
///     .lock_timeout(Duration::from_secs(10));
/// assert_eq!(options.table_name(), "app.schema_history");
/// # Ok::<(), migrate::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub(crate) table: TableName,
    pub(crate) allow_out_of_order: bool,
    pub(crate) allow_unknown: bool,
    pub(crate) ignore_checksums: bool,
    /// `None`: not chosen (one database: per step; many: `Auto`).
    pub(crate) transaction_mode: Option<TransactionMode>,
    pub(crate) lock_timeout: Duration,
    pub(crate) lock_mode: LockMode,
    pub(crate) backup: Option<Backup>,
    pub(crate) suspend_foreign_keys: bool,
    pub(crate) statement_lock_timeout: Option<Duration>,
    pub(crate) lock_retries: u32,
    pub(crate) lease_duration: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            table: TableName::default(),
            allow_out_of_order: false,
            allow_unknown: false,
            ignore_checksums: false,
            transaction_mode: None,
            lock_timeout: Duration::from_secs(60),
            lock_mode: LockMode::Session,
            backup: None,
            suspend_foreign_keys: true,
            statement_lock_timeout: None,
            lock_retries: DEFAULT_LOCK_RETRIES,
            lease_duration: Duration::from_secs(30),
        }
    }
}

/// PostgreSQL's statement lock timeout when none is set.
pub(crate) const DEFAULT_STATEMENT_LOCK_TIMEOUT: Duration = Duration::from_secs(2);

/// How many times a step that hit the statement lock timeout is retried.
pub(crate) const DEFAULT_LOCK_RETRIES: u32 = 5;

impl Options {
    /// The statement lock timeout a run on `dialect` uses: PostgreSQL's
    /// default when none is set, none on MySQL unless set, never on
    /// SQLite; a zero turns it off.
    pub(crate) fn statement_lock_timeout_on(&self, dialect: crate::Dialect) -> Option<Duration> {
        let timeout = match (dialect, self.statement_lock_timeout) {
            (crate::Dialect::Sqlite, _) | (crate::Dialect::MySql, None) => return None,
            (crate::Dialect::Postgres, None) => DEFAULT_STATEMENT_LOCK_TIMEOUT,
            (_, Some(timeout)) => timeout,
        };
        (!timeout.is_zero()).then_some(timeout)
    }

    /// Uses another history table (default `_migrate_history`), optionally
    /// schema-qualified.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(migrate::Options::default().table("migrations").is_ok());
    /// assert!(migrate::Options::default().table("bad name; DROP").is_err());
    /// assert!(migrate::Options::default().table("temp.migrations").is_err());
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::BadTableName`] unless the name is `table` or `schema.table`,
    /// each part letters, digits and `_`, not starting with a digit;
    /// [`Error::TemporaryTable`] when the schema is a temporary one (`temp`,
    /// `pg_temp`, `pg_temp_N`, in any case), whose tables vanish with the
    /// connection.
    pub fn table(mut self, name: &str) -> Result<Self, Error> {
        self.table = TableName::new(name)?;
        Ok(self)
    }

    /// Applies pending migrations older than the newest applied one instead
    /// of refusing.
    ///
    /// # Examples
    ///
    /// ```
    /// let options = migrate::Options::default().allow_out_of_order(true);
    /// # let _ = options;
    /// ```
    #[must_use]
    pub fn allow_out_of_order(mut self, allow: bool) -> Self {
        self.allow_out_of_order = allow;
        self
    }

    /// Upgrades even when the database holds versions this build does not
    /// know (for example after rolling the application back).
    ///
    /// # Examples
    ///
    /// ```
    /// let options = migrate::Options::default().allow_unknown(true);
    /// # let _ = options;
    /// ```
    #[must_use]
    pub fn allow_unknown(mut self, allow: bool) -> Self {
        self.allow_unknown = allow;
        self
    }

    /// Accepts applied migrations whose file changed since they were applied.
    ///
    /// # Examples
    ///
    /// ```
    /// let options = migrate::Options::default().ignore_checksums(true);
    /// # let _ = options;
    /// ```
    #[must_use]
    pub fn ignore_checksums(mut self, ignore: bool) -> Self {
        self.ignore_checksums = ignore;
        self
    }

    /// Chooses one transaction per step, one for all steps, or one for all
    /// where they allow it. Unless chosen: per step, and for many
    /// databases at once ([`crate::tenants`]) [`TransactionMode::Auto`].
    ///
    /// # Examples
    ///
    /// ```
    /// use migrate::TransactionMode;
    /// let options = migrate::Options::default();
    /// assert_eq!(options.mode(), TransactionMode::PerStep);
    /// assert_eq!(options.clone().for_many().mode(), TransactionMode::Auto);
    /// let options = options.transaction_mode(TransactionMode::Single);
    /// assert_eq!(options.for_many().mode(), TransactionMode::Single);
    /// ```
    #[must_use]
    pub fn transaction_mode(mut self, mode: TransactionMode) -> Self {
        self.transaction_mode = Some(mode);
        self
    }

    /// The transaction mode a run uses.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(migrate::Options::default().mode(), migrate::TransactionMode::PerStep);
    /// ```
    pub fn mode(&self) -> TransactionMode {
        self.transaction_mode.unwrap_or_default()
    }

    /// The options for a run over many databases: the transaction mode,
    /// unless chosen, [`TransactionMode::Auto`].
    ///
    /// # Examples
    ///
    /// ```
    /// let options = migrate::Options::default().for_many();
    /// assert_eq!(options.mode(), migrate::TransactionMode::Auto);
    /// ```
    #[must_use]
    pub fn for_many(mut self) -> Self {
        self.transaction_mode.get_or_insert(TransactionMode::Auto);
        self
    }

    /// How long to wait for the database lock (default 60 s) before failing
    /// with [`Error::LockTimeout`].
    ///
    /// # Examples
    ///
    /// ```
    /// let options = migrate::Options::default().lock_timeout(std::time::Duration::from_secs(5));
    /// # let _ = options;
    /// ```
    #[must_use]
    pub fn lock_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// On SQLite, whether steps run with foreign key enforcement off when
    /// the connection has it on (the default, `true`). SQLite's way to
    /// change a table (create the new one, copy, drop the old, rename)
    /// needs it: with enforcement on, dropping the old table deletes the
    /// rows that reference it through `ON DELETE CASCADE`, and SQLite
    /// ignores `PRAGMA foreign_keys` inside the step's transaction. Each
    /// step's keys are checked (`PRAGMA foreign_key_check`) before it
    /// commits: a violation rolls the step back and names the table.
    /// `false` keeps enforcement on during steps, as the connection has it.
    ///
    /// # Examples
    ///
    /// ```
    /// let options = migrate::Options::default().suspend_foreign_keys(false);
    /// # let _ = options;
    /// ```
    #[must_use]
    pub fn suspend_foreign_keys(mut self, suspend: bool) -> Self {
        self.suspend_foreign_keys = suspend;
        self
    }

    /// How PostgreSQL and MySQL/MariaDB runners lock (default: a lock held
    /// for the run; see [`LockMode`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let options = migrate::Options::default().lock_mode(migrate::LockMode::Transaction);
    /// # let _ = options;
    /// ```
    #[must_use]
    pub fn lock_mode(mut self, mode: LockMode) -> Self {
        self.lock_mode = mode;
        self
    }

    /// How long one statement of a step may wait for a table lock before
    /// the step is rolled back and retried ([`Options::lock_retries`]), so
    /// that a step queued behind a long transaction never makes the
    /// application's queries queue behind it. On PostgreSQL it is on by
    /// default (2 s; each step runs with `SET LOCAL lock_timeout`); on
    /// MySQL/MariaDB it is off unless set (`lock_wait_timeout`, in whole
    /// seconds). `Duration::ZERO` turns it off. SQLite has no table locks.
    ///
    /// # Examples
    ///
    /// ```
    /// let options = migrate::Options::default()
    ///     .statement_lock_timeout(std::time::Duration::from_millis(500))
    ///     .lock_retries(30);
    /// # let _ = options;
    /// ```
    #[must_use]
    pub fn statement_lock_timeout(mut self, timeout: Duration) -> Self {
        self.statement_lock_timeout = Some(timeout);
        self
    }

    /// How many times a step that hit the statement lock timeout is rolled
    /// back and tried again, with a growing pause, before the run fails
    /// (default 5). A `no-transaction` step is retried only while none of
    /// its statements has run.
    ///
    /// # Examples
    ///
    /// ```
    /// let options = migrate::Options::default().lock_retries(0);
    /// # let _ = options;
    /// ```
    #[must_use]
    pub fn lock_retries(mut self, retries: u32) -> Self {
        self.lock_retries = retries;
        self
    }

    /// How long a lease ([`LockMode::Lease`]) lasts without being renewed
    /// (default 30 s): a runner renews it at a third of that while it
    /// runs, and a runner that died loses it this long after its last
    /// renewal, when the next runner takes over.
    ///
    /// # Examples
    ///
    /// ```
    /// let options = migrate::Options::default()
    ///     .lock_mode(migrate::LockMode::Lease)
    ///     .lease_duration(std::time::Duration::from_secs(10));
    /// # let _ = options;
    /// ```
    #[must_use]
    pub fn lease_duration(mut self, duration: Duration) -> Self {
        self.lease_duration = duration.max(Duration::from_secs(1));
        self
    }

    /// Before an upgrade that has something to apply, copies the SQLite
    /// database (consistently, while others write) to
    /// `<dir>/<stem>.<UTC timestamp>.<current version>.bak`, mode 0600 (a
    /// directory it has to create gets mode 0700), and names it in the report. Refused for PostgreSQL and MySQL, whose own
    /// dump tools do this.
    ///
    /// # Examples
    ///
    /// ```
    /// let options = migrate::Options::default().backup(migrate::Backup::Into("backups".into()));
    /// # let _ = options;
    /// ```
    #[must_use]
    pub fn backup(mut self, backup: Backup) -> Self {
        self.backup = Some(backup);
        self
    }

    /// The history table's name as given.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(migrate::Options::default().table_name(), "_migrate_history");
    /// ```
    pub fn table_name(&self) -> &str {
        self.table.as_str()
    }
}

/// A validated history table name: `table` or `schema.table`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TableName {
    text: String,
}

impl Default for TableName {
    fn default() -> Self {
        TableName {
            text: "_migrate_history".to_owned(),
        }
    }
}

impl TableName {
    pub(crate) fn new(name: &str) -> Result<Self, Error> {
        let part_ok = |part: &str| {
            part.chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && part.len() <= 63
        };
        let parts: Vec<&str> = name.split('.').collect();
        if parts.len() > 2 || !parts.iter().all(|part| part_ok(part)) {
            return Err(Error::BadTableName {
                name: name.to_owned(),
            });
        }
        if parts.len() == 2 && is_temporary_schema(parts[0]) {
            return Err(Error::TemporaryTable {
                name: name.to_owned(),
            });
        }
        Ok(TableName {
            text: name.to_owned(),
        })
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.text
    }

    /// The name of a table beside this one: its name with `suffix` added,
    /// in the same schema (the name shortened to stay within 63 bytes).
    pub(crate) fn with_suffix(&self, suffix: &str) -> TableName {
        let table = self.table();
        let table = &table[..table.len().min(63usize.saturating_sub(suffix.len()))];
        TableName {
            text: match self.schema() {
                Some(schema) => format!("{schema}.{table}{suffix}"),
                None => format!("{table}{suffix}"),
            },
        }
    }

    /// The schema part, if any.
    pub(crate) fn schema(&self) -> Option<&str> {
        self.text.split_once('.').map(|(schema, _)| schema)
    }

    /// The table part.
    pub(crate) fn table(&self) -> &str {
        self.text
            .split_once('.')
            .map_or(&self.text, |(_, table)| table)
    }

    /// The name quoted with `quote` around each part.
    pub(crate) fn quoted(&self, quote: char) -> String {
        match self.schema() {
            Some(schema) => format!("{quote}{schema}{quote}.{quote}{}{quote}", self.table()),
            None => format!("{quote}{}{quote}", self.table()),
        }
    }
}

/// SQLite's `temp` (case-insensitive even when quoted) and PostgreSQL's
/// `pg_temp` / `pg_temp_N`: schemas whose tables vanish with the connection.
fn is_temporary_schema(schema: &str) -> bool {
    let schema = schema.to_ascii_lowercase();
    let pg_temp_n = schema
        .strip_prefix("pg_temp_")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    schema == "temp" || schema == "pg_temp" || pg_temp_n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_are_validated_and_quoted() {
        assert_eq!(
            TableName::new("app._h").unwrap().quoted('"'),
            r#""app"."_h""#
        );
        assert_eq!(TableName::new("h2").unwrap().quoted('`'), "`h2`");
        for bad in ["", "2h", "a.b.c", "a b", "a\"b", "a.", ".a", "h;"] {
            assert!(TableName::new(bad).is_err(), "{bad}");
        }
    }
}
