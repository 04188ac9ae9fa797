//! Why a database cannot be used, as one enum: every message names the
//! (redacted) URL and says what to do.

/// Why a database cannot be used. Every message names the (redacted) URL,
/// but [`DatabaseError::NoSlashes`]'s, which cannot be redacted.
#[derive(Debug, Clone, thiserror::Error)]
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
        "{url}: `{scheme}` is not a database migrate knows; use sqlite://path (or a path to a SQLite file, `./` before a name with a colon), postgres://… or mysql://…"
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

    /// `postgres//…`: one of migrate's schemes with its colon missing (a
    /// usage error).
    #[error("{url}: a `:` is missing after `{scheme}`; write {scheme}://…")]
    NoColon {
        /// The URL, redacted.
        url: String,
        /// The scheme as migrate spells it.
        scheme: String,
    },

    /// A SQLite URL or path with a user's password in it (a usage error).
    #[error("{url}: a SQLite database takes no user or password; write sqlite://path/to/app.db")]
    SqliteCredentials {
        /// The URL, redacted.
        url: String,
    },

    /// A URL holding a control character: a tab or line break pasted in,
    /// which the URL parser drops (a usage error).
    #[error(
        "the database URL {url} holds a control character (a tab or line break, say); remove it"
    )]
    ControlCharacter {
        /// The URL, redacted, without its tabs and line breaks.
        url: String,
    },

    /// A server URL's query parameter that the driver would ignore (a
    /// usage error).
    #[error(
        "{url}: the {} driver does not read the parameter `{key}` and would ignore it; {}",
        super::product_name(*dialect),
        super::url::parameter_hint(*dialect, key)
    )]
    UnknownParameter {
        /// The URL, redacted.
        url: String,
        /// Whose driver: PostgreSQL or MySQL.
        dialect: migrate::Dialect,
        /// The parameter's key as written.
        key: String,
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

    /// The URL opens the database read-only (`?mode=ro`) and the verb
    /// writes.
    #[error(
        "the database {url} is opened read-only (`?mode=ro`), so `{verb}` cannot change it; drop `?mode=ro` from the URL"
    )]
    ReadOnly {
        /// The URL, redacted.
        url: String,
        /// The verb.
        verb: &'static str,
    },

    /// The file's permissions keep this user from writing it, and the verb
    /// writes.
    #[error(
        "the database {url} is a read-only file, so `{verb}` cannot change it; make the file writable for this user"
    )]
    ReadOnlyFile {
        /// The URL, redacted.
        url: String,
        /// The verb.
        verb: &'static str,
    },

    /// The directory that holds the database may not be written, so SQLite
    /// cannot create its journal there, and the verb writes.
    #[error(
        "the directory {directory} that holds the database {url} is read-only, so SQLite cannot create the journal `{verb}` needs there; make the directory writable for this user"
    )]
    ReadOnlyDirectory {
        /// The URL, redacted.
        url: String,
        /// The directory.
        directory: String,
        /// The verb.
        verb: &'static str,
    },

    /// An empty URL (a usage error).
    #[error(
        "the database URL is empty; name a database with --database-url or DATABASE_URL, such as sqlite://app.db or postgres://user@host/app"
    )]
    Empty,

    /// `sqlite://` or `sqlite:` with no path (a usage error).
    #[error(
        "the database URL {url} names no file; write sqlite://path/to/app.db, or sqlite::memory: for a database that lasts one command"
    )]
    NoFile {
        /// The URL, redacted.
        url: String,
    },

    /// `file:…`, which SQLite reads as a URI and migrate would read as a
    /// path (a usage error).
    #[error("{url} is a SQLite URI, which migrate does not read; write sqlite://{file}")]
    FileUri {
        /// The URL, redacted.
        url: String,
        /// The file it names.
        file: String,
    },

    /// A server URL without `//`, which sqlx reads but the redaction
    /// cannot (a usage error). The URL is not shown.
    #[error(
        "a {scheme}: URL needs // after `{scheme}:`, and the rest is not shown (it may hold a password); write it as {example}"
    )]
    NoSlashes {
        /// The scheme as given.
        scheme: String,
        /// The URL's shape, e.g. `postgres://user:password@host/database`.
        example: String,
    },

    /// A MySQL/MariaDB URL with no database (a usage error).
    #[error(
        "{url} names no database; add the database's name after the host, as in mysql://user:password@host:3306/app"
    )]
    NoDatabaseName {
        /// The URL, redacted.
        url: String,
    },

    /// A server's own database (PostgreSQL's `postgres` and templates,
    /// MySQL's `mysql`, `sys` and schemas) given to `database drop` or
    /// `reset` (a usage error).
    #[error(
        "{url} names `{name}`, a system database of the {engine} server, which `{verb}` never drops; name your application's own database"
    )]
    SystemDatabase {
        /// The URL, redacted.
        url: String,
        /// The database's name.
        name: String,
        /// `PostgreSQL` or `MySQL/MariaDB`.
        engine: &'static str,
        /// The verb.
        verb: &'static str,
    },

    /// A database in memory given to a verb that creates, drops or waits
    /// for the database itself (a usage error).
    #[error(
        "{url} is a database in memory, which lasts one command, so `{verb}` has nothing to work on; name a SQLite file or a server database"
    )]
    InMemory {
        /// The URL, redacted.
        url: String,
        /// The verb.
        verb: &'static str,
    },

    /// The server's maintenance database, through which a database is
    /// created or dropped, cannot be reached.
    #[error(
        "cannot connect to the {engine} server of {url} through its `{through}` database: {message}"
    )]
    Maintenance {
        /// The URL, redacted.
        url: String,
        /// `PostgreSQL` or `MySQL/MariaDB`.
        engine: &'static str,
        /// The maintenance database.
        through: &'static str,
        /// The driver's or the server's message.
        message: String,
    },

    /// Creating or dropping the database failed.
    #[error("cannot {action} the {database}: {message}")]
    Admin {
        /// `create` or `drop`.
        action: &'static str,
        /// The database, described: "PostgreSQL database app at postgres://…".
        database: String,
        /// The server's or the file system's message.
        message: String,
    },

    /// PostgreSQL refuses to drop a database other sessions are
    /// connected to.
    #[error(
        "cannot drop the {database}: other sessions are connected to it; close them, or pass --force to end them"
    )]
    InUse {
        /// The database, described.
        database: String,
    },

    /// `wait` gave up.
    #[error("the {engine} database {url} was not ready within {timeout}: {reason}")]
    NotReady {
        /// The URL, redacted.
        url: String,
        /// `SQLite`, `PostgreSQL` or `MySQL/MariaDB`.
        engine: &'static str,
        /// The timeout, as written on the command line.
        timeout: String,
        /// Why the last attempt failed.
        reason: String,
    },

    /// SQLite could not open or read the file.
    #[error(
        "cannot open the database {url}: {message}; check that it names a SQLite file (or one to create) in a directory that exists and that you may write to"
    )]
    Open {
        /// The URL, redacted.
        url: String,
        /// SQLite's message.
        message: String,
    },
}

impl DatabaseError {
    /// Whether the URL itself is unusable, as written (a usage error, exit
    /// 2): nothing was opened.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            DatabaseError::UnknownScheme { .. }
                | DatabaseError::BadOption { .. }
                | DatabaseError::UnknownParameter { .. }
                | DatabaseError::ControlCharacter { .. }
                | DatabaseError::SqliteCredentials { .. }
                | DatabaseError::NoColon { .. }
                | DatabaseError::Empty
                | DatabaseError::NoFile { .. }
                | DatabaseError::FileUri { .. }
                | DatabaseError::NoSlashes { .. }
                | DatabaseError::NoDatabaseName { .. }
                | DatabaseError::InMemory { .. }
                | DatabaseError::SystemDatabase { .. }
        )
    }
}
