//! `migrate new`: the next version in the directory's own style, files that
//! load, and names the file-name parser accepts.

use crate::common::{Project, migrate_in};

#[test]
fn sequential_directories_continue_their_numbering() {
    let project = Project::copy_of("up_only");
    let out = project.ok(&["new", "add_tags"]);
    assert_eq!(
        project.anonymous(&out),
        "created [TMP]/migrations/0004_add_tags.sql\n"
    );
    assert_eq!(
        std::fs::read_to_string(project.dir.join("0004_add_tags.sql")).unwrap(),
        "-- add_tags\n"
    );
    let out = project.ok(&["new", "drop-tags", "--reversible"]);
    assert_eq!(
        project.anonymous(&out),
        "created [TMP]/migrations/0005_drop-tags.up.sql\ncreated [TMP]/migrations/0005_drop-tags.down.sql\n"
    );
    assert_eq!(
        std::fs::read_to_string(project.dir.join("0005_drop-tags.down.sql")).unwrap(),
        ""
    );
    // They load, and an untouched new migration changes nothing but the history.
    project.ok(&["upgrade"]);
    assert_eq!(project.versions(), [1, 2, 3, 4, 5]);
}

// Regression: a name in another script than ASCII (`café`, as Flyway and
// refinery take it) was refused as a file name matching no form.
#[test]
fn a_name_in_any_script_is_created_applied_and_shown_as_written() {
    let project = Project::copy_of("up_only");
    assert_eq!(
        project.anonymous(&project.ok(&["new", "données_café"])),
        "created [TMP]/migrations/0004_données_café.sql\n"
    );
    std::fs::write(
        project.dir.join("0005_cafe\u{301}.sql"),
        "CREATE TABLE cafe (id INT);\n",
    )
    .unwrap();
    std::fs::write(
        project.dir.join("0006_表を追加.sql"),
        "CREATE TABLE hyou (id INT);\n",
    )
    .unwrap();
    project.ok(&["upgrade", "5"]);
    assert_eq!(project.versions(), [1, 2, 3, 4, 5]);
    // The columns line up on screen: an accent takes no room, a CJK
    // character two.
    let table = crate::common::stable(&project.ok(&["history"]));
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(
        lines[0],
        "VERSION  NAME          STATE    APPLIED AT                   DURATION"
    );
    assert_eq!(
        lines[4..],
        [
            "4        données_café  applied  YYYY-MM-DDTHH:MM:SS.ffffffZ  N ms",
            "5        cafe\u{301}          applied  YYYY-MM-DDTHH:MM:SS.ffffffZ  N ms",
            "6        表を追加      pending  -                            -",
        ]
    );
    let history = project.run(&["--json", "history"]).json();
    let names: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["name"].as_str().unwrap())
        .collect();
    assert_eq!(names[3..], ["données_café", "cafe\u{301}", "表を追加"]);
    assert_eq!(
        project.run(&["--json", "current"]).json(),
        serde_json::json!({"version": 5, "name": "cafe\u{301}", "head": false})
    );
}

#[test]
fn flyway_directories_get_flyway_files() {
    let project = Project::copy_of("flyway");
    assert_eq!(
        project.anonymous(&project.ok(&["new", "more", "--reversible"])),
        "created [TMP]/migrations/V3__more.sql\ncreated [TMP]/migrations/U3__more.sql\n"
    );
}

/// Now as a timestamp version: `YYYYMMDDHHMMSS` in UTC.
fn utc_now() -> i64 {
    let now = chrono::Utc::now().format("%Y%m%d%H%M%S").to_string();
    now.parse().expect("14 digits")
}

#[test]
fn an_empty_or_missing_directory_gets_a_utc_timestamp() {
    let project = Project::with_files(&[]);
    let before = utc_now();
    let first = project.run(&["--json", "new", "init"]).json();
    let after = utc_now();
    let version = first["version"].as_i64().unwrap();
    assert!((before..=after).contains(&version), "{version}");
    assert_eq!(
        first["files"],
        serde_json::json!([project.dir.join(format!("{version}_init.sql"))])
    );
    // A second one in the same second still comes after it.
    let second = project.run(&["--json", "new", "next"]).json();
    assert!(second["version"].as_i64().unwrap() > version);

    // A directory that does not exist yet is created.
    let fresh = tempfile::tempdir().unwrap();
    let run = migrate_in(
        fresh.path(),
        &["--dir", "db/migrations", "--json", "new", "init"],
    );
    let version = run.json()["version"].as_i64().unwrap();
    assert!(
        fresh
            .path()
            .join(format!("db/migrations/{version}_init.sql"))
            .is_file()
    );
}

#[test]
fn new_needs_no_database() {
    let project = Project::copy_of("app");
    let run = migrate_in(
        project.tmp.path(),
        &["--dir", "migrations", "new", "add_email"],
    );
    assert_eq!(run.ok(), "created migrations/0007_add_email.sql\n");
}

#[test]
fn bad_names_and_broken_directories_are_refused() {
    let project = Project::copy_of("app");
    // A bad NAME is a usage error (exit 2), as a bad target is.
    let run = project.run(&["new", "add email"]);
    assert_eq!(
        (run.code, run.stdout.as_str(), run.stderr.as_str()),
        (
            2,
            "",
            "error: `add email` cannot name a migration because it contains ' ', but names may only hold letters (of any script), digits, `_` and `-`; use a name such as `add_email`\n\nUsage: migrate [OPTIONS] <COMMAND>\n\nFor more information, try '--help'.\n"
        )
    );
    let run = project.run(&["new", "../escape"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .starts_with("error: `../escape` cannot name a migration because it contains '.'")
    );
    // A directory that does not load gets the loader's message, and no file.
    std::fs::write(project.dir.join("0008-typo.sql"), "").unwrap();
    let run = project.run(&["new", "next"]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        format!(
            "migration file {}/0008-typo.sql matches no migration file form because the version is not followed by `_` (or `__` after a `V`/`U` prefix); rename it to `<version>_<name>.sql`, `<version>_<name>.up.sql` + `.down.sql`, or `V<version>__<name>.sql`\n",
            project.dir.display()
        )
    );
    assert!(!project.dir.join("0009_next.sql").exists());
}
