//! Reading `--database-url`: every URL has one meaning, and one that
//! migrate cannot read safely (empty, a URI it does not read, a scheme it
//! does not know, a server URL without `//` or without a database) is a
//! usage error (exit 2) naming it, before anything is opened or created.

use crate::common::{Project, Run, migrate_in, portable_status};

/// The usage error clap prints around `sentence`.
fn usage(sentence: &str) -> String {
    format!(
        "error: {sentence}\n\nUsage: migrate [OPTIONS] <COMMAND>\n\nFor more information, try '--help'.\n"
    )
}

/// Runs `verb` on `url` in an empty temporary directory (so that nothing
/// a misread URL creates could go unseen), and asserts that nothing was.
#[track_caller]
fn refused(url: &str, args: &[&str]) -> Run {
    let project = Project::fixture("portable");
    let dir = project.dir.display().to_string();
    let mut all = vec!["--dir", dir.as_str(), "--database-url", url];
    all.extend_from_slice(args);
    let run = migrate_in(project.tmp.path(), &all);
    let left: Vec<_> = std::fs::read_dir(project.tmp.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "{url} {args:?} created {left:?}: {run:?}");
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (2, ""),
        "{url} {args:?}: {run:?}"
    );
    run
}

// Regression: an empty URL (`--database-url ''`, `DATABASE_URL=`,
// `sqlite://`, `sqlite:`) opened SQLite's anonymous temporary database, and
// `upgrade` migrated it and exited 0.
#[test]
fn an_empty_url_is_a_usage_error() {
    for url in ["", "sqlite://", "sqlite:", "SQLite:"] {
        for verb in [&["upgrade"][..], &["status"], &["upgrade", "--dry-run"]] {
            let run = refused(url, verb);
            let sentence = if url.is_empty() {
                "the database URL is empty; name a database with --database-url or DATABASE_URL, such as sqlite://app.db or postgres://user@host/app".to_owned()
            } else {
                format!(
                    "the database URL {url} names no file; write sqlite://path/to/app.db, or sqlite::memory: for a database that lasts one command"
                )
            };
            assert_eq!(run.stderr, usage(&sentence), "{url:?} {verb:?}");
        }
    }
    // The environment's empty value too.
    let project = Project::fixture("portable");
    let run: Run = assert_cmd::cargo::cargo_bin_cmd!("migrate")
        .current_dir(project.tmp.path())
        .env("DATABASE_URL", "")
        .env_remove("RUST_LOG")
        .args(["--dir", &project.dir.display().to_string(), "upgrade"])
        .output()
        .unwrap()
        .into();
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.starts_with("error: the database URL is empty;"),
        "{run:?}"
    );
    assert_eq!(std::fs::read_dir(project.tmp.path()).unwrap().count(), 0);
}

// Regression: `file:app.db` was a plain path to migrate (`status`: "does
// not exist", `--backup` skipped) and a URI to SQLite (`upgrade` created
// `app.db`, and its URI parameters bypassed the option checks).
#[test]
fn a_sqlite_file_uri_is_refused_with_the_url_to_write() {
    for (url, file) in [
        ("file:app.db", "app.db"),
        ("file:app.db?mode=ro&cache=shared", "app.db"),
        ("sqlite:file:data/app.db", "data/app.db"),
        ("FILE:app.db", "app.db"),
    ] {
        for verb in [&["upgrade", "--backup"][..], &["status"]] {
            let run = refused(url, verb);
            assert_eq!(
                run.stderr,
                usage(&format!(
                    "{url} is a SQLite URI, which migrate does not read; write sqlite://{file}"
                )),
                "{url} {verb:?}"
            );
        }
    }
}

