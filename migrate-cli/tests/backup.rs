//! `upgrade --backup[=DIR]`: the library's backup (SQLite's online backup
//! API), made only when there is something to apply, named
//! `<stem>.<UTC timestamp>.<current version>.bak`, mode 0600, named in the
//! output and in a later failure; refused for server databases.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::common::{Project, history_rows, migrate_in, schema, stable};

/// The `.bak` files in `dir`, sorted.
pub fn backups(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "bak"))
        .collect();
    found.sort();
    found
}

/// Text with each UTC timestamp of a backup's name (`20261121T093000.123456Z`)
/// replaced by `[STAMP]`.
pub fn unstamped(text: &str) -> String {
    let shape = "00000000T000000.000000Z";
    let mut out = String::new();
    let mut rest = text;
    while !rest.is_empty() {
        let fits = rest.len() >= shape.len()
            && rest.bytes().zip(shape.bytes()).all(|(c, s)| {
                if s == b'0' {
                    c.is_ascii_digit()
                } else {
                    c == s
                }
            });
        if fits {
            out.push_str("[STAMP]");
            rest = &rest[shape.len()..];
        } else {
            let next = rest.chars().next().unwrap();
            out.push(next);
            rest = &rest[next.len_utf8()..];
        }
    }
    out
}

/// The file's permission bits.
#[cfg(unix)]
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn unstamped_replaces_only_timestamps() {
    assert_eq!(
        unstamped("app.20261121T093000.123456Z.3.bak, 2026-11-21"),
        "app.[STAMP].3.bak, 2026-11-21"
    );
}

#[test]
fn a_backup_is_the_database_before_the_upgrade() {
    let project = Project::fixture("app");
    project.ok(&["upgrade", "2"]);
    let (before, rows) = {
        let conn = project.open();
        (schema(&conn), history_rows(&conn))
    };

    let document = project.run(&["--json", "upgrade", "+1", "--backup"]).json();
    let made = backups(project.tmp.path());
    assert_eq!(made.len(), 1);
    assert_eq!(document["backup"], json!(made[0]));
    // `<stem>.<UTC timestamp>.<current version>.bak`, readable by its owner only.
    let name = made[0].file_name().unwrap().to_str().unwrap();
    assert_eq!(unstamped(name), "app.[STAMP].2.bak");
    #[cfg(unix)]
    assert_eq!(mode(&made[0]), 0o600);
    // The copy opens as SQLite and is the database as it was: same schema,
    // same history.
    let copy = rusqlite::Connection::open(&made[0]).unwrap();
    assert_eq!(schema(&copy), before);
    assert_eq!(history_rows(&copy), rows);
    assert_eq!(project.versions(), [1, 2, 3]);

    // Into a directory of its own (created), in human output.
    let saved = project.tmp.path().join("saved");
    let option = format!("--backup={}", saved.display());
    let out = project.ok(&["upgrade", "+1", &option]);
    let made = backups(&saved);
    assert_eq!(made.len(), 1);
    assert_eq!(
        unstamped(made[0].file_name().unwrap().to_str().unwrap()),
        "app.[STAMP].3.bak"
    );
    assert_eq!(
        stable(&out),
        format!(
            "backed up the database to {}\napplied 4 index_items_owner (N ms)\nupgraded from 3 to 4\n",
            made[0].display()
        )
    );
}

#[test]
fn nothing_to_do_means_no_backup() {
    let project = Project::fixture("app");
    project.ok(&["upgrade"]);
    let document = project.run(&["--json", "upgrade", "--backup"]).json();
    assert_eq!(document["backup"], Value::Null);
    assert_eq!(
        project.ok(&["upgrade", "--backup"]),
        "nothing to upgrade: the database is at 6\n"
    );
    assert_eq!(backups(project.tmp.path()), Vec::<PathBuf>::new());
    // A database that does not exist yet has nothing to back up.
    let fresh = Project::fixture("app");
    assert_eq!(
        fresh.run(&["--json", "upgrade", "--backup"]).json()["backup"],
        Value::Null
    );
    assert_eq!(backups(fresh.tmp.path()), Vec::<PathBuf>::new());
    assert_eq!(fresh.versions(), [1, 2, 3, 4, 5, 6]);
}

#[test]
fn a_backup_that_cannot_be_written_stops_the_upgrade() {
    let project = Project::fixture("app");
    project.ok(&["upgrade", "1"]);
    let taken = project.tmp.path().join("taken");
    std::fs::write(&taken, "a file, not a directory").unwrap();
    let option = format!("--backup={}", taken.display());
    let run = project.run(&["upgrade", &option]);
    assert_eq!(
        (run.code, unstamped(&project.anonymous(&run.stderr))),
        (
            1,
            "could not back up the database to [TMP]/taken/app.[STAMP].1.bak: File exists (os error 17); nothing was changed\n"
                .to_owned()
        )
    );
    assert_eq!(project.versions(), [1]);
}

#[test]
fn a_failed_upgrade_names_the_backup_that_restores_it() {
    let project = Project::fixture("failing");
    project.ok(&["upgrade", "1"]);
    let before = schema(&project.open());

    let run = project.run(&["upgrade", "--backup"]);
    let made = backups(project.tmp.path());
    assert_eq!(made.len(), 1);
    assert_eq!(
        (run.code, unstamped(&project.anonymous(&run.stderr))),
        (
            1,
            "migration 2 (0002_broken.up.sql) failed at statement 3 (`INSERT INTO missing_table (id) VALUES (2);`): no such table: missing_table; \
             it was rolled back, so the database is as it was before this migration: fix the script and run again; \
             the backup made before this upgrade, [TMP]/app.[STAMP].1.bak, holds the database as it was\n"
                .to_owned()
        ),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains(&made[0].display().to_string()));
    // With --json, the same sentence is the document's error (the database
    // is still at 1, so there is again something to apply and to back up).
    let document = project.run(&["--json", "upgrade", "--backup"]).json();
    let error = document["error"].as_str().unwrap();
    let newest = backups(project.tmp.path()).pop().unwrap();
    assert!(
        error.ends_with(&format!(
            "; the backup made before this upgrade, {}, holds the database as it was",
            newest.display()
        )),
        "{error}"
    );
    assert_eq!(backups(project.tmp.path()).len(), 2);
    // The backup restores the database as it was.
    std::fs::copy(&made[0], &project.db).unwrap();
    assert_eq!(schema(&project.open()), before);
    assert_eq!(project.versions(), [1]);
}

#[test]
fn an_in_memory_database_has_no_file_to_back_up() {
    let run = migrate_in(
        Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap(),
        &[
            "--database-url",
            "sqlite::memory:",
            "--dir",
            "fixtures/app",
            "upgrade",
            "--backup",
        ],
    );
    assert_eq!(
        (run.code, run.stderr.as_str()),
        (
            1,
            "could not back up the database to (in memory): an in-memory database has no file to copy; nothing was changed\n"
        )
    );
}
