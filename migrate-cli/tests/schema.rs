//! `dump`, `check --schema` and `verify`: exit codes and exact output, on
//! SQLite files and on scratch databases of the PostgreSQL and MariaDB
//! servers (`servers.rs`).

use crate::common::{Project, migrate, tables};
use crate::servers::{Kind, ServerDatabase, block_on, execute};

/// What `check --schema` prints after `ALTER TABLE orgs ADD COLUMN note
/// TEXT` on the `schema/sqlite` set, the file being `schema.txt`.
const ALTERED: &str = "\
--- schema.txt
+++ app.db
@@ -2,6 +2,7 @@
   column id integer
   column name text not null
   column plan text not null default 'free'
+  column note text
   primary key (id)
   unique (name)
   check (plan IN ('free', 'paid'))
the schema differs from schema.txt: update the file with `migrate dump --output schema.txt` if the change is meant
";

#[test]
fn dump_is_byte_identical_and_check_schema_fails_after_a_manual_alter_table() {
    let first = Project::fixture("schema/sqlite");
    let second = Project::fixture("schema/sqlite");
    first.ok(&["upgrade"]);
    second.ok(&["upgrade", "+1"]);
    second.ok(&["upgrade"]);
    let dump = first.ok(&["dump"]);
    assert_eq!(dump, second.ok(&["dump"]));
    assert!(
        dump.starts_with("table orgs\n  column id integer\n"),
        "{dump}"
    );
    assert!(!dump.contains("_migrate_history"));
    // The migrations give the same text on a scratch file of their own.
    assert_eq!(dump, first.ok(&["dump", "--from-migrations"]));

    let cwd = first.tmp.path();
    let run = |args: &[&str]| {
        let dir = first.dir.display().to_string();
        let mut all = vec!["--database-url", "app.db", "--dir", dir.as_str()];
        all.extend_from_slice(args);
        crate::common::migrate_in(cwd, &all)
    };
    assert_eq!(
        run(&["dump", "--output", "schema.txt"]).ok(),
        "wrote the schema to schema.txt\n"
    );
    assert_eq!(
        std::fs::read_to_string(cwd.join("schema.txt")).unwrap(),
        dump
    );
    assert_eq!(
        run(&["check", "--schema", "schema.txt"]).ok(),
        "the schema matches schema.txt\n"
    );

    first
        .open()
        .execute_batch("ALTER TABLE orgs ADD COLUMN note TEXT")
        .unwrap();
    let failed = run(&["check", "--schema", "schema.txt"]);
    assert_eq!(
        (failed.code, failed.stdout.as_str(), failed.stderr.as_str()),
        (1, ALTERED, "")
    );
    let json = run(&["--json", "check", "--schema", "schema.txt"]);
    assert_eq!(json.code, 1);
    assert_eq!(json.json()["matches"], false);
    assert!(
        json.json()["diff"]
            .as_str()
            .unwrap()
            .contains("+  column note text\n")
    );
    // The migrations still give the committed schema.
    assert_eq!(
        run(&["check", "--schema", "schema.txt", "--from-migrations"]).ok(),
        "the schema matches schema.txt\n"
    );
}

#[test]
fn dump_never_creates_a_database_or_the_history_table() {
    let project = Project::fixture("schema/sqlite");
    let missing = project.run(&["dump"]);
    assert_eq!(missing.code, 1);
    assert!(
        missing.stderr.contains("does not exist"),
        "{}",
        missing.stderr
    );
    assert!(!project.db.exists(), "dump created the file");

    rusqlite::Connection::open(&project.db).unwrap();
    assert_eq!(project.ok(&["dump"]), "\n", "an empty schema");
    assert_eq!(tables(&project.open()), Vec::<String>::new());
}

#[test]
fn check_schema_names_a_missing_file_and_how_to_write_it() {
    let project = Project::fixture("schema/sqlite");
    let run = project.run(&[
        "check",
        "--schema",
        "nowhere/schema.txt",
        "--from-migrations",
    ]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.starts_with("cannot read the schema file nowhere/schema.txt: No such file or directory (os error 2); write it with `migrate dump --output FILE`"),
        "{}",
        run.stderr
    );
}

/// What `verify` prints for `fixtures/verify/leaves_index` on SQLite.
const LEFT_INDEX: &str = "\
ok       1 items (reversible)
DIFFERS  2 items_owner (reversible)
--- before 0002_items_owner.up.sql
+++ after 0002_items_owner.down.sql
@@ -2,3 +2,4 @@
   column id integer
   column owner text not null
   primary key (id)
+  index items_owner (owner)
ok       3 seed (up-only: applied, not reverted)
1 down script(s) do not restore the schema exactly
";

#[test]
fn verify_names_the_index_a_down_script_leaves_behind_and_exits_1() {
    let run = migrate(&["--dir", "fixtures/verify/leaves_index", "verify"]);
    assert_eq!(
        (run.code, run.stdout.as_str(), run.stderr.as_str()),
        (1, LEFT_INDEX, "")
    );
    let json = migrate(&["--dir", "fixtures/verify/leaves_index", "verify", "--json"]);
    assert_eq!(json.code, 1);
    assert_eq!(
        json.json(),
        serde_json::json!([
            {"version": 1, "name": "items", "kind": "reversible", "result": "ok"},
            {"version": 2, "name": "items_owner", "kind": "reversible", "result": "differs",
             "diff": LEFT_INDEX.lines().skip(2).take(7).map(|l| format!("{l}\n")).collect::<String>()},
            {"version": 3, "name": "seed", "kind": "up-only", "result": "ok"},
        ])
    );
}

