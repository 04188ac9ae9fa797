//! Which databases a command names when it names several: every
//! `--database-url`, then the lines of `--databases FILE`, then the files of
//! `--sqlite-glob`, in that order, each named once.
//!
//! Every URL is read before any database is touched, so that a typo on
//! line 40 of a tenant list stops the command before the first tenant
//! changes.

use std::path::{Path, PathBuf};

use crate::cli::Cli;
use crate::db::{self, DatabaseError, DatabaseUrl, Location, SqliteUrl};
use crate::glob::{self, GlobError};

/// Why the list of databases cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// A `--database-url` is not a URL migrate knows.
    #[error(transparent)]
    Url(#[from] DatabaseError),

    /// The `--databases` file could not be read.
    #[error("cannot read the database list {}: {message}", file.display())]
    Read {
        /// The file.
        file: PathBuf,
        /// What went wrong.
        message: String,
    },

    /// A line of the `--databases` file is not a URL migrate knows.
    #[error("{}, line {line}: {source}", file.display())]
    Line {
        /// The file.
        file: PathBuf,
        /// The 1-based line number.
        line: usize,
        /// What is wrong with it.
        source: DatabaseError,
    },

    /// The `--databases` file lists nothing.
    #[error(
        "the database list {} names no database; write one URL per line (lines starting with `#` are comments)",
        file.display()
    )]
    Empty {
        /// The file.
        file: PathBuf,
    },

    /// `--sqlite-glob` found nothing, or could not look.
    #[error(transparent)]
    Glob(#[from] GlobError),

    /// One database named twice, which would run twice at once.
    #[error("the database {database} is named twice; name each database once")]
    Twice {
        /// The database as shown (redacted).
        database: String,
    },
}

/// The databases `cli` names, in order.
///
/// # Errors
///
/// A URL that is not one migrate knows (naming the file and line when it
/// comes from `--databases`), an unreadable or empty list, a glob that
/// matches nothing, a database named twice.
pub fn gather(cli: &Cli) -> Result<Vec<DatabaseUrl>, SourceError> {
    let mut databases = Vec::new();
    for url in &cli.database_url {
        databases.push(db::parse_url(url)?);
    }
    if let Some(file) = &cli.databases {
        databases.extend(read_list(file)?);
    }
    if let Some(pattern) = &cli.sqlite_glob {
        databases.extend(glob::expand(pattern)?.into_iter().map(sqlite_file));
    }
    let mut seen = std::collections::HashSet::new();
    for url in &databases {
        if let Some(identity) = identity(url)
            && !seen.insert(identity)
        {
            return Err(SourceError::Twice {
                database: url.shown().to_owned(),
            });
        }
    }
    Ok(databases)
}

/// The URLs of a `--databases` file: one per line, surrounding blanks
/// trimmed; blank lines and lines starting with `#` skipped.
fn read_list(file: &Path) -> Result<Vec<DatabaseUrl>, SourceError> {
    let text = std::fs::read_to_string(file).map_err(|err| SourceError::Read {
        file: file.to_path_buf(),
        message: err.to_string(),
    })?;
    let urls = text
        .lines()
        .enumerate()
        .map(|(at, line)| (at + 1, line.trim()))
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
        .map(|(line, url)| {
            db::parse_url(url).map_err(|source| SourceError::Line {
                file: file.to_path_buf(),
                line,
                source,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if urls.is_empty() {
        return Err(SourceError::Empty {
            file: file.to_path_buf(),
        });
    }
    Ok(urls)
}

/// A file the glob found, shown as its path.
fn sqlite_file(path: PathBuf) -> DatabaseUrl {
    DatabaseUrl::Sqlite(SqliteUrl {
        shown: path.display().to_string(),
        location: Location::File(path),
        read_only: false,
        may_create: true,
    })
}

/// What makes two entries one database: a SQLite file's canonical path
/// (or, when it does not exist yet, its absolute path), a server URL as it connects. In-memory databases are
/// each their own.
fn identity(url: &DatabaseUrl) -> Option<String> {
    match url {
        DatabaseUrl::Sqlite(SqliteUrl {
            location: Location::File(path),
            ..
        }) => Some(
            std::fs::canonicalize(path)
                .or_else(|_| std::path::absolute(path))
                .unwrap_or_else(|_| path.clone())
                .display()
                .to_string(),
        ),
        DatabaseUrl::Sqlite(_) => None,
        DatabaseUrl::Server(server) => Some(server.connect_url().to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn cli(args: &[&str]) -> Cli {
        Cli::try_parse_from([&["migrate"], args, &["status"]].concat()).unwrap()
    }

    #[test]
    fn urls_come_from_the_flags_then_the_file_then_the_glob() {
        let tmp = tempfile::tempdir().unwrap();
        let list = tmp.path().join("tenants.txt");
        std::fs::write(
            &list,
            "# tenants\n\n  sqlite://one.db  \npostgres://app:hunter2@db/t2\n   # indented comment\nmysql://root@db/t3\n",
        )
        .unwrap();
        std::fs::write(tmp.path().join("g1.db"), "").unwrap();
        let glob = format!("{}/g*.db", tmp.path().display());
        let shown: Vec<String> = gather(&cli(&[
            "--database-url",
            "a.db",
            "--database-url",
            "sqlite:b.db",
            "--databases",
            list.to_str().unwrap(),
            "--sqlite-glob",
            &glob,
        ]))
        .unwrap()
        .iter()
        .map(|url| url.shown().to_owned())
        .collect();
        assert_eq!(
            shown,
            [
                "a.db".to_owned(),
                "sqlite:b.db".to_owned(),
                "sqlite://one.db".to_owned(),
                "postgres://app:***@db/t2".to_owned(),
                "mysql://root@db/t3".to_owned(),
                tmp.path().join("g1.db").display().to_string(),
            ]
        );
    }

    #[test]
    fn a_bad_list_is_named_with_its_line() {
        let tmp = tempfile::tempdir().unwrap();
        let list = tmp.path().join("tenants.txt");
        let message = |text: &str| {
            std::fs::write(&list, text).unwrap();
            gather(&cli(&["--databases", list.to_str().unwrap()]))
                .unwrap_err()
                .to_string()
                .replace(&tmp.path().display().to_string(), "[TMP]")
        };
        assert_eq!(
            message("a.db\n# ok\nhttp://u:hunter2@h/db\n"),
            "[TMP]/tenants.txt, line 3: http://u:***@h/db: `http` is not a database migrate knows; use sqlite://path (or a path to a SQLite file, `./` before a name with a colon), postgres://… or mysql://…"
        );
        assert_eq!(
            message("# nothing\n\n"),
            "the database list [TMP]/tenants.txt names no database; write one URL per line (lines starting with `#` are comments)"
        );
        assert_eq!(
            message("a.db\n./a.db\n"),
            "the database ./a.db is named twice; name each database once"
        );
        let missing = tmp.path().join("missing.txt");
        assert_eq!(
            gather(&cli(&["--databases", missing.to_str().unwrap()]))
                .unwrap_err()
                .to_string(),
            format!(
                "cannot read the database list {}: No such file or directory (os error 2)",
                missing.display()
            )
        );
    }
}
