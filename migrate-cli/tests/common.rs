//! Helpers shared by the tests: running the built `migrate` binary, temporary
//! projects (a SQLite file and a copy of a fixture directory), exact views
//! of a database, and the filters that make output with times stable.

use std::path::{Path, PathBuf};

use rusqlite::Connection;
use serde_json::Value;

/// The workspace root: commands run there, so fixture paths in messages
/// read `fixtures/...`.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// What a run of the binary left.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Stdout as the one JSON document it must be.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|err| {
            panic!(
                "stdout is not one JSON document ({err}): {:?}; exit {}, stderr: {}",
                self.stdout, self.code, self.stderr
            )
        })
    }

    /// Asserts the exit code and that stderr is empty, and returns stdout.
    #[track_caller]
    pub fn ok(&self) -> &str {
        assert_eq!(
            (self.code, self.stderr.as_str()),
            (0, ""),
            "stdout: {}",
            self.stdout
        );
        &self.stdout
    }
}

impl From<std::process::Output> for Run {
    fn from(output: std::process::Output) -> Run {
        Run {
            code: output.status.code().expect("exited, not killed"),
            stdout: String::from_utf8(output.stdout).unwrap(),
            stderr: String::from_utf8(output.stderr).unwrap(),
        }
    }
}

/// Runs `migrate` with `args` in `cwd`, with none of the environment's
/// migrate settings.
pub fn migrate_in(cwd: &Path, args: &[&str]) -> Run {
    migrate_with(cwd, &[], args)
}

/// Runs `migrate` with `args` in `cwd`, with none of the environment's
/// migrate settings but the variables `env` sets.
pub fn migrate_with(cwd: &Path, env: &[(&str, &str)], args: &[&str]) -> Run {
    let mut command = assert_cmd::cargo::cargo_bin_cmd!("migrate");
    command
        .current_dir(cwd)
        .env_remove("DATABASE_URL")
        .env_remove("MIGRATE_DIR")
        .env_remove("RUST_LOG")
        .env_remove("NO_COLOR");
    for (name, value) in env {
        command.env(name, value);
    }
    command.args(args).output().unwrap().into()
}

/// The names of the `app` fixture's migrations, version 1 first.
pub const APP_NAMES: [&str; 6] = [
    "create_users",
    "create_tokens",
    "create_items",
    "index_items_owner",
    "users_display_name",
    "users_item_count",
];

/// What `upgrade` of the `portable` fixture from base prints, durations
/// made stable ([`stable`]).
pub const PORTABLE_UPGRADED: &str = "\
applied 1 create_users (N ms)
applied 2 create_items (N ms)
applied 3 seed_admin (N ms)
applied 4 users_display_name (N ms)
applied 5 users_item_count (N ms)
upgraded from base to 5
";

/// Runs `migrate` with `args` in the workspace root.
pub fn migrate(args: &[&str]) -> Run {
    migrate_in(&workspace(), args)
}

/// `migrate --dir fixtures/portable OPTION VALUE status`: how a database
/// option (`--database-url`, `--databases`) is read, in the workspace.
pub fn portable_status(option: &str, value: &str) -> Run {
    migrate(&["--dir", "fixtures/portable", option, value, "status"])
}

/// A temporary project: a database path (not created) and, when asked, a
/// copy of a fixture directory that tests may edit.
pub struct Project {
    pub tmp: tempfile::TempDir,
    pub db: PathBuf,
    pub dir: PathBuf,
}

