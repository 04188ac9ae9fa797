//! Each rule on the smallest script that shows it, where it lands, and
//! what silences it.

use std::time::Duration;

use super::*;
use crate::Migration;

/// The findings of one script as `rule line:column`.
fn found(dialect: Dialect, sql: &'static str, runner: &Options) -> Vec<String> {
    let no_transaction = migrate_files::directives(sql).unwrap().no_transaction;
    let script = Script::__embedded("1_t.sql", sql, no_transaction);
    lint_script(1, &script, dialect, runner)
        .iter()
        .map(|finding| format!("{} {}:{}", finding.rule, finding.line, finding.column))
        .collect()
}

fn postgres(sql: &'static str) -> Vec<String> {
    found(Dialect::Postgres, sql, &Options::default())
}

#[test]
fn each_postgres_rule_fires_on_its_statement() {
    let cases: &[(&str, &[&str])] = &[
        (
            "CREATE INDEX i ON t (c);",
            &["require-concurrent-index-creation 1:1"],
        ),
        (
            "ALTER TABLE t ADD COLUMN c INT NOT NULL;",
            &["adding-required-field 1:15"],
        ),
        (
            "ALTER TABLE t ALTER COLUMN c SET NOT NULL;",
            &["adding-not-nullable-field 1:30"],
        ),
        (
            "ALTER TABLE t ADD COLUMN c UUID DEFAULT gen_random_uuid();",
            &["adding-field-with-default 1:41"],
        ),
        (
            "ALTER TABLE t ALTER COLUMN c TYPE BIGINT;",
            &["changing-column-type 1:30"],
        ),
        (
            "ALTER TABLE t ADD CONSTRAINT positive CHECK (c > 0);",
            &["constraint-missing-not-valid 1:15"],
        ),
        (
            "ALTER TABLE t ADD CONSTRAINT fk FOREIGN KEY (u) REFERENCES u (id);",
            &[
                "constraint-missing-not-valid 1:15",
                "adding-foreign-key-constraint 1:19",
            ],
        ),
        (
            "ALTER TABLE t ADD PRIMARY KEY (id);",
            &["adding-serial-primary-key-field 1:19"],
        ),
        (
            "ALTER TABLE t ADD CONSTRAINT u UNIQUE (c);",
            &["disallowed-unique-constraint 1:19"],
        ),
        (
            "ALTER DOMAIN d ADD CONSTRAINT positive CHECK (VALUE > 0);",
            &["ban-alter-domain-with-add-constraint 1:16"],
        ),
        ("REINDEX TABLE t;", &["require-concurrent-reindex 1:1"]),
        (
            "ALTER TABLE t DETACH PARTITION p;",
            &["require-concurrent-partition-detach 1:15"],
        ),
        (
            "BEGIN;\nCOMMIT;",
            &["transaction-nesting 1:1", "transaction-nesting 2:1"],
        ),
        ("DROP DATABASE d;", &["ban-drop-database 1:1"]),
        ("TRUNCATE t CASCADE;", &["ban-truncate-cascade 1:12"]),
        (
            "CREATE INDEX CONCURRENTLY i ON t (c);",
            &["ban-concurrent-index-creation-in-transaction 1:14"],
        ),
        (
            "DROP INDEX CONCURRENTLY i;",
            &["ban-concurrent-index-creation-in-transaction 1:12"],
        ),
        (
            "SELECT 1;\nALTER TABLE t ADD COLUMN ;",
            &["syntax-error 2:26"],
        ),
    ];
    for (sql, expected) in cases {
        assert_eq!(postgres(sql), *expected, "{sql}");
    }
}

#[test]
fn what_the_rules_ask_for_is_clean() {
    for sql in [
        "-- migrate:no-transaction\nCREATE INDEX CONCURRENTLY i ON t (c);",
        "-- migrate:no-transaction\nDROP INDEX CONCURRENTLY i;",
        "CREATE TABLE t (id BIGINT, c INT NOT NULL);\nCREATE INDEX i ON t (c);",
        "ALTER TABLE t ADD COLUMN c INT;",
        "ALTER TABLE t ADD COLUMN c INT NOT NULL DEFAULT 0;",
        "ALTER TABLE t ADD CONSTRAINT positive CHECK (c > 0) NOT VALID;",
        "ALTER TABLE t ADD CONSTRAINT fk FOREIGN KEY (u) REFERENCES u (id) NOT VALID;",
        "ALTER TABLE t VALIDATE CONSTRAINT fk;",
        // Left out on purpose: compatibility and style.
        "DROP TABLE t;\nALTER TABLE u RENAME COLUMN a TO b;\nALTER TABLE u ADD COLUMN n INT;\nDROP INDEX i;",
    ] {
        assert_eq!(postgres(sql), Vec::<String>::new(), "{sql}");
    }
}

