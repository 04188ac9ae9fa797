//! `database create`, `drop` and `reset` (issue 12) on SQLite, PostgreSQL
//! and MySQL/MariaDB: each verb's output, idempotence and effect, the
//! confirmation on a terminal, and the refusals. The refusals that change
//! nothing are also rows of the catalogue (`catalogue.rs`).

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use sqlx::Connection as _;

use crate::common::{PORTABLE_UPGRADED, Run, migrate, stable, zero_durations};
use crate::servers::{Kind, Subject, block_on, every_backend};

/// The files a SQLite database leaves beside it.
const COMPANIONS: [&str; 4] = ["-wal", "-shm", "-journal", "-migrate.lock"];

/// The database's name on its server (the URL's last segment).
fn name(db: &Subject) -> String {
    db.url().rsplit('/').next().unwrap().to_owned()
}

/// The database as the verbs describe it.
fn described(db: &Subject) -> String {
    match db.kind {
        Kind::Sqlite => format!("SQLite database {}", db.url()),
        Kind::Postgres => format!("PostgreSQL database {} at {}", name(db), db.url()),
        Kind::MySql => format!("MySQL/MariaDB database {} at {}", name(db), db.url()),
    }
}

/// Whether the database exists: the SQLite file, or the server's
/// catalogue entry (read over a connection to the server's own database).
fn exists(db: &Subject) -> bool {
    let Some(server) = db.server() else {
        return db.project.db.exists();
    };
    let (admin, name) = (server.server_url(), name(db));
    block_on(async {
        let count: i64 = match db.kind {
            Kind::Postgres => {
                let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
                sqlx::query_scalar("SELECT count(*) FROM pg_database WHERE datname = $1")
                    .bind(&name)
                    .fetch_one(&mut conn)
                    .await
                    .unwrap()
            }
            _ => {
                let mut conn = sqlx::MySqlConnection::connect(&admin).await.unwrap();
                sqlx::query_scalar(
                    "SELECT count(*) FROM information_schema.schemata WHERE schema_name = ?",
                )
                .bind(&name)
                .fetch_one(&mut conn)
                .await
                .unwrap()
            }
        };
        count == 1
    })
}

/// The whole life of a database through the three verbs, on each backend.
fn create_drop_and_reset(kind: Kind) {
    let Some(db) = Subject::new(kind, "portable") else {
        return;
    };
    let described = described(&db);
    db.ok(&["upgrade"]);
    if kind == Kind::Sqlite {
        for suffix in COMPANIONS {
            let companion = format!("{}{suffix}", db.project.db.display());
            if !std::path::Path::new(&companion).exists() {
                std::fs::write(companion, "").unwrap();
            }
        }
    }
    assert_eq!(
        db.ok(&["database", "drop", "-y"]),
        format!("dropped the {described}\n")
    );
    assert!(!exists(&db));
    if kind == Kind::Sqlite {
        let left: Vec<_> = std::fs::read_dir(db.project.tmp.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.starts_with("app.db"))
            .collect();
        assert_eq!(
            left,
            Vec::<String>::new(),
            "the journal and lock files go too"
        );
    }
    assert_eq!(
        db.ok(&["database", "drop", "--yes"]),
        format!("the {described} does not exist; nothing to drop\n")
    );
    assert_eq!(
        db.ok(&["database", "create"]),
        format!("created the {described}\n")
    );
    assert!(exists(&db));
    assert_eq!(db.tables(), Vec::<String>::new());
    assert_eq!(
        db.ok(&["database", "create"]),
        format!("the {described} already exists; nothing to create\n")
    );
    assert_eq!(
        stable(&db.ok(&["database", "reset", "-y"])),
        format!("dropped the {described}\ncreated the {described}\n{PORTABLE_UPGRADED}")
    );
    assert_eq!(db.versions(), [1, 2, 3, 4, 5]);
    // A reset leaves nothing of what was there.
    db.execute("CREATE TABLE scratch (id INT)");
    let (code, mut document) = db.json(&["database", "reset", "-y"]);
    let upgrade = zero_durations(document["upgrade"].take());
    assert_eq!(
        (code, document),
        (
            0,
            json!({"database": db.url(), "dropped": true, "upgrade": null})
        )
    );
    assert_eq!(
        upgrade,
        json!({
            "from": null,
            "to": 5,
            "applied": [
                {"version": 1, "name": "create_users", "duration_ms": 0},
                {"version": 2, "name": "create_items", "duration_ms": 0},
                {"version": 3, "name": "seed_admin", "duration_ms": 0},
                {"version": 4, "name": "users_display_name", "duration_ms": 0},
                {"version": 5, "name": "users_item_count", "duration_ms": 0},
            ],
            "backup": null,
        })
    );
    assert!(!db.tables().contains(&"scratch".to_owned()));
    assert_eq!(db.versions(), [1, 2, 3, 4, 5]);
    assert_eq!(
        db.json(&["database", "drop", "-y"]),
        (0, json!({"database": db.url(), "dropped": true}))
    );
    assert!(!exists(&db));
    assert_eq!(
        db.json(&["database", "reset", "-y"]).1["dropped"],
        json!(false)
    );
    assert_eq!(db.versions(), [1, 2, 3, 4, 5]);
    assert_eq!(
        db.json(&["database", "create"]),
        (0, json!({"database": db.url(), "created": false}))
    );
}

