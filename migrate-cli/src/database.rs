//! Database URLs: which database a URL names, how a verb opens a SQLite
//! file, and how a URL is shown.
//!
//! A URL is only ever shown through [`redact`], which hides a password
//! wherever one can stand (`user:password@`, `?password=`), so that no
//! message or log line holds one. A server URL ([`ServerUrl`]) keeps the
//! URL it connects with private and prints, even in `Debug`, only the
//! redacted one. SQLite files are opened here with rusqlite; servers are
//! reached through the library's sqlx runner (`server.rs`).

use std::fmt;
use std::path::{Path, PathBuf};

use migrate::Dialect;
use rusqlite::{Connection, ErrorCode, OpenFlags};

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

/// `url` with any password replaced by `***`: the password of
/// `scheme://user:password@host` (up to the last `@`, so a password holding
/// `@` is hidden whole) and the value of a `password`, `pass`, `pwd` or
/// `sslpassword` query parameter.
///
/// # Examples
///
/// ```
/// assert_eq!(
///     migrate_cli::redact("postgres://app:s3cr@t@db.internal:5432/app?sslmode=require&password=x"),
///     "postgres://app:***@db.internal:5432/app?sslmode=require&password=***"
/// );
/// assert_eq!(migrate_cli::redact("sqlite://app.db"), "sqlite://app.db");
/// ```
pub fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|at| at + 3) else {
        return redact_query(url);
    };
    let (scheme, rest) = url.split_at(scheme_end);
    let mut out = scheme.to_owned();
    let rest = match rest.rfind('@') {
        Some(at) => {
            let user_info = &rest[..at];
            match user_info.find(':') {
                Some(colon) => {
                    out.push_str(&user_info[..colon]);
                    out.push_str(":***");
                }
                None => out.push_str(user_info),
            }
            out.push('@');
            &rest[at + 1..]
        }
        None => rest,
    };
    out.push_str(&redact_query(rest));
    out
}

/// `text` with every password that `url` holds, as written and
/// percent-decoded, replaced by `***`: the last line of defence for a
/// driver's message, which should never hold one.
///
/// # Examples
///
/// ```
/// let url = "mysql://root:p%40ss@db/app";
/// assert_eq!(migrate_cli::scrub("denied for p@ss and p%40ss", url), "denied for *** and ***");
/// ```
pub fn scrub(text: &str, url: &str) -> String {
    let mut secrets = Vec::new();
    if let Some(scheme_end) = url.find("://").map(|at| at + 3)
        && let Some(at) = url[scheme_end..].rfind('@')
        && let Some((_, password)) = url[scheme_end..scheme_end + at].split_once(':')
    {
        secrets.push(password);
    }
    if let Some((_, query)) = url.split_once('?') {
        secrets.extend(query.split('&').filter_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            is_secret(key).then_some(value)
        }));
    }
    let mut out = text.to_owned();
    for secret in secrets.into_iter().filter(|secret| !secret.is_empty()) {
        for form in [secret.to_owned(), percent_decoded(secret)] {
            out = out.replace(&form, "***");
        }
    }
    out
}

/// `%XX` escapes decoded (invalid ones kept as written).
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        let hex = bytes
            .get(at + 1..at + 3)
            .and_then(|pair| std::str::from_utf8(pair).ok())
            .and_then(|pair| u8::from_str_radix(pair, 16).ok());
        match (bytes[at], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                at += 3;
            }
            (byte, _) => {
                out.push(byte);
                at += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether a query parameter holds a password.
fn is_secret(key: &str) -> bool {
    ["password", "pass", "pwd", "sslpassword"]
        .iter()
        .any(|secret| key.eq_ignore_ascii_case(secret))
}

/// Hides the values of password-like query parameters.
fn redact_query(text: &str) -> String {
    let Some((before, query)) = text.split_once('?') else {
        return text.to_owned();
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if is_secret(key) => format!("{key}=***"),
            _ => pair.to_owned(),
        })
        .collect();
    format!("{before}?{}", pairs.join("&"))
}

/// Where a SQLite database lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A file.
    File(PathBuf),
    /// Memory (`sqlite::memory:` or `?mode=memory`): gone when the command ends.
    Memory,
}

/// A parsed SQLite URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteUrl {
    /// The URL as shown in messages (redacted).
    pub shown: String,
    /// Where the database lives.
    pub location: Location,
    /// `?mode=ro`.
    pub read_only: bool,
    /// False for `?mode=rw`: never create the file.
    pub may_create: bool,
}

/// A database server migrate reaches through sqlx.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// `postgres://` or `postgresql://`.
    Postgres,
    /// `mysql://` or `mariadb://`.
    MySql,
}

