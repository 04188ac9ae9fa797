//! `wait`: until the database accepts connections, as a container's
//! entrypoint needs before it migrates (the database's container may start
//! after the application's).
//!
//! A server is ready when one connection succeeds; a SQLite database when
//! the directory that holds its file exists and the file, if there is one,
//! opens as a SQLite database (a missing file is what `upgrade` creates).
//! Every failure is tried again, after a pause that doubles from 100 ms up
//! to 2 s, until the timeout: a server that is starting refuses
//! connections, or its database does not exist yet, for a while. Each
//! attempt is bounded by the connect timeout and by the time left.

use std::time::{Duration, Instant};

use super::error::DatabaseError;
use super::product_name;
use super::server::{self, Failure};
use super::sqlite::{self, Access};
use super::url::{DatabaseUrl, Location, SqliteUrl};

/// The pause after the first failed attempt; it doubles after each.
const FIRST_PAUSE: Duration = Duration::from_millis(100);

/// The longest pause between two attempts.
const LONGEST_PAUSE: Duration = Duration::from_secs(2);

/// Returns once the database `url` names is ready, or gives up after
/// `timeout` (with a timeout of 0, after one attempt).
///
/// # Errors
///
/// [`DatabaseError::NotReady`] with the last attempt's reason.
pub fn wait(
    url: &DatabaseUrl,
    timeout: Duration,
    connect_timeout: Duration,
) -> Result<(), DatabaseError> {
    let deadline = Instant::now() + timeout;
    let runtime = match url {
        DatabaseUrl::Server(server) => Some(server::runtime(server)?),
        DatabaseUrl::Sqlite(_) => None,
    };
    let mut pause = FIRST_PAUSE;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let attempt = match (url, &runtime) {
            (DatabaseUrl::Server(server), Some(runtime)) => {
                let bound = if left.is_zero() {
                    connect_timeout
                } else {
                    connect_timeout.min(left)
                };
                server::probe(runtime, server, bound).map_err(|err| match err {
                    // Cut short by the time left, not by --connect-timeout.
                    Failure::TimedOut(_) if bound < connect_timeout => {
                        "the server did not answer".to_owned()
                    }
                    other => other.message(),
                })
            }
            (DatabaseUrl::Sqlite(sqlite), _) => sqlite_ready(sqlite),
            (DatabaseUrl::Server(_), None) => unreachable!("a server has its runtime"),
        };
        let reason = match attempt {
            Ok(()) => return Ok(()),
            Err(reason) => reason,
        };
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(DatabaseError::NotReady {
                url: url.shown().to_owned(),
                engine: product_name(url.dialect()),
                timeout: crate::duration::shown(timeout),
                reason,
            });
        }
        tracing::info!(database = %url.shown(), %reason, "not ready yet");
        std::thread::sleep(pause.min(left));
        pause = (pause * 2).min(LONGEST_PAUSE);
    }
}

/// Whether a SQLite database is ready: its directory exists, and its file,
/// if there is one, opens as a SQLite database.
fn sqlite_ready(url: &SqliteUrl) -> Result<(), String> {
    let Location::File(path) = &url.location else {
        return Ok(());
    };
    let directory = sqlite::directory(path);
    if !directory.is_dir() {
        return Err(format!(
            "the directory {} does not exist",
            directory.display()
        ));
    }
    if !path.exists() {
        return Ok(());
    }
    sqlite::open(url, Access::Read, "wait", None)
        .map(drop)
        .map_err(|err| match err {
            DatabaseError::Open { message, .. } => message,
            DatabaseError::NotADatabase { .. } => {
                "the file is not a SQLite database (it holds something else)".to_owned()
            }
            other => other.to_string(),
        })
}
