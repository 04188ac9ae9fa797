//! The database itself, for `database create`, `drop` and `reset`: a
//! SQLite file, or a database on a PostgreSQL or MySQL/MariaDB server.
//!
//! A server database is created and dropped over a connection to the
//! server's maintenance database, with the URL's credentials: `postgres` on
//! PostgreSQL, `information_schema` on MySQL/MariaDB (which every user may
//! use, where `mysql` needs privileges). Its name, as the driver reads it
//! from the URL, is quoted as an identifier, never spliced in as written.
//!
//! Both verbs are idempotent, as sqlx-cli's are: creating a database that
//! exists, or dropping one that does not, does nothing and says so. A
//! SQLite file is dropped only when it is a SQLite database (or empty),
//! so that a mistyped URL cannot delete some other file; its journal
//! files and the run lock file beside it go with it.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use migrate::Dialect;
use sqlx::{AssertSqlSafe, Connection as _};

use super::error::DatabaseError;
use super::product_name;
use super::server::{self, Failure, connect_within, options};
use super::url::{DatabaseUrl, Location, ServerUrl, SqliteUrl};

/// The library's default lock timeout, which `--lock-timeout`'s help
/// names (a test in `commands.rs` keeps the two equal): how long a MySQL
/// `DROP DATABASE` waits for other sessions' transactions by default.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(60);

/// Whether `name` is one of the server's own databases, which no verb
/// drops: PostgreSQL's maintenance database and templates, MySQL's system
/// schemas.
fn is_system(dialect: Dialect, name: &str) -> bool {
    let system: &[&str] = match dialect {
        Dialect::Postgres => &["postgres", "template0", "template1"],
        Dialect::MySql => &["mysql", "information_schema", "performance_schema", "sys"],
        Dialect::Sqlite => &[],
    };
    system
        .iter()
        .any(|system| system.eq_ignore_ascii_case(name))
}

/// The database a URL names, for the verbs that create or drop it.
#[derive(Debug)]
pub struct Named<'u> {
    url: &'u DatabaseUrl,
    /// The server database's name, as the driver reads it; for SQLite, the
    /// file.
    name: String,
    /// The verb, for messages.
    verb: &'static str,
}

impl<'u> Named<'u> {
    /// The database `url` names, for `verb`.
    ///
    /// # Errors
    ///
    /// [`DatabaseError::InMemory`] for a SQLite database in memory;
    /// [`DatabaseError::Connect`] when the driver cannot read the URL.
    pub fn new(url: &'u DatabaseUrl, verb: &'static str) -> Result<Self, DatabaseError> {
        let name = match url {
            DatabaseUrl::Sqlite(sqlite) => file(sqlite, verb)?.display().to_string(),
            DatabaseUrl::Server(server) => server_name(server)?,
        };
        Ok(Named { url, name, verb })
    }

    /// The database for people: "SQLite database sqlite://app.db",
    /// "PostgreSQL database app at postgres://…".
    pub fn described(&self) -> String {
        match self.url {
            DatabaseUrl::Sqlite(url) => format!("SQLite database {}", url.shown),
            DatabaseUrl::Server(url) => format!(
                "{} database {} at {}",
                product_name(url.dialect()),
                crate::output::escaped(&self.name),
                url.shown
            ),
        }
    }

    /// Creates the database unless it exists; whether it did.
    ///
    /// # Errors
    ///
    /// [`DatabaseError::ReadOnly`] for a SQLite URL with `?mode=ro`;
    /// [`DatabaseError::NotADatabase`] when the SQLite file exists and holds
    /// something else; [`DatabaseError::Maintenance`] when the server
    /// cannot be reached; [`DatabaseError::Admin`] when the file or the
    /// database cannot be created.
    pub fn create(&self, connect_timeout: Duration) -> Result<bool, DatabaseError> {
        match self.url {
            DatabaseUrl::Sqlite(url) => self.create_file(url),
            DatabaseUrl::Server(url) => {
                self.on_server(url, "create", connect_timeout, async |conn| {
                    match conn {
                        Maintenance::Postgres(conn) => {
                            if exists_postgres(conn, &self.name).await? {
                                return Ok(false);
                            }
                            execute(conn, format!("CREATE DATABASE {}", quoted(&self.name, '"')))
                                .await?;
                        }
                        Maintenance::MySql(conn) => {
                            if exists_mysql(conn, &self.name).await? {
                                return Ok(false);
                            }
                            execute(conn, format!("CREATE DATABASE {}", quoted(&self.name, '`')))
                                .await?;
                        }
                    }
                    Ok(true)
                })
            }
        }
    }

