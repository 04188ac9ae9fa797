//! The lease (`LockMode::Lease`): a row in a small table beside the history
//! table (`<table>_lock`), taken, renewed and given back with ordinary
//! writes, which the database serialises whatever is in between (the nodes
//! of a Galera cluster, a pooler in transaction mode). Times are the
//! server's, so that runners' clocks do not matter.
//!
//! Every statement takes its values in one order, written `$N` on
//! PostgreSQL and `?` on MySQL: see each field.

// Builds with some of the backends only leave parts unused.
#![cfg_attr(
    not(all(
        feature = "rusqlite",
        feature = "sqlx-sqlite",
        feature = "sqlx-postgres",
        feature = "sqlx-mysql"
    )),
    allow(dead_code, unused_imports)
)]

use super::Dialect;
use crate::options::TableName;

/// The lease's statements for one history table.
#[derive(Debug, Clone)]
pub(crate) struct LeaseSql {
    /// Whether the lock table is there (`1`): asked first, because on a
    /// Galera cluster even a `CREATE TABLE IF NOT EXISTS` of a table that
    /// exists runs on every node in total order, and aborts the lease
    /// holder's step that has the table's row locked.
    pub exists: String,
    /// Creates the lock table if it is missing.
    pub create: String,
    /// Takes a free lease: holder, host, pid, seconds. One row: taken.
    pub insert: String,
    /// Takes an expired lease (or renews one's own): holder, host, pid,
    /// seconds, holder. One row: taken.
    pub take_over: String,
    /// Renews one's own lease: seconds, holder. No row: it was lost.
    pub renew: String,
    /// Gives it back: holder.
    pub release: String,
    /// Who holds it, as a phrase (no values).
    pub describe: String,
    /// Who holds it while it lasts (none once it expired), as a phrase.
    pub live: String,
}

impl LeaseSql {
    /// The statements for the lock table of the history table `history`
    /// (its name with `_lock` added).
    pub(crate) fn new(dialect: Dialect, history: &TableName) -> Self {
        let name = history.with_suffix("_lock");
        let t = name.quoted(dialect.quote());
        let bare = name.table();
        match dialect {
            Dialect::MySql => {
                let now = "UTC_TIMESTAMP(6)";
                let schema = name
                    .schema()
                    .map_or_else(|| "DATABASE()".to_owned(), |schema| format!("'{schema}'"));
                LeaseSql {
                    exists: format!(
                        "SELECT CAST(COUNT(*) AS CHAR) FROM information_schema.tables \
                         WHERE table_schema = {schema} AND table_name = '{bare}'"
                    ),
                    create: format!(
                        "CREATE TABLE IF NOT EXISTS {t} (id INT NOT NULL PRIMARY KEY, holder VARCHAR(100) NOT NULL, \
                         host VARCHAR(255) NOT NULL, pid BIGINT NOT NULL, acquired_at DATETIME(6) NOT NULL, \
                         expires_at DATETIME(6) NOT NULL) ENGINE=InnoDB"
                    ),
                    insert: format!(
                        "INSERT IGNORE INTO {t} (id, holder, host, pid, acquired_at, expires_at) \
                         VALUES (1, ?, ?, ?, {now}, {now} + INTERVAL ? SECOND)"
                    ),
                    take_over: format!(
                        "UPDATE {t} SET holder = ?, host = ?, pid = ?, acquired_at = {now}, \
                         expires_at = {now} + INTERVAL ? SECOND WHERE id = 1 AND (expires_at < {now} OR holder = ?)"
                    ),
                    renew: format!(
                        "UPDATE {t} SET expires_at = {now} + INTERVAL ? SECOND WHERE id = 1 AND holder = ?"
                    ),
                    release: format!("DELETE FROM {t} WHERE id = 1 AND holder = ?"),
                    describe: format!(
                        "SELECT CONCAT('a runner on ', host, ' (process ', pid, ') since ', \
                         DATE_FORMAT(acquired_at, '%Y-%m-%d %H:%i:%s'), ' UTC, whose lease runs until ', \
                         DATE_FORMAT(expires_at, '%Y-%m-%d %H:%i:%s'), ' UTC') FROM {t} WHERE id = 1"
                    ),
                    live: format!("SELECT holder FROM {t} WHERE id = 1 AND expires_at > {now}"),
                }
            }
            Dialect::Postgres | Dialect::Sqlite => {
                let now = "clock_timestamp()";
                let utc = |column: &str| {
                    format!("to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')")
                };
                let schema = name.schema().map_or_else(
                    || "current_schema()".to_owned(),
                    |schema| format!("'{schema}'"),
                );
                LeaseSql {
                    exists: format!(
                        "SELECT count(*)::text FROM pg_tables WHERE schemaname = {schema} AND tablename = '{bare}'"
                    ),
                    create: format!(
                        "CREATE TABLE IF NOT EXISTS {t} (id INT NOT NULL PRIMARY KEY, holder TEXT NOT NULL, \
                         host TEXT NOT NULL, pid BIGINT NOT NULL, acquired_at TIMESTAMPTZ NOT NULL, \
                         expires_at TIMESTAMPTZ NOT NULL)"
                    ),
                    insert: format!(
                        "INSERT INTO {t} (id, holder, host, pid, acquired_at, expires_at) \
                         VALUES (1, $1, $2, $3, {now}, {now} + make_interval(secs => $4)) \
                         ON CONFLICT (id) DO NOTHING"
                    ),
                    take_over: format!(
                        "UPDATE {t} SET holder = $1, host = $2, pid = $3, acquired_at = {now}, \
                         expires_at = {now} + make_interval(secs => $4) \
                         WHERE id = 1 AND (expires_at < {now} OR holder = $5)"
                    ),
                    renew: format!(
                        "UPDATE {t} SET expires_at = {now} + make_interval(secs => $1) \
                         WHERE id = 1 AND holder = $2"
                    ),
                    release: format!("DELETE FROM {t} WHERE id = 1 AND holder = $1"),
                    describe: format!(
                        "SELECT 'a runner on ' || host || ' (process ' || pid || ') since ' || {} || \
                         ' UTC, whose lease runs until ' || {} || ' UTC' FROM {t} WHERE id = 1",
                        utc("acquired_at"),
                        utc("expires_at")
                    ),
                    live: format!("SELECT holder FROM {t} WHERE id = 1 AND expires_at > {now}"),
                }
            }
        }
    }
}
