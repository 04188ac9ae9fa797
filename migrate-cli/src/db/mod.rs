//! Databases: which one a URL names (`url.rs`), how a URL is shown
//! (`redact.rs`), and opening one for a verb: a SQLite file with rusqlite
//! (`sqlite.rs`), a server through the library's sqlx runner (`server.rs`),
//! either behind one [`Open`] (`open.rs`); the database itself, created
//! and dropped (`admin.rs`) or waited for (`wait.rs`).
//!
//! A URL is only ever shown through [`redact()`], so that no message or log
//! line holds a password; the URL a server connects with stays inside
//! [`url::ServerUrl`] and the driver. The kind of database is the library's
//! [`Dialect`]; its name in messages is [`product_name`].

mod admin;
mod error;
mod open;
mod redact;
mod server;
mod sqlite;
mod url;
mod wait;

#[cfg(test)]
pub use admin::DEFAULT_LOCK_TIMEOUT;
pub use admin::Named;
pub use error::DatabaseError;
pub use open::{Open, Waits, open};
pub use redact::{redact, scrub, scrub_remembered};
pub use server::DEFAULT_CONNECT_TIMEOUT;
pub use sqlite::{Access, Database};
pub use url::{DatabaseUrl, Location, SqliteUrl, parse_url};
pub use wait::wait;

use migrate::Dialect;

/// The database's name in messages.
pub fn product_name(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => "SQLite",
        Dialect::Postgres => "PostgreSQL",
        Dialect::MySql => "MySQL/MariaDB",
    }
}

/// The database's own tool for a copy of it, which `--backup` (a copy of a
/// SQLite file) points to on a server.
pub fn dump_tool(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => "sqlite3 (.backup)",
        Dialect::Postgres => "pg_dump",
        Dialect::MySql => "mysqldump (mariadb-dump)",
    }
}
