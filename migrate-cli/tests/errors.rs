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
        "error: no database given: pass --database-url URL, or set DATABASE_URL in the environment or in a `.env` file\n\n\
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
                    "the database sqlite://[TMP]/app.db?mode=ro is opened read-only (`?mode=ro`), so `{verb}` cannot change it; drop `?mode=ro` from the URL\n"
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
                "the database sqlite://[TMP]/app.db is a read-only file, so `upgrade` cannot change it; make the file writable for this user\n"
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
    let sqlite = "sqlite://app.db".to_owned();
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
            &["--lock-mode", "transaction", "upgrade"],
            "--lock-mode transaction applies to PostgreSQL only; on MySQL/MariaDB use --lock-mode session (GET_LOCK, the default) or --lock-mode lease",
        ),
        (
            &mysql,
            &["--lock-mode", "none", "status"],
            "--lock-mode none applies to PostgreSQL only; on MySQL/MariaDB use --lock-mode session (GET_LOCK, the default) or --lock-mode lease",
        ),
        (
            &sqlite,
            &["--lock-mode", "none", "status"],
            "--lock-mode none does not apply to SQLite, which always locks with its write lock; drop it",
        ),
        (
            &sqlite,
            &["--lock-mode", "lease", "upgrade"],
            "--lock-mode lease does not apply to SQLite, which always locks with its write lock; drop it",
        ),
        (
            &sqlite,
            &["--statement-lock-timeout", "2s", "upgrade"],
            "--statement-lock-timeout does not apply to SQLite, which has no table locks (a migration holds the whole database's write lock); drop it",
        ),
        (
            &sqlite,
            &["--lock-retries", "3", "upgrade"],
            "--lock-retries does not apply to SQLite, which has no table locks (a migration holds the whole database's write lock); drop it",
        ),
        (
            &sqlite,
            &["--lease-duration", "10s", "upgrade"],
            "--lease-duration does not apply to SQLite, which locks with its write lock and takes no lease; drop it",
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
    // What each server has is not refused: the command goes on to connect
    // (to a port where no server listens).
    for (url, mode) in [
        (&mysql, "session"),
        (&mysql, "lease"),
        (&postgres, "session"),
        (&postgres, "transaction"),
        (&postgres, "lease"),
        (&postgres, "none"),
    ] {
        let run = migrate(&[
            "--database-url",
            url,
            "--dir",
            "fixtures/app",
            "--lock-mode",
            mode,
            "--statement-lock-timeout",
            "1s",
            "--lock-retries",
            "2",
            "--lease-duration",
            "10s",
            "status",
        ]);
        assert_eq!(run.code, 1, "{mode}: {}", run.stderr);
        assert!(
            run.stderr.starts_with("cannot connect to the "),
            "{mode}: {}",
            run.stderr
        );
    }
    let unknown = migrate(&["--lock-mode", "advisory", "status"]);
    assert_eq!(unknown.code, 2);
    assert!(
        unknown.stderr.starts_with(
            "error: invalid value 'advisory' for '--lock-mode <MODE>'\n  [possible values: session, transaction, lease, none]\n"
        ),
        "{}",
        unknown.stderr
    );
}

/// Every option that takes a duration reads it with one parser: each bad
/// form is clap's usage error (exit 2) with the same sentence, before any
/// database is opened.
#[test]
fn every_bad_duration_is_a_usage_error_naming_the_forms() {
    let project = Project::fixture("app");
    let forms = "use a number with ms, s, m or h, as in 500ms, 2s or 1m";
    for option in [
        "--lock-timeout",
        "--statement-lock-timeout",
        "--lease-duration",
    ] {
        for (value, said) in [
            ("5", "`5` is not a duration"),
            ("5x", "`5x` is not a duration"),
            ("1d", "`1d` is not a duration"),
            ("-1s", "`-1s` is not a duration"),
            ("1 s", "`1 s` is not a duration"),
            ("1.s", "`1.s` is not a duration"),
            ("1S", "`1S` is not a duration"),
            ("", "an empty value is not a duration"),
            (
                "99999999999999999999h",
                "`99999999999999999999h` is too long a duration",
            ),
        ] {
            let message =
                format!("invalid value '{value}' for '{option} <DURATION>': {said}; {forms}");
            let run = project.run(&[option, value, "status"]);
            assert_eq!(
                (run.code, run.stdout.as_str(), run.stderr.as_str()),
                (
                    2,
                    "",
                    format!("error: {message}\n\nFor more information, try '--help'.\n").as_str()
                ),
                "{option} {value:?}"
            );
            let run = project.run(&["--json", option, value, "status"]);
            assert_eq!(
                (run.code, run.json()),
                (2, serde_json::json!({"error": message})),
                "{option} {value:?}"
            );
        }
    }
    assert!(!project.db.exists(), "nothing was opened");
}

