//! A password in a database URL appears in no output, error or log line:
//! not when the server is unreachable, not when it refuses the password,
//! not when everything works, at any verbosity, as text or JSON.

use serde_json::json;

use crate::common::{Run, migrate};
use crate::servers::{Kind, ServerDatabase, Subject, execute, unique_name};

const SECRET: &str = "hunter2-s3cret";

/// Every verb that reaches the database, loud and in JSON.
const VERBS: [&[&str]; 9] = [
    &["current"],
    &["history"],
    &["status"],
    &["check"],
    &["upgrade"],
    &["upgrade", "--sql"],
    &["upgrade", "--dry-run"],
    &["downgrade", "-1"],
    &["stamp", "head"],
];

/// Runs `verb` on `url` with `-vvv --json` and asserts the secret (as
/// written or percent-encoded) is nowhere.
#[track_caller]
fn run_without_secret(url: &str, dir: &str, verb: &[&str]) -> Run {
    let mut args = vec!["-vvv", "--json", "--database-url", url, "--dir", dir];
    args.extend_from_slice(verb);
    let run = migrate(&args);
    for shown in [&run.stdout, &run.stderr] {
        assert!(
            !shown.contains(SECRET) && !shown.contains("s3cret"),
            "{verb:?} showed the password: {run:?}"
        );
    }
    run
}

#[test]
fn an_unreachable_server_is_named_without_the_password() {
    let refused = "error communicating with database: Connection refused (os error 111)";
    let cases = [
        (
            format!("postgres://admin:{SECRET}@127.0.0.1:1/app"),
            format!(
                "cannot connect to the PostgreSQL database postgres://admin:***@127.0.0.1:1/app: {refused}"
            ),
        ),
        (
            format!("postgresql://admin:{SECRET}@127.0.0.1:1/app?sslmode=disable"),
            format!(
                "cannot connect to the PostgreSQL database postgresql://admin:***@127.0.0.1:1/app?sslmode=disable: {refused}"
            ),
        ),
        (
            format!(
                "mysql://root:{}@127.0.0.1:1/app",
                SECRET.replace('-', "%2D")
            ),
            format!(
                "cannot connect to the MySQL/MariaDB database mysql://root:***@127.0.0.1:1/app: {refused}"
            ),
        ),
        (
            format!("mariadb://root@127.0.0.1:1/app?password={SECRET}"),
            format!(
                "cannot connect to the MySQL/MariaDB database mariadb://root@127.0.0.1:1/app?password=***: {refused}"
            ),
        ),
    ];
    for (url, message) in &cases {
        for verb in VERBS {
            let run = run_without_secret(url, "fixtures/portable", verb);
            assert_eq!(run.code, 1, "{url} {verb:?}");
            assert_eq!(run.json(), json!({"error": message}), "{verb:?}");
            assert!(
                run.stderr.ends_with(&format!("\n{message}\n")),
                "{verb:?}: {}",
                run.stderr
            );
        }
    }
    // From the environment: not in the help either.
    let help = assert_cmd::cargo::cargo_bin_cmd!("migrate")
        .current_dir(crate::common::workspace())
        .env("DATABASE_URL", &cases[0].0)
        .arg("--help")
        .output()
        .unwrap();
    assert!(!String::from_utf8(help.stdout).unwrap().contains(SECRET));
}

/// `url` with its user's password set to `password`.
fn with_password(url: &str, password: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (user_info, host) = rest.split_once('@').unwrap();
    let user = user_info.split(':').next().unwrap();
    format!("{scheme}://{user}:{password}@{host}")
}

/// MariaDB's root has no password here, so any password is a wrong one.
/// (PostgreSQL trusts every local connection here and ignores passwords,
/// so it cannot refuse one.)
#[test]
fn a_wrong_password_is_refused_without_being_shown() {
    let Some(db) = ServerDatabase::create(Kind::MySql) else {
        return;
    };
    let url = with_password(db.url(), SECRET);
    for verb in VERBS {
        let run = run_without_secret(&url, "fixtures/portable", verb);
        assert_eq!(run.code, 1, "{verb:?}");
        let message = run.json()["error"].as_str().unwrap().to_owned();
        let shown = with_password(db.url(), "***");
        assert!(
            message.starts_with(&format!(
                "cannot connect to the MySQL/MariaDB database {shown}: Access denied for user 'root'@"
            )) && message.ends_with(" (using password: YES)"),
            "{message}"
        );
        assert!(run.stderr.ends_with(&format!("{message}\n")));
    }
}

/// A MySQL user with a password, dropped on drop.
struct MySqlUser {
    admin_url: String,
    name: String,
}

impl Drop for MySqlUser {
    fn drop(&mut self) {
        let _ = execute(
            Kind::MySql,
            &self.admin_url,
            &format!("DROP USER IF EXISTS '{}'@'%'", self.name),
        );
    }
}

/// The whole life of a database through a URL that holds a password:
/// nothing shows it. On MySQL a user with that password is made for the
/// test; PostgreSQL (trusting local connections here) ignores it, which
/// still puts it through every code path that could print a URL.
#[test]
fn a_working_url_with_a_password_is_never_shown() {
    for kind in [Kind::Postgres, Kind::MySql] {
        let Some(db) = Subject::new(kind, "portable") else {
            continue;
        };
        let mut user = None;
        let url = match kind {
            Kind::MySql => {
                let admin = db.server().unwrap().server_url();
                let name = unique_name("migrate_user");
                let database = db.url().rsplit('/').next().unwrap().to_owned();
                execute(
                    kind,
                    &admin,
                    &format!(
                        "CREATE USER '{name}'@'%' IDENTIFIED BY '{SECRET}'; \
                         GRANT ALL ON {database}.* TO '{name}'@'%'"
                    ),
                )
                .unwrap();
                let url = format!(
                    "mysql://{name}:{SECRET}@{}",
                    db.url().split_once('@').unwrap().1
                );
                user = Some(MySqlUser {
                    admin_url: admin,
                    name,
                });
                url
            }
            _ => with_password(&db.url(), SECRET),
        };
        let dir = db.project.dir.display().to_string();
        for verb in [&["upgrade", "+2"][..]]
            .into_iter()
            .chain(VERBS)
            // `stamp head` recorded 5 without running it: forget it, then undo all.
            .chain([&["stamp", "4"][..], &["downgrade", "base"]])
        {
            let run = run_without_secret(&url, &dir, verb);
            assert_eq!(
                run.code,
                if verb == ["check"] { 3 } else { 0 },
                "{verb:?}: {run:?}"
            );
        }
        assert_eq!(db.versions(), Vec::<i64>::new());
        drop(user);
    }
}
