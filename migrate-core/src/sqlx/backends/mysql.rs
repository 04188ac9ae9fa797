//! MySQL and MariaDB through sqlx.

#![allow(clippy::wildcard_imports)]

use super::*;

impl private::Sealed for sqlx::MySql {}

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
        // GET_LOCK waits whole seconds: the timeout rounded up, at least 1.
        let seconds = options
            .lock_timeout
            .as_secs()
            .saturating_add(u64::from(options.lock_timeout.subsec_nanos() > 0))
            .clamp(1, 60 * 60 * 24 * 365);
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
            waited: std::time::Duration::from_secs(seconds),
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

    async fn foreign_keys_declared(_: &mut sqlx::MySqlConnection) -> Result<bool, Error> {
        Ok(false)
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