#[test]
fn an_index_hint_fits_the_step() {
    let script = Script::__embedded("1_t.sql", "CREATE INDEX i ON t (c);", false);
    let findings = lint_script(1, &script, Dialect::Postgres, &Options::default());
    assert_eq!(
        findings[0].to_string(),
        "1_t.sql:1:1 require-concurrent-index-creation: during normal index creation, table updates are blocked, but reads are still allowed\n  \
         hint: build it with `CREATE INDEX CONCURRENTLY` in a migration of its own whose script starts with `-- migrate:no-transaction`"
    );
    let script = Script::__embedded(
        "1_t.sql",
        "-- migrate:no-transaction\nCREATE INDEX i ON t (c);",
        true,
    );
    let findings = lint_script(1, &script, Dialect::Postgres, &Options::default());
    assert_eq!(findings[0].line, 2);
    assert_eq!(
        findings[0].hint,
        "use `concurrently` to avoid blocking writes"
    );
    // squawk has no help for these: ours, or the way to accept it.
    let script = Script::__embedded(
        "1_t.sql",
        "ALTER TABLE t ALTER COLUMN c TYPE BIGINT;\nDROP DATABASE d;",
        false,
    );
    let hints: Vec<String> = lint_script(1, &script, Dialect::Postgres, &Options::default())
        .into_iter()
        .map(|finding| finding.hint)
        .collect();
    assert_eq!(
        hints,
        [
            "add a column of the new type, fill it in batches and switch over in later migrations; where the table is small, accept the rewrite with `-- migrate:lint-ignore changing-column-type`",
            "if it is safe here, accept it for this file with `-- migrate:lint-ignore ban-drop-database`"
        ]
    );
}

#[test]
fn lock_timeout_is_asked_for_only_when_the_runner_sets_none() {
    let sql = "ALTER TABLE t ADD COLUMN c INT;";
    assert_eq!(postgres(sql), Vec::<String>::new());
    let off = Options::default().statement_lock_timeout(Duration::ZERO);
    assert_eq!(
        found(Dialect::Postgres, sql, &off),
        ["require-lock-timeout 1:1"]
    );
    let set = "SET lock_timeout = '1s';\nALTER TABLE t ADD COLUMN c INT;";
    assert_eq!(found(Dialect::Postgres, set, &off), Vec::<String>::new());
    let on = Options::default().statement_lock_timeout(Duration::from_secs(1));
    assert_eq!(found(Dialect::Postgres, sql, &on), Vec::<String>::new());
}

#[test]
fn positions_count_directive_lines_characters_and_crlf() {
    assert_eq!(
        postgres(
            "-- migrate:lint-ignore ban-drop-database\r\n\r\n-- é\r\nSELECT 'é'; CREATE INDEX i ON t (c);"
        ),
        ["require-concurrent-index-creation 4:13"]
    );
    assert_eq!(position("ab\ncé\nx", 7), (3, 1));
    assert_eq!(position("cé!", 3), (1, 3));
    assert_eq!(position("", 10), (1, 1));
    assert_eq!(
        postgres::sentence("Setting a column `NOT NULL` blocks reads."),
        "setting a column `NOT NULL` blocks reads"
    );
    assert_eq!(
        postgres::sentence("SET NOT NULL blocks."),
        "SET NOT NULL blocks"
    );
}

#[test]
fn lint_ignore_silences_exactly_its_rule() {
    let both =
        "ALTER TABLE t ALTER COLUMN c TYPE BIGINT;\nALTER TABLE t ALTER COLUMN c SET NOT NULL;";
    assert_eq!(
        postgres(both),
        [
            "changing-column-type 1:30",
            "adding-not-nullable-field 2:30"
        ]
    );
    assert_eq!(
        postgres(
            "-- migrate:lint-ignore changing-column-type\nALTER TABLE t ALTER COLUMN c TYPE BIGINT;\nALTER TABLE t ALTER COLUMN c SET NOT NULL;"
        ),
        ["adding-not-nullable-field 3:30"]
    );
    assert_eq!(
        postgres(
            "-- migrate:lint-ignore adding-not-nullable-field\n-- migrate:lint-ignore changing-column-type\nALTER TABLE t ALTER COLUMN c TYPE BIGINT;\nALTER TABLE t ALTER COLUMN c SET NOT NULL;"
        ),
        Vec::<String>::new()
    );
}

