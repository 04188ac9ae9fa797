//! PostgreSQL and MySQL/MariaDB, through the library's sqlx runner.
//!
//! The command is synchronous; a server verb is one `block_on` of the
//! library's async function on a current-thread tokio runtime that lives as
//! long as the command. One small pool per command: the runner holds its
//! lock on one connection, and the read-only verbs use one at a time.
//!
//! The pool is made only after one connection succeeded: sqlx's pool
//! retries a refused connection until its acquire timeout and then reports
//! only that it timed out, where a command should say at once why it cannot
//! connect. Statement logging is off, so that a runner waiting on the
//! server for another runner's lock (MySQL's `GET_LOCK`) logs no "slow
//! statement" warning.

use std::time::Duration;

use sqlx::pool::PoolOptions;
use sqlx::{ConnectOptions, Connection};

use super::error::DatabaseError;
use migrate::Dialect;

use super::product_name;
use super::url::ServerUrl;

/// A connected server: see [`on_pool!`] for running a library call on it.
pub struct Server {
    pub(crate) runtime: tokio::runtime::Runtime,
    pub(crate) pool: Pool,
}

/// The server's pool, of its dialect's type.
pub(crate) enum Pool {
    Postgres(sqlx::PgPool),
    MySql(sqlx::MySqlPool),
}

/// Runs `$call`, an async library call on `$pool`, to completion on
/// whichever pool the server has: `on_pool!(server, |pool| migrate::sqlx::status(pool, …))`.
macro_rules! on_pool {
    ($server:expr, |$pool:ident| $call:expr) => {
        match &$server.pool {
            $crate::db::server::Pool::Postgres($pool) => $server.runtime.block_on($call),
            $crate::db::server::Pool::MySql($pool) => $server.runtime.block_on($call),
        }
    };
}
pub(crate) use on_pool;

impl Server {
    /// Connects to the server `url` names.
    ///
    /// # Errors
    ///
    /// [`DatabaseError::Connect`] naming the (redacted) URL, with the
    /// driver's or the server's reason.
    pub fn connect(url: &ServerUrl) -> Result<Server, DatabaseError> {
        let failed = |message: String| DatabaseError::Connect {
            url: url.shown.clone(),
            engine: product_name(url.dialect()),
            message,
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|err| failed(err.to_string()))?;
        tracing::debug!(database = %url.shown, "connecting");
        let pool = runtime
            .block_on(async {
                Ok(match url.dialect() {
                    Dialect::Postgres => Pool::Postgres(pool(url).await?),
                    Dialect::MySql => Pool::MySql(pool(url).await?),
                    Dialect::Sqlite => unreachable!("a server URL is PostgreSQL or MySQL"),
                })
            })
            .map_err(|err: sqlx::Error| failed(message(&err)))?;
        Ok(Server { runtime, pool })
    }
}

impl Drop for Server {
    /// Closes the pool's connections politely before the runtime goes.
    fn drop(&mut self) {
        on_pool!(self, |pool| pool.close());
    }
}

/// One connection first, for its error; then the pool, which connects
/// again when the library first asks.
async fn pool<DB: sqlx::Database>(url: &ServerUrl) -> Result<sqlx::Pool<DB>, sqlx::Error> {
    let options = url
        .connect_url()
        .parse::<<DB::Connection as Connection>::Options>()?
        .disable_statement_logging();
    options.connect().await?.close().await?;
    Ok(PoolOptions::<DB>::new()
        .max_connections(2)
        .acquire_timeout(Duration::from_secs(30))
        .connect_lazy_with(options))
}

/// The server's own message when it gave one, the driver's otherwise.
fn message(err: &sqlx::Error) -> String {
    match err {
        sqlx::Error::Database(db) => db.message().to_owned(),
        other => other.to_string(),
    }
}
