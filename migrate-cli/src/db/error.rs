//! Why a database cannot be used, as one enum: every message names the
//! (redacted) URL and says what to do.

/// Why a database cannot be used. Every message names the (redacted) URL.
#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    /// A database server could not be reached, or refused the connection.
    #[error("cannot connect to the {engine} database {url}: {message}")]
    Connect {
        /// The URL, redacted.
        url: String,
        /// `PostgreSQL` or `MySQL/MariaDB`.
        engine: &'static str,
        /// The driver's or the server's message.
        message: String,
    },

    /// A URL with a scheme migrate does not know.
    #[error(
        "{url}: `{scheme}` is not a database migrate knows; use sqlite://path (or a path to a SQLite file), postgres://… or mysql://…"
    )]
    UnknownScheme {
        /// The URL, redacted.
        url: String,
        /// The scheme as given.
        scheme: String,
    },

    /// A SQLite URL option migrate does not know.
    #[error(
        "{url}: `{option}` is not a SQLite URL option migrate knows; the only option is `mode=ro`, `mode=rw`, `mode=rwc` or `mode=memory`"
    )]
    BadOption {
        /// The URL, redacted.
        url: String,
        /// The option as given.
        option: String,
    },

    /// The file does not exist and this verb does not create it.
    #[error(
        "the database {url} does not exist; check --database-url, or run `migrate upgrade` to create it"
    )]
    Missing {
        /// The URL, redacted.
        url: String,
    },

    /// The file is not a SQLite database.
    #[error("{url} is not a SQLite database (the file holds something else); check --database-url")]
    NotADatabase {
        /// The URL, redacted.
        url: String,
    },

    /// The database is open read-only and the verb writes.
    #[error(
        "the database {url} is read-only, so `{verb}` cannot change it; drop `?mode=ro` from the URL or make the file writable"
    )]
    ReadOnly {
        /// The URL, redacted.
        url: String,
        /// The verb.
        verb: &'static str,
    },

    /// SQLite could not open or read the file.
    #[error("cannot open the database {url}: {message}")]
    Open {
        /// The URL, redacted.
        url: String,
        /// SQLite's message.
        message: String,
    },
}
