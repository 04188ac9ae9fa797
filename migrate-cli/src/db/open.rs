//! An open database of either kind, and each library call on it, made the
//! same way for both: a SQLite file through the library's rusqlite
//! functions, a server through its sqlx ones. Which call a verb makes is
//! `verb.rs`'s; nothing here decides anything.

use std::time::Duration;

use migrate::plan::Plan;
use migrate::schema::Schema;
use migrate::{
    Current, Direction, Error, HistoryEntry, Migrator, Options, Report, Status, Target,
    Verification,
};

use super::error::DatabaseError;
use super::server::{Server, on_pool};
use super::sqlite::{self, Access, Database};
use super::url::DatabaseUrl;

/// An open database.
pub enum Open {
    /// A SQLite file (or memory).
    Sqlite(Database),
    /// A PostgreSQL or MySQL/MariaDB server.
    Server(Server),
}

/// How long opening a database may wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Waits {
    /// SQLite: how long the connection waits for another's lock (a
    /// server's runner bounds its own waits); `None`: as rusqlite sets it.
    pub lock: Option<Duration>,
    /// A server: how long to wait for a connection.
    pub connect: Duration,
}

/// Opens the database for `verb`. `access` matters to SQLite files only
/// (whether a missing one is created, or read as empty); a server database
/// must exist.
///
/// # Errors
///
/// What [`sqlite::open`] or [`Server::connect`] says.
pub fn open(
    url: &DatabaseUrl,
    access: Access,
    verb: &'static str,
    waits: Waits,
) -> Result<Open, DatabaseError> {
    match url {
        DatabaseUrl::Sqlite(url) => sqlite::open(url, access, verb, waits.lock).map(Open::Sqlite),
        DatabaseUrl::Server(url) => Server::connect(url, waits.connect).map(Open::Server),
    }
}

impl Open {
    /// `current`.
    pub fn current(&self, migrator: &Migrator<'_>) -> Result<Current, Error> {
        let (set, options) = (migrator.migrations(), migrator.options());
        match self {
            Open::Sqlite(db) => migrator.current(&db.conn),
            Open::Server(server) => {
                on_pool!(server, |pool| migrate::sqlx::current(pool, set, options))
            }
        }
    }

    /// `history`.
    pub fn history(&self, migrator: &Migrator<'_>) -> Result<Vec<HistoryEntry>, Error> {
        let (set, options) = (migrator.migrations(), migrator.options());
        match self {
            Open::Sqlite(db) => migrator.history(&db.conn),
            Open::Server(server) => {
                on_pool!(server, |pool| migrate::sqlx::history(pool, set, options))
            }
        }
    }

    /// `status` and `check`.
    pub fn status(&self, migrator: &Migrator<'_>) -> Result<Status, Error> {
        let (set, options) = (migrator.migrations(), migrator.options());
        match self {
            Open::Sqlite(db) => migrator.status(&db.conn),
            Open::Server(server) => {
                on_pool!(server, |pool| migrate::sqlx::status(pool, set, options))
            }
        }
    }

    /// `--dry-run`.
    pub fn plan<'m>(
        &self,
        migrator: &Migrator<'m>,
        direction: Direction,
        target: Target,
    ) -> Result<Plan<'m>, Error> {
        let (set, options) = (migrator.migrations(), migrator.options());
        match self {
            Open::Sqlite(db) => migrator.plan(&db.conn, direction, target),
            Open::Server(server) => on_pool!(server, |pool| migrate::sqlx::plan(
                pool, set, direction, target, options
            )),
        }
    }

    /// `--sql`.
    pub fn sql(
        &self,
        migrator: &Migrator<'_>,
        direction: Direction,
        target: Target,
    ) -> Result<String, Error> {
        match self {
            Open::Sqlite(db) => migrator.sql(&db.conn, direction, target),
            Open::Server(server) => {
                on_pool!(server, |pool| migrator.sql_pool(pool, direction, target))
            }
        }
    }

    /// `upgrade`.
    pub fn upgrade(&self, migrator: &Migrator<'_>, target: Target) -> Result<Report, Error> {
        let (set, options) = (migrator.migrations(), migrator.options());
        match self {
            Open::Sqlite(db) => migrator.upgrade(&db.conn, target),
            Open::Server(server) => on_pool!(server, |pool| migrate::sqlx::upgrade(
                pool, set, target, options
            )),
        }
    }

    /// `downgrade`.
    pub fn downgrade(&self, migrator: &Migrator<'_>, target: Target) -> Result<Report, Error> {
        let (set, options) = (migrator.migrations(), migrator.options());
        match self {
            Open::Sqlite(db) => migrator.downgrade(&db.conn, target),
            Open::Server(server) => on_pool!(server, |pool| migrate::sqlx::downgrade(
                pool, set, target, options
            )),
        }
    }

    /// `stamp`.
    pub fn stamp(
        &self,
        migrator: &Migrator<'_>,
        target: Target,
    ) -> Result<migrate::Stamped, Error> {
        let (set, options) = (migrator.migrations(), migrator.options());
        match self {
            Open::Sqlite(db) => migrator.stamp(&db.conn, target),
            Open::Server(server) => on_pool!(server, |pool| migrate::sqlx::stamp(
                pool, set, target, options
            )),
        }
    }
}

impl Open {
    /// `dump` and `check --schema`: the schema, read only.
    pub fn schema(&self, options: &Options) -> Result<Schema, Error> {
        match self {
            Open::Sqlite(db) => migrate::schema::read(&db.conn, options),
            Open::Server(server) => on_pool!(server, |pool| migrate::sqlx::schema(pool, options)),
        }
    }

    /// `verify`, on a scratch database.
    pub fn verify(&self, migrator: &Migrator<'_>) -> Result<Verification, Error> {
        let (set, options) = (migrator.migrations(), migrator.options());
        match self {
            Open::Sqlite(db) => migrator.verify(&db.conn),
            Open::Server(server) => {
                on_pool!(server, |pool| migrate::sqlx::verify(pool, set, options))
            }
        }
    }
}
