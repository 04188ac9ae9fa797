//! `migrate lint` and `check --lint`: the exact lines, exit codes, the JSON
//! document, `--since`, `lint-ignore`, and where the dialect comes from.
//! `fixtures/lint` holds a PostgreSQL set with one finding of each kind
//! the verb shows and a no-transaction step that does what the rules ask.

use serde_json::json;

use crate::common::{Project, Run, migrate};

/// `migrate --dir fixtures/lint GLOBAL... lint --dialect postgres ARGS...`.
fn lint_fixture(global: &[&str], args: &[&str]) -> Run {
    let mut all = vec!["--dir", "fixtures/lint"];
    all.extend_from_slice(global);
    all.extend_from_slice(&["lint", "--dialect", "postgres"]);
    all.extend_from_slice(args);
    migrate(&all)
}

/// What `lint` prints on `fixtures/lint` for PostgreSQL.
const FIXTURE_FINDINGS: &str = "\
fixtures/lint/0002_widen.up.sql:4:30 adding-not-nullable-field: setting a column `NOT NULL` blocks reads while the table is scanned
  hint: make the field nullable and use a `CHECK` constraint instead
fixtures/lint/0002_widen.down.sql:2:30 changing-column-type: changing a column type requires an `ACCESS EXCLUSIVE` lock on the table which blocks reads and writes while the table is rewritten. Changing the type of the column may also break other clients reading from the table
  hint: add a column of the new type, fill it in batches and switch over in later migrations; where the table is small, accept the rewrite with `-- migrate:lint-ignore changing-column-type`
fixtures/lint/0004_forgot_no_transaction.sql:1:14 ban-concurrent-index-creation-in-transaction: `CREATE INDEX CONCURRENTLY` cannot run inside a transaction, and this step runs in one
  hint: keep it in a migration of its own whose script starts with `-- migrate:no-transaction` (CONCURRENTLY cannot run in a transaction)
3 findings in 3 files
";

#[test]
fn lint_prints_each_finding_with_its_hint_and_exits_1() {
    let run = lint_fixture(&[], &[]);
    assert_eq!((run.code, run.stderr.as_str()), (1, ""));
    assert_eq!(run.stdout, FIXTURE_FINDINGS);
}

/// The README shows this very output.
#[test]
fn the_readme_shows_the_fixture_output() {
    let readme = std::fs::read_to_string(crate::common::workspace().join("README.md")).unwrap();
    let shown = readme
        .split_once("$ migrate --dir fixtures/lint lint --dialect postgres\n")
        .and_then(|(_, rest)| rest.split_once("```"))
        .expect("the README's lint example")
        .0;
    assert_eq!(shown, FIXTURE_FINDINGS);
}

#[test]
fn the_dialect_comes_from_the_url_and_no_database_is_opened() {
    // Nothing listens on port 1: lint never connects.
    let with_url = |args: &[&str]| {
        let mut all = vec![
            "--dir",
            "fixtures/lint",
            "--database-url",
            "postgres://nobody@127.0.0.1:1/none",
            "lint",
        ];
        all.extend_from_slice(args);
        migrate(&all)
    };
    let run = with_url(&[]);
    assert_eq!((run.code, run.stdout.as_str()), (1, FIXTURE_FINDINGS));
    // --dialect wins over the URL's.
    let run = with_url(&["--dialect", "sqlite"]);
    assert_eq!(run.ok(), "no findings\n");
}

#[test]
fn lint_without_a_dialect_is_a_usage_error() {
    let run = migrate(&["--dir", "fixtures/lint", "lint"]);
    assert_eq!((run.code, run.stdout.as_str()), (2, ""));
    assert_eq!(
        run.stderr,
        "error: `lint` needs to know the database the migrations are for: pass --dialect postgres, mysql or sqlite, or --database-url URL\n\n\
         Usage: migrate [OPTIONS] <COMMAND>\n\nFor more information, try '--help'.\n"
    );
    let json = migrate(&["--dir", "fixtures/lint", "--json", "lint"]);
    assert_eq!(json.code, 2);
    assert_eq!(
        json.json()["error"],
        "`lint` needs to know the database the migrations are for: pass --dialect postgres, mysql or sqlite, or --database-url URL"
    );
    let unknown = migrate(&["--dir", "fixtures/lint", "lint", "--dialect", "oracle"]);
    assert_eq!(unknown.code, 2);
    assert!(
        unknown
            .stderr
            .starts_with("error: invalid value 'oracle' for '--dialect <DIALECT>'"),
        "{}",
        unknown.stderr
    );
}

