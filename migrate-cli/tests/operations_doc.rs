//! `docs/operations.md` promises that every command on it is run by a test:
//! this one. It reads the page, runs each line of each `sh` block in order
//! with `sh -c` in a scratch directory (`export` lines become the
//! environment of the lines after them; `migrate` is the binary under test,
//! first on `PATH`), runs each `sql NAME` block on the SQLite file NAME, and
//! checks each command's exit code: 0, or N when the next line is
//! `# exit N`. A `text` block after a `sh` block is the output of that
//! block's last command (durations aside). A few outputs the page promises
//! in words are checked as well.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::backup::{backups, unstamped};
use crate::common::{Run, stable, workspace};

/// One thing the page does, in order.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    /// `export NAME=VALUE`.
    Export(String, String),
    /// A command line and the exit code it must end with.
    Run { line: String, exit: i32 },
    /// SQL typed by hand into the SQLite file `database`.
    Sql { database: String, sql: String },
    /// What the previous command prints on stdout.
    Output(String),
}

/// The steps of the page, with the line number each starts on.
fn steps(page: &str) -> Vec<(usize, Step)> {
    let mut steps: Vec<(usize, Step)> = Vec::new();
    let mut lines = page.lines().enumerate().map(|(at, line)| (at + 1, line));
    while let Some((number, line)) = lines.next() {
        let Some(info) = line.strip_prefix("```") else {
            continue;
        };
        let mut block = Vec::new();
        for (_, line) in lines.by_ref() {
            if line == "```" {
                break;
            }
            block.push((number, line));
        }
        let text = || {
            block
                .iter()
                .map(|(_, line)| format!("{line}\n"))
                .collect::<String>()
        };
        match info.split_once(' ').unwrap_or((info, "")) {
            ("sh", "") => {
                for (offset, (_, line)) in block.iter().enumerate() {
                    let at = number + 1 + offset;
                    if let Some(exit) = line.strip_prefix("# exit ") {
                        match steps.last_mut() {
                            Some((_, Step::Run { exit: code, .. })) => {
                                *code = exit.parse().expect("`# exit N` with a number")
                            }
                            _ => panic!("line {at}: `# exit` must follow a command"),
                        }
                    } else if let Some(assignment) = line.strip_prefix("export ") {
                        let (name, value) = assignment.split_once('=').expect("NAME=VALUE");
                        steps.push((at, Step::Export(name.into(), value.into())));
                    } else if line.starts_with('#') {
                        panic!("line {at}: the only comment a `sh` block may hold is `# exit N`");
                    } else if !line.trim().is_empty() {
                        steps.push((
                            at,
                            Step::Run {
                                line: (*line).to_owned(),
                                exit: 0,
                            },
                        ));
                    }
                }
            }
            ("sql", database) if !database.is_empty() => steps.push((
                number,
                Step::Sql {
                    database: database.to_owned(),
                    sql: text(),
                },
            )),
            ("text", "") => steps.push((number, Step::Output(text()))),
            _ => panic!("line {number}: a block `{info}` the test does not know how to run"),
        }
    }
    steps
}

#[test]
fn the_page_is_read_as_written() {
    let page = "intro\n```sh\nexport A=b\nmigrate x\n# exit 3\n\nmigrate y > f\n```\n\
                ```text\nout\n```\n```sql d.db\nDELETE FROM t;\n```\n";
    assert_eq!(
        steps(page)
            .into_iter()
            .map(|(_, step)| step)
            .collect::<Vec<_>>(),
        [
            Step::Export("A".into(), "b".into()),
            Step::Run {
                line: "migrate x".into(),
                exit: 3
            },
            Step::Run {
                line: "migrate y > f".into(),
                exit: 0
            },
            Step::Output("out\n".into()),
            Step::Sql {
                database: "d.db".into(),
                sql: "DELETE FROM t;\n".into()
            },
        ]
    );
}

