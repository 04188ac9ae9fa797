//! PostgreSQL through sqlx: the simple query protocol, and the lock held
//! in a transaction (see `Backend`).

#![allow(clippy::wildcard_imports)]

use super::*;

/// PostgreSQL's statements go in the simple query protocol, values written
/// in as literals: no statement is prepared (named or unnamed) that a pooler
/// in transaction mode (PgBouncer) could hand to another client or lose
/// between two messages, and nothing is left on the server connection.
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

/// Takes the migration lock in the transaction open on `conn`, trying
/// `try_lock` until it answers true. Between tries the transaction is
/// rolled back and the runner waits on its own side, not the server's: a
/// waiting runner holds no server connection a pooler in transaction mode
/// could give the lock's holder; `begin` opens the next try's transaction.
/// Past the lock timeout it says who holds the lock (after a runner was
/// killed, its server process may keep it until its statement ends).
async fn spin(
    conn: &mut sqlx::PgConnection,
    begin: &str,
    try_lock: &'static str,
    sql: &HistorySql,
    options: &Options,
) -> Result<(), Error> {
    let started = Instant::now();
    let mut wait = Duration::from_millis(10);
    let key = [Param::Text(&sql.table)];
    loop {
        let taken = simple::text(conn, try_lock, &key)
            .await
            .map_err(database_error("take the migration lock"))?;
        if taken.as_deref() == Some("true") {
            return Ok(());
        }
        simple::execute(conn, sql.rollback, &[])
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

impl private::Sealed for sqlx::Postgres {}

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

    async fn text_once(
        conn: &mut sqlx::PgConnection,
        statement: &str,
    ) -> Result<Option<String>, sqlx::Error> {
        simple::text(conn, statement, &[]).await
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
        spin(conn, lock::PG_HOLD_BEGIN, try_lock, sql, options).await
    }

    /// In the step's transaction (begun with [`Backend::begin`]).
    async fn lock_step(
        conn: &mut sqlx::PgConnection,
        sql: &HistorySql,
        options: &Options,
    ) -> Result<(), Error> {
        let begin = Self::begin(sql, options);
        spin(conn, &begin, lock::PG_TRY_RUN, sql, options).await
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

    async fn foreign_keys_declared(_: &mut sqlx::PgConnection) -> Result<bool, Error> {
        Ok(false)
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