#[test]
fn lint_json_is_one_document_of_findings() {
    let run = lint_fixture(&["--json"], &["--since", "3"]);
    assert_eq!((run.code, run.stderr.as_str()), (1, ""));
    assert_eq!(
        run.json(),
        json!({"findings": [{
            "version": 4,
            "file": "fixtures/lint/0004_forgot_no_transaction.sql",
            "line": 1,
            "column": 14,
            "rule": "ban-concurrent-index-creation-in-transaction",
            "message": "`CREATE INDEX CONCURRENTLY` cannot run inside a transaction, and this step runs in one",
            "hint": "keep it in a migration of its own whose script starts with `-- migrate:no-transaction` (CONCURRENTLY cannot run in a transaction)"
        }]})
    );
    let clean = lint_fixture(&["--json"], &["--since", "4"]);
    assert_eq!(clean.ok(), "{\"findings\":[]}\n");
}

#[test]
fn since_lints_only_newer_migrations() {
    let run = lint_fixture(&[], &["--since", "2"]);
    assert_eq!(
        (run.code, run.stdout.lines().next()),
        (
            1,
            Some(
                "fixtures/lint/0004_forgot_no_transaction.sql:1:14 ban-concurrent-index-creation-in-transaction: `CREATE INDEX CONCURRENTLY` cannot run inside a transaction, and this step runs in one"
            )
        )
    );
    assert!(run.stdout.ends_with("\n1 finding in 1 file\n"));
}

#[test]
fn lint_ignore_silences_exactly_its_rule() {
    // The fixture's 0002 up script silences changing-column-type, and only
    // it: its SET NOT NULL is still found. Without the line, both are.
    let project = Project::copy_of("lint");
    let up = project.dir.join("0002_widen.up.sql");
    let text = std::fs::read_to_string(&up).unwrap();
    // The findings in the up script after it is written as `up_text`.
    let found_with = |up_text: &str| -> Vec<String> {
        std::fs::write(&up, up_text).unwrap();
        let dir = project.dir.display().to_string();
        let run = migrate(&["--dir", &dir, "lint", "--dialect", "postgres"]);
        assert_eq!(run.code, 1);
        run.stdout
            .lines()
            .filter(|line| line.contains("0002_widen.up.sql:"))
            .map(|line| project.anonymous(line.split(": ").next().unwrap()))
            .collect()
    };
    assert_eq!(
        found_with(&text),
        ["[TMP]/migrations/0002_widen.up.sql:4:30 adding-not-nullable-field"]
    );
    assert_eq!(
        found_with(&text.replace("-- migrate:lint-ignore changing-column-type\n", "")),
        [
            "[TMP]/migrations/0002_widen.up.sql:2:30 changing-column-type",
            "[TMP]/migrations/0002_widen.up.sql:3:30 adding-not-nullable-field"
        ]
    );
    // A rule that does not exist is a finding, not silence.
    assert_eq!(
        found_with(&text.replace("changing-column-type", "changing-column-typo")),
        [
            "[TMP]/migrations/0002_widen.up.sql:1:1 unknown-lint-rule",
            "[TMP]/migrations/0002_widen.up.sql:3:30 changing-column-type",
            "[TMP]/migrations/0002_widen.up.sql:4:30 adding-not-nullable-field"
        ]
    );
}

#[test]
fn the_runner_lock_timeout_off_asks_scripts_for_one() {
    // One in each of the six scripts: none sets a lock_timeout.
    let run = lint_fixture(&["--statement-lock-timeout", "0"], &[]);
    assert_eq!(run.code, 1);
    let rules: Vec<&str> = run
        .stdout
        .lines()
        .filter_map(|line| {
            line.split_once(' ')?
                .1
                .split_once(':')
                .map(|(rule, _)| rule)
        })
        .collect();
    assert_eq!(
        rules
            .iter()
            .filter(|rule| **rule == "require-lock-timeout")
            .count(),
        6,
        "{}",
        run.stdout
    );
}

