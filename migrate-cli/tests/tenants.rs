//! Several databases in one call: `--database-url` repeated,
//! `--databases FILE`, `--sqlite-glob`; `--jobs`, `--fail-fast`; the
//! summary table, the `--json` array, the exit codes; the verbs refused.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::backup::{backups, unstamped};
use crate::common::{
    APP_NAMES, Run, history_rows, migrate_in, schema, stable, workspace, zero_durations,
};
use crate::servers::{Kind, ServerDatabase};

/// A scratch directory with `tenants/t001.db` … (empty SQLite files), the
/// one numbered `broken` already holding a `users` table, so that the
/// first migration fails on it.
struct Tenants {
    tmp: tempfile::TempDir,
}

impl Tenants {
    fn new(count: usize, broken: Option<usize>) -> Tenants {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("tenants")).unwrap();
        let tenants = Tenants { tmp };
        for n in 1..=count {
            std::fs::write(tenants.file(n), "").unwrap();
        }
        if let Some(n) = broken {
            rusqlite::Connection::open(tenants.file(n))
                .unwrap()
                .execute_batch("CREATE TABLE users (x)")
                .unwrap();
        }
        tenants
    }

    /// `tenants/tNNN.db`, as the glob names it.
    fn name(n: usize) -> String {
        format!("tenants/t{n:03}.db")
    }

    fn file(&self, n: usize) -> PathBuf {
        self.tmp.path().join(Tenants::name(n))
    }

    fn versions(&self, n: usize) -> Vec<i64> {
        history_rows(&rusqlite::Connection::open(self.file(n)).unwrap())
            .into_iter()
            .map(|row| row.version)
            .collect()
    }

    /// `migrate --dir <fixtures/app> ARGS...` in the scratch directory.
    fn run(&self, args: &[&str]) -> Run {
        let dir = workspace().join("fixtures/app").display().to_string();
        let mut all = vec!["--dir", dir.as_str()];
        all.extend_from_slice(args);
        migrate_in(self.tmp.path(), &all)
    }

    /// `migrate --sqlite-glob 'tenants/*.db' OPTIONS... upgrade`.
    fn upgrade_all(&self, options: &[&str]) -> Run {
        self.run(&[&["--sqlite-glob", "tenants/*.db"], options, &["upgrade"]].concat())
    }

    /// What upgrading `tenants/tNNN.db` alone says when it fails.
    fn alone(&self, n: usize) -> String {
        let copy = self.tmp.path().join("alone.db");
        std::fs::copy(self.file(n), &copy).unwrap();
        let run = self.run(&["--database-url", "alone.db", "upgrade"]);
        assert_eq!(run.code, 1);
        std::fs::remove_file(copy).unwrap();
        run.stderr.trim_end().to_owned()
    }
}

/// `[{"version", "name", "duration_ms": 0}, …]` for the app fixture's `versions`.
fn steps(versions: std::ops::RangeInclusive<i64>) -> Value {
    versions
        .map(|v| json!({"version": v, "name": APP_NAMES[v as usize - 1], "duration_ms": 0}))
        .collect()
}

/// Tenant `n` upgraded from nothing to head, as `--json` lists it.
fn upgraded(n: usize) -> Value {
    json!({
        "database": Tenants::name(n),
        "ok": true,
        "from": null,
        "to": 6,
        "applied": steps(1..=6),
        "backup": null,
    })
}

/// Tenant `n` failed with `error`, as `--json` lists it.
fn failed(n: usize, error: &str) -> Value {
    json!({"database": Tenants::name(n), "ok": false, "error": error})
}

fn zero_all(document: Value) -> Vec<Value> {
    document
        .as_array()
        .expect("an array")
        .iter()
        .cloned()
        .map(zero_durations)
        .collect()
}

