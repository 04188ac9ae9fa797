//! SQLite through sqlx.

#![allow(clippy::wildcard_imports)]

use super::*;

impl private::Sealed for sqlx::Sqlite {}

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
                    message: crate::sqlx::message(&err),
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

    async fn keep_journal(conn: &mut sqlx::SqliteConnection) -> bool {
        let mode = |sql: &'static str| sqlx::query_scalar::<_, String>(sql);
        matches!(mode(JOURNAL_MODE).fetch_one(&mut *conn).await, Ok(m) if m == JOURNAL_DELETED)
            && matches!(mode(KEEP_JOURNAL).fetch_one(&mut *conn).await, Ok(m) if m == JOURNAL_KEPT)
    }

    async fn restore_journal(conn: &mut sqlx::SqliteConnection) -> Result<(), Error> {
        let fail = || database_error("delete the rollback journal at each commit again");
        let mode: String = sqlx::query_scalar(JOURNAL_MODE)
            .fetch_one(&mut *conn)
            .await
            .map_err(fail())?;
        if mode == JOURNAL_KEPT {
            let _: String = sqlx::query_scalar(DELETE_JOURNAL)
                .fetch_one(&mut *conn)
                .await
                .map_err(fail())?;
        }
        Ok(())
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

    async fn foreign_keys_declared(conn: &mut sqlx::SqliteConnection) -> Result<bool, Error> {
        sqlx::query_scalar(FOREIGN_KEYS_DECLARED)
            .fetch_one(&mut *conn)
            .await
            .map_err(database_error(
                "read whether the schema declares foreign keys",
            ))
    }

    async fn schema_cookie(
        conn: &mut sqlx::SqliteConnection,
        statement: &str,
    ) -> Result<Option<i64>, sqlx::Error> {
        sqlx::query_scalar(AssertSqlSafe(statement))
            .fetch_one(&mut *conn)
            .await
            .map(Some)
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
