//! Risky statements in migration files, found before they run.
//!
//! The lint reads each script of a set with what the runner will do with
//! it: whether the step runs in a transaction (`-- migrate:no-transaction`,
//! and on MySQL/MariaDB the implicit commit of DDL), and whether the runner
//! sets a lock timeout itself. PostgreSQL goes through squawk's parser and a
//! chosen few of its rules (those that take a long lock, rewrite a table,
//! fail on a table with rows, or cannot run in the step's transaction);
//! SQLite and MySQL/MariaDB get a rule each of our own, on the statement
//! splitters the runner already uses, so that there is one idea of where a
//! statement ends. Both up and down scripts are read: a down script runs
//! on the day an upgrade is rolled back, when a long lock hurts as much.
//!
//! Nothing here reads a database, prints or panics on a script: every
//! outcome is a [`Finding`].

mod own;
mod postgres;

use std::fmt;

use crate::{Dialect, Migrations, Options, Script};

/// One lint rule: its name (as written in `-- migrate:lint-ignore RULE`
/// and in every finding), its dialect and what it guards against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Rule {
    /// The name, e.g. `require-concurrent-index-creation`.
    pub name: &'static str,
    /// The database it is about.
    pub dialect: Dialect,
    /// What it finds, in a sentence.
    pub summary: &'static str,
}

/// Every rule, PostgreSQL's first (squawk's names).
///
/// # Examples
///
/// ```
/// use migrate::{Dialect, lint::RULES};
/// assert!(RULES.iter().any(|rule| rule.name == "changing-column-type" && rule.dialect == Dialect::Postgres));
/// assert!(RULES.iter().any(|rule| rule.name == "mixed-ddl-and-dml" && rule.dialect == Dialect::MySql));
/// ```
pub const RULES: &[Rule] = &[
    postgres::REQUIRE_CONCURRENT_INDEX_CREATION,
    postgres::BAN_CONCURRENT_INDEX_CREATION_IN_TRANSACTION,
    postgres::ADDING_REQUIRED_FIELD,
    postgres::ADDING_NOT_NULLABLE_FIELD,
    postgres::ADDING_FIELD_WITH_DEFAULT,
    postgres::CHANGING_COLUMN_TYPE,
    postgres::CONSTRAINT_MISSING_NOT_VALID,
    postgres::ADDING_FOREIGN_KEY_CONSTRAINT,
    postgres::ADDING_SERIAL_PRIMARY_KEY_FIELD,
    postgres::DISALLOWED_UNIQUE_CONSTRAINT,
    postgres::BAN_ALTER_DOMAIN_WITH_ADD_CONSTRAINT,
    postgres::REQUIRE_CONCURRENT_REINDEX,
    postgres::REQUIRE_CONCURRENT_PARTITION_DETACH,
    postgres::TRANSACTION_NESTING,
    postgres::BAN_UNCOMMITTED_TRANSACTION,
    postgres::BAN_DROP_DATABASE,
    postgres::BAN_TRUNCATE_CASCADE,
    postgres::REQUIRE_LOCK_TIMEOUT,
    postgres::SYNTAX_ERROR,
    own::PRAGMA_IN_TRANSACTION,
    own::MIXED_DDL_AND_DML,
];

/// The rule of a `-- migrate:lint-ignore` directive that names no rule.
///
/// # Examples
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # std::fs::write(dir.path().join("0001_t.sql"), "-- migrate:lint-ignore no-such-rule\nSELECT 1;").unwrap();
/// use migrate::{Dialect, Migrations, lint};
/// let set = Migrations::from_dir(dir.path())?;
/// let findings = lint::lint(&set, Dialect::Sqlite, &Default::default());
/// assert_eq!((findings[0].rule, findings[0].line), (lint::UNKNOWN_RULE, 1));
/// # Ok::<(), migrate::Error>(())
/// ```
pub const UNKNOWN_RULE: &str = "unknown-lint-rule";