#[test]
fn sqlite_and_mysql_rules() {
    let project = Project::with_files(&[
        (
            "0001_wal.sql",
            "CREATE TABLE t (id INTEGER);\nPRAGMA journal_mode = WAL;\n",
        ),
        (
            "0002_fill.sql",
            "ALTER TABLE t ADD COLUMN c INT;\nUPDATE t SET c = 1;\n",
        ),
    ]);
    let dir = project.dir.display().to_string();
    let sqlite = migrate(&["--dir", &dir, "lint", "--dialect", "sqlite"]);
    assert_eq!(
        (sqlite.code, project.anonymous(&sqlite.stdout)),
        (
            1,
            "[TMP]/migrations/0001_wal.sql:2:1 pragma-in-transaction: `PRAGMA journal_mode` cannot change the journal mode inside the step's transaction\n  \
             hint: set the journal mode on the connection instead, or add `-- migrate:no-transaction` as its first line to run it outside a transaction\n\
             1 finding in 1 file\n"
                .to_owned()
        )
    );
    let mysql = migrate(&["--dir", &dir, "lint", "--dialect", "mysql"]);
    assert_eq!(
        (mysql.code, project.anonymous(&mysql.stdout)),
        (
            1,
            "[TMP]/migrations/0002_fill.sql:2:1 mixed-ddl-and-dml: this step changes data and also runs DDL (line 1); MySQL commits each DDL statement implicitly, so a failure leaves part of the step applied\n  \
             hint: put the data change and the DDL in migrations of their own\n\
             1 finding in 1 file\n"
                .to_owned()
        )
    );
}

#[test]
fn check_lint_adds_the_findings_to_check() {
    // The runner would refuse the pragma: stamp the set as applied instead.
    let project = Project::with_files(&[(
        "0001_wal.sql",
        "CREATE TABLE t (id INTEGER);\nPRAGMA journal_mode = WAL;\n",
    )]);
    drop(project.open());
    project.ok(&["stamp", "head"]);
    assert_eq!(project.run(&["check"]).code, 0);
    let run = project.run(&["check", "--lint"]);
    assert_eq!((run.code, run.stderr.as_str()), (1, ""));
    let text = project.anonymous(&run.stdout);
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some(project.anonymous(&project.ok(&["check"])).trim_end())
    );
    assert_eq!(
        lines.next(),
        Some(
            "[TMP]/migrations/0001_wal.sql:2:1 pragma-in-transaction: `PRAGMA journal_mode` cannot change the journal mode inside the step's transaction"
        )
    );
    assert_eq!(lines.last(), Some("1 finding in 1 file"));

    let json = project.run(&["--json", "check", "--lint"]);
    assert_eq!(json.code, 1);
    let document = json.json();
    assert_eq!(document["verdict"], "current");
    assert_eq!(document["lint"][0]["rule"], "pragma-in-transaction");
    assert_eq!(document["lint"].as_array().map(Vec::len), Some(1));
}

#[test]
fn check_lint_on_clean_files_keeps_checks_exit_code() {
    let project = Project::with_files(&[
        ("0001_a.sql", "CREATE TABLE t (id INTEGER);\n"),
        ("0002_b.sql", "CREATE TABLE u (id INTEGER);\n"),
    ]);
    project.ok(&["upgrade", "1"]);
    let pending = project.run(&["check", "--lint"]);
    assert_eq!((pending.code, pending.stderr.as_str()), (3, ""));
    project.ok(&["upgrade"]);
    let current = project.run(&["--json", "check", "--lint"]);
    assert_eq!(current.code, 0);
    assert_eq!(current.json()["lint"], json!([]));
    // Without --lint, no "lint" member.
    assert_eq!(project.run(&["--json", "check"]).json().get("lint"), None);
}

#[test]
fn check_lint_works_on_one_database_at_a_time() {
    let project = Project::fixture("lint");
    let run = migrate(&[
        "--dir",
        "fixtures/lint",
        "--database-url",
        &project.url(),
        "--database-url",
        &project.url(),
        "check",
        "--lint",
    ]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .starts_with("error: `check --lint` works on one database at a time;"),
        "{}",
        run.stderr
    );
}
