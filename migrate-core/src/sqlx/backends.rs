//! The three `sqlx` backends. What they share is written once in
//! `shared_operations!` and expanded for each database type; what differs
//! (locks, how a script runs outside a transaction) is written out per
//! database. The SQL text itself lives in `dialect.rs`.

#[cfg(feature = "sqlx-postgres")]
use std::time::{Duration, Instant};

#[cfg(any(feature = "sqlx-sqlite", feature = "sqlx-mysql"))]
use sqlx::{AssertSqlSafe, Row as _};

use super::backend::{Backend, Param, RunLock, private};
use super::{database_error, script};
#[cfg(any(feature = "sqlx-postgres", feature = "sqlx-mysql"))]
use crate::dialect::lock;
#[cfg(feature = "sqlx-sqlite")]
use crate::dialect::{
    BUSY_TIMEOUT, DATA_VERSION, DATABASE_LIST, FOREIGN_KEY_CHECK, FOREIGN_KEYS, FOREIGN_KEYS_OFF,
    FOREIGN_KEYS_ON, VACUUM_INTO, set_busy_timeout,
};
use crate::dialect::{Dialect, HistorySql};
#[cfg(feature = "sqlx-postgres")]
use crate::exec::Rules;
use crate::plan::AppliedRow;
use crate::run::ScriptError;
use crate::{Error, Options};

/// Binds `params` in order to a query.
#[cfg(any(feature = "sqlx-sqlite", feature = "sqlx-mysql"))]
macro_rules! bind_all {
    ($query:expr, $params:expr) => {{
        let mut query = $query;
        for param in $params {
            query = match *param {
                Param::Integer(value) => query.bind(value),
                Param::Text(value) => query.bind(value.to_owned()),
                Param::Null => query.bind(None::<String>),
                Param::Boolean(value) => query.bind(value),
            };
        }
        query
    }};
}

/// A history row as read by any database type.
fn applied_row<R: sqlx::Row>(row: &R) -> Result<AppliedRow, sqlx::Error>
where
    usize: sqlx::ColumnIndex<R>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> bool: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(AppliedRow {
        version: row.try_get(0)?,
        name: row.try_get(1)?,
        checksum: row.try_get(2)?,
        applied_at: row.try_get(3)?,
        execution_ms: row.try_get(4)?,
        success: row.try_get(5)?,
        has_down_sql: row.try_get(6)?,
    })
}