/// What the lint found: where, by which rule, why, and what to do. It
/// shows as `file:line:column rule: message`, then `  hint: …` on a line of
/// its own.
///
/// # Examples
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # std::fs::write(dir.path().join("0001_t.sql"), "\u{feff}-- widen\nALTER TABLE t ALTER COLUMN c TYPE BIGINT;").unwrap();
/// use migrate::{Dialect, Migrations, lint};
/// let set = Migrations::from_dir(dir.path())?;
/// let finding = &lint::lint(&set, Dialect::Postgres, &Default::default())[0];
/// // Line 2 of the file; a byte-order mark is no column.
/// assert_eq!((finding.version, finding.line, finding.column), (1, 2, 30));
/// assert!(finding.to_string().starts_with("0001_t.sql:2:30 changing-column-type: changing a column type"));
/// assert!(finding.to_string().contains("\n  hint: add a column of the new type"));
/// # Ok::<(), migrate::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Finding {
    /// The migration's version.
    pub version: i64,
    /// The script's file name, e.g. `0003_add_email.up.sql`.
    pub file: String,
    /// The line, from 1, in the file as written.
    pub line: usize,
    /// The column, from 1, in characters (a byte-order mark is not one).
    pub column: usize,
    /// The rule's name (see [`RULES`]), or [`UNKNOWN_RULE`].
    pub rule: &'static str,
    /// What is risky, in a sentence.
    pub message: String,
    /// What to do instead.
    pub hint: String,
}

impl fmt::Display for Finding {
    /// `file:line:column rule: message`, then the hint on an indented line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{} {}: {}\n  hint: {}",
            self.file, self.line, self.column, self.rule, self.message, self.hint
        )
    }
}

/// What the lint needs to know besides the scripts: which migrations to
/// read, and what the runner does on its own.
#[derive(Debug, Clone, Default)]
pub struct LintOptions {
    since: Option<i64>,
    runner: Options,
}

impl LintOptions {
    /// Reads only migrations newer than `version` (a pull request's).
    ///
    /// # Examples
    ///
    /// ```
    /// let options = migrate::lint::LintOptions::default().since(20260101000000);
    /// # let _ = options;
    /// ```
    pub fn since(mut self, version: i64) -> Self {
        self.since = Some(version);
        self
    }

    /// The options the migrations will run with. On PostgreSQL the runner
    /// sets a lock timeout for each step unless
    /// [`Options::statement_lock_timeout`] is zero; only then does
    /// `require-lock-timeout` ask each script to set one. On SQLite a
    /// `PRAGMA foreign_keys` in a step is flagged only when
    /// [`Options::suspend_foreign_keys`] is off (the runner suspends them
    /// by default, which is what such a line means to do).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let runner = migrate::Options::default().statement_lock_timeout(Duration::ZERO);
    /// let options = migrate::lint::LintOptions::default().runner(runner);
    /// # let _ = options;
    /// ```
    pub fn runner(mut self, options: Options) -> Self {
        self.runner = options;
        self
    }
}

