//! Opening a SQLite file (or memory) with rusqlite, as a verb needs it:
//! created or not, read-only or not, a missing file read as empty for a
//! preview. A file that cannot serve the verb is refused here, by name,
//! before the library touches it.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags};

use super::error::DatabaseError;
use super::url::{Location, SqliteUrl};

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
    /// For `upgrade` of a database this command may not write (opened
    /// read-only): why, for when there is anything to apply.
    pub read_only: Option<DatabaseError>,
}

/// Opens the database for `verb`; with a `lock_timeout`
/// (`--lock-timeout`), the connection waits that long at most for another
/// connection's lock, so that the library's first query waits no longer
/// than its lock timeout either.
///
/// # Errors
///
/// [`DatabaseError::Missing`] when the file does not exist and `access`
/// does not create it; [`DatabaseError::ReadOnly`] or
/// [`DatabaseError::ReadOnlyFile`] when `downgrade` or `stamp` gets a
/// database it may not write (`upgrade` gets it opened read-only, with the
/// refusal in [`Database::read_only`]); [`DatabaseError::NotADatabase`] for a file that is
/// not SQLite; [`DatabaseError::Open`] when SQLite cannot open it.
pub fn open(
    url: &SqliteUrl,
    access: Access,
    verb: &'static str,
    lock_timeout: Option<Duration>,
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
                read_only: None,
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
                lock_timeout,
            );
        }
        return Err(DatabaseError::Missing { url: shown });
    }
    let writes = matches!(access, Access::Write | Access::Create);
    let refusal = if !writes {
        None
    } else if url.read_only {
        Some(DatabaseError::ReadOnly {
            url: shown.clone(),
            verb,
        })
    } else if path.is_file() && !writable(path) {
        Some(DatabaseError::ReadOnlyFile {
            url: shown.clone(),
            verb,
        })
    } else if path.is_file() && !directory_writable(path) {
        Some(DatabaseError::ReadOnlyDirectory {
            url: shown.clone(),
            directory: directory(path).display().to_string(),
            verb,
        })
    } else {
        None
    };
    // `upgrade` reads a database it may not write, to say whether there
    // is anything to do at all; the other verbs are refused below.
    let read_only = url.read_only || refusal.is_some() || matches!(access, Access::Preview { .. });
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
    check_readable(&conn, &shown, lock_timeout)?;
    match (refusal, access) {
        (Some(refusal), Access::Write) => Err(refusal),
        (read_only, _) => Ok(Database {
            conn,
            created: !exists,
            read_only,
        }),
    }
}

/// Whether this process may write the file: SQLite would otherwise open a
/// write-protected file read-only without a word and fail at the first
/// write. Opening for append writes nothing.
fn writable(path: &Path) -> bool {
    std::fs::OpenOptions::new().append(true).open(path).is_ok()
}

/// The directory that holds the database file.
pub(super) fn directory(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// SQLite writes its journal beside the database: a verb that writes needs
/// to create a file in its directory. Probed by creating (and removing) one.
fn directory_writable(path: &Path) -> bool {
    // One name per probe: tenants in one directory are opened side by side.
    static PROBES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = PROBES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let probe = directory(path).join(format!(".migrate-probe-{}-{n}", std::process::id()));
    let created = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .is_ok();
    if created {
        let _ = std::fs::remove_file(&probe);
    }
    created
}

/// SQLite opens any file lazily: read its header now, so that a file that
/// is not a database gets a message naming it. Asked without waiting: a
/// file that another connection holds locked (a writer's exclusive lock)
/// is a database, and the library waits for it, bounded by the lock
/// timeout, and says so if it gives up. The connection then waits for
/// locks up to `lock_timeout`, or as rusqlite set it.
fn check_readable(
    conn: &Connection,
    shown: &str,
    lock_timeout: Option<Duration>,
) -> Result<(), DatabaseError> {
    let failed = |err: rusqlite::Error| DatabaseError::Open {
        url: shown.to_owned(),
        message: err.to_string(),
    };
    let waits = match lock_timeout {
        // rusqlite panics ("too big") past i32::MAX ms, about 24.8 days.
        Some(timeout) => timeout.min(Duration::from_millis(i32::MAX.unsigned_abs().into())),
        None => Duration::from_millis(
            conn.pragma_query_value(None, "busy_timeout", |row| row.get::<_, i64>(0))
                .map_err(failed)?
                .unsigned_abs(),
        ),
    };
    conn.busy_timeout(Duration::ZERO).map_err(failed)?;
    let read = conn.pragma_query_value(None, "schema_version", |row| row.get::<_, i64>(0));
    conn.busy_timeout(waits).map_err(failed)?;
    match read {
        Ok(_) => Ok(()),
        Err(rusqlite::Error::SqliteFailure(code, _))
            if matches!(
                code.code,
                ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked
            ) =>
        {
            Ok(())
        }
        Err(rusqlite::Error::SqliteFailure(code, _)) if code.code == ErrorCode::NotADatabase => {
            Err(DatabaseError::NotADatabase {
                url: shown.to_owned(),
            })
        }
        Err(err) => Err(failed(err)),
    }
}
