//! Which database a `--database-url` names: a SQLite file (or memory) by
//! its URL or plain path, or a PostgreSQL or MySQL/MariaDB server by its
//! scheme.
//!
//! A server URL ([`ServerUrl`]) keeps the URL it connects with private and
//! prints, even in `Debug`, only the redacted one.

use std::fmt;
use std::path::PathBuf;

use migrate::Dialect;

use super::error::DatabaseError;
use super::redact::{driver_key, is_secret, redact, redact_key, redact_query};

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

/// A server URL: the URL to connect with, which is never shown, and the
/// redacted one for messages. `Debug` shows only the redacted one.
#[derive(Clone, PartialEq, Eq)]
pub struct ServerUrl {
    /// Which server: PostgreSQL or MySQL/MariaDB, never SQLite.
    dialect: Dialect,
    /// The URL as shown in messages (redacted).
    pub shown: String,
    /// The URL sqlx connects with (`mariadb://` spelled `mysql://`).
    connect: String,
}

impl ServerUrl {
    /// Which server: [`Dialect::Postgres`] or [`Dialect::MySql`] (a SQLite
    /// URL is a [`SqliteUrl`]).
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The URL to connect with, password and all: for the driver only.
    pub fn connect_url(&self) -> &str {
        &self.connect
    }
}

