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
    BUSY_TIMEOUT, DATA_VERSION, DATABASE_LIST, DELETE_JOURNAL, FOREIGN_KEY_CHECK, FOREIGN_KEYS,
    FOREIGN_KEYS_DECLARED, FOREIGN_KEYS_OFF, FOREIGN_KEYS_ON, JOURNAL_DELETED, JOURNAL_KEPT,
    JOURNAL_MODE, KEEP_JOURNAL, VACUUM_INTO, set_busy_timeout,
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

        async fn text_once(
            conn: &mut <$db as sqlx::Database>::Connection,
            statement: &str,
        ) -> Result<Option<String>, sqlx::Error> {
            sqlx::raw_sql(AssertSqlSafe(statement))
                .fetch_optional(&mut *conn)
                .await?
                .map_or(Ok(None), |row| row.try_get::<Option<String>, _>(0))
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

#[cfg(feature = "sqlx-mysql")]
mod mysql;
#[cfg(feature = "sqlx-postgres")]
mod postgres;
#[cfg(feature = "sqlx-sqlite")]
mod sqlite;
