//! Bad input: each case's exit code and exact message (snapshots hold the
//! messages, which are part of the interface). Passwords: `passwords.rs`.

use crate::common::{Project, Run, migrate, workspace};

/// `$ args`, the exit code and stderr of each run, for one snapshot.
fn transcript<A: AsRef<[S]>, S: AsRef<str>>(project: &Project, runs: &[(A, Run)]) -> String {
    runs.iter()
        .map(|(args, run)| {
            let args: Vec<&str> = args.as_ref().iter().map(AsRef::as_ref).collect();
            format!(
                "$ migrate {}\nexit {}\n{}",
                project.anonymous(&args.join(" ")),
                run.code,
                project.anonymous(&run.stderr)
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs `args` in the workspace with the project's database and the given
/// fixture directory.
fn with_dir(project: &Project, dir: &str, args: &[&str]) -> Run {
    let url = project.url();
    let mut all = vec!["--database-url", url.as_str(), "--dir", dir];
    all.extend_from_slice(args);
    migrate(&all)
}

#[test]
fn usage_errors_exit_2() {
    let project = Project::fixture("app");
    let cases: Vec<(&[&str], Run)> = [
        &["frobnicate"][..],
        &["upgrade", "-x"],
        &["upgrade", "+0"],
        &["upgrade", "abc"],
        &["downgrade", "-x"],
        &["downgrade", "+0"],
        &["downgrade", "abc"],
        &["downgrade"],
        &["stamp", "1.5"],
        &["-v", "-q", "status"],
        &["upgrade", "--backup", "backups"],
    ]
    .into_iter()
    .map(|args| (args, project.run(args)))
    .collect();
    for (args, run) in &cases {
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert_eq!(run.stdout, "", "{args:?}");
    }
    insta::assert_snapshot!("usage_errors", transcript(&project, &cases));
}

#[test]
fn a_missing_database_url_is_a_usage_error() {
    let run = migrate(&["--dir", "fixtures/app", "status"]);
    assert_eq!(run.code, 2);
    assert_eq!(
        run.stderr,
        "error: no database given: pass --database-url URL or set DATABASE_URL\n\n\
         Usage: migrate [OPTIONS] <COMMAND>\n\nFor more information, try '--help'.\n"
    );
}

#[test]
fn directory_errors_name_the_file() {
    let project = Project::fixture("app");
    let cases: Vec<(&[&str], Run)> = [
        ("fixtures/does_not_exist", &["status"][..]),
        ("fixtures/broken/bad_name", &["upgrade"]),
        ("fixtures/broken/duplicate_version", &["upgrade"]),
        ("fixtures/broken/missing_down", &["history"]),
        ("fixtures/broken/not_utf8", &["current"]),
        // A dangling symbolic link: unreadable even for root.
        ("fixtures/broken/unreadable", &["upgrade"]),
    ]
    .into_iter()
    .map(|(dir, args)| (args, with_dir(&project, dir, args)))
    .collect();
    for (args, run) in &cases {
        assert_eq!(run.code, 1, "{args:?}");
        assert_eq!(run.stdout, "", "{args:?}");
    }
    assert_eq!(
        cases[5].1.stderr,
        "cannot read migration file fixtures/broken/unreadable/0001_gone.sql: No such file or directory (os error 2); check that it exists and is readable\n"
    );
    insta::assert_snapshot!("directory_errors", transcript(&project, &cases));
    assert!(!project.db.exists(), "nothing was created");
}

#[test]
fn a_missing_file_is_created_by_upgrade_only() {
    let project = Project::fixture("app");
    for verb in [
        &["current"][..],
        &["history"],
        &["status"],
        &["check"],
        &["downgrade", "-1"],
        &["stamp", "head"],
    ] {
        let run = project.run(verb);
        assert_eq!(
            (run.code, project.anonymous(&run.stderr)),
            (
                1,
                "the database sqlite://[TMP]/app.db does not exist; check --database-url, or run `migrate upgrade` to create it\n"
                    .to_owned()
            ),
            "{verb:?}"
        );
        assert!(!project.db.exists(), "{verb:?} created the database");
    }
    project.ok(&["upgrade", "+1"]);
    assert_eq!(project.versions(), [1]);
    // `?mode=rw` never creates either.
    let other = Project::fixture("app");
    let url = format!("{}?mode=rw", other.url());
    let run = migrate(&["--database-url", &url, "--dir", "fixtures/app", "upgrade"]);
    assert_eq!(run.code, 1);
    assert!(!other.db.exists());
}

#[test]
fn a_file_that_is_not_sqlite_is_named() {
    let project = Project::fixture("app");
    std::fs::write(&project.db, "name,email\nada,ada@example.com\n".repeat(20)).unwrap();
    let before = std::fs::read(&project.db).unwrap();
    for verb in [
        &["current"][..],
        &["upgrade"],
        &["upgrade", "--sql"],
        &["stamp", "head"],
    ] {
        let run = project.run(verb);
        assert_eq!(
            (run.code, project.anonymous(&run.stderr)),
            (
                1,
                "sqlite://[TMP]/app.db is not a SQLite database (the file holds something else); check --database-url\n"
                    .to_owned()
            ),
            "{verb:?}"
        );
    }
    assert_eq!(std::fs::read(&project.db).unwrap(), before);
}

#[test]
fn a_read_only_database_refuses_writes_and_allows_reads() {
    let project = Project::fixture("app");
    project.ok(&["upgrade", "2"]);
    let before = std::fs::read(&project.db).unwrap();
    let url = format!("{}?mode=ro", project.url());
    let run = |args: &[&str]| {
        let mut all = vec!["--database-url", url.as_str(), "--dir", "fixtures/app"];
        all.extend_from_slice(args);
        migrate(&all)
    };
    for (verb, args) in [
        ("upgrade", &["upgrade"][..]),
        ("downgrade", &["downgrade", "-1"]),
        ("stamp", &["stamp", "head"]),
    ] {
        let refused = run(args);
        assert_eq!(
            (refused.code, project.anonymous(&refused.stderr)),
            (
                1,
                format!(
                    "the database sqlite://[TMP]/app.db?mode=ro is read-only, so `{verb}` cannot change it; drop `?mode=ro` from the URL or make the file writable\n"
                )
            )
        );
    }
    assert_eq!(run(&["current"]).ok(), "2 create_tokens\n");
    assert!(
        run(&["upgrade", "--dry-run"])
            .ok()
            .starts_with("would apply 3")
    );
    assert_eq!(std::fs::read(&project.db).unwrap(), before);
}

#[test]
fn a_write_protected_file_is_read_only_unless_the_user_may_write_anyway() {
    use std::os::unix::fs::PermissionsExt;
    let project = Project::fixture("app");
    project.ok(&["upgrade", "2"]);
    std::fs::set_permissions(&project.db, std::fs::Permissions::from_mode(0o444)).unwrap();
    // Root (as in CI containers) may write a 0444 file, and so may SQLite on
    // its behalf: then the upgrade rightly succeeds. Anyone else gets the
    // read-only error. Either way the outcome is asserted.
    let privileged = std::fs::OpenOptions::new()
        .append(true)
        .open(&project.db)
        .is_ok();
    let run = project.run(&["upgrade"]);
    if privileged {
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(project.versions(), [1, 2, 3, 4, 5, 6]);
    } else {
        assert_eq!(
            (run.code, project.anonymous(&run.stderr)),
            (
                1,
                "the database sqlite://[TMP]/app.db is read-only, so `upgrade` cannot change it; drop `?mode=ro` from the URL or make the file writable\n"
                    .to_owned()
            )
        );
        assert_eq!(project.versions(), [1, 2]);
    }
}

#[test]
fn options_for_another_kind_of_database_are_usage_errors() {
    let secret = "hunter2-s3cret";
    let postgres = format!("postgres://admin:{secret}@127.0.0.1:1/app");
    let mysql = format!("mariadb://root:{secret}@127.0.0.1:1/app");
    let cases = [
        (
            &postgres,
            &["upgrade", "--backup"][..],
            "--backup copies SQLite database files only; back up this PostgreSQL database with pg_dump before you upgrade",
        ),
        (
            &mysql,
            &["upgrade", "--backup=saved"],
            "--backup copies SQLite database files only; back up this MySQL/MariaDB database with mysqldump (mariadb-dump) before you upgrade",
        ),
        (
            &mysql,
            &["--lock-mode", "session", "upgrade"],
            "--lock-mode applies to PostgreSQL only; MySQL/MariaDB always locks with GET_LOCK",
        ),
        (
            &"sqlite://app.db".to_owned(),
            &["--lock-mode", "none", "status"],
            "--lock-mode applies to PostgreSQL only; SQLite always locks with its write lock",
        ),
    ];
    for (url, verb, message) in cases {
        let mut args = vec!["--database-url", url.as_str(), "--dir", "fixtures/app"];
        args.extend_from_slice(verb);
        let run = migrate(&args);
        assert_eq!(
            (run.code, run.stdout.as_str(), run.stderr.as_str()),
            (
                2,
                "",
                format!(
                    "error: {message}\n\nUsage: migrate [OPTIONS] <COMMAND>\n\nFor more information, try '--help'.\n"
                )
                .as_str()
            ),
            "{verb:?}"
        );
        args.insert(0, "--json");
        let run = migrate(&args);
        assert_eq!(
            (run.code, run.json()),
            (2, serde_json::json!({"error": message}))
        );
        assert!(!run.stderr.contains(secret));
    }
    // Nothing was opened, so nothing was created.
    assert!(!workspace().join("app.db").exists());
    let unknown = migrate(&["--lock-mode", "advisory", "status"]);
    assert_eq!(unknown.code, 2);
    assert!(
        unknown.stderr.starts_with(
            "error: invalid value 'advisory' for '--lock-mode <MODE>'\n  [possible values: session, transaction, none]\n"
        ),
        "{}",
        unknown.stderr
    );
}

#[test]
fn library_errors_are_one_sentence_and_exit_1() {
    let project = Project::fixture("app");
    project.ok(&["upgrade", "3"]);
    let cases: Vec<(&[&str], Run)> = [
        &["upgrade", "-1"][..],
        &["downgrade", "+1"],
        &["upgrade", "2"],
        &["upgrade", "42"],
        &["downgrade", "-4"],
        &["stamp", "-1"],
        &["--table", "bad name", "status"],
    ]
    .into_iter()
    .map(|args| (args, project.run(args)))
    .collect();
    for (args, run) in &cases {
        assert_eq!(run.code, 1, "{args:?}");
        assert_eq!(run.stdout, "", "{args:?}");
        assert_eq!(run.stderr.lines().count(), 1, "{args:?}: {}", run.stderr);
    }
    insta::assert_snapshot!("library_errors", transcript(&project, &cases));
    assert_eq!(project.versions(), [1, 2, 3]);
}

#[test]
fn unusable_urls_and_paths_are_named() {
    let project = Project::fixture("app");
    let dir = project.tmp.path().display().to_string();
    let missing_parent = format!("sqlite://{dir}/no/such/dir/app.db");
    let urls = [
        "http://user:pw@example.com/db".to_owned(),
        "sqlite://app.db?cache=shared".to_owned(),
        dir,
        missing_parent,
    ];
    let cases: Vec<([&str; 4], Run)> = urls
        .iter()
        .zip(["current", "current", "upgrade", "upgrade"])
        .map(|(url, verb)| {
            let args = ["--database-url", url.as_str(), verb, "--dir=fixtures/app"];
            (args, migrate(&args))
        })
        .collect();
    for (args, run) in &cases {
        assert_eq!(run.code, 1, "{args:?}");
    }
    insta::assert_snapshot!("unusable_urls", transcript(&project, &cases));
}

#[test]
fn a_failing_migration_reports_what_stayed_applied() {
    let project = Project::fixture("failing");
    let run = project.run(&["upgrade"]);
    assert_eq!(run.code, 1);
    assert_eq!(crate::common::stable(&run.stdout), "applied 1 a (N ms)\n");
    insta::assert_snapshot!("failing_migration", run.stderr);
    assert_eq!(project.versions(), [1]);
}