impl fmt::Debug for ServerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerUrl")
            .field("dialect", &self.dialect)
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
            DatabaseUrl::Server(server) => server.dialect,
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
    if url.is_empty() {
        return Err(DatabaseError::Empty);
    }
    super::redact::remember(url);
    let shown = redact(url);
    if url.contains(|c: char| c.is_ascii_control()) {
        return Err(DatabaseError::ControlCharacter { url: shown });
    }
    let scheme = scheme_of(url);
    let server = |dialect, connect: String| {
        let after = &connect[connect.find("://").map_or(0, |at| at + 3)..];
        if dialect == Dialect::MySql && database_of(after).is_empty() {
            return Err(DatabaseError::NoDatabaseName { url: shown.clone() });
        }
        // Read in the URL as shown: a `?` in a password (which needs
        // `%3F`) is no query, and is hidden there.
        let shown_after = &shown[shown.find("://").map_or(0, |at| at + 3)..];
        if let Some(key) = unknown_parameter(dialect, shown_after) {
            return Err(DatabaseError::UnknownParameter {
                url: redact_key(&shown, &key),
                dialect,
                key,
            });
        }
        Ok(DatabaseUrl::Server(ServerUrl {
            dialect,
            shown: shown.clone(),
            connect,
        }))
    };
    let lower = scheme.map(str::to_ascii_lowercase);
    if let (Some(scheme), Some("postgres" | "postgresql" | "mysql" | "mariadb")) =
        (scheme, lower.as_deref())
        && !url[scheme.len() + 1..].starts_with("//")
    {
        return Err(DatabaseError::NoSlashes {
            scheme: scheme.to_owned(),
            example: format!(
                "{}://user:password@host/database",
                scheme.to_ascii_lowercase()
            ),
        });
    }
    // A SQLite file takes no user or password: a path that reads as one
    // (and is hidden as one) is refused, never made a file name.
    let credentials = || shown.split('?').next() != url.split('?').next();
    let path_and_query = match lower.as_deref() {
        Some("sqlite") if credentials() => {
            return Err(DatabaseError::SqliteCredentials { url: shown });
        }
        Some("sqlite") => {
            let rest = &url["sqlite:".len()..];
            rest.strip_prefix("//").unwrap_or(rest)
        }
        Some("postgres" | "postgresql") => return server(Dialect::Postgres, url.to_owned()),
        Some("mysql") => return server(Dialect::MySql, url.to_owned()),
        // sqlx knows MariaDB as MySQL.
        Some("mariadb") => {
            return server(Dialect::MySql, format!("mysql{}", &url["mariadb".len()..]));
        }
        Some("file") => url,
        // Another scheme is refused, never taken for a file name, where
        // it is plainly one: another tool's URL, a misspelt scheme of
        // ours, credentials (`user:password@`). A file name with a colon
        // in it (`data:2026.db`) is still a path.
        Some(other) if not_a_file_name(other, &url[other.len() + 1..]) => {
            return Err(DatabaseError::UnknownScheme {
                scheme: other.to_owned(),
                url: shown,
            });
        }
        // `postgres//…`: a scheme of ours, its colon missing.
        None if let Some(scheme) = SCHEMES.into_iter().find(|scheme| {
            url.get(..scheme.len() + 2)
                .is_some_and(|start| start.eq_ignore_ascii_case(&format!("{scheme}//")))
        }) =>
        {
            return Err(DatabaseError::NoColon {
                url: shown,
                scheme: scheme.to_owned(),
            });
        }
        _ if credentials() => {
            return Err(DatabaseError::SqliteCredentials { url: shown });
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
    if path_and_query
        .get(..5)
        .is_some_and(|file| file.eq_ignore_ascii_case("file:"))
    {
        let file = path_and_query[5..].split('?').next().unwrap_or_default();
        return Err(DatabaseError::FileUri {
            file: file.strip_prefix("//").unwrap_or(file).to_owned(),
            url: shown,
        });
    }
    if path_and_query.split('?').next().is_some_and(str::is_empty) {
        return Err(DatabaseError::NoFile { url: shown });
    }
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

/// The schemes migrate reads.
const SCHEMES: [&str; 5] = ["sqlite", "postgres", "postgresql", "mysql", "mariadb"];

/// Whether `scheme:rest` is plainly a URL rather than a file name with a
/// colon: `//` or a known scheme after the colon, a user's credentials
/// (`@`), another tool's scheme, or one of ours misspelt.
fn not_a_file_name(scheme: &str, rest: &str) -> bool {
    const OTHERS: [&str; 22] = [
        "jdbc",
        "odbc",
        "http",
        "https",
        "ftp",
        "redis",
        "rediss",
        "mongodb",
        "mongodb+srv",
        "mssql",
        "sqlserver",
        "oracle",
        "cockroachdb",
        "crdb",
        "clickhouse",
        "sqlite3",
        "libsql",
        "turso",
        "duckdb",
        "redshift",
        "snowflake",
        "tidb",
    ];
    let scheme = scheme.to_ascii_lowercase();
    rest.starts_with("//")
        || scheme_of(rest).is_some_and(|inner| {
            SCHEMES
                .iter()
                .chain(&["file"])
                .any(|known| inner.eq_ignore_ascii_case(known))
        })
        || rest.contains('@')
        || OTHERS.contains(&scheme.as_str())
        || (scheme.len() >= 4 && SCHEMES.iter().any(|ours| edits(&scheme, ours) <= 2))
}

/// The number of one-letter edits (insert, delete, replace) from `a` to `b`.
fn edits(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

/// The query parameters each server's driver (sqlx) reads, by the key it
/// matches; it ignores any other, so a typo (`?ssl_mode=require`) would
/// connect without TLS and `?password=` on MySQL without the password.
/// The first spelling of each is the one a message suggests.
const PARAMETERS: [(Dialect, &[&[&str]]); 2] = [
    (
        Dialect::Postgres,
        &[
            &["sslmode", "ssl-mode"],
            &["sslrootcert", "ssl-root-cert", "ssl-ca"],
            &["sslcert", "ssl-cert"],
            &["sslkey", "ssl-key"],
            &["host"],
            &["hostaddr"],
            &["port"],
            &["dbname"],
            &["user"],
            &["password"],
            &["application_name"],
            &["options"],
            &["statement-cache-capacity"],
        ],
    ),
    (
        Dialect::MySql,
        &[
            &["sslmode", "ssl-mode"],
            &["sslca", "ssl-ca"],
            &["sslcert", "ssl-cert"],
            &["sslkey", "ssl-key"],
            &["charset"],
            &["collation"],
            &["socket"],
            &["timezone", "time-zone"],
            &["statement-cache-capacity"],
        ],
    ),
];

/// The parameters `dialect`'s driver reads.
fn parameters(dialect: Dialect) -> &'static [&'static [&'static str]] {
    PARAMETERS
        .iter()
        .find(|(of, _)| *of == dialect)
        .map_or(&[], |(_, keys)| keys)
}

/// The first query parameter of a server URL (what follows its `//`)
/// that the driver would ignore, its key as written.
fn unknown_parameter(dialect: Dialect, after_slashes: &str) -> Option<String> {
    let query = after_slashes.split('#').next()?.split_once('?')?.1;
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| pair.split_once('=').map_or(pair, |(key, _)| key))
        .find(|key| {
            let read = driver_key(key);
            let indexed =
                dialect == Dialect::Postgres && read.starts_with("options[") && read.ends_with(']');
            !indexed
                && !parameters(dialect)
                    .iter()
                    .flat_map(|keys| keys.iter())
                    .any(|known| *known == read)
        })
        .map(str::to_owned)
}

/// What to write instead of the parameter `key`, which the driver ignores.
pub(super) fn parameter_hint(dialect: Dialect, key: &str) -> String {
    if driver_key(key).eq_ignore_ascii_case("sslpassword") {
        return "the driver reads no passphrase for a client key: give it a key file without one (`sslkey=`)"
            .to_owned();
    }
    match (dialect, is_secret(key)) {
        (Dialect::MySql, true) => {
            "put the password in the URL itself: mysql://user:password@host/database".to_owned()
        }
        (_, true) => {
            "write it as `password=`, or in the URL itself: postgres://user:password@host/database"
                .to_owned()
        }
        _ => {
            let mut known: Vec<&str> = parameters(dialect).iter().map(|keys| keys[0]).collect();
            if dialect == Dialect::Postgres {
                known.push("options[NAME]");
            }
            format!(
                "the parameters it reads, spelt as here, are {}",
                known.join(", ")
            )
        }
    }
}

/// Where what follows `text`'s scheme and its `:` starts (0 without one).
pub(crate) fn scheme_end(text: &str) -> usize {
    scheme_of(text).map_or(0, |scheme| scheme.len() + 1)
}

/// The scheme of `url`: what stands before its first `:`, when that is a
/// scheme's shape (a letter, then letters, digits, `+`, `.` or `-`) and
/// longer than a Windows drive letter.
fn scheme_of(url: &str) -> Option<&str> {
    let (scheme, _) = url.split_once(':')?;
    (scheme.len() > 1
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c)))
    .then_some(scheme)
}