#[test]
fn library_errors_are_one_sentence_and_exit_1() {
    let project = Project::fixture("app");
    project.ok(&["upgrade", "3"]);
    // Targets in the wrong direction and a bad --table are usage errors:
    // `targets_in_the_wrong_direction_and_bad_tables_are_usage_errors`.
    let cases: Vec<(&[&str], Run)> = [
        &["upgrade", "2"][..],
        &["upgrade", "42"],
        &["downgrade", "-4"],
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
    // The URLs themselves are usage errors; the files, errors.
    for ((args, run), code) in cases.iter().zip([2, 2, 1, 1]) {
        assert_eq!(run.code, code, "{args:?}");
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

// Regression: `upgrade base`, `upgrade -1`, `downgrade +1` and a bad
// `--table` exited 1, as if the database had failed; `upgrade base` on a
// missing SQLite file created it first.
#[test]
fn targets_in_the_wrong_direction_and_bad_tables_are_usage_errors() {
    let project = Project::fixture("app");
    for (args, sentence) in [
        (
            &["upgrade", "base"][..],
            "invalid value 'base' for '[TARGET]': `base` is not a target for an upgrade: use `migrate downgrade base`",
        ),
        (
            &["upgrade", "-1"],
            "invalid value '-1' for '[TARGET]': `-1` is not a target for an upgrade: use `migrate downgrade -1`",
        ),
        (
            &["downgrade", "+1"],
            "invalid value '+1' for '<TARGET>': `+1` is not a target for a downgrade: use `migrate upgrade +1`",
        ),
        (
            &["stamp", "-1"],
            "invalid value '-1' for '<TARGET>': `-1` is not a stamp target; use `head`, `base` or a version number",
        ),
        (
            &["--table", "a b", "status"],
            "invalid value 'a b' for '--table <NAME>': `a b` is not a valid history table name; use letters, digits and `_` (not starting with a digit), optionally as `schema.table`",
        ),
    ] {
        let run = project.run(args);
        assert_eq!(
            (run.code, run.stdout.as_str(), run.stderr.as_str()),
            (
                2,
                "",
                format!("error: {sentence}\n\nFor more information, try '--help'.\n").as_str()
            ),
            "{args:?}"
        );
    }
    assert!(!project.db.exists());
}

/// Runs `args` on `project` as the unprivileged user `nobody` (root, as in
/// CI containers, writes any file whatever its mode), or as this user when
/// it is not root.
fn run_unprivileged(project: &Project, args: &[&str]) -> Run {
    run_unprivileged_in(project, 0o755, args)
}

/// As [`run_unprivileged`], with the database's directory given `mode`.
fn run_unprivileged_in(project: &Project, mode: u32, args: &[&str]) -> Run {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(project.tmp.path(), std::fs::Permissions::from_mode(mode)).unwrap();
    let url = project.url();
    let dir = project.dir.display().to_string();
    let root = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata("/proc/self").unwrap()) == 0;
    let binary = assert_cmd::cargo::cargo_bin!("migrate");
    let mut command = if root {
        let mut command = std::process::Command::new("setpriv");
        command.args(["--reuid=65534", "--regid=65534", "--clear-groups"]);
        command.arg(binary);
        command
    } else {
        std::process::Command::new(binary)
    };
    command
        .current_dir(workspace())
        .env_remove("DATABASE_URL")
        .env_remove("RUST_LOG")
        .args(["--database-url", &url, "--dir", &dir])
        .args(args)
        .output()
        .expect("setpriv runs the command as nobody")
        .into()
}

// Regression: a no-op `upgrade` on a read-only database already at head
// exited 1; a file made read-only by its mode was said to need `?mode=ro`
// dropped from a URL that had none.
#[test]
fn a_read_only_database_at_head_is_up_to_date() {
    use std::os::unix::fs::PermissionsExt;
    let project = Project::fixture("app");
    project.ok(&["upgrade"]);
    let ro = format!("{}?mode=ro", project.url());
    let run = migrate(&["--database-url", &ro, "--dir", "fixtures/app", "upgrade"]);
    assert_eq!(run.ok(), "nothing to upgrade: the database is at 6\n");
    let run = migrate(&[
        "--database-url",
        &ro,
        "--dir",
        "fixtures/app",
        "--json",
        "upgrade",
    ]);
    assert_eq!(
        run.json(),
        serde_json::json!({"from": 6, "to": 6, "applied": [], "backup": null})
    );
    // Read-only by its mode, as a user who may not write it.
    std::fs::set_permissions(&project.db, std::fs::Permissions::from_mode(0o444)).unwrap();
    assert_eq!(
        run_unprivileged(&project, &["upgrade", "--backup"]).ok(),
        "nothing to upgrade: the database is at 6\n"
    );
    let run = run_unprivileged(&project, &["downgrade", "-1"]);
    assert_eq!(
        (run.code, project.anonymous(&run.stderr)),
        (
            1,
            "the database sqlite://[TMP]/app.db is a read-only file, so `downgrade` cannot change it; make the file writable for this user\n"
                .to_owned()
        )
    );
    assert_eq!(project.versions(), [1, 2, 3, 4, 5, 6]);
}

// Regression: `migrate history | head -1` and `upgrade > /dev/full`
// panicked (exit 101) after the verb had completed.
#[test]
fn a_closed_or_full_stdout_is_no_panic() {
    let project = Project::fixture("app");
    let url = project.url();
    // A full stdout: one sentence, exit 1; the upgrade itself happened.
    let full: Run = std::process::Command::new(assert_cmd::cargo::cargo_bin!("migrate"))
        .current_dir(workspace())
        .env_remove("RUST_LOG")
        .args(["--database-url", &url, "--dir", "fixtures/app", "upgrade"])
        .stdout(std::fs::File::create("/dev/full").unwrap())
        .output()
        .unwrap()
        .into();
    assert_eq!(
        (full.code, full.stderr.as_str()),
        (
            1,
            "cannot write the output of `upgrade` to stdout: No space left on device (os error 28); the command itself completed, so run `migrate status` to see the database\n"
        )
    );
    assert_eq!(project.versions(), [1, 2, 3, 4, 5, 6]);
    // A pipe closed by its reader: quiet, with the verb's own exit code.
    for args in [&["history"][..], &["check"], &["--json", "status"]] {
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin!("migrate"))
            .current_dir(workspace())
            .env_remove("RUST_LOG")
            .args(["--database-url", &url, "--dir", "fixtures/app"])
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let output = child.wait_with_output().unwrap();
        assert_eq!(
            (
                output.status.code(),
                String::from_utf8(output.stderr).unwrap()
            ),
            (Some(0), String::new()),
            "{args:?}"
        );
    }
}

// Regression: file names and names from the database were printed raw: a
// newline split the one-sentence error, escape sequences reached the
// terminal.
#[test]
fn control_characters_are_escaped_in_errors_and_tables() {
    let project = Project::with_files(&[("0001_a\nb.sql", "SELECT 1;")]);
    let run = project.run(&["status"]);
    assert_eq!(run.code, 1);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr.starts_with(&format!(
            "migration file {}/0001_a\\nb.sql matches no migration file form",
            project.dir.display()
        )),
        "{}",
        run.stderr
    );
    // With --json the error is the JSON string of the true name.
    let run = project.run(&["--json", "status"]);
    assert!(
        run.json()["error"]
            .as_str()
            .unwrap()
            .contains("0001_a\nb.sql")
    );
    // A name from the database (an unknown version) in `history`.
    let project = Project::fixture("app");
    project.ok(&["upgrade", "1"]);
    project
        .open()
        .execute(
            "INSERT INTO _migrate_history (version, name, checksum, applied_at, execution_ms, success)
             VALUES (99, 'evil' || char(27) || '[2J' || char(10) || 'x', 'c', '2026-01-01T00:00:00Z', 1, 1)",
            [],
        )
        .unwrap();
    let table = project.ok(&["--allow-unknown", "history"]);
    assert!(!table.contains('\x1b'), "{table:?}");
    assert!(table.contains("evil\\u{1b}[2J\\nx"), "{table}");
    assert_eq!(table.lines().count(), 8, "{table}");
}