impl Engine {
    /// The engine's name in messages.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Postgres => "PostgreSQL",
            Engine::MySql => "MySQL/MariaDB",
        }
    }

    /// The server's own dump tool, which `--backup` points to.
    pub fn dump_tool(self) -> &'static str {
        match self {
            Engine::Postgres => "pg_dump",
            Engine::MySql => "mysqldump (mariadb-dump)",
        }
    }
}

/// A server URL: the URL to connect with, which is never shown, and the
/// redacted one for messages. `Debug` shows only the redacted one.
#[derive(Clone, PartialEq, Eq)]
pub struct ServerUrl {
    /// Which server.
    pub engine: Engine,
    /// The URL as shown in messages (redacted).
    pub shown: String,
    /// The URL sqlx connects with (`mariadb://` spelled `mysql://`).
    connect: String,
}

impl ServerUrl {
    /// The URL to connect with, password and all: for the driver only.
    pub fn connect_url(&self) -> &str {
        &self.connect
    }
}

impl fmt::Debug for ServerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerUrl")
            .field("engine", &self.engine)
            .field("shown", &self.shown)
            .finish_non_exhaustive()
    }
}

/// What a `--database-url` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// A SQLite file (or memory), opened with rusqlite.
    Sqlite(SqliteUrl),
    /// A PostgreSQL or MySQL/MariaDB server, reached through sqlx.
    Server(ServerUrl),
}

impl DatabaseUrl {
    /// The URL as shown in messages (redacted).
    pub fn shown(&self) -> &str {
        match self {
            DatabaseUrl::Sqlite(url) => &url.shown,
            DatabaseUrl::Server(url) => &url.shown,
        }
    }

    /// The SQL dialect of the database.
    pub fn dialect(&self) -> Dialect {
        match self {
            DatabaseUrl::Sqlite(_) => Dialect::Sqlite,
            DatabaseUrl::Server(ServerUrl {
                engine: Engine::Postgres,
                ..
            }) => Dialect::Postgres,
            DatabaseUrl::Server(ServerUrl {
                engine: Engine::MySql,
                ..
            }) => Dialect::MySql,
        }
    }
}

/// Reads a `--database-url`: a server URL by its scheme, otherwise a
/// SQLite URL or a plain path.
///
/// # Errors
///
/// [`DatabaseError::UnknownScheme`] for other schemes,
/// [`DatabaseError::BadOption`] for an unknown SQLite URL option.
pub fn parse_url(url: &str) -> Result<DatabaseUrl, DatabaseError> {
    let shown = redact(url);
    let scheme = url
        .split_once(':')
        .map(|(scheme, _)| scheme)
        .filter(|scheme| {
            scheme.len() > 1
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
        });
    let server = |engine, connect| {
        Ok(DatabaseUrl::Server(ServerUrl {
            engine,
            shown: shown.clone(),
            connect,
        }))
    };
    let path_and_query = match scheme.map(str::to_ascii_lowercase).as_deref() {
        Some("sqlite") => {
            let rest = &url["sqlite:".len()..];
            rest.strip_prefix("//").unwrap_or(rest)
        }
        Some("postgres" | "postgresql") => return server(Engine::Postgres, url.to_owned()),
        Some("mysql") => return server(Engine::MySql, url.to_owned()),
        // sqlx knows MariaDB as MySQL.
        Some("mariadb") => {
            return server(Engine::MySql, format!("mysql{}", &url["mariadb".len()..]));
        }
        Some(other) if url[other.len()..].starts_with("://") => {
            return Err(DatabaseError::UnknownScheme {
                scheme: other.to_owned(),
                url: shown,
            });
        }
        // A plain path, query and all.
        _ => {
            return Ok(DatabaseUrl::Sqlite(SqliteUrl {
                location: Location::File(PathBuf::from(url)),
                shown,
                read_only: false,
                may_create: true,
            }));
        }
    };
    let (path, query) = match path_and_query.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (path_and_query, None),
    };
    let mut parsed = SqliteUrl {
        location: if path == ":memory:" {
            Location::Memory
        } else {
            Location::File(PathBuf::from(path))
        },
        shown: shown.clone(),
        read_only: false,
        may_create: true,
    };
    for option in query.into_iter().flat_map(|query| query.split('&')) {
        match option {
            "" | "mode=rwc" => {}
            "mode=ro" => parsed.read_only = true,
            "mode=rw" => parsed.may_create = false,
            "mode=memory" => parsed.location = Location::Memory,
            other => {
                return Err(DatabaseError::BadOption {
                    url: shown,
                    option: redact_query(&format!("?{other}"))[1..].to_owned(),
                });
            }
        }
    }
    Ok(DatabaseUrl::Sqlite(parsed))
}