/// The operations as prepared statements with bound values (SQLite,
/// MySQL and MariaDB).
#[cfg(any(feature = "sqlx-sqlite", feature = "sqlx-mysql"))]
macro_rules! prepared_operations {
    ($db:ty) => {
        async fn read_rows(
            conn: &mut <$db as sqlx::Database>::Connection,
            statement: &str,
        ) -> Result<Vec<AppliedRow>, sqlx::Error> {
            let rows = sqlx::query(AssertSqlSafe(statement))
                .fetch_all(&mut *conn)
                .await?;
            rows.iter().map(applied_row).collect()
        }

        async fn execute(
            conn: &mut <$db as sqlx::Database>::Connection,
            statement: &str,
            params: &[Param<'_>],
        ) -> Result<u64, sqlx::Error> {
            bind_all!(sqlx::query(AssertSqlSafe(statement)), params)
                .execute(&mut *conn)
                .await
                .map(|done| done.rows_affected())
        }

        async fn texts(
            conn: &mut <$db as sqlx::Database>::Connection,
            statement: &str,
            params: &[Param<'_>],
        ) -> Result<Vec<Option<String>>, sqlx::Error> {
            let rows = bind_all!(sqlx::query(AssertSqlSafe(statement)), params)
                .fetch_all(&mut *conn)
                .await?;
            rows.iter()
                .map(|row| row.try_get::<Option<String>, _>(0))
                .collect()
        }
    };
}

/// PostgreSQL's statements go in the simple query protocol, values written
/// in as literals: no statement is prepared (named or unnamed) that a pooler
/// in transaction mode (PgBouncer) could hand to another client or lose
/// between two messages, and nothing is left on the server connection.
#[cfg(feature = "sqlx-postgres")]
mod simple {
    use sqlx::{AssertSqlSafe, Row as _};

    use super::{Param, applied_row};
    use crate::dialect::{Dialect, with_literals};
    use crate::plan::AppliedRow;

    fn sql(statement: &str, params: &[Param<'_>]) -> AssertSqlSafe<String> {
        AssertSqlSafe(with_literals(Dialect::Postgres, statement, params))
    }

    pub(super) async fn rows(
        conn: &mut sqlx::PgConnection,
        statement: &str,
        params: &[Param<'_>],
    ) -> Result<Vec<sqlx::postgres::PgRow>, sqlx::Error> {
        sqlx::raw_sql(sql(statement, params))
            .fetch_all(&mut *conn)
            .await
    }

    pub(super) async fn read_rows(
        conn: &mut sqlx::PgConnection,
        statement: &str,
    ) -> Result<Vec<AppliedRow>, sqlx::Error> {
        rows(conn, statement, &[])
            .await?
            .iter()
            .map(applied_row)
            .collect()
    }

    pub(super) async fn execute(
        conn: &mut sqlx::PgConnection,
        statement: &str,
        params: &[Param<'_>],
    ) -> Result<u64, sqlx::Error> {
        sqlx::raw_sql(sql(statement, params))
            .execute(&mut *conn)
            .await
            .map(|done| done.rows_affected())
    }

    pub(super) async fn texts(
        conn: &mut sqlx::PgConnection,
        statement: &str,
        params: &[Param<'_>],
    ) -> Result<Vec<Option<String>>, sqlx::Error> {
        rows(conn, statement, params)
            .await?
            .iter()
            .map(|row| row.try_get::<Option<String>, _>(0))
            .collect()
    }

    /// The first column of the first row, as text.
    pub(super) async fn text(
        conn: &mut sqlx::PgConnection,
        statement: &str,
        params: &[Param<'_>],
    ) -> Result<Option<String>, sqlx::Error> {
        Ok(texts(conn, statement, params)
            .await?
            .into_iter()
            .next()
            .flatten())
    }
}

/// Server databases are backed up with their own dump tools.
#[cfg(any(feature = "sqlx-postgres", feature = "sqlx-mysql"))]
macro_rules! no_backups {
    ($database:literal, $tool:literal) => {
        fn can_back_up() -> Result<(), Error> {
            Err(Error::BackupUnsupported {
                database: $database,
                tool: $tool,
            })
        }

        async fn back_up(
            _: &mut <Self as sqlx::Database>::Connection,
            _: &crate::Backup,
            _: Option<i64>,
        ) -> Result<std::path::PathBuf, Error> {
            Err(Error::BackupUnsupported {
                database: $database,
                tool: $tool,
            })
        }
    };
}

/// Takes the migration lock in the transaction open on `conn`, trying
/// `try_lock` until it answers true. Between tries the transaction is
/// rolled back and the runner waits on its own side, not the server's: a
/// waiting runner holds no server connection a pooler in transaction mode
/// could give the lock's holder; `begin` opens the next try's transaction.
/// Past the lock timeout it says who holds the lock (after a runner was
/// killed, its server process may keep it until its statement ends).
#[cfg(feature = "sqlx-postgres")]
async fn spin(
    conn: &mut sqlx::PgConnection,
    begin: &str,
    try_lock: &'static str,
    key: &str,
    options: &Options,
) -> Result<(), Error> {
    let started = Instant::now();
    let mut wait = Duration::from_millis(10);
    let key = [Param::Text(key)];
    loop {
        let taken = simple::text(conn, try_lock, &key)
            .await
            .map_err(database_error("take the migration lock"))?;
        if taken.as_deref() == Some("true") {
            return Ok(());
        }
        simple::execute(conn, "ROLLBACK", &[])
            .await
            .map_err(database_error("wait for the migration lock"))?;
        if started.elapsed() >= options.lock_timeout {
            let holder = simple::text(conn, lock::PG_HOLDER, &key)
                .await
                .ok()
                .flatten()
                .map(|holder| {
                    format!(
                        "{holder} holds (after a killed runner, `SELECT pg_terminate_backend(pid)` frees it)"
                    )
                });
            return Err(Error::LockTimeout {
                waited: options.lock_timeout,
                holder,
            });
        }
        sqlx_core::rt::sleep(wait.min(options.lock_timeout.saturating_sub(started.elapsed())))
            .await;
        wait = (wait * 2).min(Duration::from_millis(500));
        simple::execute(conn, begin, &[])
            .await
            .map_err(database_error("wait for the migration lock"))?;
    }
}

#[cfg(feature = "sqlx-postgres")]
impl private::Sealed for sqlx::Postgres {}

#[cfg(feature = "sqlx-postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlx-postgres")))]
impl Backend for sqlx::Postgres {
    const DIALECT: Dialect = Dialect::Postgres;

    async fn read_rows(
        conn: &mut sqlx::PgConnection,
        statement: &str,
    ) -> Result<Vec<AppliedRow>, sqlx::Error> {
        simple::read_rows(conn, statement).await
    }

    async fn execute(
        conn: &mut sqlx::PgConnection,
        statement: &str,
        params: &[Param<'_>],
    ) -> Result<u64, sqlx::Error> {
        simple::execute(conn, statement, params).await
    }

    async fn texts(
        conn: &mut sqlx::PgConnection,
        statement: &str,
        params: &[Param<'_>],
    ) -> Result<Vec<Option<String>>, sqlx::Error> {
        simple::texts(conn, statement, params).await
    }

    no_backups!("PostgreSQL", "pg_dump");

    /// The lock for a run is held on a connection of its own
    /// ([`Backend::hold`]), in transaction-scoped form: nothing is left on
    /// the run's connection, which a pooler may share.
    async fn lock_run(
        _: &mut sqlx::PgConnection,
        _: &HistorySql,
        options: &Options,
    ) -> Result<RunLock, Error> {
        Ok(match options.lock_mode {
            crate::LockMode::Lease => RunLock::Lease {
                max_packet: u64::MAX,
                causal: false,
            },
            _ if Rules::new(Dialect::Postgres, options).holds_run_lock() => RunLock::Hold,
            _ => RunLock::Unlocked,
        })
    }

    async fn unlock_run(
        _: &mut sqlx::PgConnection,
        _: &HistorySql,
        _: &RunLock,
    ) -> Result<(), Error> {
        Ok(())
    }

    async fn hold(
        conn: &mut sqlx::PgConnection,
        sql: &HistorySql,
        options: &Options,
        in_flight: bool,
    ) -> Result<(), Error> {
        simple::execute(conn, lock::PG_HOLD_BEGIN, &[])
            .await
            .map_err(database_error("take the migration lock"))?;
        let try_lock = if in_flight {
            lock::PG_TRY_IN_FLIGHT
        } else {
            lock::PG_TRY_RUN
        };
        spin(conn, lock::PG_HOLD_BEGIN, try_lock, &sql.table, options).await
    }

    /// In the step's transaction (begun with [`Backend::begin`]).
    async fn lock_step(
        conn: &mut sqlx::PgConnection,
        sql: &HistorySql,
        options: &Options,
    ) -> Result<(), Error> {
        let begin = Self::begin(sql, options);
        spin(conn, &begin, lock::PG_TRY_RUN, &sql.table, options).await
    }

    async fn lock_holder(
        conn: &mut sqlx::PgConnection,
        sql: &HistorySql,
    ) -> Result<Option<String>, Error> {
        simple::text(conn, lock::PG_HOLDER, &[Param::Text(&sql.table)])
            .await
            .map_err(database_error("find who holds the migration lock"))
    }

    /// Asked in the simple query protocol: there, a statement outside a
    /// transaction block starts its own transaction when it arrives.
    async fn transaction_ended(conn: &mut sqlx::PgConnection) -> Result<bool, sqlx::Error> {
        let ended = simple::text(conn, lock::PG_TRANSACTION_ENDED, &[]).await?;
        Ok(ended.as_deref() == Some("true"))
    }

    async fn data_version(_: &mut sqlx::PgConnection) -> Result<Option<i64>, sqlx::Error> {
        Ok(None)
    }

    async fn foreign_key_violation(_: &mut sqlx::PgConnection) -> Result<Option<String>, Error> {
        Ok(None)
    }

    /// One statement at a time: PostgreSQL wraps a multi-statement query in
    /// an implicit transaction, where `CREATE INDEX CONCURRENTLY` fails.
    async fn run_each_statement(
        conn: &mut sqlx::PgConnection,
        sql: &str,
        lock_timeout: Option<Duration>,
    ) -> Result<(), ScriptError> {
        script::run_postgres_outside(conn, sql, lock_timeout).await
    }

    async fn writable(conn: &mut sqlx::PgConnection) -> Result<(), Error> {
        let why = simple::text(conn, lock::PG_READ_ONLY, &[])
            .await
            .map_err(database_error("find whether the database takes writes"))?;
        match why.as_deref() {
            Some("standby") => Err(Error::ReadOnly {
                reason: "a PostgreSQL hot standby",
            }),
            Some("read only") => Err(Error::ReadOnly {
                reason: "default_transaction_read_only is on",
            }),
            _ => Ok(()),
        }
    }

    async fn blocker(
        conn: &mut sqlx::PgConnection,
        sql: &HistorySql,
    ) -> Result<Option<String>, Error> {
        simple::text(
            conn,
            lock::PG_OLDEST_TRANSACTION,
            &[Param::Text(&sql.table)],
        )
        .await
        .map_err(database_error("find who holds the lock"))
    }

    fn begin(sql: &HistorySql, options: &Options) -> std::borrow::Cow<'static, str> {
        match options.statement_lock_timeout_on(Dialect::Postgres) {
            Some(timeout) => format!("{}; {}", sql.begin, lock::pg_lock_timeout(timeout)).into(),
            None => sql.begin.into(),
        }
    }

    async fn run_script(
        conn: &mut sqlx::PgConnection,
        sql: &str,
        file: &str,
    ) -> Result<(), ScriptError> {
        script::run_postgres(conn, sql, file).await
    }
}

#[cfg(feature = "sqlx-mysql")]
impl private::Sealed for sqlx::MySql {}

#[cfg(feature = "sqlx-mysql")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlx-mysql")))]
impl Backend for sqlx::MySql {
    const DIALECT: Dialect = Dialect::MySql;

    prepared_operations!(sqlx::MySql);
    no_backups!("MySQL", "mysqldump");

    /// `GET_LOCK` waits on the server, which holds no snapshot that could
    /// block the lock holder's DDL.
    async fn lock_run(
        conn: &mut sqlx::MySqlConnection,
        sql: &HistorySql,
        options: &Options,
    ) -> Result<RunLock, Error> {
        // A year is MySQL's own "wait forever" (its LONG_TIMEOUT, what a
        // negative timeout means there; MariaDB refuses a negative one), and
        // far larger values overflow on the server, which then gives up at once.
        let max_packet: u64 = sqlx::query_scalar(lock::MYSQL_MAX_PACKET)
            .fetch_one(&mut *conn)
            .await
            .map_err(database_error("read the server's max_allowed_packet"))?;
        // A named lock is local to one node of a Galera cluster.
        let wsrep: Option<(String, String)> = sqlx::query_as(lock::MYSQL_WSREP_ON)
            .fetch_optional(&mut *conn)
            .await
            .map_err(database_error("find whether the server is a Galera node"))?;
        let galera = wsrep.is_some_and(|(_, on)| on.eq_ignore_ascii_case("on"));
        if galera || options.lock_mode == crate::LockMode::Lease {
            return Ok(RunLock::Lease {
                max_packet,
                causal: galera,
            });
        }
        let seconds = options.lock_timeout.as_secs().clamp(1, 60 * 60 * 24 * 365);
        let taken: Option<i64> = sqlx::query_scalar(lock::MYSQL_GET)
            .bind(&sql.table)
            .bind(seconds)
            .fetch_one(&mut *conn)
            .await
            .map_err(database_error("take the migration lock"))?;
        if taken == Some(1) {
            return Ok(RunLock::Named { max_packet });
        }
        let holder = Self::lock_holder(conn, sql).await.ok().flatten();
        Err(Error::LockTimeout {
            waited: options.lock_timeout,
            holder: holder.map(|holder| format!("{holder} holds")),
        })
    }

    async fn lock_holder(
        conn: &mut sqlx::MySqlConnection,
        sql: &HistorySql,
    ) -> Result<Option<String>, Error> {
        sqlx::query_scalar(lock::MYSQL_HOLDER)
            .bind(&sql.table)
            .fetch_one(&mut *conn)
            .await
            .map_err(database_error("find who holds the migration lock"))
    }

    async fn unlock_run(
        conn: &mut sqlx::MySqlConnection,
        sql: &HistorySql,
        lock: &RunLock,
    ) -> Result<(), Error> {
        if !matches!(lock, RunLock::Named { .. }) {
            return Ok(());
        }
        sqlx::query(lock::MYSQL_RELEASE)
            .bind(&sql.table)
            .execute(&mut *conn)
            .await
            .map(|_| ())
            .map_err(database_error("release the migration lock"))
    }

    async fn lock_step(
        _: &mut sqlx::MySqlConnection,
        _: &HistorySql,
        _: &Options,
    ) -> Result<(), Error> {
        Ok(())
    }

    async fn data_version(_: &mut sqlx::MySqlConnection) -> Result<Option<i64>, sqlx::Error> {
        Ok(None)
    }

    async fn foreign_key_violation(_: &mut sqlx::MySqlConnection) -> Result<Option<String>, Error> {
        Ok(None)
    }

    /// MySQL runs the script as one multi-statement batch: compound
    /// statements (`BEGIN … END` bodies) hold `;` and must not be split.
    async fn run_each_statement(
        conn: &mut sqlx::MySqlConnection,
        sql: &str,
        _: Option<std::time::Duration>,
    ) -> Result<(), ScriptError> {
        script::run_mysql(conn, sql, None).await
    }

    async fn writable(conn: &mut sqlx::MySqlConnection) -> Result<(), Error> {
        let read_only: i64 = sqlx::query_scalar(lock::MYSQL_READ_ONLY)
            .fetch_one(&mut *conn)
            .await
            .map_err(database_error("find whether the database takes writes"))?;
        if read_only != 0 {
            return Err(Error::ReadOnly {
                reason: "the server is a read_only replica",
            });
        }
        Ok(())
    }

    /// `lock_wait_timeout` bounds a statement's wait for a metadata lock
    /// (DDL queued behind an open transaction), in whole seconds.
    async fn bound_statements(
        conn: &mut sqlx::MySqlConnection,
        options: &Options,
    ) -> Result<Option<i64>, Error> {
        let Some(timeout) = options.statement_lock_timeout_on(Dialect::MySql) else {
            return Ok(None);
        };
        let fail = || database_error("set the statement lock timeout");
        let previous: i64 = sqlx::query_scalar(lock::MYSQL_LOCK_WAIT)
            .fetch_one(&mut *conn)
            .await
            .map_err(fail())?;
        let seconds = i64::try_from(timeout.as_secs_f64().ceil() as u64)
            .unwrap_or(i64::MAX)
            .clamp(1, 31_536_000);
        sqlx::query(lock::MYSQL_SET_LOCK_WAIT)
            .bind(seconds)
            .execute(&mut *conn)
            .await
            .map_err(fail())?;
        Ok(Some(previous))
    }

    async fn restore_statements(
        conn: &mut sqlx::MySqlConnection,
        previous: i64,
    ) -> Result<(), Error> {
        sqlx::query(lock::MYSQL_SET_LOCK_WAIT)
            .bind(previous)
            .execute(&mut *conn)
            .await
            .map(drop)
            .map_err(database_error("restore the statement lock timeout"))
    }

    async fn run_script(
        conn: &mut sqlx::MySqlConnection,
        sql: &str,
        file: &str,
    ) -> Result<(), ScriptError> {
        script::run_mysql(conn, sql, Some(file)).await
    }
}

#[cfg(feature = "sqlx-sqlite")]
impl private::Sealed for sqlx::Sqlite {}

#[cfg(feature = "sqlx-sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlx-sqlite")))]
impl Backend for sqlx::Sqlite {
    const DIALECT: Dialect = Dialect::Sqlite;

    prepared_operations!(sqlx::Sqlite);

    fn can_back_up() -> Result<(), Error> {
        Ok(())
    }

    /// `VACUUM INTO` a new file: a consistent copy while others write.
    async fn back_up(
        conn: &mut sqlx::SqliteConnection,
        backup: &crate::Backup,
        current: Option<i64>,
    ) -> Result<std::path::PathBuf, Error> {
        let file = Self::database_file(conn).await?;
        let path = crate::backup::create_file(backup, &file, current)?;
        sqlx::query(VACUUM_INTO)
            .bind(path.to_string_lossy().into_owned())
            .execute(&mut *conn)
            .await
            .map_err(|err| {
                let _ = std::fs::remove_file(&path);
                Error::Backup {
                    path: path.clone(),
                    message: super::message(&err),
                }
            })?;
        Ok(path)
    }

    async fn bound_waits(
        conn: &mut sqlx::SqliteConnection,
        timeout: std::time::Duration,
    ) -> Result<Option<i64>, Error> {
        let fail = || database_error("set the busy timeout");
        let previous_ms: i64 = sqlx::query_scalar(BUSY_TIMEOUT)
            .fetch_one(&mut *conn)
            .await
            .map_err(fail())?;
        // SQLite reads a busy timeout past i32::MAX ms (about 24.8 days) as
        // 0, "give up now": a longer timeout waits that long.
        let millis = i64::try_from(timeout.as_millis())
            .unwrap_or(i64::MAX)
            .min(i64::from(i32::MAX));
        sqlx::query(AssertSqlSafe(set_busy_timeout(millis)))
            .execute(&mut *conn)
            .await
            .map_err(fail())?;
        Ok(Some(previous_ms))
    }

    async fn restore_waits(conn: &mut sqlx::SqliteConnection, previous: i64) -> Result<(), Error> {
        sqlx::query(AssertSqlSafe(set_busy_timeout(previous)))
            .execute(&mut *conn)
            .await
            .map(|_| ())
            .map_err(database_error("restore the busy timeout"))
    }

    async fn lock_holder(
        conn: &mut sqlx::SqliteConnection,
        _: &HistorySql,
    ) -> Result<Option<String>, Error> {
        let database = Self::database_file(conn).await?;
        Ok(crate::run_file::held_elsewhere(&database)
            .then(|| format!("another runner (it holds {database}-migrate.lock)")))
    }

    async fn database_file(conn: &mut sqlx::SqliteConnection) -> Result<String, Error> {
        let rows: Vec<(i64, String, String)> = sqlx::query_as(DATABASE_LIST)
            .fetch_all(&mut *conn)
            .await
            .map_err(database_error("find the database file"))?;
        Ok(rows
            .into_iter()
            .find(|(_, name, _)| name == "main")
            .map(|(_, _, file)| file)
            .unwrap_or_default())
    }

    /// SQLite's lock is its write lock, taken per step by `BEGIN IMMEDIATE`
    /// (the run lock file is the runner's); foreign keys are off for the
    /// run, since SQLite ignores the setting inside a transaction.
    async fn lock_run(
        conn: &mut sqlx::SqliteConnection,
        _: &HistorySql,
        options: &Options,
    ) -> Result<RunLock, Error> {
        let on: bool = sqlx::query_scalar(FOREIGN_KEYS)
            .fetch_one(&mut *conn)
            .await
            .map_err(database_error("read the foreign key setting"))?;
        let foreign_keys_off = on && options.suspend_foreign_keys;
        if foreign_keys_off {
            sqlx::query(FOREIGN_KEYS_OFF)
                .execute(&mut *conn)
                .await
                .map_err(database_error(
                    "turn foreign key enforcement off for the run",
                ))?;
        }
        Ok(RunLock::Sqlite { foreign_keys_off })
    }

    async fn unlock_run(
        conn: &mut sqlx::SqliteConnection,
        _: &HistorySql,
        lock: &RunLock,
    ) -> Result<(), Error> {
        if let RunLock::Sqlite {
            foreign_keys_off: true,
        } = *lock
        {
            sqlx::query(FOREIGN_KEYS_ON)
                .execute(&mut *conn)
                .await
                .map_err(database_error("turn foreign key enforcement back on"))?;
        }
        Ok(())
    }

    async fn lock_step(
        _: &mut sqlx::SqliteConnection,
        _: &HistorySql,
        _: &Options,
    ) -> Result<(), Error> {
        Ok(())
    }

    async fn foreign_key_violation(
        conn: &mut sqlx::SqliteConnection,
    ) -> Result<Option<String>, Error> {
        let row: Option<(String,)> = sqlx::query_as(FOREIGN_KEY_CHECK)
            .fetch_optional(&mut *conn)
            .await
            .map_err(database_error("check the foreign keys"))?;
        Ok(row.map(|(table,)| table))
    }

    /// `data_version` changes when another connection commits; this
    /// connection's own commits leave it as it is.
    async fn data_version(conn: &mut sqlx::SqliteConnection) -> Result<Option<i64>, sqlx::Error> {
        sqlx::query_scalar(DATA_VERSION)
            .fetch_one(&mut *conn)
            .await
            .map(Some)
    }

    async fn run_each_statement(
        conn: &mut sqlx::SqliteConnection,
        sql: &str,
        _: Option<std::time::Duration>,
    ) -> Result<(), ScriptError> {
        script::run_sqlite(conn, sql, None).await
    }

    async fn run_script(
        conn: &mut sqlx::SqliteConnection,
        sql: &str,
        file: &str,
    ) -> Result<(), ScriptError> {
        script::run_sqlite(conn, sql, Some(file)).await
    }
}