    /// Drops the database if it exists; whether it did. On PostgreSQL,
    /// `force` ends the sessions connected to it; on MySQL/MariaDB,
    /// `lock_timeout` bounds the wait for other sessions' transactions on
    /// its tables.
    ///
    /// # Errors
    ///
    /// As [`Named::create`], and [`DatabaseError::InUse`] when PostgreSQL
    /// refuses because other sessions are connected.
    pub fn drop(
        &self,
        force: bool,
        lock_timeout: Option<Duration>,
        connect_timeout: Duration,
    ) -> Result<bool, DatabaseError> {
        match self.url {
            DatabaseUrl::Sqlite(url) => self.drop_file(url),
            DatabaseUrl::Server(url) if is_system(url.dialect(), &self.name) => {
                Err(DatabaseError::SystemDatabase {
                    url: url.shown.clone(),
                    name: self.name.clone(),
                    engine: product_name(url.dialect()),
                    verb: self.verb,
                })
            }
            DatabaseUrl::Server(url) => {
                self.on_server(url, "drop", connect_timeout, async |conn| {
                    match conn {
                        Maintenance::Postgres(conn) => {
                            if !exists_postgres(conn, &self.name).await? {
                                return Ok(false);
                            }
                            let with = if force { " WITH (FORCE)" } else { "" };
                            execute(
                                conn,
                                format!("DROP DATABASE {}{with}", quoted(&self.name, '"')),
                            )
                            .await?;
                        }
                        Maintenance::MySql(conn) => {
                            if !exists_mysql(conn, &self.name).await? {
                                return Ok(false);
                            }
                            // Whole seconds, at least one: MySQL's unit.
                            let wait = lock_timeout.unwrap_or(DEFAULT_LOCK_TIMEOUT);
                            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                            execute(
                                conn,
                                format!("SET SESSION lock_wait_timeout = {}", seconds.max(1)),
                            )
                            .await?;
                            execute(conn, format!("DROP DATABASE {}", quoted(&self.name, '`')))
                                .await?;
                        }
                    }
                    Ok(true)
                })
            }
        }
    }

    /// Runs `work` on a connection to the server's maintenance database,
    /// and words its failure.
    fn on_server(
        &self,
        url: &ServerUrl,
        action: &'static str,
        connect_timeout: Duration,
        work: impl AsyncFnOnce(&mut Maintenance) -> Result<bool, sqlx::Error>,
    ) -> Result<bool, DatabaseError> {
        let through = match url.dialect() {
            Dialect::Postgres => "postgres",
            _ => "information_schema",
        };
        let unreachable = |err: Failure| DatabaseError::Maintenance {
            url: url.shown.clone(),
            engine: product_name(url.dialect()),
            through,
            message: err.message(),
        };
        let runtime = server::runtime(url)?;
        runtime.block_on(async {
            // The URL's options with the maintenance database, connected.
            macro_rules! connect {
                ($database:ty, $kind:ident) => {{
                    let options = options::<$database>(url)
                        .map_err(|err| unreachable(err.into()))?
                        .database(through);
                    Maintenance::$kind(
                        connect_within(&options, connect_timeout)
                            .await
                            .map_err(unreachable)?,
                    )
                }};
            }
            let mut conn = match url.dialect() {
                Dialect::Postgres => connect!(sqlx::Postgres, Postgres),
                _ => connect!(sqlx::MySql, MySql),
            };
            tracing::debug!(database = %url.shown, name = %self.name, "{action}");
            let done = work(&mut conn).await.map_err(|err| match &err {
                // object_in_use: other sessions are connected.
                sqlx::Error::Database(db) if db.code().as_deref() == Some("55006") => {
                    DatabaseError::InUse {
                        database: self.described(),
                    }
                }
                _ => DatabaseError::Admin {
                    action,
                    database: self.described(),
                    message: server::message(&err),
                },
            });
            let _ = match conn {
                Maintenance::Postgres(conn) => conn.close().await,
                Maintenance::MySql(conn) => conn.close().await,
            };
            done
        })
    }

    /// A SQLite file, created empty (which SQLite reads as an empty
    /// database) unless it exists.
    fn create_file(&self, url: &SqliteUrl) -> Result<bool, DatabaseError> {
        let path = writable_file(url, "database create")?;
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
        {
            Ok(_) => Ok(true),
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => match is_sqlite(path) {
                Ok(true) => Ok(false),
                _ => Err(DatabaseError::NotADatabase {
                    url: url.shown.clone(),
                }),
            },
            Err(err) => Err(self.file_failed("create", &err)),
        }
    }

