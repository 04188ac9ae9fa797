//! The statements of each dialect's migration lock. Each takes the quoted
//! history table's name as its first parameter: the lock is keyed by the
//! database and the history table, so runners of different tables or
//! databases do not wait for each other.

/// PostgreSQL: the database, the first half of each key.
macro_rules! pg_database {
    () => {
        "hashtext(current_database())"
    };
}

/// PostgreSQL: the run's half of its key: the history table.
macro_rules! pg_run {
    () => {
        "hashtext($1)"
    };
}

/// PostgreSQL: the in-flight key's half: a step in flight outside a
/// transaction.
macro_rules! pg_in_flight {
    () => {
        "hashtext($1 || ' in flight')"
    };
}

/// PostgreSQL's advisory lock key: the database and the history table.
macro_rules! pg_key {
    () => {
        concat!(pg_database!(), ", ", pg_run!())
    };
}

/// PostgreSQL's second key: a step in flight outside a transaction.
macro_rules! pg_in_flight_key {
    () => {
        concat!(pg_database!(), ", ", pg_in_flight!())
    };
}

/// PostgreSQL: the rows of `pg_locks l` that are this history table's
/// migration locks (either key), whoever holds them.
macro_rules! pg_our_locks {
    () => {
        concat!(
            "l.locktype = 'advisory' AND l.classid = ",
            pg_database!(),
            "::oid AND l.objid IN (",
            pg_run!(),
            "::oid, ",
            pg_in_flight!(),
            "::oid) AND l.objsubid = 2"
        )
    };
}

/// MySQL's lock name (at most 64 characters, server-wide): the database
/// and the history table, hashed.
macro_rules! mysql_key {
    () => {
        "SHA1(CONCAT('migrate:', DATABASE(), '.', ?))"
    };
}

/// PostgreSQL: tries, in the transaction just begun, the migration lock
/// without waiting: the run's key, held until the transaction ends, and
/// the in-flight key ([`PG_TRY_IN_FLIGHT`]) free (taken and let go in
/// the same statement, so nothing stays). Transaction-scoped, so that
/// nothing stays on the server connection: a pooler in transaction
/// mode (PgBouncer) keeps the connection for the client while the
/// transaction is open, and the lock goes with the transaction when
/// the client goes. (`CASE` fixes the order: `AND` may evaluate its sides in any.)
#[cfg_attr(not(feature = "sqlx-postgres"), allow(dead_code))]
pub(crate) const PG_TRY_RUN: &str = concat!(
    "SELECT (CASE WHEN pg_try_advisory_xact_lock(",
    pg_key!(),
    ") THEN CASE WHEN pg_try_advisory_lock(",
    pg_in_flight_key!(),
    ") THEN pg_advisory_unlock(",
    pg_in_flight_key!(),
    ") ELSE FALSE END ELSE FALSE END)::text"
);
/// PostgreSQL: tries the in-flight key alone, taken while the run's key
/// is held (so nobody else can be taking it) and held while a
/// `no-transaction` step runs in transaction lock mode (the run's key
/// is then free between that step's transactions): a runner that finds
/// it taken waits for the step instead of calling it dirty.
#[cfg_attr(not(feature = "sqlx-postgres"), allow(dead_code))]
pub(crate) const PG_TRY_IN_FLIGHT: &str = concat!(
    "SELECT pg_try_advisory_xact_lock(",
    pg_in_flight_key!(),
    ")::text"
);
/// PostgreSQL: opens the transaction of a connection that holds the
/// lock for a run (or a step in flight), which may stay idle for long:
/// the server's idle-in-transaction timeout must not end it.
#[cfg_attr(not(feature = "sqlx-postgres"), allow(dead_code))]
pub(crate) const PG_HOLD_BEGIN: &str = "BEGIN; SET LOCAL idle_in_transaction_session_timeout = 0";
/// PostgreSQL: whether the transaction a step began is gone (a script
/// ended it): in one that began earlier, the statement started later.
#[cfg_attr(not(feature = "sqlx-postgres"), allow(dead_code))]
pub(crate) const PG_TRANSACTION_ENDED: &str =
    "SELECT (transaction_timestamp() = statement_timestamp())::text";