// Regression: `jdbc:postgresql://…` was read as the path of a SQLite file
// (`upgrade --dry-run` exited 0, "would apply").
#[test]
fn an_unknown_scheme_is_refused_not_read_as_a_path() {
    for (url, shown, scheme) in [
        (
            "jdbc:postgresql://u:p@h/db",
            "jdbc:postgresql://u:***@h/db",
            "jdbc",
        ),
        // Without `//`, what may be a password is hidden (here the user,
        // whichever it is).
        ("jdbc:mysql:root@h/db", "jdbc:mysql:***@h/db", "jdbc"),
        ("postgress:u:p@h/db", "postgress:u:***@h/db", "postgress"),
        ("jdbc:x", "jdbc:x", "jdbc"),
        ("http://u:pw@h/db", "http://u:***@h/db", "http"),
        (
            "x-sqlite:sqlite:app.db",
            "x-sqlite:sqlite:app.db",
            "x-sqlite",
        ),
    ] {
        let run = refused(url, &["upgrade", "--dry-run"]);
        assert_eq!(
            run.stderr,
            usage(&format!(
                "{shown}: `{scheme}` is not a database migrate knows; use sqlite://path (or a path to a SQLite file, `./` before a name with a colon), postgres://… or mysql://…"
            )),
            "{url}"
        );
    }
    // A plain path is still a path, with or without a directory.
    let project = Project::fixture("portable");
    let dir = project.dir.display().to_string();
    for path in ["app.db", "./app.db", "data:2026.db"] {
        let run = migrate_in(
            project.tmp.path(),
            &["--dir", &dir, "--database-url", path, "upgrade"],
        );
        assert_eq!(run.code, 0, "{path}: {run:?}");
    }
    assert!(project.tmp.path().join("data:2026.db").exists());
}

// Regression: `postgres:/app:secret@db/app`, `postgresql:app:secret@…` and
// `mysql:root:secret@…`, which sqlx reads without `//`, were printed whole,
// password and all; `postgres:` was shown as `postgres::`.
#[test]
fn a_server_url_without_slashes_is_refused_without_being_shown() {
    for (url, example) in [
        (
            "postgres:/app:s3cret@127.0.0.1:1/app",
            "postgres://user:password@host/database",
        ),
        (
            "postgresql:app:s3cret@127.0.0.1:1/app",
            "postgresql://user:password@host/database",
        ),
        (
            "mysql:root:s3cret@127.0.0.1:1/app",
            "mysql://user:password@host/database",
        ),
        (
            "MariaDB:/root:s3cret@127.0.0.1:1/app",
            "mariadb://user:password@host/database",
        ),
        ("postgres:", "postgres://user:password@host/database"),
    ] {
        let run = refused(url, &["-vvv", "status"]);
        let scheme = url.split(':').next().unwrap();
        assert!(!run.stderr.contains("s3cret"), "{url}: {run:?}");
        assert_eq!(
            run.stderr.lines().next().unwrap(),
            format!(
                "error: a {scheme}: URL needs // after `{scheme}:`, and the rest is not shown (it may hold a password); write it as {example}"
            ),
            "{url}"
        );
    }
}

// Regression: `upgrade` on a MySQL URL without a database waited 60 s for
// the lock, and `status` reported `base`.
#[test]
fn a_mysql_url_without_a_database_is_refused() {
    for (url, shown) in [
        ("mysql://root@127.0.0.1:3306", "mysql://root@127.0.0.1:3306"),
        (
            "mysql://root:pw@127.0.0.1:3306/",
            "mysql://root:***@127.0.0.1:3306/",
        ),
        (
            "mariadb://root@127.0.0.1:3306/?ssl-mode=disabled",
            "mariadb://root@127.0.0.1:3306/?ssl-mode=disabled",
        ),
    ] {
        for verb in ["upgrade", "status"] {
            let run = refused(url, &[verb]);
            assert_eq!(
                run.stderr,
                usage(&format!(
                    "{shown} names no database; add the database's name after the host, as in mysql://user:password@host:3306/app"
                )),
                "{url} {verb}"
            );
        }
    }
}

/// The workspace's view of a refusal, for a URL list file.
#[test]
fn refusals_in_a_database_list_are_usage_errors_too() {
    let project = Project::fixture("portable");
    let list = project.tmp.path().join("tenants.txt");
    std::fs::write(&list, "sqlite://a.db\nfile:b.db\n").unwrap();
    let run = portable_status("--databases", list.to_str().unwrap());
    assert_eq!(
        (run.code, project.anonymous(&run.stderr)),
        (
            2,
            usage(
                "[TMP]/tenants.txt, line 2: file:b.db is a SQLite URI, which migrate does not read; write sqlite://b.db"
            )
        )
    );
}