/// The scratch directory the page's commands expect.
fn scratch() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let at = |name: &str| tmp.path().join(name);
    let app = workspace().join("fixtures/app");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&app)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    // migrations: the new release (1..=6); migrations-previous: the
    // previous one (1..=4).
    for (dir, versions) in [("migrations", 6), ("migrations-previous", 4)] {
        std::fs::create_dir(at(dir)).unwrap();
        for file in &files {
            let name = file.file_name().unwrap().to_str().unwrap();
            if name[..4].parse::<u32>().unwrap() <= versions {
                std::fs::copy(file, at(dir).join(name)).unwrap();
            }
        }
    }
    // app.db: at the previous release's head.
    let previous = migrate::Migrations::from_dir(at("migrations-previous")).unwrap();
    migrate::run(
        &rusqlite::Connection::open(at("app.db")).unwrap(),
        &previous,
    )
    .unwrap();
    // Three tenants, new (empty) files, listed in tenants.txt as well.
    std::fs::create_dir(at("tenants")).unwrap();
    for tenant in ["acme", "globex", "initech"] {
        std::fs::write(at(&format!("tenants/{tenant}.db")), "").unwrap();
    }
    std::fs::write(
        at("tenants.txt"),
        "# one URL per line\nsqlite://tenants/acme.db\nsqlite://tenants/globex.db\n\nsqlite://tenants/initech.db\n",
    )
    .unwrap();
    // legacy.db: the first two migrations' tables, made by hand.
    let legacy = rusqlite::Connection::open(at("legacy.db")).unwrap();
    for file in ["0001_create_users.up.sql", "0002_create_tokens.up.sql"] {
        legacy
            .execute_batch(&std::fs::read_to_string(app.join(file)).unwrap())
            .unwrap();
    }
    // migrations-dirty: a no-transaction step that fails halfway, after
    // its first statement went through.
    std::fs::create_dir(at("migrations-dirty")).unwrap();
    std::fs::write(
        at("migrations-dirty/0001_create_notes.sql"),
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);\n\
         INSERT INTO notes (body) VALUES ('milk'), ('eggs'), ('milk');\n",
    )
    .unwrap();
    std::fs::write(
        at("migrations-dirty/0002_unique_bodies.sql"),
        "-- migrate:no-transaction\n\
         ALTER TABLE notes ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;\n\
         CREATE UNIQUE INDEX notes_body ON notes (body);\n",
    )
    .unwrap();
    tmp
}

/// Runs `line` with `sh -c` in `dir`, `migrate` first on `PATH`.
fn shell(dir: &Path, line: &str, env: &BTreeMap<String, String>) -> Run {
    let binary = Path::new(env!("CARGO_BIN_EXE_migrate"));
    let path = std::env::join_paths(
        std::iter::once(binary.parent().unwrap().to_path_buf()).chain(std::env::split_paths(
            &std::env::var_os("PATH").unwrap_or_default(),
        )),
    )
    .unwrap();
    Command::new("sh")
        .args(["-c", line])
        .current_dir(dir)
        .env_remove("DATABASE_URL")
        .env_remove("MIGRATE_DIR")
        .env_remove("RUST_LOG")
        .env_remove("NO_COLOR")
        .env("PATH", path)
        .envs(env)
        .output()
        .unwrap()
        .into()
}

/// The STATE column of `version`'s row in `history`'s table.
fn state(history: &str, version: i64) -> &str {
    history
        .lines()
        .find(|line| line.split_whitespace().next() == Some(&version.to_string()))
        .and_then(|line| line.split_whitespace().nth(2))
        .unwrap_or_else(|| panic!("no row for {version} in:\n{history}"))
}

