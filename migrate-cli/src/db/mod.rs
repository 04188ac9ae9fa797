//! Databases: which one a URL names (`url.rs`), how a URL is shown
//! (`redact.rs`), and opening one for a verb: a SQLite file with rusqlite
//! (`sqlite.rs`), a server through the library's sqlx runner (`server.rs`),
//! either behind one [`Open`] (`open.rs`).
//!
//! A URL is only ever shown through [`redact`], so that no message or log
//! line holds a password; the URL a server connects with stays inside
//! [`ServerUrl`] and the driver.

mod error;
mod open;
mod redact;
mod server;
mod sqlite;
mod url;

pub use error::DatabaseError;
pub use open::{Open, open};
pub use redact::{redact, scrub};
pub use sqlite::Access;
pub use url::{DatabaseUrl, Engine, Location, ServerUrl, SqliteUrl, parse_url};