impl Project {
    /// A project whose migrations are the fixture `set`, used in place.
    pub fn fixture(set: &str) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        Project {
            db: tmp.path().join("app.db"),
            dir: workspace().join("fixtures").join(set),
            tmp,
        }
    }

    /// A project with its own copy of the fixture `set` in `migrations/`.
    pub fn copy_of(set: &str) -> Self {
        let project = Project::fixture(set);
        let dir = project.tmp.path().join("migrations");
        std::fs::create_dir(&dir).unwrap();
        for entry in std::fs::read_dir(&project.dir).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
        }
        Project { dir, ..project }
    }

    /// A project with the migrations `files` in `migrations/`.
    pub fn with_files(files: &[(&str, &str)]) -> Self {
        let project = Project::fixture("app");
        let dir = project.tmp.path().join("migrations");
        std::fs::create_dir(&dir).unwrap();
        for (name, content) in files {
            std::fs::write(dir.join(name), content).unwrap();
        }
        Project { dir, ..project }
    }

    /// `sqlite://` and the database's absolute path.
    pub fn url(&self) -> String {
        format!("sqlite://{}", self.db.display())
    }

    /// Runs `migrate --database-url URL --dir DIR ARGS...` in the workspace.
    pub fn run(&self, args: &[&str]) -> Run {
        let url = self.url();
        let dir = self.dir.display().to_string();
        let mut all = vec!["--database-url", url.as_str(), "--dir", dir.as_str()];
        all.extend_from_slice(args);
        migrate(&all)
    }

    /// Runs and asserts success; returns stdout.
    #[track_caller]
    pub fn ok(&self, args: &[&str]) -> String {
        self.run(args).ok().to_owned()
    }

    pub fn open(&self) -> Connection {
        Connection::open(&self.db).unwrap()
    }

    /// The applied versions, by version.
    pub fn versions(&self) -> Vec<i64> {
        history_rows(&self.open())
            .into_iter()
            .map(|row| row.version)
            .collect()
    }

    /// Text with this project's temporary directory as `[TMP]`.
    pub fn anonymous(&self, text: &str) -> String {
        text.replace(&self.tmp.path().display().to_string(), "[TMP]")
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
    let exists: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '_migrate_history'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    if exists == 0 {
        return Vec::new();
    }
    let mut statement = conn
        .prepare(
            "SELECT version, name, checksum, down_sql, applied_at, execution_ms, success \
             FROM _migrate_history ORDER BY version",
        )
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

/// The tables, by name (the history table included).
pub fn tables(conn: &Connection) -> Vec<String> {
    conn.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Every schema object but the history table, as SQLite stores it.
pub fn schema(conn: &Connection) -> Vec<(String, String, Option<String>)> {
    let mut statement = conn
        .prepare(
            "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE '%migrate_history%' \
             ORDER BY type, name",
        )
        .unwrap();
    statement
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Every file in `dir` with its bytes, to compare before and after.
pub fn snapshot_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            let bytes = if entry.file_type().unwrap().is_file() {
                std::fs::read(entry.path()).unwrap()
            } else {
                Vec::new()
            };
            (entry.file_name().to_string_lossy().into_owned(), bytes)
        })
        .collect();
    files.sort();
    files
}

/// Replaces each step's `duration_ms` (after checking it is a
/// non-negative integer) with 0, so documents compare exactly.
pub fn zero_durations(mut document: Value) -> Value {
    for key in ["applied", "reverted", "completed"] {
        if let Some(Value::Array(steps)) = document.get_mut(key) {
            for step in steps {
                assert!(step["duration_ms"].is_u64(), "{step}");
                step["duration_ms"] = Value::from(0);
            }
        }
    }
    document
}

/// Output with the times that change from run to run replaced, keeping the
/// width of `applied_at` so tables stay aligned.
pub fn stable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    // `2026-11-21T17:01:56.753938Z`: 27 characters.
    while let Some(at) = rest.find(|c: char| c.is_ascii_digit()) {
        let candidate = &rest[at..];
        if is_timestamp(candidate) {
            out.push_str(&rest[..at]);
            out.push_str("YYYY-MM-DDTHH:MM:SS.ffffffZ");
            rest = &candidate[27..];
        } else {
            let digits = candidate
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(candidate.len());
            let after = &candidate[digits..];
            out.push_str(&rest[..at]);
            if after.starts_with(" ms") {
                out.push('N');
            } else {
                out.push_str(&candidate[..digits]);
            }
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

fn is_timestamp(text: &str) -> bool {
    let shape = "0000-00-00T00:00:00.000000Z";
    text.len() >= shape.len()
        && text.bytes().zip(shape.bytes()).all(|(c, s)| {
            if s == b'0' {
                c.is_ascii_digit()
            } else {
                c == s
            }
        })
}

#[test]
fn stable_replaces_only_times_and_durations() {
    assert_eq!(
        stable("applied 12 a (3 ms)\n1  2026-11-21T17:01:56.753938Z  120 ms\n2024 rows"),
        "applied 12 a (N ms)\n1  YYYY-MM-DDTHH:MM:SS.ffffffZ  N ms\n2024 rows"
    );
}
