//! `.env` (issue 12): the nearest one supplies `DATABASE_URL` and
//! `MIGRATE_DIR` where the command line and the environment leave them
//! unset; `--no-dotenv` ignores it; a line it cannot read is one sentence
//! naming the file and the line, never the line's text.

use std::path::{Path, PathBuf};

use serde_json::json;

use crate::common::{PORTABLE_UPGRADED, Run, migrate_in, migrate_with, workspace};

/// A project directory with a copy of `portable` in `db/migrations`, and
/// its `.env` holding `text`.
struct Project {
    tmp: tempfile::TempDir,
}

impl Project {
    fn new(dotenv: &str) -> Project {
        let project = Project {
            tmp: tempfile::tempdir().unwrap(),
        };
        let dir = project.root().join("db/migrations");
        std::fs::create_dir_all(&dir).unwrap();
        for entry in std::fs::read_dir(portable()).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
        }
        std::fs::write(project.root().join(".env"), dotenv).unwrap();
        project
    }

    fn root(&self) -> &Path {
        self.tmp.path()
    }

    /// The `.env` file, as messages name it.
    fn dotenv(&self) -> String {
        self.root().join(".env").display().to_string()
    }

    /// The versions applied to the SQLite file `name` of the project.
    fn versions(&self, name: &str) -> Vec<i64> {
        let conn = rusqlite::Connection::open(self.root().join(name)).unwrap();
        crate::common::history_rows(&conn)
            .into_iter()
            .map(|row| row.version)
            .collect()
    }
}

fn portable() -> PathBuf {
    workspace().join("fixtures/portable")
}

#[track_caller]
fn upgraded(run: &Run) {
    assert_eq!(crate::common::stable(run.ok()), PORTABLE_UPGRADED);
}

#[test]
fn a_dotenv_file_supplies_the_url_and_the_directory() {
    let project = Project::new(
        "# local settings\nDATABASE_URL=sqlite://app.db\nexport MIGRATE_DIR=db/migrations\nAPI_KEY=k3y\n",
    );
    upgraded(&migrate_in(project.root(), &["upgrade"]));
    assert_eq!(project.versions("app.db"), [1, 2, 3, 4, 5]);
    let current = migrate_in(project.root(), &["current"]);
    assert_eq!(current.ok(), "5 users_item_count (head)\n");
}

/// The nearest `.env` is found in a parent directory; its values are read
/// as the environment's would be, so a relative path is from the current
/// directory.
#[test]
fn a_parent_directory_s_dotenv_is_found() {
    let project = Project::new("");
    let dir = project.root().join("db/migrations").display().to_string();
    std::fs::write(
        project.root().join(".env"),
        format!("DATABASE_URL=sqlite://app.db\nMIGRATE_DIR={dir}\n"),
    )
    .unwrap();
    let deep = project.root().join("src/bin");
    std::fs::create_dir_all(&deep).unwrap();
    upgraded(&migrate_in(&deep, &["upgrade"]));
    assert_eq!(project.versions("src/bin/app.db"), [1, 2, 3, 4, 5]);
    assert!(!project.root().join("app.db").exists());
    // A nearer `.env` wins over the parent's.
    std::fs::write(
        project.root().join("src/.env"),
        format!("DATABASE_URL=sqlite://near.db\nMIGRATE_DIR={dir}\n"),
    )
    .unwrap();
    upgraded(&migrate_in(&deep, &["upgrade"]));
    assert_eq!(project.versions("src/bin/near.db"), [1, 2, 3, 4, 5]);
}

