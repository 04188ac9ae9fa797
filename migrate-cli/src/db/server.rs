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
//! connect. That first connection is bounded by the connect timeout
//! (`--connect-timeout`, 30 s by default) as each of the pool's is: a
//! server that never answers (a port a firewall drops) is given up on
//! rather than waited for as long as the operating system's TCP timeout. Statement logging is off, so that a runner waiting on the
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

/// How long a connection may take by default (`--connect-timeout`): as
/// long as the pool has always waited for one.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

impl Server {
    /// Connects to the server `url` names, waiting `timeout` at most for
    /// the connection (and later for each of the pool's).
    ///
    /// # Errors
    ///
    /// [`DatabaseError::Connect`] naming the (redacted) URL, with the
    /// driver's or the server's reason, or the timeout.
    pub fn connect(url: &ServerUrl, timeout: Duration) -> Result<Server, DatabaseError> {
        let runtime = runtime(url)?;
        tracing::debug!(database = %url.shown, "connecting");
        let pool = runtime
            .block_on(async {
                Ok(match url.dialect() {
                    Dialect::Postgres => Pool::Postgres(pool(url, timeout).await?),
                    Dialect::MySql => Pool::MySql(pool(url, timeout).await?),
                    Dialect::Sqlite => unreachable!("a server URL is PostgreSQL or MySQL"),
                })
            })
            .map_err(|err: Failure| connect_failed(url, &err))?;
        Ok(Server { runtime, pool })
    }
}

impl Drop for Server {
    /// Closes the pool's connections politely before the runtime goes.
    fn drop(&mut self) {
        on_pool!(self, |pool| pool.close());
    }
}

/// The runtime a command's server calls run on.
///
/// # Errors
///
/// [`DatabaseError::Connect`] when there is none to be had.
pub(crate) fn runtime(url: &ServerUrl) -> Result<tokio::runtime::Runtime, DatabaseError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|err| connect_failed(url, &Failure::Runtime(err)))
}

/// Connects once to the server `url` names and closes the connection:
/// whether it accepts connections now, within `timeout`.
///
/// # Errors
///
/// Why it does not.
pub(crate) fn probe(
    runtime: &tokio::runtime::Runtime,
    url: &ServerUrl,
    timeout: Duration,
) -> Result<(), Failure> {
    runtime.block_on(async {
        match url.dialect() {
            Dialect::Postgres => once::<sqlx::Postgres>(url, timeout).await,
            Dialect::MySql => once::<sqlx::MySql>(url, timeout).await,
            Dialect::Sqlite => unreachable!("a server URL is PostgreSQL or MySQL"),
        }
    })
}

/// Why a connection failed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The driver's or the server's error.
    Sqlx(sqlx::Error),
    /// No connection within the connect timeout.
    TimedOut(Duration),
    /// No runtime to connect on.
    Runtime(std::io::Error),
}

impl From<sqlx::Error> for Failure {
    fn from(err: sqlx::Error) -> Self {
        Failure::Sqlx(err)
    }
}

impl Failure {
    /// The reason, for the end of a sentence.
    pub(crate) fn message(&self) -> String {
        match self {
            Failure::Sqlx(err) => message(err),
            Failure::TimedOut(timeout) => format!(
                "no connection within {} (--connect-timeout)",
                crate::duration::shown(*timeout)
            ),
            Failure::Runtime(err) => err.to_string(),
        }
    }
}

/// [`DatabaseError::Connect`] for `url`.
pub(crate) fn connect_failed(url: &ServerUrl, err: &Failure) -> DatabaseError {
    DatabaseError::Connect {
        url: url.shown.clone(),
        engine: product_name(url.dialect()),
        message: err.message(),
    }
}

/// The options `url` connects with, statement logging off.
pub(crate) fn options<DB: sqlx::Database>(
    url: &ServerUrl,
) -> Result<<DB::Connection as Connection>::Options, sqlx::Error> {
    Ok(url
        .connect_url()
        .parse::<<DB::Connection as Connection>::Options>()?
        .disable_statement_logging())
}

/// One connection with `options`, given up after `timeout`.
pub(crate) async fn connect_within<O>(
    options: &O,
    timeout: Duration,
) -> Result<O::Connection, Failure>
where
    O: ConnectOptions,
    O::Connection: Sized,
{
    tokio::time::timeout(timeout, options.connect())
        .await
        .map_err(|_| Failure::TimedOut(timeout))?
        .map_err(Failure::Sqlx)
}

/// One connection to `url`, closed at once.
async fn once<DB: sqlx::Database>(url: &ServerUrl, timeout: Duration) -> Result<(), Failure> {
    connect_within(&options::<DB>(url)?, timeout)
        .await?
        .close()
        .await?;
    Ok(())
}

/// One connection first, for its error; then the pool, which connects
/// again when the library first asks, and waits as long for each
/// connection.
async fn pool<DB: sqlx::Database>(
    url: &ServerUrl,
    timeout: Duration,
) -> Result<sqlx::Pool<DB>, Failure> {
    once::<DB>(url, timeout).await?;
    Ok(PoolOptions::<DB>::new()
        .max_connections(2)
        .acquire_timeout(timeout)
        .connect_lazy_with(options::<DB>(url)?))
}

/// The server's own message when it gave one, the driver's otherwise (a
/// configuration error wrapped in another said once: "error with
/// configuration: unknown value …").
pub(crate) fn message(err: &sqlx::Error) -> String {
    const CONFIGURATION: &str = "error with configuration: ";
    match err {
        sqlx::Error::Database(db) => db.message().to_owned(),
        other => {
            let text = other.to_string();
            let mut rest = text.as_str();
            while let Some(inner) = rest.strip_prefix(CONFIGURATION)
                && inner.starts_with(CONFIGURATION)
            {
                rest = inner;
            }
            rest.to_owned()
        }
    }
}
