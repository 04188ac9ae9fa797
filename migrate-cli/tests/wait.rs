//! `wait` and `--connect-timeout` (issue 12): ready databases answer at
//! once, a database that never becomes ready is given up on after the
//! timeout with one sentence that hides the password, and a server that
//! accepts the connection but never answers is given up on after the
//! connect timeout rather than the operating system's.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::{Run, migrate, migrate_in};
use crate::servers::{Kind, Subject, every_backend};

const SECRET: &str = "hunter2-s3cret";

fn ready_at_once(kind: Kind) {
    let Some(db) = Subject::new(kind, "portable") else {
        return;
    };
    // A SQLite file need not exist: its directory does.
    assert_eq!(db.ok(&["wait"]), format!("ready: {}\n", db.url()));
    db.ok(&["upgrade"]);
    assert_eq!(
        db.json(&["wait", "--timeout", "5s"]),
        (0, json!({"database": db.url(), "ready": true}))
    );
}

every_backend!(ready_at_once);

/// Runs `migrate ARGS`, returning the run and how long it took.
fn timed(args: &[&str]) -> (Run, Duration) {
    let started = Instant::now();
    let run = migrate(args);
    (run, started.elapsed())
}

#[test]
fn wait_gives_up_after_the_timeout_naming_the_url_without_its_password() {
    let refused = "error communicating with database: Connection refused (os error 111)";
    for (url, shown) in [
        (
            format!("postgres://admin:{SECRET}@127.0.0.1:1/app"),
            "the PostgreSQL database postgres://admin:***@127.0.0.1:1/app",
        ),
        (
            format!("mysql://root:{SECRET}@127.0.0.1:1/app?charset=utf8mb4"),
            "the MySQL/MariaDB database mysql://root:***@127.0.0.1:1/app?charset=utf8mb4",
        ),
    ] {
        let sentence = format!("{shown} was not ready within 1s: {refused}");
        let (run, took) = timed(&["--database-url", &url, "wait", "--timeout", "1s"]);
        assert_eq!(
            (run.code, run.stdout.as_str(), run.stderr),
            (1, "", format!("{sentence}\n"))
        );
        assert!(
            took >= Duration::from_secs(1) && took < Duration::from_secs(5),
            "{took:?}"
        );
        let (run, _) = timed(&[
            "-vv",
            "--json",
            "--database-url",
            &url,
            "wait",
            "--timeout",
            "500ms",
        ]);
        assert_eq!(run.code, 1);
        assert_eq!(
            run.json(),
            json!({"error": sentence.replace("within 1s", "within 500ms")})
        );
        // Each attempt is logged (with -v), without the password either.
        assert!(run.stderr.contains("not ready yet"), "{}", run.stderr);
        assert!(!run.stderr.contains("s3cret"), "{}", run.stderr);
    }
}

#[test]
fn wait_tries_again_until_a_sqlite_directory_appears() {
    let tmp = tempfile::tempdir().unwrap();
    let later = tmp.path().join("later");
    let url = format!("sqlite://{}/app.db", later.display());
    let run = migrate(&["--database-url", &url, "wait", "--timeout", "300ms"]);
    assert_eq!(
        (run.code, run.stderr),
        (
            1,
            format!(
                "the SQLite database {url} was not ready within 300ms: the directory {} does not exist\n",
                later.display()
            )
        )
    );
    let creator = {
        let later = later.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(700));
            std::fs::create_dir(later).unwrap();
        })
    };
    let (run, took) = timed(&["--database-url", &url, "wait", "--timeout", "30s"]);
    creator.join().unwrap();
    assert_eq!(run.ok(), format!("ready: {url}\n"));
    assert!(
        took >= Duration::from_millis(700) && took < Duration::from_secs(10),
        "{took:?}"
    );
    // A file that is not SQLite is not ready.
    std::fs::write(later.join("app.db"), "name,email\n").unwrap();
    let run = migrate(&["--database-url", &url, "wait", "--timeout", "0"]);
    assert_eq!(
        (run.code, run.stderr),
        (
            1,
            format!(
                "the SQLite database {url} was not ready within 0: the file is not a SQLite database (it holds something else)\n"
            )
        )
    );
}

/// A port that accepts connections (the kernel completes them for the
/// listener's backlog) and never says a word: what a server behind a
/// stalled network looks like to the client.
fn silent_server() -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}

#[test]
fn connect_timeout_gives_up_on_a_server_that_never_answers() {
    let (_listener, port) = silent_server();
    for (scheme, engine) in [("postgres", "PostgreSQL"), ("mysql", "MySQL/MariaDB")] {
        let url = format!("{scheme}://app:{SECRET}@127.0.0.1:{port}/app");
        let shown = format!("{scheme}://app:***@127.0.0.1:{port}/app");
        let (run, took) = timed(&[
            "--database-url",
            &url,
            "--dir",
            "fixtures/portable",
            "--connect-timeout",
            "1s",
            "status",
        ]);
        assert_eq!(
            (run.code, run.stdout.as_str(), run.stderr),
            (
                1,
                "",
                format!(
                    "cannot connect to the {engine} database {shown}: no connection within 1s (--connect-timeout)\n"
                )
            )
        );
        assert!(
            took >= Duration::from_secs(1) && took < Duration::from_secs(5),
            "{took:?}"
        );
        // Creating a database connects to the server's maintenance database.
        let (run, took) = timed(&[
            "--database-url",
            &url,
            "--connect-timeout",
            "500ms",
            "database",
            "create",
        ]);
        let through = if scheme == "postgres" {
            "postgres"
        } else {
            "information_schema"
        };
        assert_eq!(
            (run.code, run.stderr),
            (
                1,
                format!(
                    "cannot connect to the {engine} server of {shown} through its `{through}` database: no connection within 500ms (--connect-timeout)\n"
                )
            )
        );
        assert!(took < Duration::from_secs(5), "{took:?}");
        // `wait` bounds each attempt by the connect timeout, and the whole by its own.
        let (run, took) = timed(&[
            "--database-url",
            &url,
            "--connect-timeout",
            "300ms",
            "wait",
            "--timeout",
            "2s",
        ]);
        assert_eq!(
            (run.code, run.stderr),
            (
                1,
                format!(
                    "the {engine} database {shown} was not ready within 2s: no connection within 300ms (--connect-timeout)\n"
                )
            )
        );
        assert!(
            took >= Duration::from_secs(2) && took < Duration::from_secs(6),
            "{took:?}"
        );
        // ... and by the time left of its own.
        let (run, took) = timed(&[
            "--database-url",
            &url,
            "--connect-timeout",
            "30s",
            "wait",
            "--timeout",
            "1s",
        ]);
        assert_eq!(
            (run.code, run.stderr),
            (
                1,
                format!(
                    "the {engine} database {shown} was not ready within 1s: the server did not answer\n"
                )
            )
        );
        assert!(took < Duration::from_secs(5), "{took:?}");
    }
}

#[test]
fn connect_timeout_on_a_working_server_changes_nothing_else() {
    for kind in [Kind::Postgres, Kind::MySql] {
        let Some(db) = Subject::new(kind, "portable") else {
            continue;
        };
        let run = db.run(&["--connect-timeout", "5s", "upgrade"]);
        assert_eq!(run.code, 0, "{run:?}");
        assert_eq!(db.versions(), [1, 2, 3, 4, 5]);
        let run = migrate_in(
            db.project.tmp.path(),
            &[
                "--database-url",
                &db.url(),
                "--connect-timeout",
                "2s",
                "wait",
            ],
        );
        assert_eq!(run.ok(), format!("ready: {}\n", db.url()));
    }
}
