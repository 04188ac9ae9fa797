//! `migrate::lint` on every PostgreSQL set of ../shared/corpus: how many
//! findings of each rule, and none of the CONCURRENTLY rules in a
//! `-- migrate:no-transaction` step that uses CONCURRENTLY. Without the
//! corpus, each test says it was skipped (`corpus_dir.rs`).

use std::collections::BTreeMap;
use std::time::Duration;

use migrate::lint::{self, Finding, LintOptions};
use migrate::{Dialect, Migrations, Options};

use crate::corpus::load;

const SETS: &[&str] = &[
    "atuin-server/postgres",
    "authelia/postgres",
    "crates-io/postgres",
    "ory-hydra/postgres",
    "ory-kratos/postgres",
];

fn counts(findings: &[Finding]) -> BTreeMap<&'static str, usize> {
    let mut counts = BTreeMap::new();
    for finding in findings {
        *counts.entry(finding.rule).or_default() += 1;
    }
    counts
}

/// Every set, or `None` without the corpus.
fn sets() -> Option<Vec<(&'static str, Migrations)>> {
    SETS.iter()
        .map(|name| load(name).map(|set| (*name, set)))
        .collect()
}

#[test]
fn findings_per_rule_on_the_postgres_sets() {
    let Some(sets) = sets() else { return };
    let mut total = BTreeMap::new();
    let expected: [&[(&str, usize)]; 5] = [
        &[
            ("changing-column-type", 2),
            ("require-concurrent-index-creation", 3),
        ],
        &[
            ("adding-foreign-key-constraint", 26),
            ("adding-not-nullable-field", 7),
            ("changing-column-type", 1),
            ("constraint-missing-not-valid", 26),
            ("require-concurrent-index-creation", 10),
        ],
        &[
            ("adding-field-with-default", 5),
            ("adding-foreign-key-constraint", 42),
            ("adding-not-nullable-field", 21),
            ("adding-required-field", 4),
            ("adding-serial-primary-key-field", 13),
            ("ban-concurrent-index-creation-in-transaction", 2),
            ("changing-column-type", 53),
            ("constraint-missing-not-valid", 43),
            ("disallowed-unique-constraint", 7),
            ("require-concurrent-index-creation", 73),
            ("syntax-error", 1),
        ],
        &[
            ("adding-field-with-default", 3),
            ("adding-foreign-key-constraint", 49),
            ("adding-not-nullable-field", 44),
            ("adding-serial-primary-key-field", 13),
            ("changing-column-type", 20),
            ("constraint-missing-not-valid", 51),
            ("disallowed-unique-constraint", 1),
            ("require-concurrent-index-creation", 94),
        ],
        &[
            ("adding-foreign-key-constraint", 24),
            ("adding-not-nullable-field", 14),
            ("changing-column-type", 58),
            ("constraint-missing-not-valid", 25),
            ("require-concurrent-index-creation", 244),
        ],
    ];
    let mut found = Vec::new();
    for (name, set) in &sets {
        let counts = counts(&lint::lint(set, Dialect::Postgres, &LintOptions::default()));
        for (rule, count) in &counts {
            *total.entry(*rule).or_insert(0) += count;
        }
        found.push((*name, counts));
    }
    let expected: Vec<(&str, BTreeMap<&str, usize>)> = SETS
        .iter()
        .zip(expected)
        .map(|(name, counts)| (*name, counts.iter().copied().collect()))
        .collect();
    assert_eq!(found, expected);
    // The per-rule totals the issue note quotes.
    assert_eq!(
        total,
        BTreeMap::from([
            ("adding-field-with-default", 8),
            ("adding-foreign-key-constraint", 141),
            ("adding-not-nullable-field", 86),
            ("adding-required-field", 4),
            ("adding-serial-primary-key-field", 26),
            ("ban-concurrent-index-creation-in-transaction", 2),
            ("changing-column-type", 134),
            ("constraint-missing-not-valid", 145),
            ("disallowed-unique-constraint", 8),
            ("require-concurrent-index-creation", 424),
            ("syntax-error", 1),
        ])
    );
}