#[test]
fn two_hundred_tenants_in_one_call_with_one_broken() {
    let tenants = Tenants::new(200, Some(137));
    let message = tenants.alone(137);
    let run = tenants.upgrade_all(&["--json", "--jobs", "4"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let expected: Vec<Value> = (1..=200)
        .map(|n| match n {
            137 => failed(n, &message),
            _ => upgraded(n),
        })
        .collect();
    assert_eq!(zero_all(run.json()), expected);
    // The failure, once, on stderr, named by its database.
    assert_eq!(run.stderr, format!("tenants/t137.db: {message}\n"));
    for n in 1..=200 {
        let expected: Vec<i64> = if n == 137 { vec![] } else { (1..=6).collect() };
        assert_eq!(tenants.versions(n), expected, "tenant {n}");
    }
    // The broken one is as it was: its script was rolled back.
    let conn = rusqlite::Connection::open(tenants.file(137)).unwrap();
    assert_eq!(
        schema(&conn),
        [(
            "table".to_owned(),
            "users".to_owned(),
            Some("CREATE TABLE users (x)".to_owned())
        )]
    );

    // Again, for people: a table of 200 rows and a count; the others have
    // nothing left to do.
    let run = tenants.upgrade_all(&["--jobs", "4"]);
    assert_eq!(run.code, 1);
    let text = stable(&run.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 202, "{text}");
    assert_eq!(
        lines[0],
        "DATABASE         FROM  TO  APPLIED  RESULT  DURATION"
    );
    assert_eq!(lines[1], "tenants/t001.db  6     6   0        ok      N ms");
    assert_eq!(
        lines[137],
        "tenants/t137.db  -     -   -        failed  N ms"
    );
    assert_eq!(lines[201], "200 databases: 199 ok, 1 failed");
    assert_eq!(run.stderr, format!("tenants/t137.db: {message}\n"));
}

/// Many databases at once: each one's pending steps run in one transaction
/// where every step allows it, so a tenant whose third step fails stays at
/// its old head (nothing half-upgraded); `--transaction-mode per-step`
/// keeps the steps before the failure, as one database alone does by
/// default.
#[test]
fn each_tenant_ends_at_its_old_head_or_its_new_one() {
    let with_items = |tenants: &Tenants| {
        rusqlite::Connection::open(tenants.file(2))
            .unwrap()
            .execute_batch("CREATE TABLE items (x)")
            .unwrap();
    };
    let tenants = Tenants::new(3, None);
    with_items(&tenants);
    let run = tenants.upgrade_all(&["--jobs", "2"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(tenants.versions(1), (1..=6).collect::<Vec<_>>());
    assert_eq!(tenants.versions(2), Vec::<i64>::new(), "its old head");
    assert_eq!(tenants.versions(3), (1..=6).collect::<Vec<_>>());
    let conn = rusqlite::Connection::open(tenants.file(2)).unwrap();
    assert_eq!(
        schema(&conn),
        [(
            "table".to_owned(),
            "items".to_owned(),
            Some("CREATE TABLE items (x)".to_owned())
        )],
        "steps 1 and 2 rolled back with 3"
    );
    assert!(
        run.stderr
            .starts_with("tenants/t002.db: migration 3 (0003_create_items.up.sql) failed")
            && run.stderr.contains(
                "it was rolled back with the steps before it in the run's one transaction, so \
                 the database is as it was before the run"
            ),
        "{}",
        run.stderr
    );

    let tenants = Tenants::new(3, None);
    with_items(&tenants);
    let run = tenants.upgrade_all(&["--transaction-mode", "per-step"]);
    assert_eq!(run.code, 1);
    assert_eq!(tenants.versions(2), [1, 2], "the steps before the failure");
    assert_eq!(tenants.versions(1), (1..=6).collect::<Vec<_>>());

    let tenants = Tenants::new(2, None);
    with_items(&tenants);
    let run = tenants.run(&["--database-url", &Tenants::name(2), "upgrade"]);
    assert_eq!(run.code, 1);
    assert_eq!(tenants.versions(2), [1, 2], "one database: per step");
}

#[test]
fn fail_fast_leaves_the_later_databases_untried_and_says_so() {
    let tenants = Tenants::new(10, Some(4));
    let message = tenants.alone(4);
    let run = tenants.upgrade_all(&["--fail-fast", "--jobs", "1", "--json"]);
    assert_eq!(run.code, 1);
    let not_tried = "not tried: an earlier database failed and the run stops at the first failure";
    let expected: Vec<Value> = (1..=10)
        .map(|n| match n {
            1..=3 => upgraded(n),
            4 => failed(n, &message),
            _ => failed(n, not_tried),
        })
        .collect();
    assert_eq!(zero_all(run.json()), expected);
    assert_eq!(
        run.stderr,
        format!(
            "tenants/t004.db: {message}\n6 databases were not tried: the run stopped at the first failure (--fail-fast)\n"
        )
    );
    for n in 5..=10 {
        assert_eq!(tenants.versions(n), Vec::<i64>::new(), "tenant {n}");
        assert_eq!(std::fs::metadata(tenants.file(n)).unwrap().len(), 0);
    }

    // In the table, the untried ones say so.
    let run = tenants.upgrade_all(&["--fail-fast", "--jobs", "1"]);
    assert_eq!(run.code, 1);
    assert_eq!(
        stable(&run.stdout),
        "DATABASE         FROM  TO  APPLIED  RESULT     DURATION\n\
         tenants/t001.db  6     6   0        ok         N ms\n\
         tenants/t002.db  6     6   0        ok         N ms\n\
         tenants/t003.db  6     6   0        ok         N ms\n\
         tenants/t004.db  -     -   -        failed     N ms\n\
         tenants/t005.db  -     -   -        not tried  N ms\n\
         tenants/t006.db  -     -   -        not tried  N ms\n\
         tenants/t007.db  -     -   -        not tried  N ms\n\
         tenants/t008.db  -     -   -        not tried  N ms\n\
         tenants/t009.db  -     -   -        not tried  N ms\n\
         tenants/t010.db  -     -   -        not tried  N ms\n\
         10 databases: 3 ok, 1 failed, 6 not tried\n"
    );
}

#[test]
fn a_list_file_and_repeated_urls_name_the_databases() {
    let tenants = Tenants::new(3, None);
    std::fs::write(
        tenants.tmp.path().join("tenants.txt"),
        "# one URL per line\n\nsqlite://tenants/t001.db\n  tenants/t002.db  \n# t003 is listed below\n",
    )
    .unwrap();
    let run = tenants.run(&[
        "--databases",
        "tenants.txt",
        "--database-url",
        "sqlite:tenants/t003.db",
        "upgrade",
        "+2",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    // The command line's URLs come first, then the file's.
    assert_eq!(
        stable(run.ok()),
        "DATABASE                  FROM  TO  APPLIED  RESULT  DURATION\n\
         sqlite:tenants/t003.db    base  2   2        ok      N ms\n\
         sqlite://tenants/t001.db  base  2   2        ok      N ms\n\
         tenants/t002.db           base  2   2        ok      N ms\n\
         3 databases: 3 ok\n"
    );
    let list = [
        "--databases",
        "tenants.txt",
        "--database-url",
        "tenants/t003.db",
    ];

    // check: 3 (pending) when some are behind and none failed, drifted or
    // is dirty; 0 when all are at head; 1 when any drifted.
    let check = tenants.run(&[&list[..], &["check"]].concat());
    assert_eq!(check.code, 3);
    assert_eq!(
        stable(&check.stdout),
        "DATABASE                  CURRENT  HEAD  PENDING  RESULT   DURATION\n\
         tenants/t003.db           2        6     4        pending  N ms\n\
         sqlite://tenants/t001.db  2        6     4        pending  N ms\n\
         tenants/t002.db           2        6     4        pending  N ms\n\
         3 databases: 3 pending\n"
    );
    assert_eq!(tenants.run(&[&list[..], &["upgrade"]].concat()).code, 0);
    let check = tenants.run(&[&list[..], &["--json", "check"]].concat());
    assert_eq!(check.code, 0, "{}", check.stderr);
    let at_head = |database: &str| json!({"database": database, "ok": true, "current": 6, "head": 6, "pending": 0, "dirty": false, "drift": false, "verdict": "current"});
    assert_eq!(
        check.json(),
        json!([
            at_head("tenants/t003.db"),
            at_head("sqlite://tenants/t001.db"),
            at_head("tenants/t002.db")
        ])
    );
    let edit = |checksum: &str| {
        rusqlite::Connection::open(tenants.file(2))
            .unwrap()
            .execute(
                "UPDATE _migrate_history SET checksum = ?1 WHERE version = 3",
                [checksum],
            )
            .unwrap();
    };
    let recorded = history_rows(&rusqlite::Connection::open(tenants.file(2)).unwrap())[2]
        .checksum
        .clone();
    edit("edited");
    let check = tenants.run(&[&list[..], &["check"]].concat());
    assert_eq!(check.code, 1);
    assert!(
        stable(&check.stdout)
            .contains("\ntenants/t002.db           6        6     0        drift   N ms\n"),
        "{}",
        check.stdout
    );
    assert!(check.stdout.ends_with("3 databases: 2 ok, 1 drift\n"));

    // status and current, as a table and as JSON.
    let status = tenants.run(&[&list[..], &["status"]].concat());
    assert_eq!(
        stable(status.ok()),
        "DATABASE                  CURRENT  HEAD  PENDING  DIRTY  DRIFT  RESULT  DURATION\n\
         tenants/t003.db           6        6     0        no     no     ok      N ms\n\
         sqlite://tenants/t001.db  6        6     0        no     no     ok      N ms\n\
         tenants/t002.db           6        6     0        no     yes    ok      N ms\n\
         3 databases: 3 ok\n"
    );
    edit(&recorded);
    let current = tenants.run(&[&list[..], &["--json", "current"]].concat());
    assert_eq!(current.code, 0);
    assert_eq!(
        current.json()[1],
        json!({"database": "sqlite://tenants/t001.db", "ok": true, "version": 6, "name": "users_item_count", "head": true})
    );

    // downgrade each by one.
    let run = tenants.run(&[&list[..], &["--json", "downgrade", "-1"]].concat());
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        zero_all(run.json())[0],
        json!({"database": "tenants/t003.db", "ok": true, "from": 6, "to": 5, "reverted": [{"version": 6, "name": "users_item_count", "duration_ms": 0}]})
    );
    assert_eq!(
        stable(tenants.run(&[&list[..], &["current"]].concat()).ok()),
        "DATABASE                  CURRENT               RESULT  DURATION\n\
         tenants/t003.db           5 users_display_name  ok      N ms\n\
         sqlite://tenants/t001.db  5 users_display_name  ok      N ms\n\
         tenants/t002.db           5 users_display_name  ok      N ms\n\
         3 databases: 3 ok\n"
    );
}

#[test]
fn a_database_that_cannot_be_opened_is_one_failure_among_the_others() {
    let tenants = Tenants::new(2, None);
    std::fs::write(tenants.tmp.path().join("tenants/t000.db"), "not a database").unwrap();
    let run = tenants.run(&["--sqlite-glob", "tenants/t*.db", "status"]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        "tenants/t000.db: could not open the database: tenants/t000.db is not a SQLite database (the file holds something else); check --database-url\n"
    );
    assert!(run.stdout.ends_with("3 databases: 2 ok, 1 failed\n"));
    // A database that does not exist is created by `upgrade` only.
    let run = tenants.run(&[
        "--database-url",
        "tenants/t001.db",
        "--database-url",
        "tenants/new.db",
        "--json",
        "current",
    ]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.json()[1],
        json!({"database": "tenants/new.db", "ok": false, "error": "could not open the database: the database tenants/new.db does not exist; check --database-url, or run `migrate upgrade` to create it"})
    );
}

#[test]
fn backups_are_made_per_tenant_only_where_something_is_pending() {
    let tenants = Tenants::new(3, None);
    // t002 is already at head: nothing to apply, so no backup of it.
    let t2 = format!("tenants/t{:03}.db", 2);
    assert_eq!(tenants.run(&["--database-url", &t2, "upgrade"]).code, 0);
    let run = tenants.run(&[
        "--sqlite-glob",
        "tenants/*.db",
        "--json",
        "upgrade",
        "--backup=backups",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let made = backups(&tenants.tmp.path().join("backups"));
    let names: Vec<String> = made
        .iter()
        .map(|path| unstamped(&path.file_name().unwrap().to_string_lossy()))
        .collect();
    assert_eq!(names, ["t001.[STAMP].base.bak", "t003.[STAMP].base.bak"]);
    let document = run.json();
    let relative = |path: &Path| {
        path.strip_prefix(tenants.tmp.path())
            .unwrap()
            .display()
            .to_string()
    };
    assert_eq!(document[0]["backup"], json!(relative(&made[0])));
    assert_eq!(document[1]["backup"], Value::Null);
    assert_eq!(document[2]["backup"], json!(relative(&made[1])));
    #[cfg(unix)]
    for path in &made {
        assert_eq!(crate::backup::mode(path), 0o600);
    }
    // In the table, a BACKUP column.
    tenants
        .run(&["--sqlite-glob", "tenants/*.db", "downgrade", "-1"])
        .ok();
    let run = tenants.run(&[
        "--sqlite-glob",
        "tenants/*.db",
        "upgrade",
        "--backup=backups",
    ]);
    let made = backups(&tenants.tmp.path().join("backups"));
    assert_eq!(made.len(), 5);
    // (Compared cell by cell: durations of different widths shift BACKUP.)
    let cells: Vec<Vec<String>> = unstamped(&stable(run.ok()))
        .lines()
        .map(|line| {
            line.split("  ")
                .map(str::trim)
                .filter(|cell| !cell.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .collect();
    let row = |n: usize| {
        vec![
            format!("tenants/t00{n}.db"),
            "5".into(),
            "6".into(),
            "1".into(),
            "ok".into(),
            "N ms".into(),
            format!("backups/t00{n}.[STAMP].5.bak"),
        ]
    };
    assert_eq!(
        cells,
        [
            [
                "DATABASE", "FROM", "TO", "APPLIED", "RESULT", "DURATION", "BACKUP"
            ]
            .map(str::to_owned)
            .to_vec(),
            row(1),
            row(2),
            row(3),
            vec!["3 databases: 3 ok".to_owned()],
        ]
    );
}

#[test]
fn verbs_of_one_database_are_refused_with_several() {
    let tenants = Tenants::new(2, None);
    let usage = |message: &str| {
        format!(
            "error: {message}\n\nUsage: migrate [OPTIONS] <COMMAND>\n\nFor more information, try '--help'.\n"
        )
    };
    let one_at_a_time = |what: &str| {
        usage(&format!(
            "{what} works on one database at a time; name one with --database-url, or run `upgrade`, `downgrade`, `status`, `check` or `current` on several"
        ))
    };
    for (args, stderr) in [
        (&["history"][..], one_at_a_time("`history`")),
        (&["stamp", "head"], one_at_a_time("`stamp`")),
        (&["upgrade", "--sql"], one_at_a_time("--sql")),
        (&["upgrade", "--dry-run"], one_at_a_time("--dry-run")),
        (&["downgrade", "-1", "--sql"], one_at_a_time("--sql")),
        (
            &["downgrade", "-1", "--dry-run"],
            one_at_a_time("--dry-run"),
        ),
        (
            &["new", "x"],
            usage(
                "`new` creates migration files and uses no database; drop --databases, --sqlite-glob and the repeated --database-url",
            ),
        ),
    ] {
        for several in [
            &["--sqlite-glob", "tenants/*.db"][..],
            &["--database-url", "a.db", "--database-url", "b.db"],
        ] {
            let run = tenants.run(&[several, args].concat());
            assert_eq!(
                (run.code, run.stdout.as_str(), run.stderr.as_str()),
                (2, "", stderr.as_str()),
                "{several:?} {args:?}"
            );
        }
    }
    // Nothing was read or changed.
    assert_eq!(tenants.versions(1), Vec::<i64>::new());
    assert!(!tenants.tmp.path().join("migrations").exists());

    // A wildcard in a directory is a usage error; a pattern that matches
    // nothing, an error naming it.
    let run = tenants.run(&["--sqlite-glob", "*/t001.db", "status"]);
    assert_eq!(
        (run.code, run.stderr.as_str()),
        (
            2,
            usage("--sqlite-glob '*/t001.db': `*` and `?` may stand only in the file name, not in a directory; use a pattern such as 'tenants/*.db'").as_str()
        )
    );
    let run = tenants.run(&["--sqlite-glob", "tenants/*.sqlite", "--json", "upgrade"]);
    let message = "--sqlite-glob 'tenants/*.sqlite' matches no file; check the pattern (relative paths start in the current directory)";
    assert_eq!(
        (run.code, run.json(), run.stderr),
        (1, json!({"error": message}), format!("{message}\n"))
    );
    // The same database twice would run twice at once.
    let run = tenants.run(&[
        "--database-url",
        "tenants/t001.db",
        "--sqlite-glob",
        "tenants/t00?.db",
        "upgrade",
    ]);
    assert_eq!(
        (run.code, run.stderr.as_str()),
        (
            1,
            "the database tenants/t001.db is named twice; name each database once\n"
        )
    );
    assert_eq!(tenants.versions(1), Vec::<i64>::new());
}

#[test]
fn database_url_from_the_environment_is_not_added_to_a_list() {
    let tenants = Tenants::new(2, None);
    let output = assert_cmd::cargo::cargo_bin_cmd!("migrate")
        .current_dir(tenants.tmp.path())
        .env("DATABASE_URL", "sqlite://app.db")
        .env("MIGRATE_DIR", workspace().join("fixtures/app"))
        .args(["--sqlite-glob", "tenants/*.db", "--json", "upgrade"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let document: Value = serde_json::from_slice(&output.stdout).unwrap();
    let databases: Vec<&str> = document
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["database"].as_str().unwrap())
        .collect();
    assert_eq!(databases, ["tenants/t001.db", "tenants/t002.db"]);
    assert!(!tenants.tmp.path().join("app.db").exists());
}

#[test]
fn passwords_stay_hidden_and_backups_are_refused_for_servers_in_a_list() {
    let tenants = Tenants::new(1, None);
    let secret = "hunter2-s3cret";
    std::fs::write(
        tenants.tmp.path().join("tenants.txt"),
        format!("tenants/t001.db\npostgres://admin:{secret}@127.0.0.1:1/app\n"),
    )
    .unwrap();
    let run = tenants.run(&["--databases", "tenants.txt", "--json", "-vvv", "status"]);
    assert_eq!(run.code, 1);
    for shown in [&run.stdout, &run.stderr] {
        assert!(!shown.contains("s3cret"), "{shown}");
    }
    let message = "could not open the database: cannot connect to the PostgreSQL database postgres://admin:***@127.0.0.1:1/app: error communicating with database: Connection refused (os error 111)";
    assert_eq!(
        run.json()[1],
        json!({"database": "postgres://admin:***@127.0.0.1:1/app", "ok": false, "error": message})
    );
    assert!(
        run.stderr.ends_with(&format!(
            "postgres://admin:***@127.0.0.1:1/app: {message}\n"
        )),
        "{}",
        run.stderr
    );
    // --backup with a server among the databases: refused before any runs.
    let run = tenants.run(&["--databases", "tenants.txt", "upgrade", "--backup"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.starts_with(
            "error: --backup copies SQLite database files only; back up this PostgreSQL database with pg_dump before you upgrade\n"
        ),
        "{}",
        run.stderr
    );
    assert_eq!(tenants.versions(1), Vec::<i64>::new());
}

#[test]
fn a_list_of_sqlite_postgres_and_mysql_databases() {
    let (Some(postgres), Some(mysql)) = (
        ServerDatabase::create(Kind::Postgres),
        ServerDatabase::create(Kind::MySql),
    ) else {
        return;
    };
    let tenants = Tenants::new(1, None);
    std::fs::write(
        tenants.tmp.path().join("tenants.txt"),
        format!(
            "# every kind\nsqlite://tenants/t001.db\n{}\n{}\n",
            postgres.url(),
            mysql.url()
        ),
    )
    .unwrap();
    let portable = workspace().join("fixtures/portable").display().to_string();
    let run = |args: &[&str]| {
        let mut all = vec!["--databases", "tenants.txt", "--dir", portable.as_str()];
        all.extend_from_slice(args);
        migrate_in(tenants.tmp.path(), &all)
    };
    let shown = [
        "sqlite://tenants/t001.db".to_owned(),
        migrate_cli::redact(postgres.url()),
        migrate_cli::redact(mysql.url()),
    ];
    let upgraded = run(&["--json", "upgrade", "--jobs", "3"]);
    assert_eq!(upgraded.code, 0, "{}", upgraded.stderr);
    let names = [
        "create_users",
        "create_items",
        "seed_admin",
        "users_display_name",
        "users_item_count",
    ];
    let applied: Value = (1..=5)
        .map(|v: i64| json!({"version": v, "name": names[v as usize - 1], "duration_ms": 0}))
        .collect();
    assert_eq!(
        zero_all(upgraded.json()),
        shown
            .iter()
            .map(|database| json!({"database": database, "ok": true, "from": null, "to": 5, "applied": applied, "backup": null}))
            .collect::<Vec<_>>()
    );
    let check = run(&["check"]);
    assert_eq!(check.code, 0, "{}", check.stderr);
    assert!(
        check.stdout.ends_with("3 databases: 3 ok\n"),
        "{}",
        check.stdout
    );
    let run_down = run(&["--json", "downgrade", "base"]);
    assert_eq!(run_down.code, 0, "{}", run_down.stderr);
    let current = run(&["--json", "current"]);
    assert_eq!(
        current.json(),
        json!(
            shown
                .iter()
                .map(|database| json!({"database": database, "ok": true, "version": null, "name": null, "head": false}))
                .collect::<Vec<_>>()
        )
    );
}

/// Server databases in a list: on PostgreSQL, whose DDL is transactional,
/// a tenant whose second step fails stays at its old head (one
/// transaction); on MySQL/MariaDB, whose DDL commits, steps run one at a
/// time and the first stays applied.
#[test]
fn on_servers_each_tenant_ends_where_its_dialect_allows() {
    let (Some(postgres), Some(mysql)) = (
        ServerDatabase::create(Kind::Postgres),
        ServerDatabase::create(Kind::MySql),
    ) else {
        return;
    };
    for (kind, database) in [(Kind::Postgres, &postgres), (Kind::MySql, &mysql)] {
        crate::servers::execute(kind, database.url(), "CREATE TABLE items (x INT)").unwrap();
    }
    let tenants = Tenants::new(0, None);
    std::fs::write(
        tenants.tmp.path().join("tenants.txt"),
        format!("{}\n{}\n", postgres.url(), mysql.url()),
    )
    .unwrap();
    let portable = workspace().join("fixtures/portable").display().to_string();
    let run = |args: &[&str]| {
        let mut all = vec!["--databases", "tenants.txt", "--dir", portable.as_str()];
        all.extend_from_slice(args);
        migrate_in(tenants.tmp.path(), &all)
    };
    let upgraded = run(&["upgrade"]);
    assert_eq!(upgraded.code, 1, "{}", upgraded.stderr);
    assert!(
        upgraded.stderr.contains(
            "migration 2 (0002_create_items.up.sql) failed at statement 1 (`CREATE TABLE items (`): \
             relation \"items\" already exists; it was rolled back with the steps before it in the \
             run's one transaction, so the database is as it was before the run"
        ),
        "{}",
        upgraded.stderr
    );
    let current = run(&["--json", "current"]);
    let versions: Vec<Value> = current
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|one| one["version"].clone())
        .collect();
    // MySQL: the first step stays; the failed one, which ran outside a
    // transaction, is marked dirty.
    assert_eq!(versions, [json!(null), json!(2)], "{}", current.stdout);
    assert!(
        upgraded.stderr.contains("is marked dirty at 2"),
        "{}",
        upgraded.stderr
    );
}