// Regression: a database in a read-only directory (no journal can be
// created) made `upgrade` blame the first script: "fix the script and run
// again". The directory is named instead, and nothing is changed.
#[test]
fn a_read_only_directory_is_named_not_blamed_on_the_script() {
    use std::os::unix::fs::PermissionsExt;
    let project = Project::fixture("app");
    project.ok(&["upgrade", "2"]);
    std::fs::set_permissions(&project.db, std::fs::Permissions::from_mode(0o666)).unwrap();
    let run = run_unprivileged_in(&project, 0o555, &["upgrade"]);
    std::fs::set_permissions(project.tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(
        (run.code, project.anonymous(&run.stderr)),
        (
            1,
            "the directory [TMP] that holds the database sqlite://[TMP]/app.db is read-only, so SQLite cannot \
             create the journal `upgrade` needs there; make the directory writable for this user\n"
                .to_owned()
        )
    );
    assert_eq!(project.versions(), [1, 2]);
}

/// The verbs about the database itself (issue 12), on SQLite: each refusal
/// and failure as exactly one sentence. The servers' own sentences are in
/// `database.rs` and `wait.rs`, a broken `.env`'s in `dotenv.rs`.
#[test]
fn database_verb_errors_are_named() {
    let project = Project::fixture("portable");
    project.ok(&["upgrade"]);
    let not_sqlite = project.tmp.path().join("notes.txt");
    std::fs::write(&not_sqlite, "name,email\n").unwrap();
    let not_sqlite = not_sqlite.display().to_string();
    let read_only = format!("{}?mode=ro", project.url());
    let missing_dir = format!("sqlite://{}/no/app.db", project.tmp.path().display());
    let own = project.url();
    let cases: Vec<(Vec<&str>, Run)> = [
        (own.as_str(), &["database", "drop"][..]),
        (&own, &["database", "reset"]),
        (&own, &["database", "drop", "-y", "--force"]),
        (&own, &["--connect-timeout", "1s", "wait"]),
        (&own, &["--connect-timeout", "0", "database", "create"]),
        ("sqlite::memory:", &["database", "create"]),
        ("sqlite::memory:", &["wait"]),
        (&not_sqlite, &["database", "drop", "-y"]),
        (&not_sqlite, &["database", "create"]),
        (&read_only, &["database", "drop", "-y"]),
        (&missing_dir, &["wait", "--timeout", "100ms"]),
    ]
    .into_iter()
    .map(|(url, verb)| {
        let mut args = vec!["--database-url", url, "--dir", "fixtures/portable"];
        args.extend_from_slice(verb);
        let run = migrate(&args);
        (args, run)
    })
    .collect();
    for (args, run) in &cases {
        assert_eq!(run.stdout, "", "{args:?}");
    }
    assert_eq!(
        cases.iter().map(|(_, run)| run.code).collect::<Vec<_>>(),
        [2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1]
    );
    assert_eq!(project.versions(), [1, 2, 3, 4, 5]);
    insta::assert_snapshot!("database_verb_errors", transcript(&project, &cases));
}