/// How a verb needs the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Reads (and may bring the history table's format up to date); the
    /// database must exist.
    Read,
    /// Writes; the database must exist (`downgrade`, `stamp`).
    Write,
    /// Writes, creating a missing file (`upgrade`).
    Create,
    /// Only reads, through a read-only connection (`--sql`, `--dry-run`).
    /// With `missing_is_empty`, a missing file reads as an empty database
    /// (what `upgrade` would create) and is not created.
    Preview {
        /// A missing file is an empty database.
        missing_is_empty: bool,
    },
}

/// An open database.
#[derive(Debug)]
pub struct Database {
    /// The connection.
    pub conn: Connection,
    /// True when this command created the file (`upgrade` of a database
    /// that did not exist): there was nothing to back up.
    pub created: bool,
}

/// Opens the database for `verb`.
///
/// # Errors
///
/// [`DatabaseError::Missing`] when the file does not exist and `access`
/// does not create it; [`DatabaseError::ReadOnly`] when a writing verb gets a
/// read-only database; [`DatabaseError::NotADatabase`] for a file that is
/// not SQLite; [`DatabaseError::Open`] when SQLite cannot open it.
pub fn open(
    url: &SqliteUrl,
    access: Access,
    verb: &'static str,
) -> Result<Database, DatabaseError> {
    let shown = url.shown.clone();
    let path = match &url.location {
        Location::Memory => {
            let conn = Connection::open_in_memory().map_err(|err| DatabaseError::Open {
                url: shown.clone(),
                message: err.to_string(),
            })?;
            return Ok(Database {
                conn,
                created: false,
            });
        }
        Location::File(path) => path,
    };
    let exists = path.exists();
    let creates = access == Access::Create && url.may_create && !url.read_only;
    if !exists && !creates {
        if access
            == (Access::Preview {
                missing_is_empty: true,
            })
        {
            tracing::info!(database = %shown, "the database does not exist yet: planning from an empty one");
            return open(
                &SqliteUrl {
                    location: Location::Memory,
                    ..url.clone()
                },
                access,
                verb,
            );
        }
        return Err(DatabaseError::Missing { url: shown });
    }
    let read_only = url.read_only || matches!(access, Access::Preview { .. });
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY
    } else if creates {
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
    } | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    tracing::debug!(database = %shown, ?access, "opening");
    let conn = Connection::open_with_flags(path, flags).map_err(|err| {
        // SQLite's message ends with the path as given, which the URL in
        // front already names (redacted).
        let message = err.to_string();
        let unnamed = message
            .strip_suffix(&format!(": {}", path.display()))
            .unwrap_or(&message);
        DatabaseError::Open {
            url: shown.clone(),
            message: unnamed.to_owned(),
        }
    })?;
    check_readable(&conn, &shown)?;
    if matches!(access, Access::Write | Access::Create)
        && (url.read_only || (exists && !writable(path)))
    {
        return Err(DatabaseError::ReadOnly { url: shown, verb });
    }
    Ok(Database {
        conn,
        created: !exists,
    })
}

/// Whether this process may write the file: SQLite would otherwise open a
/// write-protected file read-only without a word and fail at the first
/// write. Opening for append writes nothing.
fn writable(path: &Path) -> bool {
    std::fs::OpenOptions::new().append(true).open(path).is_ok()
}