every_backend!(create_drop_and_reset);

/// Runs `migrate ARGS` on a terminal (`script` gives it one, echo off),
/// typing `answer` once it asks.
fn on_a_terminal(args: &[&str], answer: &str) -> Run {
    let quoted: Vec<String> = std::iter::once(env!("CARGO_BIN_EXE_migrate"))
        .chain(args.iter().copied())
        .map(|arg| format!("'{}'", arg.replace('\'', r"'\''")))
        .collect();
    let mut child = Command::new("script")
        .args(["--quiet", "--return", "--command"])
        .arg(format!("stty -echo; {}", quoted.join(" ")))
        .arg("/dev/null")
        .current_dir(crate::common::workspace())
        .env_remove("DATABASE_URL")
        .env_remove("MIGRATE_DIR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("`script` (util-linux) runs the command on a terminal");
    let mut stdout = child.stdout.take().unwrap();
    let mut shown = Vec::new();
    let mut byte = [0];
    while !shown.ends_with(b"[y/N] ") {
        match stdout.read(&mut byte) {
            Ok(1) => shown.push(byte[0]),
            _ => break,
        }
    }
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(answer.as_bytes()).unwrap();
    drop(stdin);
    stdout.read_to_end(&mut shown).unwrap();
    let status = child.wait().unwrap();
    Run {
        code: status.code().expect("exited, not killed"),
        // The terminal ends lines with \r\n.
        stdout: String::from_utf8(shown).unwrap().replace("\r\n", "\n"),
        stderr: String::new(),
    }
}

#[test]
fn drop_and_reset_ask_on_a_terminal() {
    let Some(db) = Subject::new(Kind::Sqlite, "portable") else {
        return;
    };
    db.ok(&["upgrade"]);
    let url = db.url();
    let dir = db.project.dir.display().to_string();
    let args = |verb: &'static str| ["--database-url", &url, "--dir", &dir, "database", verb];
    let described = described(&db);
    let no = on_a_terminal(&args("drop"), "n\n");
    assert_eq!(
        (no.code, no.stdout),
        (
            1,
            format!("drop the {described}? [y/N] kept the {described}: the answer was not `y`\n")
        )
    );
    let nothing = on_a_terminal(&args("reset"), "\n");
    assert_eq!(
        (nothing.code, nothing.stdout),
        (
            1,
            format!(
                "drop the {described}, create it again and upgrade it to head? [y/N] kept the {described}: the answer was not `y`\n"
            )
        )
    );
    assert_eq!(db.versions(), [1, 2, 3, 4, 5]);
    db.execute("CREATE TABLE scratch (id INT)");
    let yes = on_a_terminal(&args("reset"), "yes\n");
    assert_eq!(yes.code, 0, "{yes:?}");
    assert!(!db.tables().contains(&"scratch".to_owned()));
    let y = on_a_terminal(&args("drop"), "Y\n");
    assert_eq!(
        (y.code, y.stdout),
        (
            0,
            format!("drop the {described}? [y/N] dropped the {described}\n")
        )
    );
    assert!(!exists(&db));
}

#[test]
fn drop_and_reset_without_a_terminal_need_yes() {
    for kind in [Kind::Sqlite, Kind::Postgres, Kind::MySql] {
        let Some(db) = Subject::new(kind, "portable") else {
            continue;
        };
        db.ok(&["upgrade"]);
        for (verb, action) in [("drop", "drop it"), ("reset", "reset it")] {
            // The tests' commands read stdin from /dev/null.
            let run = db.run(&["database", verb]);
            assert_eq!(
                (run.code, run.stdout.as_str(), run.stderr),
                (
                    2,
                    "",
                    format!(
                        "error: `database {verb}` asks before it drops the {}, and stdin is not a terminal to answer on; pass -y (--yes) to {action} without asking\n\n\
                         Usage: migrate [OPTIONS] <COMMAND>\n\nFor more information, try '--help'.\n",
                        described(&db)
                    )
                ),
                "{kind:?}"
            );
        }
        assert_eq!(db.versions(), [1, 2, 3, 4, 5], "{kind:?}");
    }
}

/// PostgreSQL refuses to drop a database other sessions use; `--force`
/// ends them.
#[test]
fn postgres_drop_refuses_while_others_are_connected_unless_forced() {
    let Some(db) = Subject::new(Kind::Postgres, "portable") else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let other = runtime
        .block_on(sqlx::PgConnection::connect(&db.url()))
        .unwrap();
    let run = db.run(&["database", "drop", "-y"]);
    assert_eq!(
        (run.code, run.stdout.as_str(), run.stderr),
        (
            1,
            "",
            format!(
                "cannot drop the {}: other sessions are connected to it; close them, or pass --force to end them\n",
                described(&db)
            )
        )
    );
    assert!(exists(&db));
    assert_eq!(
        db.ok(&["database", "drop", "-y", "--force"]),
        format!("dropped the {}\n", described(&db))
    );
    assert!(!exists(&db));
    drop(other);
}

/// MySQL/MariaDB drop a database others are connected to, but wait for
/// their transactions on its tables: no longer than `--lock-timeout`.
#[test]
fn mysql_drop_waits_for_open_transactions_up_to_the_lock_timeout() {
    let Some(db) = Subject::new(Kind::MySql, "portable") else {
        return;
    };
    db.ok(&["upgrade"]);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut other = runtime
        .block_on(sqlx::MySqlConnection::connect(&db.url()))
        .unwrap();
    runtime
        .block_on(sqlx::raw_sql("BEGIN; SELECT count(*) FROM users").execute(&mut other))
        .unwrap();
    let started = Instant::now();
    let run = db.run(&["--lock-timeout", "1s", "database", "drop", "-y"]);
    let took = started.elapsed();
    assert_eq!(
        (run.code, run.stdout.as_str(), run.stderr),
        (
            1,
            "",
            format!(
                "cannot drop the {}: Lock wait timeout exceeded; try restarting transaction\n",
                described(&db)
            )
        )
    );
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert!(exists(&db));
    runtime.block_on(other.close()).unwrap();
    assert_eq!(
        db.ok(&["database", "drop", "-y"]),
        format!("dropped the {}\n", described(&db))
    );
}

#[test]
fn database_verbs_work_on_one_database_at_a_time() {
    for verb in [
        &["database", "create"][..],
        &["database", "drop", "-y"],
        &["wait"],
    ] {
        let mut args = vec![
            "--database-url",
            "sqlite://a.db",
            "--database-url",
            "sqlite://b.db",
        ];
        args.extend_from_slice(verb);
        let run = migrate(&args);
        assert_eq!(run.code, 2, "{verb:?}");
        assert!(
            run.stderr.starts_with(&format!(
                "error: `{}` works on one database at a time; name one with --database-url",
                verb[..verb.len().min(2)].join(" ")
            )),
            "{}",
            run.stderr
        );
    }
}