#[test]
fn the_environment_and_the_command_line_win_over_dotenv() {
    let project = Project::new("DATABASE_URL=sqlite://from-file.db\nMIGRATE_DIR=no/such/dir\n");
    let dir = project.root().join("db/migrations").display().to_string();
    let run = migrate_with(
        project.root(),
        &[
            ("DATABASE_URL", "sqlite://from-env.db"),
            ("MIGRATE_DIR", &dir),
        ],
        &["upgrade"],
    );
    upgraded(&run);
    assert_eq!(project.versions("from-env.db"), [1, 2, 3, 4, 5]);
    upgraded(&migrate_in(
        project.root(),
        &[
            "--database-url",
            "sqlite://from-flag.db",
            "--dir",
            &dir,
            "upgrade",
        ],
    ));
    assert_eq!(project.versions("from-flag.db"), [1, 2, 3, 4, 5]);
    // One from each: the file supplies only what is missing.
    let run = migrate_with(
        project.root(),
        &[("MIGRATE_DIR", &dir)],
        &["--json", "database", "create"],
    );
    assert_eq!(
        run.json(),
        json!({"database": "sqlite://from-file.db", "created": true})
    );
    assert!(project.root().join("from-file.db").is_file());
    // Set but empty is set.
    let run = migrate_with(project.root(), &[("DATABASE_URL", "")], &["status"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.starts_with(
            "error: the database URL is empty; name a database with --database-url or DATABASE_URL"
        ),
        "{}",
        run.stderr
    );
}

#[test]
fn no_dotenv_ignores_the_file() {
    let project = Project::new("DATABASE_URL=sqlite://app.db\nMIGRATE_DIR=db/migrations\n");
    let run = migrate_in(project.root(), &["--no-dotenv", "status"]);
    assert_eq!(
        (run.code, run.stdout.as_str(), run.stderr.as_str()),
        (
            2,
            "",
            "error: no database given: pass --database-url URL, or set DATABASE_URL in the environment or in a `.env` file\n\n\
             Usage: migrate [OPTIONS] <COMMAND>\n\nFor more information, try '--help'.\n"
        )
    );
    // Not even read: a broken file is no error.
    std::fs::write(
        project.root().join(".env"),
        "DATABASE_URL sqlite://app.db\n",
    )
    .unwrap();
    let run = migrate_in(project.root(), &["status", "--no-dotenv"]);
    assert!(run.stderr.contains("no database given"), "{run:?}");
    assert!(!project.root().join("app.db").exists());
}

#[test]
fn a_broken_dotenv_is_one_sentence_naming_the_file_and_the_line() {
    let project = Project::new(
        "# local settings\nMIGRATE_DIR=db/migrations\n\nDATABASE_URL: postgres://app:s3cret@db/app\n",
    );
    let sentence = format!(
        "{}, line 4 is not a `NAME=value` line (or opens a quote it never closes), so DATABASE_URL and MIGRATE_DIR cannot be read from it; fix the line, or pass --no-dotenv to ignore the file",
        project.dotenv()
    );
    let run = migrate_in(project.root(), &["status"]);
    assert_eq!(
        (run.code, run.stdout.as_str(), run.stderr),
        (
            2,
            "",
            format!(
                "error: {sentence}\n\nUsage: migrate [OPTIONS] <COMMAND>\n\nFor more information, try '--help'.\n"
            )
        )
    );
    let run = migrate_in(project.root(), &["--json", "-vvv", "status"]);
    assert_eq!(run.code, 2);
    assert_eq!(run.json(), json!({"error": sentence}));
    assert!(!run.stderr.contains("s3cret"), "{}", run.stderr);
    // Read only for what the command line and the environment leave unset.
    let run = migrate_in(
        project.root(),
        &[
            "--database-url",
            "sqlite://app.db",
            "--dir",
            "db/migrations",
            "upgrade",
        ],
    );
    upgraded(&run);
    let run = migrate_with(
        project.root(),
        &[("DATABASE_URL", "sqlite://app.db")],
        &["--dir", "db/migrations", "current"],
    );
    assert_eq!(run.ok(), "5 users_item_count (head)\n");
}

/// With `--sqlite-glob` or `--databases`, the `.env`'s database is not
/// added to the list, as the environment's is not.
#[test]
fn a_dotenv_url_is_not_added_to_a_list() {
    let project = Project::new("DATABASE_URL=sqlite://solo.db\nMIGRATE_DIR=db/migrations\n");
    std::fs::create_dir(project.root().join("tenants")).unwrap();
    upgraded(&migrate_in(
        project.root(),
        &["--database-url", "sqlite://tenants/a.db", "upgrade"],
    ));
    let run = migrate_in(project.root(), &["--sqlite-glob", "tenants/*.db", "status"]);
    assert_eq!(
        crate::common::stable(run.ok()),
        "DATABASE      CURRENT  HEAD  PENDING  DIRTY  DRIFT  RESULT  DURATION\n\
         tenants/a.db  5        5     0        no     no     ok      N ms\n\
         1 database: 1 ok\n"
    );
}
