//! SQLite files for the benchmarks: fresh files in a given journal mode,
//! copies of templates, the commit counter, and the checks every run ends
//! with.

use std::io::Read;
use std::path::{Path, PathBuf};

use rusqlite::Connection;

/// SQLite's journal modes the comparison runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JournalMode {
    /// The rollback journal, SQLite's default.
    Delete,
    /// Write-ahead logging.
    Wal,
}

impl JournalMode {
    /// Both, in the order the tables show them.
    pub const ALL: [JournalMode; 2] = [JournalMode::Delete, JournalMode::Wal];

    /// The pragma's value.
    pub fn as_str(self) -> &'static str {
        match self {
            JournalMode::Delete => "DELETE",
            JournalMode::Wal => "WAL",
        }
    }
}

/// The files SQLite may keep beside a database.
fn companions(path: &Path) -> [PathBuf; 4] {
    let with = |suffix: &str| {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    };
    [
        path.to_owned(),
        with("-journal"),
        with("-wal"),
        with("-shm"),
    ]
}

/// Deletes a database and its journal files, if present.
pub fn remove(path: &Path) {
    for file in companions(path) {
        let _ = std::fs::remove_file(file);
    }
}

/// Creates an empty database in `mode` (WAL is recorded in the file, so
/// every tool's connection then uses it).
///
/// # Errors
///
/// A SQLite error.
pub fn fresh(path: &Path, mode: JournalMode) -> Result<(), Box<dyn std::error::Error>> {
    remove(path);
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", mode.as_str())?;
    conn.close().map_err(|(_, err)| err)?;
    settle(path)?;
    Ok(())
}

/// Switches an existing database to `mode`.
///
/// # Errors
///
/// A SQLite error.
pub fn set_journal_mode(path: &Path, mode: JournalMode) -> Result<(), Box<dyn std::error::Error>> {
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", mode.as_str())?;
    conn.close().map_err(|(_, err)| err)?;
    settle(path)?;
    Ok(())
}

/// Flushes a file just written (and its directory entry) to the disk, so
/// that the next run's first fsync pays only for its own writes.
fn settle(path: &Path) -> std::io::Result<()> {
    std::fs::File::open(path)?.sync_all()?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Copies a closed, checkpointed template database to `path`, flushed to
/// the disk.
///
/// # Errors
///
/// An I/O error.
pub fn copy(template: &Path, path: &Path) -> std::io::Result<()> {
    remove(path);
    std::fs::copy(template, path)?;
    settle(path)
}

/// Folds a WAL template's log into the main file, so that the main file
/// alone is the whole database and can be copied.
///
/// # Errors
///
/// A SQLite error.
pub fn checkpoint(path: &Path) -> rusqlite::Result<()> {
    let conn = Connection::open(path)?;
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    conn.close().map_err(|(_, err)| err)
}

/// SQLite's file change counter: the 4-byte big-endian integer at offset 24
/// of the database header. In rollback-journal (DELETE) mode every
/// committed write transaction increments it, so the difference across a
/// run is the run's commit count; in WAL mode SQLite does not maintain it.
pub fn change_counter(path: &Path) -> u32 {
    let mut header = [0u8; 28];
    match std::fs::File::open(path).and_then(|mut file| file.read_exact(&mut header)) {
        Ok(()) => u32::from_be_bytes([header[24], header[25], header[26], header[27]]),
        // An empty file: nothing committed yet.
        Err(_) => 0,
    }
}

/// How many of the generated tables (`t1`, `t2`, …) a database holds.
///
/// # Errors
///
/// A SQLite error.
pub fn generated_tables(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name GLOB 't[0-9]*'",
        [],
        |row| row.get(0),
    )
}

/// Rows in `table`, or 0 when it does not exist.
///
/// # Errors
///
/// A SQLite error other than a missing table.
pub fn rows(conn: &Connection, table: &str) -> rusqlite::Result<i64> {
    let exists: bool = conn.query_row(
        "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = ?1",
        [table],
        |row| row.get(0),
    )?;
    if !exists {
        return Ok(0);
    }
    conn.query_row(&format!("SELECT count(*) FROM \"{table}\""), [], |row| {
        row.get(0)
    })
}