/// SQLite opens any file lazily: read its header now, so that a file that
/// is not a database gets a message naming it.
fn check_readable(conn: &Connection, shown: &str) -> Result<(), DatabaseError> {
    match conn.pragma_query_value(None, "schema_version", |row| row.get::<_, i64>(0)) {
        Ok(_) => Ok(()),
        Err(rusqlite::Error::SqliteFailure(code, _)) if code.code == ErrorCode::NotADatabase => {
            Err(DatabaseError::NotADatabase {
                url: shown.to_owned(),
            })
        }
        Err(err) => Err(DatabaseError::Open {
            url: shown.to_owned(),
            message: err.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_survive_redaction() {
        for (url, shown) in [
            (
                "postgres://admin:hunter2@127.0.0.1:1/app",
                "postgres://admin:***@127.0.0.1:1/app",
            ),
            (
                "postgresql://admin:p%40ss@db/app",
                "postgresql://admin:***@db/app",
            ),
            // An unencoded `@` or `/` in the password: hidden whole.
            (
                "mysql://root:a@b/c:d@localhost/app",
                "mysql://root:***@localhost/app",
            ),
            (
                "mariadb://root@localhost/app",
                "mariadb://root@localhost/app",
            ),
            (
                "postgres://db/app?user=a&password=hunter2&sslmode=require",
                "postgres://db/app?user=a&password=***&sslmode=require",
            ),
            ("postgres://db/app?PWD=hunter2", "postgres://db/app?PWD=***"),
            ("sqlite://app.db?mode=ro", "sqlite://app.db?mode=ro"),
            ("data/app.db", "data/app.db"),
            (
                "sqlite:app.db?password=hunter2",
                "sqlite:app.db?password=***",
            ),
        ] {
            assert_eq!(redact(url), shown, "{url}");
            assert!(!redact(url).contains("hunter2"));
        }
    }

    fn sqlite(url: &str) -> SqliteUrl {
        match parse_url(url).unwrap() {
            DatabaseUrl::Sqlite(url) => url,
            DatabaseUrl::Server(server) => panic!("{url} is not SQLite: {server:?}"),
        }
    }

    #[test]
    fn sqlite_urls_name_files_and_modes() {
        let file = |url: &str| sqlite(url).location;
        assert_eq!(file("sqlite://app.db"), Location::File("app.db".into()));
        assert_eq!(
            file("sqlite:///tmp/app.db"),
            Location::File("/tmp/app.db".into())
        );
        assert_eq!(file("sqlite:app.db"), Location::File("app.db".into()));
        assert_eq!(file("SQLite:app.db"), Location::File("app.db".into()));
        assert_eq!(file("./app.db"), Location::File("./app.db".into()));
        assert_eq!(file("sqlite::memory:"), Location::Memory);
        assert_eq!(file("sqlite://x.db?mode=memory"), Location::Memory);
        let ro = sqlite("sqlite://app.db?mode=ro");
        assert!(ro.read_only && ro.may_create);
        let rw = sqlite("sqlite://app.db?mode=rw");
        assert!(!rw.read_only && !rw.may_create);
    }

    #[test]
    fn server_urls_pick_the_engine_and_keep_the_password_out_of_debug() {
        let server = |url: &str| match parse_url(url).unwrap() {
            DatabaseUrl::Server(server) => server,
            DatabaseUrl::Sqlite(sqlite) => panic!("{url} is not a server: {sqlite:?}"),
        };
        for (url, engine, connect, dialect) in [
            (
                "postgres://u:hunter2@h/db",
                Engine::Postgres,
                "postgres://u:hunter2@h/db",
                Dialect::Postgres,
            ),
            (
                "PostgreSQL://h/db",
                Engine::Postgres,
                "PostgreSQL://h/db",
                Dialect::Postgres,
            ),
            (
                "mysql://root:hunter2@h:3306/db",
                Engine::MySql,
                "mysql://root:hunter2@h:3306/db",
                Dialect::MySql,
            ),
            // sqlx knows MariaDB as MySQL.
            (
                "mariadb://root:hunter2@h/db",
                Engine::MySql,
                "mysql://root:hunter2@h/db",
                Dialect::MySql,
            ),
            (
                "MariaDB://h/db",
                Engine::MySql,
                "mysql://h/db",
                Dialect::MySql,
            ),
        ] {
            let parsed = server(url);
            assert_eq!(
                (parsed.engine, parsed.connect_url()),
                (engine, connect),
                "{url}"
            );
            assert_eq!(parse_url(url).unwrap().dialect(), dialect);
            assert_eq!(parsed.shown, redact(url));
            assert!(!format!("{parsed:?}").contains("hunter2"), "{parsed:?}");
            assert!(!format!("{:?}", parse_url(url).unwrap()).contains("hunter2"));
        }
        assert_eq!(parse_url("app.db").unwrap().dialect(), Dialect::Sqlite);
    }

    #[test]
    fn scrub_hides_every_form_of_the_password() {
        let url = "postgres://app:p%40ss-word@db/app?sslpassword=k3y&mode=x";
        assert_eq!(
            scrub("p@ss-word, p%40ss-word and k3y; not pass", url),
            "***, *** and ***; not pass"
        );
        // No password: nothing to hide.
        assert_eq!(scrub("text", "postgres://app@db/app"), "text");
        assert_eq!(scrub("text", "postgres://app:@db/app"), "text");
        assert_eq!(percent_decoded("a%2Fb%zz%"), "a/b%zz%");
    }

    #[test]
    fn other_urls_are_refused_by_name() {
        let message = |url: &str| parse_url(url).unwrap_err().to_string();
        assert_eq!(
            message("http://u:hunter2@h/db"),
            "http://u:***@h/db: `http` is not a database migrate knows; use sqlite://path (or a path to a SQLite file), postgres://… or mysql://…"
        );
        assert_eq!(
            message("sqlite://app.db?cache=shared"),
            "sqlite://app.db?cache=shared: `cache=shared` is not a SQLite URL option migrate knows; the only option is `mode=ro`, `mode=rw`, `mode=rwc` or `mode=memory`"
        );
        assert_eq!(
            message("sqlite://app.db?password=hunter2"),
            "sqlite://app.db?password=***: `password=***` is not a SQLite URL option migrate knows; the only option is `mode=ro`, `mode=rw`, `mode=rwc` or `mode=memory`"
        );
    }
}