#[test]
fn a_lint_ignore_that_names_no_rule_is_a_finding() {
    let script = Script::__embedded(
        "1_t.sql",
        "-- a comment\n-- migrate:lint-ignore changing-colum-type\nALTER TABLE t ALTER COLUMN c TYPE BIGINT;",
        false,
    );
    let findings = lint_script(1, &script, Dialect::Postgres, &Options::default());
    let shown: Vec<String> = findings.iter().map(ToString::to_string).collect();
    assert_eq!(shown.len(), 2);
    assert!(
        shown[0].starts_with(
            "1_t.sql:2:1 unknown-lint-rule: `-- migrate:lint-ignore changing-colum-type` names no lint rule\n  \
             hint: the rules are: require-concurrent-index-creation, ban-concurrent-index-creation-in-transaction, "
        ),
        "{}",
        shown[0]
    );
    assert!(shown[1].starts_with("1_t.sql:3:30 changing-column-type: "));
}

#[test]
fn sqlite_pragmas_that_cannot_take_effect_in_the_transaction() {
    let default = Options::default();
    let sql = "PRAGMA foreign_keys = OFF;\nCREATE TABLE t (id INT);\n  PRAGMA journal_mode = WAL;\n/* x */ PRAGMA main.synchronous = 0;\nPRAGMA journal_mode;\nPRAGMA user_version = 3;";
    assert_eq!(
        found(Dialect::Sqlite, sql, &default),
        ["pragma-in-transaction 3:3", "pragma-in-transaction 4:9"]
    );
    let keeps_keys = Options::default().suspend_foreign_keys(false);
    assert_eq!(
        found(Dialect::Sqlite, sql, &keeps_keys),
        [
            "pragma-in-transaction 1:1",
            "pragma-in-transaction 3:3",
            "pragma-in-transaction 4:9"
        ]
    );
    assert_eq!(
        found(
            Dialect::Sqlite,
            "-- migrate:no-transaction\nPRAGMA journal_mode = WAL;",
            &default
        ),
        Vec::<String>::new()
    );
    // PostgreSQL's rules are not SQLite's.
    assert_eq!(
        found(Dialect::Sqlite, "CREATE INDEX i ON t (c);", &default),
        Vec::<String>::new()
    );
}

#[test]
fn mysql_ddl_and_data_changes_in_one_step() {
    let default = Options::default();
    let mysql = |sql| found(Dialect::MySql, sql, &default);
    assert_eq!(
        mysql("ALTER TABLE t ADD c INT;\n# fill it\nUPDATE t SET c = 1;\nDELETE FROM u;"),
        ["mixed-ddl-and-dml 3:1"]
    );
    assert_eq!(
        mysql("REPLACE INTO t VALUES (1);\nDROP TABLE u;"),
        ["mixed-ddl-and-dml 1:1"]
    );
    assert_eq!(
        mysql("DELETE FROM t;\nTRUNCATE u;"),
        ["mixed-ddl-and-dml 1:1"]
    );
    assert_eq!(
        mysql("RENAME TABLE t TO u;\nINSERT INTO u VALUES (1);"),
        ["mixed-ddl-and-dml 2:1"]
    );
    assert_eq!(
        mysql("INSERT INTO t VALUES (1);\n  CREATE INDEX i ON t (c);"),
        ["mixed-ddl-and-dml 1:1"]
    );
    assert_eq!(
        mysql("ALTER TABLE t ADD c INT;\nCREATE TABLE u (id INT);"),
        Vec::<String>::new()
    );
    assert_eq!(
        mysql("INSERT INTO t VALUES (1);\nUPDATE t SET c = 2;"),
        Vec::<String>::new()
    );
    assert_eq!(
        mysql("CREATE TEMPORARY TABLE x (id INT);\nINSERT INTO x VALUES (1);"),
        Vec::<String>::new()
    );
    let script = Script::__embedded(
        "1_t.sql",
        "ALTER TABLE t ADD c INT;\nUPDATE t SET c = 1;",
        false,
    );
    assert_eq!(
        lint_script(1, &script, Dialect::MySql, &default)[0].message,
        "this step changes data and also runs DDL (line 1); MySQL commits each DDL statement implicitly, so a failure leaves part of the step applied"
    );
}