    /// A SQLite file removed, with its journal files and run lock file,
    /// when it is a SQLite database.
    fn drop_file(&self, url: &SqliteUrl) -> Result<bool, DatabaseError> {
        let path = writable_file(url, "database drop")?;
        let exists = match is_sqlite(path) {
            Ok(true) => true,
            Ok(false) => {
                return Err(DatabaseError::NotADatabase {
                    url: url.shown.clone(),
                });
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => false,
            Err(err) => return Err(self.file_failed("drop", &err)),
        };
        for suffix in ["", "-wal", "-shm", "-journal", "-migrate.lock"] {
            let mut companion = path.as_os_str().to_owned();
            companion.push(suffix);
            match std::fs::remove_file(PathBuf::from(companion)) {
                Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
                    return Err(self.file_failed("drop", &err));
                }
                _ => {}
            }
        }
        Ok(exists)
    }

    fn file_failed(&self, action: &'static str, err: &std::io::Error) -> DatabaseError {
        DatabaseError::Admin {
            action,
            database: self.described(),
            message: err.to_string(),
        }
    }
}

/// A connection to a server's maintenance database.
enum Maintenance {
    Postgres(sqlx::PgConnection),
    MySql(sqlx::MySqlConnection),
}

/// The file of a SQLite URL.
fn file<'u>(url: &'u SqliteUrl, verb: &'static str) -> Result<&'u Path, DatabaseError> {
    match &url.location {
        Location::File(path) => Ok(path),
        Location::Memory => Err(DatabaseError::InMemory {
            url: url.shown.clone(),
            verb,
        }),
    }
}

/// The file of a SQLite URL that may change it (not `?mode=ro`).
fn writable_file<'u>(url: &'u SqliteUrl, verb: &'static str) -> Result<&'u Path, DatabaseError> {
    if url.read_only {
        return Err(DatabaseError::ReadOnly {
            url: url.shown.clone(),
            verb,
        });
    }
    file(url, verb)
}

/// Whether the file is a SQLite database: empty (SQLite's empty
/// database), or starting with SQLite's header.
fn is_sqlite(path: &Path) -> std::io::Result<bool> {
    const HEADER: &[u8; 16] = b"SQLite format 3\0";
    let mut start = Vec::with_capacity(HEADER.len());
    std::fs::File::open(path)?
        .take(HEADER.len() as u64)
        .read_to_end(&mut start)?;
    Ok(start.is_empty() || start == HEADER)
}

/// The name of the database a server URL connects to, as the driver reads
/// it (PostgreSQL's default: the user's name).
fn server_name(url: &ServerUrl) -> Result<String, DatabaseError> {
    let unreadable = |err: sqlx::Error| server::connect_failed(url, &err.into());
    match url.dialect() {
        Dialect::Postgres => {
            let options = options::<sqlx::Postgres>(url).map_err(unreadable)?;
            Ok(options
                .get_database()
                .unwrap_or(options.get_username())
                .to_owned())
        }
        _ => {
            let options = options::<sqlx::MySql>(url).map_err(unreadable)?;
            options
                .get_database()
                .map(str::to_owned)
                .ok_or_else(|| DatabaseError::NoDatabaseName {
                    url: url.shown.clone(),
                })
        }
    }
}

/// `name` as an identifier between `quote`s, each `quote` in it doubled.
fn quoted(name: &str, quote: char) -> String {
    let doubled = name.replace(quote, &format!("{quote}{quote}"));
    format!("{quote}{doubled}{quote}")
}

async fn exists_postgres(conn: &mut sqlx::PgConnection, name: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(name)
        .fetch_one(conn)
        .await
}

async fn exists_mysql(conn: &mut sqlx::MySqlConnection, name: &str) -> Result<bool, sqlx::Error> {
    let count: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = ?",
    )
    .bind(name)
    .fetch_one(conn)
    .await?;
    Ok(count > 0)
}

async fn execute<'c, C>(conn: &'c mut C, sql: String) -> Result<(), sqlx::Error>
where
    &'c mut C: sqlx::Executor<'c>,
{
    sqlx::raw_sql(AssertSqlSafe(sql)).execute(conn).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_quoted_as_identifiers() {
        assert_eq!(quoted("app", '"'), "\"app\"");
        assert_eq!(quoted("a\"b; DROP", '"'), "\"a\"\"b; DROP\"");
        assert_eq!(quoted("a`b", '`'), "`a``b`");
    }

    #[test]
    fn a_server_database_is_named_as_the_driver_reads_the_url() {
        let name = |url: &str| {
            let url = super::super::parse_url(url).unwrap();
            Named::new(&url, "database create").map(|named| named.name)
        };
        assert_eq!(name("postgres://u@h/my%20app").unwrap(), "my app");
        assert_eq!(name("postgres://u@h/app?dbname=other").unwrap(), "other");
        assert_eq!(name("mariadb://u:p@h/app").unwrap(), "app");
        assert_eq!(name("sqlite://dir/app.db").unwrap(), "dir/app.db");
        assert_eq!(
            name("sqlite::memory:").unwrap_err().to_string(),
            "sqlite::memory: is a database in memory, which lasts one command, so `database create` has nothing to work on; name a SQLite file or a server database"
        );
    }
}
