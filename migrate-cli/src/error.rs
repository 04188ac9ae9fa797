//! Everything that stops a verb, as one enum: the library's errors, the
//! directory's when creating a migration, the database URL's and file's.
//! Each prints as one sentence.

use migrate::Dialect;

use crate::cli::LockModeArg;
use crate::db::{DatabaseError, dump_tool, product_name};
use crate::dotenv::DotenvError;
use crate::glob::GlobError;
use crate::sources::SourceError;

/// Why a verb failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The library refused or failed (boxed: the library's error is large,
    /// and only the failure path pays for it).
    #[error(transparent)]
    Migrate(Box<migrate::Error>),

    /// `new` could not create the migration.
    #[error(transparent)]
    New(#[from] crate::new::NewError),

    /// The database URL or file is not usable.
    #[error(transparent)]
    Database(#[from] DatabaseError),

    /// The list of databases cannot be made.
    #[error(transparent)]
    Sources(#[from] SourceError),

    /// A verb or preview that works on one database was given several (a
    /// usage error, exit 2).
    #[error(
        "{what} works on one database at a time; name one with --database-url, or run `upgrade`, `downgrade`, `status`, `check` or `current` on several"
    )]
    OneDatabaseOnly {
        /// The verb or option, e.g. "`history`" or "--sql".
        what: &'static str,
    },

    /// `new` with a list of databases, which it would not use (a usage
    /// error, exit 2).
    #[error(
        "`new` creates migration files and uses no database; drop --databases, --sqlite-glob and the repeated --database-url"
    )]
    NewWithDatabases,

    /// A verb that needs a database got none (a usage error, exit 2).
    #[error(
        "no database given: pass --database-url URL, or set DATABASE_URL in the environment or in a `.env` file"
    )]
    NoDatabase,

    /// `lint` without a dialect (a usage error, exit 2).
    #[error(
        "`lint` needs to know the database the migrations are for: pass --dialect postgres, mysql or sqlite, or --database-url URL"
    )]
    NoDialect,

    /// `--backup` with a server URL (a usage error, exit 2).
    #[error(
        "--backup copies SQLite database files only; back up this {} database with {} before you upgrade",
        product_name(*dialect),
        dump_tool(*dialect)
    )]
    BackupOnServer {
        /// The server.
        dialect: Dialect,
    },

    /// Stdout could not take the output (full, or closed otherwise than by
    /// a reader that stopped reading, which is no error).
    #[error(
        "cannot write the output of `{verb}` to stdout: {source}; the command itself completed, so run `migrate status` to see the database"
    )]
    Output {
        /// The verb.
        verb: &'static str,
        /// Why.
        source: std::io::Error,
    },

    /// A `--lock-mode` that only PostgreSQL has, with MySQL/MariaDB (a
    /// usage error, exit 2).
    #[error(
        "--lock-mode {mode} applies to PostgreSQL only; on MySQL/MariaDB use --lock-mode session (GET_LOCK, the default) or --lock-mode lease"
    )]
    LockModePostgresOnly {
        /// The mode given.
        mode: LockModeArg,
    },

    /// The `.env` file cannot be read (a line it cannot parse is a usage
    /// error, exit 2).
    #[error(transparent)]
    Dotenv(#[from] DotenvError),

    /// `database drop` or `reset` without `-y`, and no terminal to ask on
    /// (a usage error, exit 2).
    #[error(
        "`{verb}` asks before it drops the {database}, and stdin is not a terminal to answer on; pass -y (--yes) to {action} without asking"
    )]
    Unconfirmed {
        /// The verb.
        verb: &'static str,
        /// The database, described.
        database: String,
        /// What it does, for the end of the sentence.
        action: &'static str,
    },

    /// The person asked did not answer yes.
    #[error("kept the {database}: the answer was not `y`")]
    Declined {
        /// The database, described.
        database: String,
    },

    /// `--force` with a database other than PostgreSQL (a usage error,
    /// exit 2).
    #[error(
        "--force applies to PostgreSQL only, which refuses to drop a database other sessions are connected to; {} drops it all the same, so leave --force out",
        product_name(*dialect)
    )]
    ForcePostgresOnly {
        /// The database.
        dialect: Dialect,
    },

    /// A locking option with SQLite, which has one way to lock: its write
    /// lock (a usage error, exit 2).
    #[error("{option} does not apply to SQLite, which {why}; drop it")]
    NotForSqlite {
        /// The option as given, e.g. "--lock-mode session" or "--lock-retries".
        option: String,
        /// Why it does not apply.
        why: &'static str,
    },

    /// `dump --output` or `check --schema` could not write or read its file.
    #[error("cannot {action} the schema file {}: {source}; {hint}", crate::output::escaped(&path.display().to_string()))]
    SchemaFile {
        /// `read` or `write`.
        action: &'static str,
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
        /// What to do.
        hint: &'static str,
    },
}

impl CliError {
    /// The kind of usage error this is (exit 2), if it is one.
    pub fn usage_kind(&self) -> Option<clap::error::ErrorKind> {
        match self {
            CliError::NoDatabase | CliError::NoDialect | CliError::Unconfirmed { .. } => {
                Some(clap::error::ErrorKind::MissingRequiredArgument)
            }
            CliError::Dotenv(DotenvError::Malformed { .. }) => {
                Some(clap::error::ErrorKind::ValueValidation)
            }
            CliError::BackupOnServer { .. }
            | CliError::LockModePostgresOnly { .. }
            | CliError::NotForSqlite { .. }
            | CliError::ForcePostgresOnly { .. }
            | CliError::OneDatabaseOnly { .. }
            | CliError::NewWithDatabases => Some(clap::error::ErrorKind::ArgumentConflict),
            CliError::Sources(SourceError::Glob(GlobError::WildDirectory { .. }))
            | CliError::New(crate::new::NewError::BadName { .. }) => {
                Some(clap::error::ErrorKind::ValueValidation)
            }
            CliError::Database(err)
            | CliError::Sources(SourceError::Url(err) | SourceError::Line { source: err, .. })
                if err.is_usage() =>
            {
                Some(clap::error::ErrorKind::ValueValidation)
            }
            CliError::Migrate(_)
            | CliError::New(_)
            | CliError::Database(_)
            | CliError::Sources(_)
            | CliError::Dotenv(_)
            | CliError::Declined { .. }
            | CliError::Output { .. }
            | CliError::SchemaFile { .. } => None,
        }
    }
}

/// A database's failure among several, as the library's runner of several
/// databases takes it: the library's error as it is, any other as the
/// failure to open the database.
impl From<CliError> for migrate::Error {
    fn from(err: CliError) -> Self {
        match err {
            CliError::Migrate(err) => *err,
            other => migrate::Error::Database {
                action: "open the database".to_owned(),
                message: other.to_string(),
                source: Some(Box::new(other)),
            },
        }
    }
}

impl From<migrate::Error> for CliError {
    fn from(err: migrate::Error) -> Self {
        CliError::Migrate(Box::new(err))
    }
}