/// PostgreSQL: who holds the run's lock (either lock mode's), told as
/// "PostgreSQL server process N (client, state, since when)".
#[cfg_attr(not(feature = "sqlx-postgres"), allow(dead_code))]
pub(crate) const PG_HOLDER: &str = concat!(
    "SELECT 'PostgreSQL server process ' || a.pid || ' (' || \
     coalesce(nullif(a.application_name, ''), 'no application name') || ' from ' || \
     coalesce(host(a.client_addr), 'a local socket') || ', ' || coalesce(a.state, 'state unknown') || \
     ' since ' || to_char(a.state_change AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || ' UTC)' \
     FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
     WHERE l.granted AND l.pid <> pg_backend_pid() AND ",
    pg_our_locks!(),
    " LIMIT 1"
);
/// MySQL: takes the named lock, waiting on the server: then the seconds
/// to wait.
#[cfg_attr(not(feature = "sqlx-mysql"), allow(dead_code))]
pub(crate) const MYSQL_GET: &str = concat!("SELECT GET_LOCK(", mysql_key!(), ", ?)");
/// MySQL: the largest packet (and so script) the server takes.
#[cfg_attr(not(feature = "sqlx-mysql"), allow(dead_code))]
pub(crate) const MYSQL_MAX_PACKET: &str = "SELECT CAST(@@max_allowed_packet AS UNSIGNED)";
/// MySQL: releases it.
#[cfg_attr(not(feature = "sqlx-mysql"), allow(dead_code))]
pub(crate) const MYSQL_RELEASE: &str = concat!("SELECT RELEASE_LOCK(", mysql_key!(), ")");
/// MySQL: who holds it (a connection id), if anyone does.
#[cfg_attr(not(feature = "sqlx-mysql"), allow(dead_code))]
pub(crate) const MYSQL_HOLDER: &str = concat!(
    "SELECT CONCAT('MySQL connection ', IS_USED_LOCK(",
    mysql_key!(),
    "))"
);

/// MySQL/MariaDB: whether this is a node of a Galera cluster (a row with
/// `ON`), where a named lock is local to one node.
#[cfg_attr(not(feature = "sqlx-mysql"), allow(dead_code))]
pub(crate) const MYSQL_WSREP_ON: &str = "SHOW VARIABLES LIKE 'wsrep_on'";

/// MariaDB (Galera): a read that first waits until this node has applied
/// everything the cluster committed before it.
#[cfg_attr(not(feature = "sqlx-mysql"), allow(dead_code))]
pub(crate) fn causal(read: &str) -> String {
    format!("SET STATEMENT wsrep_sync_wait = 1 FOR {read}")
}

/// PostgreSQL: a statement lock timeout for the rest of the transaction.
#[cfg_attr(not(feature = "sqlx-postgres"), allow(dead_code))]
pub(crate) fn pg_lock_timeout(timeout: std::time::Duration) -> String {
    format!(
        "SET LOCAL lock_timeout = '{}ms'",
        timeout.as_millis().max(1)
    )
}

/// MySQL: the session's metadata lock wait timeout, in seconds.
#[cfg_attr(not(feature = "sqlx-mysql"), allow(dead_code))]
pub(crate) const MYSQL_LOCK_WAIT: &str = "SELECT CAST(@@SESSION.lock_wait_timeout AS SIGNED)";
/// MySQL: sets it: seconds.
#[cfg_attr(not(feature = "sqlx-mysql"), allow(dead_code))]
pub(crate) const MYSQL_SET_LOCK_WAIT: &str = "SET SESSION lock_wait_timeout = ?";

/// PostgreSQL: the oldest open transaction in the database but this run's
/// (its lock holder's included), as a clause: the usual holder of the lock
/// a step waited for.
#[cfg_attr(not(feature = "sqlx-postgres"), allow(dead_code))]
pub(crate) const PG_OLDEST_TRANSACTION: &str = concat!(
    "SELECT 'the oldest open transaction, PostgreSQL server process ' || a.pid || ' (' || \
     coalesce(nullif(a.application_name, ''), 'no application name') || ', ' || coalesce(a.state, 'state unknown') || \
     ', open since ' || to_char(a.xact_start AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || ' UTC), may hold them' \
     FROM pg_stat_activity a WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() \
     AND a.xact_start IS NOT NULL AND a.backend_type = 'client backend' \
     AND a.pid NOT IN (SELECT l.pid FROM pg_locks l WHERE ",
    pg_our_locks!(),
    ") ORDER BY a.xact_start LIMIT 1"
);

/// PostgreSQL: why the server takes no writes, if it does not.
#[cfg_attr(not(feature = "sqlx-postgres"), allow(dead_code))]
pub(crate) const PG_READ_ONLY: &str = "SELECT CASE WHEN pg_is_in_recovery() THEN 'standby' \
     WHEN current_setting('transaction_read_only') = 'on' THEN 'read only' ELSE '' END";

/// MySQL/MariaDB: whether the server is a `read_only` replica.
#[cfg_attr(not(feature = "sqlx-mysql"), allow(dead_code))]
pub(crate) const MYSQL_READ_ONLY: &str = "SELECT CAST(@@GLOBAL.read_only AS SIGNED)";
