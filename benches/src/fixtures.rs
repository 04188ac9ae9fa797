//! Synthetic migration sets of any size, written in each tool's naming form.
//!
//! Every migration creates one table (`t{v}`) with an index and three rows,
//! and every tenth also adds a column to an earlier table and updates it, so
//! a set of N migrations leaves exactly N tables `t1..tN`: the count the
//! benchmarks check after every run. The SQL is portable between SQLite and
//! PostgreSQL (explicit ids, no SQLite-only syntax), so one generator serves
//! both. Sets are generated at bench time into temporary directories; none is
//! committed.

use std::io;
use std::path::Path;

/// The N of the benchmarks.
pub const SIZES: [usize; 4] = [10, 100, 1_000, 10_000];

/// One generated migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generated {
    /// 1-based.
    pub version: i64,
    /// `create_t{version}`.
    pub name: String,
    /// The up script.
    pub sql: String,
}

/// A file naming form. (rusqlite_migration takes no files: its form is a
/// list of `M::up(sql)` built from [`Generated::sql`].)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// migrate's own `{version}_{name}.sql` (up only).
    Migrate,
    /// refinery's (and Flyway's) `V{version}__{name}.sql`.
    Refinery,
    /// sqlx's `{version}_{name}.sql` (a simple, up-only migration).
    Sqlx,
}

impl Style {
    /// The file name of a migration in this form.
    ///
    /// # Examples
    ///
    /// ```
    /// let m = &benches::fixtures::generate(1)[0];
    /// assert_eq!(benches::fixtures::Style::Refinery.file_name(m), "V1__create_t1.sql");
    /// ```
    pub fn file_name(self, migration: &Generated) -> String {
        match self {
            Style::Migrate | Style::Sqlx => format!("{}_{}.sql", migration.version, migration.name),
            Style::Refinery => format!("V{}__{}.sql", migration.version, migration.name),
        }
    }
}

/// The up script of migration `version`.
fn body(version: i64) -> String {
    let mut sql = format!(
        "-- Migration {version}: a table for feature {version}.\n\
         CREATE TABLE t{version} (\n    \
             id INTEGER PRIMARY KEY,\n    \
             name TEXT NOT NULL,\n    \
             email TEXT,\n    \
             amount INTEGER NOT NULL DEFAULT 0,\n    \
             created_at TEXT NOT NULL DEFAULT '2026-01-01T00:00:00Z'\n\
         );\n\
         CREATE INDEX t{version}_name ON t{version} (name);\n\
         INSERT INTO t{version} (id, name, email, amount) VALUES (1, 'alice', 'alice@example.com', 10);\n\
         INSERT INTO t{version} (id, name, email, amount) VALUES (2, 'bob', 'bob@example.com', 20);\n\
         INSERT INTO t{version} (id, name, email, amount) VALUES (3, 'carol', NULL, 30);\n"
    );
    if version % 10 == 0 {
        let earlier = version - 9;
        sql.push_str(&format!(
            "ALTER TABLE t{earlier} ADD COLUMN note TEXT;\n\
             UPDATE t{earlier} SET note = 'reviewed in {version}' WHERE amount > 10;\n"
        ));
    }
    sql
}

/// Migrations `1..=count`.
///
/// # Examples
///
/// ```
/// let set = benches::fixtures::generate(10);
/// assert_eq!(set.len(), 10);
/// assert!(set[9].sql.contains("ALTER TABLE t1 ADD COLUMN"));
/// ```
pub fn generate(count: usize) -> Vec<Generated> {
    (1..=count as i64)
        .map(|version| Generated {
            version,
            name: format!("create_t{version}"),
            sql: body(version),
        })
        .collect()
}

/// Writes `migrations` into `dir` (created if missing) in `style`.
///
/// # Errors
///
/// An I/O error creating the directory or writing a file.
///
/// # Examples
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let set = benches::fixtures::generate(3);
/// benches::fixtures::write_dir(dir.path(), &set, benches::fixtures::Style::Migrate)?;
/// assert!(dir.path().join("3_create_t3.sql").is_file());
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn write_dir(dir: &Path, migrations: &[Generated], style: Style) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for migration in migrations {
        std::fs::write(dir.join(style.file_name(migration)), &migration.sql)?;
    }
    Ok(())
}

/// Writes `migrations` into `dir` in migrate's form and loads them, as
/// `embed_migrations!` would have them (checksums computed once, here).
///
/// # Errors
///
/// An I/O error writing the files, or the loader's error.
///
/// # Examples
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let set = benches::fixtures::load(dir.path(), &benches::fixtures::generate(5))?;
/// assert_eq!(set.head(), Some(5));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn load(
    dir: &Path,
    migrations: &[Generated],
) -> Result<migrate::Migrations, Box<dyn std::error::Error>> {
    write_dir(dir, migrations, Style::Migrate)?;
    Ok(migrate::Migrations::from_dir(dir)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_loads_the_same_set() {
        let set = generate(20);
        let dir = tempfile::tempdir().unwrap();
        let ours = dir.path().join("ours");
        let refinery_dir = dir.path().join("refinery");
        write_dir(&ours, &set, Style::Migrate).unwrap();
        write_dir(&refinery_dir, &set, Style::Refinery).unwrap();

        let loaded = migrate::Migrations::from_dir(&ours).unwrap();
        assert_eq!(loaded.len(), 20);
        assert_eq!(loaded.head(), Some(20));
        let refinery = refinery::load_sql_migrations(&refinery_dir).unwrap();
        assert_eq!(refinery.len(), 20);
        assert!(refinery.iter().all(|m| m.name().starts_with("create_t")));
    }

    #[test]
    fn a_set_leaves_one_table_per_migration_and_alters_every_tenth() {
        let set = generate(30);
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        for migration in &set {
            conn.execute_batch(&migration.sql).unwrap();
        }
        let tables: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name GLOB 't[0-9]*'",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(tables, 30);
        let notes: i64 = conn
            .query_row(
                "SELECT count(*) FROM t11 WHERE note IS NOT NULL",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(notes, 2, "bob and carol have amount > 10");
    }
}
