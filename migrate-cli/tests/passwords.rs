//! A password in a database URL appears in no output, error or log line:
//! not when the server is unreachable, not when it refuses the password,
//! not when everything works, at any verbosity, as text or JSON.

use serde_json::json;

use crate::common::{Run, migrate, migrate_in, portable_status, workspace};
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
            format!("mariadb://root:{SECRET}@127.0.0.1:1/app?ssl-mode=DISABLED"),
            format!(
                "cannot connect to the MySQL/MariaDB database mariadb://root:***@127.0.0.1:1/app?ssl-mode=DISABLED: {refused}"
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

/// The URL of `db` with the password [`SECRET`]: on MySQL, a user made
/// with that password (dropped with the returned guard) and every right on
/// the database; PostgreSQL (trusting local connections here) ignores it.
fn with_secret(db: &Subject) -> (String, Option<MySqlUser>) {
    if db.kind != Kind::MySql {
        return (with_password(&db.url(), SECRET), None);
    }
    let admin = db.server().unwrap().server_url();
    let name = unique_name("migrate_user");
    let database = db.url().rsplit('/').next().unwrap().to_owned();
    execute(
        Kind::MySql,
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
    (
        url,
        Some(MySqlUser {
            admin_url: admin,
            name,
        }),
    )
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
        let (url, user) = with_secret(&db);
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

/// A closed port on this machine: a connection fails at once.
const CLOSED: &str = "127.0.0.1:1";

/// The sentence for a refused connection to `shown`.
fn refused(engine: &str, shown: &str) -> String {
    format!(
        "cannot connect to the {engine} database {shown}: error communicating with database: Connection refused (os error 111)"
    )
}

// Regression: sqlx ignores a query parameter it does not read (PostgreSQL
// logging it with its value, MySQL silently), so `?pwd=` or a MySQL
// `?password=` connected without the password, and a typo such as
// `?ssl_mode=` without TLS. Such a URL is now a usage error that names the
// parameter and hides its value.
#[test]
fn a_parameter_the_driver_would_ignore_is_refused_without_its_value() {
    for (url, shown, hint) in [
        (
            format!("postgres://u@{CLOSED}/app?sslpassword={SECRET}&sslmode=disable"),
            format!("postgres://u@{CLOSED}/app?sslpassword=***&sslmode=disable"),
            "the PostgreSQL driver does not read the parameter `sslpassword` and would ignore it; the driver reads no passphrase for a client key: give it a key file without one (`sslkey=`)",
        ),
        (
            format!("postgres://u@{CLOSED}/app?Password={SECRET}"),
            format!("postgres://u@{CLOSED}/app?Password=***"),
            "the PostgreSQL driver does not read the parameter `Password` and would ignore it; write it as `password=`, or in the URL itself: postgres://user:password@host/database",
        ),
        (
            format!("mysql://root@{CLOSED}/app?PASS%77ORD={SECRET}"),
            format!("mysql://root@{CLOSED}/app?PASS%77ORD=***"),
            "the MySQL/MariaDB driver does not read the parameter `PASS%77ORD` and would ignore it; put the password in the URL itself: mysql://user:password@host/database",
        ),
    ] {
        let run = portable_status("--database-url", &url);
        assert_eq!(
            (run.code, run.stdout, run.stderr),
            (
                2,
                String::new(),
                format!(
                    "error: {shown}: {hint}\n\nUsage: migrate [OPTIONS] <COMMAND>\n\nFor more information, try '--help'.\n"
                )
            ),
            "{url}"
        );
        let run = run_without_secret(&url, "fixtures/portable", &["status"]);
        assert_eq!(run.json(), json!({"error": format!("{shown}: {hint}")}));
        // In a `--databases` list, the line is named.
        let tmp = tempfile::tempdir().unwrap();
        let list = tmp.path().join("tenants.txt");
        std::fs::write(&list, format!("# tenants\nsqlite://a.db\n{url}\n")).unwrap();
        let run = portable_status("--databases", list.to_str().unwrap());
        assert_eq!(
            (run.code, run.stderr),
            (
                2,
                format!(
                    "error: {}, line 3: {shown}: {hint}\n\nUsage: migrate [OPTIONS] <COMMAND>\n\nFor more information, try '--help'.\n",
                    list.display()
                )
            ),
            "{url}"
        );
    }
}

// Regression: a percent-encoded key (`?pass%77ord=`) hid the password from
// the redaction but not from sqlx, which decodes it: the password was
// printed in errors and in the `--databases` summary table.
#[test]
fn a_percent_encoded_key_is_read_as_the_driver_reads_it() {
    let url = format!("postgres://u@{CLOSED}/app?pass%77ord={SECRET}");
    let shown = format!("postgres://u@{CLOSED}/app?pass%77ord=***");
    let run = run_without_secret(&url, "fixtures/portable", &["status"]);
    assert_eq!(run.json(), json!({"error": refused("PostgreSQL", &shown)}));
    let tmp = tempfile::tempdir().unwrap();
    let list = tmp.path().join("tenants.txt");
    let other = format!("postgresql://v@{CLOSED}/b?pass%77ord={SECRET}");
    std::fs::write(&list, format!("{url}\n{other}\n")).unwrap();
    let run = portable_status("--databases", list.to_str().unwrap());
    assert_eq!(run.code, 1);
    assert!(
        !run.stdout.contains("s3cret") && !run.stderr.contains("s3cret"),
        "{run:?}"
    );
    assert!(run.stdout.starts_with("DATABASE"), "{}", run.stdout);
    assert!(run.stdout.contains(&shown), "{}", run.stdout);
    assert!(
        run.stdout
            .contains(&format!("postgresql://v@{CLOSED}/b?pass%77ord=***")),
        "{}",
        run.stdout
    );
}

// Regression: with a one-character password every occurrence of that
// character was masked (`cannot o***en the database …`).
#[test]
fn a_short_password_is_masked_in_its_place_not_in_every_word() {
    for password in ["o", "n", "to"] {
        let url = format!("postgres://admin:{password}@{CLOSED}/app");
        let run = portable_status("--database-url", &url);
        assert_eq!(
            (run.code, run.stderr),
            (
                1,
                format!(
                    "{}\n",
                    refused("PostgreSQL", &format!("postgres://admin:***@{CLOSED}/app"))
                )
            ),
            "{password}"
        );
    }
}

/// Every URL form of the issue for the PostgreSQL database `postgres`
/// (`postgres://user@host/db`) and, given, the MySQL user and host, each
/// with whether it is refused as written (a usage error, exit 2): without
/// `//`, or with a password parameter the driver would ignore.
fn forms(postgres: &str, mysql: Option<(&str, &str)>) -> Vec<(String, bool)> {
    let encoded = SECRET.replace('-', "%2D");
    let (user, host) = postgres
        .split_once("://")
        .unwrap()
        .1
        .split_once('@')
        .unwrap();
    let mut forms = vec![
        (format!("postgres://{user}:{SECRET}@{host}"), false),
        (format!("postgresql://{user}:{encoded}@{host}"), false),
        (format!("postgres:/{user}:{SECRET}@{host}"), true),
        (
            format!("postgres://{user}@{host}?sslpassword={SECRET}"),
            true,
        ),
        (
            format!("postgres://{user}@{host}?pass%77ord={encoded}"),
            false,
        ),
        (format!("postgres://{user}@{host}?pwd={SECRET}"), true),
        (format!("postgres://{user}@{host}?Password={SECRET}"), true),
    ];
    if let Some((mysql_user, mysql_host)) = mysql {
        forms.push((format!("mysql://{mysql_user}:{SECRET}@{mysql_host}"), false));
        forms.push((
            format!("mysql://{mysql_user}@{mysql_host}?password={SECRET}"),
            true,
        ));
    }
    forms
}

/// The acceptance test: every verb, as text and `--json`, at every
/// verbosity, working and failing, through every URL form: the password
/// is nowhere in stdout or stderr, as written or percent-encoded. Each
/// working form has a database of its own; the forms run side by side.
#[test]
fn no_verb_at_any_verbosity_shows_a_password() {
    let Some(my) = Subject::new(Kind::MySql, "portable") else {
        return;
    };
    let admin = my.server().unwrap().server_url();
    let name = unique_name("migrate_sweep");
    let database = my.url().rsplit('/').next().unwrap().to_owned();
    execute(
        Kind::MySql,
        &admin,
        &format!(
            "CREATE USER '{name}'@'%' IDENTIFIED BY '{SECRET}'; GRANT ALL ON {database}.* TO '{name}'@'%'"
        ),
    )
    .unwrap();
    let _user = MySqlUser {
        admin_url: admin,
        name: name.clone(),
    };
    let mysql_host = my.url().split_once('@').unwrap().1.to_owned();
    let mut subjects = Vec::new();
    let mut jobs: Vec<(String, bool, bool, String)> = Vec::new();
    let form_count = forms("postgres://u@h/db", Some(("u", "h"))).len();
    for index in 0..form_count {
        let subject = match index {
            7 | 8 => &my,
            _ => {
                let Some(pg) = Subject::new(Kind::Postgres, "portable") else {
                    return;
                };
                subjects.push(pg);
                subjects.last().unwrap()
            }
        };
        let (url, refused) = forms(&subject.url(), Some((&name, &mysql_host))).swap_remove(index);
        jobs.push((
            url,
            refused,
            true,
            subject.project.dir.display().to_string(),
        ));
    }
    let failing = forms(
        &format!("postgres://postgres@{CLOSED}/app"),
        Some((&name, &format!("{CLOSED}/app"))),
    );
    jobs.extend(
        failing
            .into_iter()
            .map(|(url, refused)| (url, refused, false, "fixtures/portable".to_owned())),
    );
    let verbs: [&[&str]; 9] = [
        &["current"],
        &["history"],
        &["status"],
        &["upgrade", "--dry-run"],
        &["upgrade", "--sql"],
        &["upgrade"],
        &["stamp", "head"],
        &["check"],
        // Undone here, applied again by the next round's `upgrade`.
        &["downgrade", "-1"],
    ];
    let secrets = [
        SECRET.to_owned(),
        "s3cret".to_owned(),
        SECRET.replace('-', "%2D"),
    ];
    let runs = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for (url, refused_early, works, dir) in &jobs {
            let (runs, secrets) = (&runs, &secrets);
            scope.spawn(move || {
                for json in [false, true] {
                    for verbosity in [None, Some("-v"), Some("-vv"), Some("-vvv")] {
                        for verb in verbs {
                            let mut args = vec!["--dir", dir.as_str(), "--database-url", url];
                            args.extend(json.then_some("--json"));
                            args.extend(verbosity);
                            args.extend(verb);
                            let run = migrate(&args);
                            runs.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            for text in [&run.stdout, &run.stderr] {
                                for secret in secrets {
                                    assert!(
                                        !text.contains(secret.as_str()),
                                        "{args:?} shows the password: {run:?}"
                                    );
                                }
                            }
                            let code = match (*refused_early, works) {
                                (true, _) => 2,
                                (false, true) => 0,
                                (false, false) => 1,
                            };
                            assert_eq!(run.code, code, "{args:?}: {run:?}");
                        }
                    }
                }
            });
        }
    });
    assert_eq!(runs.into_inner(), jobs.len() * 2 * 4 * verbs.len());
}

/// The verbs about the database itself: each connects (or, for a SQLite
/// file, opens) in its own way.
const DATABASE_VERBS: [&[&str]; 4] = [
    &["database", "create"],
    &["database", "drop", "-y"],
    &["database", "reset", "-y"],
    &["wait", "--timeout", "200ms"],
];

/// Runs `verb` with `-vvv --json` in a directory whose `.env` names the
/// database `url` and the `portable` migrations, and asserts the password
/// (as written or percent-encoded) is nowhere.
#[track_caller]
fn run_from_dotenv(url: &str, verb: &[&str]) -> Run {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join(".env"),
        format!(
            "DATABASE_URL='{url}'\nMIGRATE_DIR={}\n",
            workspace().join("fixtures/portable").display()
        ),
    )
    .unwrap();
    let mut args = vec!["-vvv", "--json"];
    args.extend_from_slice(verb);
    let run = migrate_in(tmp.path(), &args);
    for shown in [&run.stdout, &run.stderr] {
        for secret in [SECRET, "s3cret", &SECRET.replace('-', "%2D")] {
            assert!(
                !shown.contains(secret),
                "{verb:?} from .env showed the password: {run:?}"
            );
        }
    }
    run
}