#[test]
fn verify_passes_a_set_whose_downs_restore_the_schema() {
    let run = migrate(&["--dir", "fixtures/schema/sqlite", "verify"]);
    assert_eq!(
        run.ok(),
        "ok       1 orgs (reversible)\nok       2 users (reversible)\nverified 2 migration(s): every down script restores the schema exactly\n"
    );
}

#[test]
fn verify_stops_at_a_failing_script_naming_its_file() {
    let run = migrate(&["--dir", "fixtures/failing", "verify"]);
    assert_eq!(run.code, 1);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines[0], "ok       1 a (up-only: applied, not reverted)");
    assert_eq!(lines[1], "FAILED   2 broken (reversible)");
    assert!(
        lines[2].starts_with("  migration 2 (0002_broken.up.sql) failed at statement 3"),
        "{}",
        lines[2]
    );
    assert_eq!(lines.len(), 4, "nothing after the failed step: {lines:?}");
}

/// The databases on the server whose name starts `migrate_scratch`.
fn scratch_databases(kind: Kind, server_url: &str) -> Vec<String> {
    let query = match kind {
        Kind::Postgres => {
            "SELECT datname::text FROM pg_database WHERE datname LIKE 'migrate\\_scratch%'"
        }
        _ => {
            "SELECT CAST(SCHEMA_NAME AS CHAR) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'migrate\\_scratch%'"
        }
    };
    block_on(async {
        match kind {
            Kind::Postgres => {
                let pool = sqlx::PgPool::connect(server_url).await.unwrap();
                sqlx::query_scalar(query).fetch_all(&pool).await.unwrap()
            }
            _ => {
                let pool = sqlx::MySqlPool::connect(server_url).await.unwrap();
                sqlx::query_scalar(query).fetch_all(&pool).await.unwrap()
            }
        }
    })
}

/// On a server: `dump` of two databases migrated apart is byte-identical;
/// `check --schema` passes, then fails after a manual `ALTER TABLE`;
/// `verify` and `dump --from-migrations` work on a scratch database that
/// is dropped afterwards, even when a step failed.
fn on_server(kind: Kind, fixture: &str, alter: &str, added: &str) {
    let (Some(first), Some(second)) = (ServerDatabase::create(kind), ServerDatabase::create(kind))
    else {
        return;
    };
    let dir = format!("fixtures/{fixture}");
    let with = |url: &str, args: &[&str]| {
        let mut all = vec!["--database-url", url, "--dir", dir.as_str()];
        all.extend_from_slice(args);
        migrate(&all)
    };
    with(first.url(), &["upgrade"]).ok();
    with(second.url(), &["upgrade", "+1"]).ok();
    with(second.url(), &["upgrade"]).ok();
    let dump = with(first.url(), &["dump"]).ok().to_owned();
    assert_eq!(dump, with(second.url(), &["dump"]).ok());
    assert_eq!(dump, with(first.url(), &["dump", "--from-migrations"]).ok());

    let file = tempfile::NamedTempFile::new().unwrap();
    let path = file.path().display().to_string();
    with(first.url(), &["dump", "--output", &path]).ok();
    assert_eq!(
        with(first.url(), &["check", "--schema", &path]).ok(),
        format!("the schema matches {path}\n")
    );
    execute(kind, first.url(), alter).unwrap();
    let failed = with(first.url(), &["check", "--schema", &path]);
    assert_eq!(failed.code, 1, "{failed:?}");
    let changed: Vec<&str> = failed
        .stdout
        .lines()
        .filter(|l| {
            (l.starts_with('+') || l.starts_with('-'))
                && !l.starts_with("+++")
                && !l.starts_with("---")
        })
        .collect();
    assert_eq!(changed, [added], "{}", failed.stdout);

    let server = first.server_url();
    let verified = with(&server, &["verify"]);
    assert_eq!(verified.code, 0, "{verified:?}");
    // The database the URL names only says which server: verify leaves it
    // as it was.
    let altered = with(first.url(), &["dump"]).ok().to_owned();
    with(first.url(), &["verify"]).ok();
    assert_eq!(with(first.url(), &["dump"]).ok(), altered);
    let failing = migrate(&[
        "--database-url",
        &server,
        "--dir",
        "fixtures/failing",
        "verify",
    ]);
    assert_eq!(failing.code, 1);
    assert!(failing.stdout.contains("FAILED   2 broken"), "{failing:?}");
    assert_eq!(scratch_databases(kind, &server), Vec::<String>::new());
}

#[test]
fn postgres_dump_check_schema_and_verify() {
    on_server(
        Kind::Postgres,
        "schema/postgres",
        "ALTER TABLE orgs ADD COLUMN note text",
        "+  column note text",
    );
}

#[test]
fn mariadb_dump_check_schema_and_verify() {
    on_server(
        Kind::MySql,
        "schema/mysql",
        "ALTER TABLE orgs ADD COLUMN note TEXT",
        "+  column note text default NULL collate utf8mb4_general_ci",
    );
}

#[test]
fn the_schema_verbs_work_on_one_database_at_a_time() {
    for args in [
        &["dump"][..],
        &["verify"],
        &["check", "--schema", "schema.txt"],
    ] {
        let mut all = vec!["--database-url", "a.db", "--database-url", "b.db"];
        all.extend_from_slice(args);
        let run = migrate(&all);
        assert_eq!(run.code, 2, "{args:?}: {run:?}");
        assert!(
            run.stderr.contains("works on one database at a time"),
            "{args:?}: {}",
            run.stderr
        );
    }
}