#[test]
fn every_script_newer_than_since_in_version_order() {
    let list: &'static [Migration] = vec![
        Migration::__embedded(
            1,
            "a",
            "c",
            Script::__embedded("1_a.up.sql", "CREATE INDEX i ON t (c);", false),
            Some(Script::__embedded(
                "1_a.down.sql",
                "TRUNCATE t CASCADE;",
                false,
            )),
        ),
        Migration::__embedded(
            2,
            "b",
            "c",
            Script::__embedded("2_b.up.sql", "REINDEX TABLE t;", false),
            Some(Script::__embedded(
                "2_b.down.sql",
                "DROP DATABASE d;",
                false,
            )),
        ),
    ]
    .leak();
    let set = Migrations::__embedded(list, "");
    let shown = |options: &LintOptions| -> Vec<String> {
        lint(&set, Dialect::Postgres, options)
            .iter()
            .map(|finding| format!("{} {} {}", finding.version, finding.file, finding.rule))
            .collect()
    };
    assert_eq!(
        shown(&LintOptions::default()),
        [
            "1 1_a.up.sql require-concurrent-index-creation",
            "1 1_a.down.sql ban-truncate-cascade",
            "2 2_b.up.sql require-concurrent-reindex",
            "2 2_b.down.sql ban-drop-database",
        ]
    );
    assert_eq!(
        shown(&LintOptions::default().since(1)),
        [
            "2 2_b.up.sql require-concurrent-reindex",
            "2 2_b.down.sql ban-drop-database"
        ]
    );
    assert_eq!(
        shown(&LintOptions::default().since(2)),
        Vec::<String>::new()
    );
}

#[test]
fn every_rule_is_named_once() {
    for (index, rule) in RULES.iter().enumerate() {
        assert!(
            RULES[index + 1..]
                .iter()
                .all(|other| other.name != rule.name),
            "{}",
            rule.name
        );
        assert!(!rule.summary.is_empty());
    }
}

#[test]
fn a_script_the_parser_cannot_read_is_one_finding() {
    assert_eq!(
        postgres("ALTER TABLE t ADD COLUMN ;\nALTER TABLE u ADD COLUMN ;"),
        ["syntax-error 1:26"]
    );
}

/// The README's table of rules lists every rule, in order, under its
/// dialect, and no other.
#[test]
fn the_readme_lists_every_rule() {
    let readme = include_str!("../../README.md");
    let table = readme
        .split_once("<!-- lint rules: start -->\n")
        .and_then(|(_, rest)| rest.split_once("<!-- lint rules: end -->"))
        .expect("the README's table of lint rules")
        .0;
    let listed: Vec<(String, String)> = table
        .lines()
        .skip(2)
        .map(|row| {
            let cells: Vec<&str> = row.split(" | ").collect();
            (
                cells[0].trim_start_matches("| ").to_owned(),
                cells[1].trim_matches('`').to_owned(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = RULES
        .iter()
        .map(|rule| {
            let dialect = match rule.dialect {
                Dialect::Postgres => "PostgreSQL",
                Dialect::Sqlite => "SQLite",
                Dialect::MySql => "MySQL/MariaDB",
            };
            (dialect.to_owned(), rule.name.to_owned())
        })
        .collect();
    assert_eq!(listed, expected);
}

/// SQL-like text: keywords, names, quotes, comments and punctuation in any
/// order, or any printable text.
fn sql_like() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    let token = prop_oneof![
        proptest::sample::select(vec![
            "CREATE",
            "INDEX",
            "CONCURRENTLY",
            "ON",
            "TABLE",
            "ALTER",
            "ADD",
            "COLUMN",
            "CONSTRAINT",
            "NOT",
            "NULL",
            "VALID",
            "TYPE",
            "BEGIN",
            "COMMIT",
            "DROP",
            "PRAGMA",
            "UPDATE",
            "SET",
            "INSERT",
            "INTO",
            "VALUES",
            "DEFAULT",
            "CHECK",
            "FOREIGN",
            "KEY",
            "REFERENCES",
            "$$",
            "$f$",
            "'",
            "\"",
            "`",
            "--",
            "/*",
            "*/",
            "(",
            ")",
            ";",
            ",",
            "=",
            "\n",
            "\r\n",
            "é",
        ])
        .prop_map(str::to_owned),
        "[a-z_]{1,6}",
    ];
    prop_oneof![
        proptest::collection::vec(token, 0..40).prop_map(|tokens| tokens.join(" ")),
        "\\PC{0,120}",
    ]
}

proptest::proptest! {
    /// The lint never panics on a script, whatever it holds.
    #[test]
    fn any_script_lints_without_panicking(text in sql_like(), no_transaction: bool) {
        let sql: &'static str = format!("-- migrate:lint-ignore x\n{text}").leak();
        let script = Script::__embedded("1_t.sql", sql, no_transaction);
        let off = Options::default()
            .statement_lock_timeout(Duration::ZERO)
            .suspend_foreign_keys(false);
        for dialect in [Dialect::Postgres, Dialect::Sqlite, Dialect::MySql] {
            for finding in lint_script(1, &script, dialect, &off) {
                proptest::prop_assert!(finding.line >= 1 && finding.column >= 1);
                proptest::prop_assert!(finding.line <= sql.split('\n').count());
            }
        }
    }
}
