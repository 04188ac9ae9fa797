//! Backups of SQLite files before an upgrade: where they go and what they
//! are called. The copy itself is the backend's (SQLite's online backup API
//! on rusqlite, `VACUUM INTO` on sqlx), consistent while other connections
//! write.

use std::path::{Path, PathBuf};

use crate::Error;

/// Where an upgrade copies a SQLite database before it changes anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backup {
    /// Beside the database file.
    Beside,
    /// Into this directory (created with mode 0700 if missing).
    Into(PathBuf),
}

/// `<dir>/<stem>.<UTC timestamp>.<current version>.bak` for the database at
/// `database`, created empty with mode 0600 (the copy may hold secrets); the
/// directories it creates on the way get mode 0700 (an existing one is left
/// as it is).
#[cfg_attr(
    not(any(feature = "rusqlite", feature = "sqlx-sqlite")),
    allow(dead_code)
)]
pub(crate) fn create_file(
    backup: &Backup,
    database: &str,
    current: Option<i64>,
) -> Result<PathBuf, Error> {
    if database.is_empty() || database == ":memory:" {
        return Err(Error::Backup {
            path: PathBuf::from("(in memory)"),
            message: "an in-memory database has no file to copy".to_owned(),
        });
    }
    let database = Path::new(database);
    let dir = match backup {
        Backup::Beside => database
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf),
        Backup::Into(dir) => dir.clone(),
    };
    let stem = database
        .file_stem()
        .map_or_else(|| "database".into(), |s| s.to_string_lossy());
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.6fZ");
    let version = current.map_or_else(|| "base".to_owned(), |v| v.to_string());
    let path = dir.join(format!("{stem}.{stamp}.{version}.bak"));
    let fail = |err: std::io::Error| Error::Backup {
        path: path.clone(),
        message: err.to_string(),
    };
    // A directory made here is private, as the copies in it are.
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(&dir).map_err(fail)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(&path).map_err(fail)?;
    Ok(path)
}

/// An upgrade that failed after a backup names the backup.
pub(crate) fn name_backup(err: Error, backup: Option<&PathBuf>) -> Error {
    match backup {
        Some(path) => Error::AfterBackup {
            backup: path.clone(),
            source: Box::new(err),
        },
        None => err,
    }
}