/// What the page says in words about some commands' output, checked on
/// what they printed and left in `dir`.
fn promised(line: &str, run: &Run, dir: &Path, page: &str) -> bool {
    match line {
        "migrate upgrade --sql > upgrade.sql" => {
            let sql = std::fs::read_to_string(dir.join("upgrade.sql")).unwrap();
            assert!(
                sql.contains("BEGIN") && sql.contains("users_item_count"),
                "{sql}"
            );
        }
        "migrate upgrade head --backup=backups" => {
            // `backups/app.<UTC timestamp>.4.bak`, mode 0600, named.
            let made = backups(&dir.join("backups"));
            assert_eq!(made.len(), 1);
            let name = made[0].file_name().unwrap().to_str().unwrap();
            assert_eq!(unstamped(name), "app.[STAMP].4.bak");
            assert!(page.contains(&format!(
                "`backups/{}`",
                unstamped(name).replace("[STAMP]", "20261121T093000.123456Z")
            )));
            #[cfg(unix)]
            assert_eq!(crate::backup::mode(&made[0]), 0o600);
            assert_eq!(
                run.stdout.lines().next().unwrap(),
                format!("backed up the database to backups/{name}")
            );
            let copy = rusqlite::Connection::open(&made[0]).unwrap();
            assert_eq!(
                crate::common::history_rows(&copy).len(),
                4,
                "the backup holds the database before the upgrade"
            );
        }
        "migrate current" => assert_eq!(run.stdout, "6 users_item_count (head)\n"),
        "migrate --dir migrations-previous history" => {
            assert_eq!(state(&run.stdout, 5), "unknown");
        }
        "migrate --dir migrations-previous upgrade" => {
            let message = "the database is at version 5, newer than this build's head 4: run `migrate downgrade 4` to roll back, or allow unknown versions (`--allow-unknown`) to start anyway";
            assert_eq!(run.stderr, format!("{message}\n"));
            // The page quotes it, across its lines.
            assert!(
                page.split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
                    .contains(&format!("(\"{message}\"")),
                "the page does not quote the message"
            );
        }
        "migrate --dir migrations-previous current" => {
            assert_eq!(run.stdout, "4 index_items_owner (head)\n");
        }
        "migrate --sqlite-glob 'tenants/*.db' --json status" => {
            let document = run.json();
            let databases: Vec<&str> = document
                .as_array()
                .unwrap()
                .iter()
                .map(|entry| {
                    assert_eq!(entry["ok"], true);
                    assert_eq!(entry["current"], 6);
                    entry["database"].as_str().unwrap()
                })
                .collect();
            assert_eq!(
                databases,
                ["tenants/acme.db", "tenants/globex.db", "tenants/initech.db"]
            );
        }
        "migrate --database-url sqlite://legacy.db current" => {
            assert_eq!(run.stdout, "6 users_item_count (head)\n");
        }
        "migrate --database-url sqlite://dirty.db --dir migrations-dirty history" => {
            assert_eq!(state(&run.stdout, 2), "dirty");
        }
        "migrate --database-url sqlite://dirty.db --dir migrations-dirty status" => {
            assert!(run.stdout.contains("dirty:   no\n"), "{}", run.stdout);
        }
        _ => return false,
    }
    true
}

#[test]
fn every_command_of_the_operations_guide_runs_as_written() {
    let page = std::fs::read_to_string(workspace().join("docs/operations.md")).unwrap();
    let tmp = scratch();
    let mut env = BTreeMap::new();
    let mut last: Option<(usize, Run)> = None;
    let mut checked = 0;
    let mut commands = 0;
    for (number, step) in steps(&page) {
        match step {
            Step::Export(name, value) => {
                env.insert(name, value);
            }
            Step::Run { line, exit } => {
                let run = shell(tmp.path(), &line, &env);
                assert_eq!(
                    run.code, exit,
                    "docs/operations.md line {number}: `{line}` exited {}, not {exit}\nstdout:\n{}\nstderr:\n{}",
                    run.code, run.stdout, run.stderr
                );
                if promised(&line, &run, tmp.path(), &page) {
                    checked += 1;
                }
                commands += 1;
                last = Some((number, run));
            }
            Step::Sql { database, sql } => {
                rusqlite::Connection::open(tmp.path().join(&database))
                    .unwrap()
                    .execute_batch(&sql)
                    .unwrap_or_else(|err| {
                        panic!("docs/operations.md line {number}: SQL on {database}: {err}")
                    });
            }
            Step::Output(text) => {
                let (at, run) = last.as_ref().expect("a `text` block follows a command");
                assert_eq!(
                    stable(&run.stdout),
                    stable(&text),
                    "docs/operations.md line {number}: the output of line {at} differs"
                );
            }
        }
    }
    // The page still holds every command `promised` checks (one per arm).
    assert_eq!(checked, 10, "a checked command is no longer on the page");
    assert!(commands >= 20, "{commands} commands");
}
