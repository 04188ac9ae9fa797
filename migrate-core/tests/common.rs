//! Helpers shared by the integration tests: fixtures, temporary SQLite
//! files, and exact views of a database (schema, history rows, table rows).

use std::path::{Path, PathBuf};

use rusqlite::Connection;

/// A folder under the workspace's `fixtures/`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures")
        .join(name)
}

/// A fresh SQLite file in its own temporary directory.
pub struct TempDb {
    _dir: tempfile::TempDir,
    pub path: PathBuf,
}

impl TempDb {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.db");
        TempDb { _dir: dir, path }
    }

    pub fn open(&self) -> Connection {
        Connection::open(&self.path).unwrap()
    }
}

/// One history row, every column as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub version: i64,
    pub name: String,
    pub checksum: String,
    pub down_sql: Option<String>,
    pub applied_at: String,
    pub execution_ms: i64,
    pub success: bool,
}

pub fn history_rows(conn: &Connection) -> Vec<Row> {
    history_rows_of(conn, "_migrate_history")
}

pub fn history_rows_of(conn: &Connection, table: &str) -> Vec<Row> {
    let exists: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
            [table],
            |r| r.get(0),
        )
        .unwrap();
    if exists == 0 {
        return Vec::new();
    }
    let mut statement = conn
        .prepare(&format!(
            "SELECT version, name, checksum, down_sql, applied_at, execution_ms, success FROM \"{table}\" ORDER BY version"
        ))
        .unwrap();
    statement
        .query_map([], |r| {
            Ok(Row {
                version: r.get(0)?,
                name: r.get(1)?,
                checksum: r.get(2)?,
                down_sql: r.get(3)?,
                applied_at: r.get(4)?,
                execution_ms: r.get(5)?,
                success: r.get(6)?,
            })
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

pub fn versions(conn: &Connection) -> Vec<i64> {
    history_rows(conn)
        .into_iter()
        .map(|row| row.version)
        .collect()
}

/// The schema (every object but the history table), as SQLite stores it.
pub fn schema(conn: &Connection) -> Vec<(String, String, Option<String>)> {
    let mut statement = conn
        .prepare(
            "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE '_migrate_history%' \
             AND name NOT LIKE 'sqlite_autoindex__migrate_history%' ORDER BY type, name",
        )
        .unwrap();
    statement
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Every row of a table, each rendered as text, in rowid order.
pub fn table_rows(conn: &Connection, table: &str) -> Vec<String> {
    let mut statement = conn
        .prepare(&format!("SELECT * FROM \"{table}\" ORDER BY rowid"))
        .unwrap();
    let columns = statement.column_count();
    statement
        .query_map([], |r| {
            let values: Vec<String> = (0..columns)
                .map(|i| match r.get_ref(i).unwrap() {
                    rusqlite::types::ValueRef::Text(text) => {
                        format!("{:?}", String::from_utf8_lossy(text))
                    }
                    other => format!("{other:?}"),
                })
                .collect();
            Ok(values.join("|"))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Writes `files` into a fresh directory.
pub fn migration_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, content) in files {
        std::fs::write(dir.path().join(name), content).unwrap();
    }
    dir
}