/// The two upstream bugs the corpus README names are what the
/// transaction and syntax rules find, and nothing else.
#[test]
fn finds_the_corpus_upstream_bugs() {
    let Some(set) = load("crates-io/postgres") else {
        return;
    };
    let findings = lint::lint(&set, Dialect::Postgres, &LintOptions::default());
    let places = |rule: &str| -> Vec<String> {
        findings
            .iter()
            .filter(|finding| finding.rule == rule)
            .map(|finding| format!("{}:{}:{}", finding.file, finding.line, finding.column))
            .collect()
    };
    assert_eq!(
        places("ban-concurrent-index-creation-in-transaction"),
        [
            "20240412144536_remove-downloads-column.down.sql:4:14",
            "20240412144536_remove-downloads-column.down.sql:7:14"
        ]
    );
    assert_eq!(
        places("syntax-error"),
        ["20170318181441_downloads_need_no_id.down.sql:1:65"]
    );
}

/// No finding of a CONCURRENTLY rule lands in a no-transaction step that
/// uses CONCURRENTLY (and there are such steps: the check is not empty).
#[test]
fn no_transaction_steps_that_use_concurrently_are_clean() {
    let Some(sets) = sets() else { return };
    let mut concurrent_steps = 0;
    for (name, set) in &sets {
        let findings = lint::lint(set, Dialect::Postgres, &LintOptions::default());
        for migration in set {
            for script in std::iter::once(migration.up()).chain(migration.down()) {
                if !(script.no_transaction()
                    && script.sql().to_ascii_uppercase().contains("CONCURRENTLY"))
                {
                    continue;
                }
                concurrent_steps += 1;
                let flagged: Vec<&Finding> = findings
                    .iter()
                    .filter(|finding| {
                        finding.file == script.file() && finding.rule.contains("concurrent")
                    })
                    .collect();
                assert!(flagged.is_empty(), "{name}: {flagged:?}");
            }
        }
    }
    assert_eq!(concurrent_steps, 26);
}

/// With the runner's statement lock timeout off, the scripts must set
/// their own: `require-lock-timeout` fires, and only then.
#[test]
fn lock_timeout_rule_only_where_the_runner_sets_none() {
    let Some(sets) = sets() else { return };
    let off =
        LintOptions::default().runner(Options::default().statement_lock_timeout(Duration::ZERO));
    let mut with = 0;
    for (_, set) in &sets {
        let on = counts(&lint::lint(set, Dialect::Postgres, &LintOptions::default()));
        assert_eq!(on.get("require-lock-timeout"), None);
        with += counts(&lint::lint(set, Dialect::Postgres, &off))
            .get("require-lock-timeout")
            .copied()
            .unwrap_or(0);
    }
    assert_eq!(with, 1316);
}

/// The SQLite and MySQL sets: our own rules, and the lint reads every
/// script of every set without failing.
#[test]
fn own_rules_on_the_sqlite_and_mysql_sets() {
    let mut found = Vec::new();
    for (name, dialect) in [
        ("atuin-ai/sqlite", Dialect::Sqlite),
        ("atuin-client/sqlite", Dialect::Sqlite),
        ("atuin-client-meta/sqlite", Dialect::Sqlite),
        ("atuin-client-records/sqlite", Dialect::Sqlite),
        ("atuin-kv/sqlite", Dialect::Sqlite),
        ("atuin-scripts/sqlite", Dialect::Sqlite),
        ("atuin-server/sqlite", Dialect::Sqlite),
        ("authelia/sqlite", Dialect::Sqlite),
        ("ory-hydra/sqlite", Dialect::Sqlite),
        ("ory-kratos/sqlite", Dialect::Sqlite),
        ("authelia/mysql", Dialect::MySql),
        ("ory-hydra/mysql", Dialect::MySql),
        ("ory-kratos/mysql", Dialect::MySql),
    ] {
        let Some(set) = load(name) else { return };
        let counts = counts(&lint::lint(&set, dialect, &LintOptions::default()));
        if !counts.is_empty() {
            found.push((name, counts));
        }
    }
    assert_eq!(
        found,
        [
            (
                "authelia/mysql",
                BTreeMap::from([("mixed-ddl-and-dml", 13)])
            ),
            (
                "ory-hydra/mysql",
                BTreeMap::from([("mixed-ddl-and-dml", 32)])
            ),
            (
                "ory-kratos/mysql",
                BTreeMap::from([("mixed-ddl-and-dml", 2)])
            ),
        ]
    );
    // authelia's 18 `PRAGMA foreign_keys = OFF/ON` lines (in nine files) are what
    // the runner does by itself; a runner that does not would ignore them.
    let Some(authelia) = load("authelia/sqlite") else {
        return;
    };
    let keeps_keys = LintOptions::default().runner(Options::default().suspend_foreign_keys(false));
    assert_eq!(
        counts(&lint::lint(&authelia, Dialect::Sqlite, &keeps_keys)),
        BTreeMap::from([("pragma-in-transaction", 18)])
    );
}