/// Lints every up and down script of `set` (newer than
/// [`LintOptions::since`], when set) as `dialect` will run it. The
/// findings are in version order, up before down, then by position; a rule
/// named by a `-- migrate:lint-ignore RULE` line is left out for that
/// file, and a directive that names no rule is itself a finding
/// ([`UNKNOWN_RULE`]).
///
/// # Examples
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # std::fs::write(dir.path().join("0001_init.sql"), "CREATE TABLE t (id BIGINT);").unwrap();
/// # std::fs::write(dir.path().join("0002_index.sql"), "CREATE INDEX t_id ON t (id);").unwrap();
/// use migrate::{Dialect, Migrations, lint::{self, LintOptions}};
/// let set = Migrations::from_dir(dir.path())?;
/// let findings = lint::lint(&set, Dialect::Postgres, &LintOptions::default());
/// assert_eq!(findings.len(), 1);
/// assert_eq!(
///     findings[0].to_string().lines().next(),
///     Some("0002_index.sql:1:1 require-concurrent-index-creation: \
///           during normal index creation, table updates are blocked, but reads are still allowed")
/// );
/// // Only the migrations newer than 1, then newer than 2.
/// assert_eq!(lint::lint(&set, Dialect::Postgres, &LintOptions::default().since(1)).len(), 1);
/// assert!(lint::lint(&set, Dialect::Postgres, &LintOptions::default().since(2)).is_empty());
/// assert!(lint::lint(&set, Dialect::Sqlite, &LintOptions::default()).is_empty());
/// # Ok::<(), migrate::Error>(())
/// ```
pub fn lint(set: &Migrations, dialect: Dialect, options: &LintOptions) -> Vec<Finding> {
    let mut findings = Vec::new();
    for migration in set {
        if options
            .since
            .is_some_and(|since| migration.version() <= since)
        {
            continue;
        }
        for script in std::iter::once(migration.up()).chain(migration.down()) {
            findings.extend(lint_script(
                migration.version(),
                script,
                dialect,
                &options.runner,
            ));
        }
    }
    findings
}

/// A finding before it is placed: a byte offset into the script.
struct Found {
    at: usize,
    rule: &'static str,
    message: String,
    hint: String,
}

fn lint_script(version: i64, script: &Script, dialect: Dialect, runner: &Options) -> Vec<Finding> {
    let sql = script.sql();
    // The loader refused a script whose directives do not read.
    let directives = migrate_files::directives(sql).unwrap_or_default();
    let mut found = match dialect {
        Dialect::Postgres => {
            let sets_lock_timeout = runner.statement_lock_timeout_on(dialect).is_some();
            postgres::lint(sql, script.no_transaction(), sets_lock_timeout)
        }
        Dialect::Sqlite => own::sqlite(sql, script.no_transaction(), runner.suspend_foreign_keys),
        Dialect::MySql => own::mysql(sql),
    };
    found.retain(|finding| {
        !directives
            .lint_ignore
            .iter()
            .any(|ignore| ignore.rule == finding.rule)
    });
    let mut findings: Vec<Finding> = directives
        .lint_ignore
        .iter()
        .filter(|ignore| !RULES.iter().any(|rule| rule.name == ignore.rule))
        .map(|ignore| Finding {
            version,
            file: script.file().to_owned(),
            line: ignore.line,
            column: 1,
            rule: UNKNOWN_RULE,
            message: format!(
                "`-- migrate:lint-ignore {}` names no lint rule",
                ignore.rule
            ),
            hint: format!("the rules are: {}", rule_names(dialect)),
        })
        .collect();
    findings.extend(found.into_iter().map(|found| {
        let (line, column) = position(sql, found.at);
        Finding {
            version,
            file: script.file().to_owned(),
            line,
            column,
            rule: found.rule,
            message: found.message,
            hint: found.hint,
        }
    }));
    findings.sort_by_key(|finding| (finding.line, finding.column));
    findings
}

/// The names of `dialect`'s rules, for a hint.
fn rule_names(dialect: Dialect) -> String {
    RULES
        .iter()
        .filter(|rule| rule.dialect == dialect)
        .map(|rule| rule.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The line and column (from 1, the column in characters) of byte `at` of
/// `text`; an offset inside a character counts as that character.
fn position(text: &str, at: usize) -> (usize, usize) {
    let at = at.min(text.len());
    let before = text.as_bytes().get(..at).unwrap_or_default();
    let line_start = before
        .iter()
        .rposition(|byte| *byte == b'\n')
        .map_or(0, |n| n + 1);
    let line = before.iter().filter(|byte| **byte == b'\n').count() + 1;
    // Continuation bytes do not start a character.
    let column = before[line_start..]
        .iter()
        .filter(|byte| (**byte & 0xC0) != 0x80)
        .count()
        + 1;
    (line, column)
}

#[cfg(test)]
mod tests;