/// A URL with a password in `.env`, every form of the issue, failing and
/// working, through every verb and the database's own verbs: the password
/// is nowhere.
#[test]
fn a_password_in_a_dotenv_url_is_never_shown() {
    let failing = forms(
        &format!("postgres://postgres@{CLOSED}/app"),
        Some(("u", &format!("{CLOSED}/app"))),
    );
    for (url, refused) in &failing {
        for verb in VERBS.into_iter().chain(DATABASE_VERBS) {
            let run = run_from_dotenv(url, verb);
            let code = if *refused { 2 } else { 1 };
            assert_eq!(run.code, code, "{url} {verb:?}: {run:?}");
        }
    }
    // Working: PostgreSQL ignores the password here; MySQL's user has one.
    for kind in [Kind::Postgres, Kind::MySql] {
        let Some(db) = Subject::new(kind, "portable") else {
            continue;
        };
        let (url, _user) = with_secret(&db);
        for verb in [
            &["upgrade"][..],
            &["database", "reset", "-y"],
            &["status"],
            &["database", "drop", "-y"],
            &["database", "create"],
            &["wait", "--timeout", "5s"],
            &["upgrade"],
        ] {
            let run = run_from_dotenv(&url, verb);
            assert_eq!(run.code, 0, "{kind:?} {verb:?}: {run:?}");
        }
        assert_eq!(db.versions(), [1, 2, 3, 4, 5]);
    }
}