/// The database name of a server URL after its `//`, as sqlx reads it: the
/// path after the host, without its leading `/` (empty when there is none).
fn database_of(after_slashes: &str) -> &str {
    let end = after_slashes
        .find(['?', '#'])
        .unwrap_or(after_slashes.len());
    let before_query = &after_slashes[..end];
    let authority_end = before_query.find('/').unwrap_or(before_query.len());
    before_query[authority_end..].trim_start_matches('/')
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn server_urls_pick_the_dialect_and_keep_the_password_out_of_debug() {
        let server = |url: &str| match parse_url(url).unwrap() {
            DatabaseUrl::Server(server) => server,
            DatabaseUrl::Sqlite(sqlite) => panic!("{url} is not a server: {sqlite:?}"),
        };
        for (url, connect, dialect) in [
            (
                "postgres://u:hunter2@h/db",
                "postgres://u:hunter2@h/db",
                Dialect::Postgres,
            ),
            ("PostgreSQL://h/db", "PostgreSQL://h/db", Dialect::Postgres),
            (
                "mysql://root:hunter2@h:3306/db",
                "mysql://root:hunter2@h:3306/db",
                Dialect::MySql,
            ),
            // sqlx knows MariaDB as MySQL.
            (
                "mariadb://root:hunter2@h/db",
                "mysql://root:hunter2@h/db",
                Dialect::MySql,
            ),
            ("MariaDB://h/db", "mysql://h/db", Dialect::MySql),
        ] {
            let parsed = server(url);
            assert_eq!(
                (parsed.dialect(), parsed.connect_url()),
                (dialect, connect),
                "{url}"
            );
            assert_eq!(parse_url(url).unwrap().dialect(), dialect);
            assert_eq!(parsed.shown, redact(url));
            assert!(!format!("{parsed:?}").contains("hunter2"), "{parsed:?}");
            assert!(!format!("{:?}", parse_url(url).unwrap()).contains("hunter2"));
        }
        assert_eq!(parse_url("app.db").unwrap().dialect(), Dialect::Sqlite);
    }

    // Regression: `sqlite://admin:hunter2@app.db` made a file of that
    // name, password and all, where messages hid it as a password.
    #[test]
    fn a_sqlite_url_with_a_password_is_refused_and_makes_no_file() {
        for (url, shown) in [
            ("sqlite://admin:hunter2@app.db", "sqlite://admin:***@app.db"),
            (
                "sqlite:admin:hunter2@app.db?mode=ro",
                "sqlite:admin:***@app.db?mode=ro",
            ),
            ("./admin:hunter2@app.db", "./admin:***@app.db"),
        ] {
            assert_eq!(
                parse_url(url).unwrap_err().to_string(),
                format!(
                    "{shown}: a SQLite database takes no user or password; write sqlite://path/to/app.db"
                )
            );
        }
        assert_eq!(
            parse_url("MySQL//root:hunter2@h/app")
                .unwrap_err()
                .to_string(),
            "MySQL//root:***@h/app: a `:` is missing after `mysql`; write mysql://…"
        );
        // An `@` alone is a file name's.
        assert_eq!(
            sqlite("backup@2026.db").location,
            Location::File("backup@2026.db".into())
        );
        assert_eq!(
            parse_url("admin:hunter2@app.db").unwrap_err().to_string(),
            "admin:***@app.db: `admin` is not a database migrate knows; use sqlite://path (or a path to a SQLite file, `./` before a name with a colon), postgres://… or mysql://…"
        );
    }

    #[test]
    fn a_server_parameter_the_driver_would_ignore_is_refused() {
        let message = |url: &str| parse_url(url).unwrap_err().to_string();
        // Read by the driver: kept, in every spelling it reads.
        for url in [
            "postgres://u@h/db?sslmode=require&ssl-root-cert=ca.pem&application_name=app&options[search_path]=x",
            "postgres://u@h/db?password=hunter2&pass%77ord=hunter2&user=u&",
            "postgres://u@h/db?statement-cache-capacity=0#fragment",
            "mysql://u@h/db?ssl-mode=REQUIRED&sslca=ca.pem&charset=utf8mb4&time-zone=%2B00:00",
            "mariadb://u@h/db?socket=/run/mysqld/mysqld.sock&collation=utf8mb4_bin",
        ] {
            assert!(parse_url(url).is_ok(), "{url}: {:?}", parse_url(url));
        }
        let postgres = "sslmode, sslrootcert, sslcert, sslkey, host, hostaddr, port, dbname, user, password, application_name, options, statement-cache-capacity, options[NAME]";
        let mysql = "sslmode, sslca, sslcert, sslkey, charset, collation, socket, timezone, statement-cache-capacity";
        // A `?` in a password (unencoded) starts no query, and none of the
        // password is shown.
        assert!(parse_url("postgres://u:hunter2?x9@h/app").is_ok());
        // Tabs and line breaks, which the URL parser would drop.
        for url in [
            "postgres://u@h/app?pass\tword=hunter2",
            "mysql://u:hunter2\n@h/app",
            "app\r.db",
        ] {
            let message = message(url);
            assert!(
                message.starts_with("the database URL ")
                    && message.ends_with(
                        " holds a control character (a tab or line break, say); remove it"
                    )
                    && !message.contains("hunter2"),
                "{message}"
            );
        }
        for (url, expected) in [
            // A typo that would have connected without TLS.
            (
                "postgres://u:hunter2@h/db?ssl_mode=require",
                format!(
                    "postgres://u:***@h/db?ssl_mode=***: the PostgreSQL driver does not read the parameter `ssl_mode` and would ignore it; the parameters it reads, spelt as here, are {postgres}"
                ),
            ),
            (
                "postgres://u@h/db?sslmode=require&SSLMODE=verify-full",
                format!(
                    "postgres://u@h/db?sslmode=require&SSLMODE=***: the PostgreSQL driver does not read the parameter `SSLMODE` and would ignore it; the parameters it reads, spelt as here, are {postgres}"
                ),
            ),
            (
                "postgres://u@h/db?pwd=hunter2",
                "postgres://u@h/db?pwd=***: the PostgreSQL driver does not read the parameter `pwd` and would ignore it; write it as `password=`, or in the URL itself: postgres://user:password@host/database".to_owned(),
            ),
            // MySQL's driver reads no password parameter at all.
            (
                "mysql://root@h/db?password=hunter2",
                "mysql://root@h/db?password=***: the MySQL/MariaDB driver does not read the parameter `password` and would ignore it; put the password in the URL itself: mysql://user:password@host/database".to_owned(),
            ),
            (
                "mariadb://root@h/db?PASS%77ORD=hunter2",
                "mariadb://root@h/db?PASS%77ORD=***: the MySQL/MariaDB driver does not read the parameter `PASS%77ORD` and would ignore it; put the password in the URL itself: mysql://user:password@host/database".to_owned(),
            ),
            (
                "mysql://root@h/db?sslrootcert=ca.pem",
                format!(
                    "mysql://root@h/db?sslrootcert=***: the MySQL/MariaDB driver does not read the parameter `sslrootcert` and would ignore it; the parameters it reads, spelt as here, are {mysql}"
                ),
            ),
        ] {
            assert_eq!(message(url), expected, "{url}");
            assert!(matches!(
                parse_url(url),
                Err(DatabaseError::UnknownParameter { .. })
            ));
        }
    }

    #[test]
    fn other_urls_are_refused_by_name() {
        let message = |url: &str| parse_url(url).unwrap_err().to_string();
        assert_eq!(
            message("http://u:hunter2@h/db"),
            "http://u:***@h/db: `http` is not a database migrate knows; use sqlite://path (or a path to a SQLite file, `./` before a name with a colon), postgres://… or mysql://…"
        );
        // Without `//` too, and never as a file name: a misspelt scheme
        // or another tool's.
        for (url, shown, scheme) in [
            (
                "postgress:user:hunter2@127.0.0.1/x",
                "postgress:user:***@127.0.0.1/x",
                "postgress",
            ),
            ("jdbc:x", "jdbc:x", "jdbc"),
            ("sqlite3:app.db", "sqlite3:app.db", "sqlite3"),
            ("redis:foo", "redis:foo", "redis"),
            ("myslq:app", "myslq:app", "myslq"),
        ] {
            assert_eq!(
                message(url),
                format!(
                    "{shown}: `{scheme}` is not a database migrate knows; use sqlite://path (or a path to a SQLite file, `./` before a name with a colon), postgres://… or mysql://…"
                )
            );
        }
        // A name with a colon is a file, unless it is plainly a URL.
        assert_eq!(
            sqlite("data:2026.db").location,
            Location::File("data:2026.db".into())
        );
        assert_eq!(
            sqlite("backup-12:00.db").location,
            Location::File("backup-12:00.db".into())
        );
        for url in [
            "mysq:app.db",
            "sqlite3:app.db",
            "postgre:x",
            "file2:u:p@h/db",
        ] {
            assert!(parse_url(url).is_err(), "{url}");
        }
        assert_eq!(
            sqlite("./a:b.db").location,
            Location::File("./a:b.db".into())
        );
        assert_eq!(
            sqlite("sqlite:a:b.db").location,
            Location::File("a:b.db".into())
        );
        assert_eq!(
            sqlite("C:/data/app.db").location,
            Location::File("C:/data/app.db".into())
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
