//! PostgreSQL: squawk's parser and a chosen few of its rules, told whether
//! the step runs in a transaction.
//!
//! Kept: the rules about a statement that holds a long lock, rewrites or
//! scans a table under one, fails on a table with rows, or cannot run in
//! the step's transaction. Left out: squawk's rules about compatibility
//! with the application's code (dropping or renaming a column, table or
//! type, which is what a down script is for), about style (`prefer-*`,
//! `ban-char-field`, identifier length) and `require-concurrent-index-deletion`
//! (a `DROP INDEX` holds its lock only for a moment, and the runner's lock
//! timeout bounds its wait).
//!
//! `ban-concurrent-index-creation-in-transaction` is ours under squawk's
//! name: squawk's fires only where a file holds more than one statement,
//! but migrate runs every transactional step in a transaction, so a lone
//! `CREATE INDEX CONCURRENTLY` fails there too; it also covers `DROP INDEX
//! CONCURRENTLY`, which fails the same way.

use squawk_linter::{Linter, Rule as Squawk};
use squawk_syntax::SourceFile;
use squawk_syntax::ast::{self, AstNode};

use super::{Found, Rule};
use crate::Dialect;

const fn rule(name: &'static str, summary: &'static str) -> Rule {
    Rule {
        name,
        dialect: Dialect::Postgres,
        summary,
    }
}

pub(super) const REQUIRE_CONCURRENT_INDEX_CREATION: Rule = rule(
    "require-concurrent-index-creation",
    "an index built without CONCURRENTLY on a table the step did not create blocks its writes",
);
pub(super) const BAN_CONCURRENT_INDEX_CREATION_IN_TRANSACTION: Rule = rule(
    "ban-concurrent-index-creation-in-transaction",
    "CREATE or DROP INDEX CONCURRENTLY in a step that runs in a transaction, where it fails",
);
pub(super) const ADDING_REQUIRED_FIELD: Rule = rule(
    "adding-required-field",
    "a column added NOT NULL without a default, which fails on a table with rows",
);
pub(super) const ADDING_NOT_NULLABLE_FIELD: Rule = rule(
    "adding-not-nullable-field",
    "SET NOT NULL, which scans the table under an ACCESS EXCLUSIVE lock",
);
pub(super) const ADDING_FIELD_WITH_DEFAULT: Rule = rule(
    "adding-field-with-default",
    "a column added with a volatile default or generated, which rewrites the table",
);
pub(super) const CHANGING_COLUMN_TYPE: Rule = rule(
    "changing-column-type",
    "a column's type changed, which rewrites the table under an ACCESS EXCLUSIVE lock",
);
pub(super) const CONSTRAINT_MISSING_NOT_VALID: Rule = rule(
    "constraint-missing-not-valid",
    "a constraint added without NOT VALID (or validated in the same step), scanning the table under lock",
);
pub(super) const ADDING_FOREIGN_KEY_CONSTRAINT: Rule = rule(
    "adding-foreign-key-constraint",
    "a foreign key added without NOT VALID, which scans and locks both tables",
);
pub(super) const ADDING_SERIAL_PRIMARY_KEY_FIELD: Rule = rule(
    "adding-serial-primary-key-field",
    "a primary key added to an existing table, building its index under an ACCESS EXCLUSIVE lock",
);
pub(super) const DISALLOWED_UNIQUE_CONSTRAINT: Rule = rule(
    "disallowed-unique-constraint",
    "a UNIQUE constraint added to an existing table, building its index under an ACCESS EXCLUSIVE lock",
);
pub(super) const BAN_ALTER_DOMAIN_WITH_ADD_CONSTRAINT: Rule = rule(
    "ban-alter-domain-with-add-constraint",
    "a constraint added to a domain, which checks every column of that domain under lock",
);
pub(super) const REQUIRE_CONCURRENT_REINDEX: Rule = rule(
    "require-concurrent-reindex",
    "REINDEX without CONCURRENTLY, which blocks reads and writes",
);
pub(super) const REQUIRE_CONCURRENT_PARTITION_DETACH: Rule = rule(
    "require-concurrent-partition-detach",
    "DETACH PARTITION without CONCURRENTLY, which takes an ACCESS EXCLUSIVE lock",
);
pub(super) const TRANSACTION_NESTING: Rule = rule(
    "transaction-nesting",
    "BEGIN, COMMIT or ROLLBACK in a step that runs in a transaction (the runner refuses it)",
);
pub(super) const BAN_UNCOMMITTED_TRANSACTION: Rule = rule(
    "ban-uncommitted-transaction",
    "a BEGIN never committed or rolled back",
);
pub(super) const BAN_DROP_DATABASE: Rule = rule("ban-drop-database", "DROP DATABASE");
pub(super) const BAN_TRUNCATE_CASCADE: Rule = rule(
    "ban-truncate-cascade",
    "TRUNCATE … CASCADE, which empties every table that refers to it",
);
pub(super) const REQUIRE_LOCK_TIMEOUT: Rule = rule(
    "require-lock-timeout",
    "a statement that takes a strong lock with no lock_timeout set, only where the runner sets none",
);
pub(super) const SYNTAX_ERROR: Rule = rule(
    "syntax-error",
    "a statement the parser cannot read, which the server would refuse too",
);

/// squawk's rules we run, with ours for each.
const SQUAWK: &[(Squawk, Rule)] = &[
    (
        Squawk::RequireConcurrentIndexCreation,
        REQUIRE_CONCURRENT_INDEX_CREATION,
    ),
    (Squawk::AddingRequiredField, ADDING_REQUIRED_FIELD),
    (Squawk::AddingNotNullableField, ADDING_NOT_NULLABLE_FIELD),
    (Squawk::AddingFieldWithDefault, ADDING_FIELD_WITH_DEFAULT),
    (Squawk::ChangingColumnType, CHANGING_COLUMN_TYPE),
    (
        Squawk::ConstraintMissingNotValid,
        CONSTRAINT_MISSING_NOT_VALID,
    ),
    (
        Squawk::AddingForeignKeyConstraint,
        ADDING_FOREIGN_KEY_CONSTRAINT,
    ),
    (
        Squawk::AddingSerialPrimaryKeyField,
        ADDING_SERIAL_PRIMARY_KEY_FIELD,
    ),
    (
        Squawk::DisallowedUniqueConstraint,
        DISALLOWED_UNIQUE_CONSTRAINT,
    ),
    (
        Squawk::BanAlterDomainWithAddConstraint,
        BAN_ALTER_DOMAIN_WITH_ADD_CONSTRAINT,
    ),
    (Squawk::RequireConcurrentReindex, REQUIRE_CONCURRENT_REINDEX),
    (
        Squawk::RequireConcurrentPartitionDetach,
        REQUIRE_CONCURRENT_PARTITION_DETACH,
    ),
    (Squawk::TransactionNesting, TRANSACTION_NESTING),
    (
        Squawk::BanUncommittedTransaction,
        BAN_UNCOMMITTED_TRANSACTION,
    ),
    (Squawk::BanDropDatabase, BAN_DROP_DATABASE),
    (Squawk::BanTruncateCascade, BAN_TRUNCATE_CASCADE),
    (Squawk::RequireLockTimeout, REQUIRE_LOCK_TIMEOUT),
];

/// A step of its own, outside a transaction: what CONCURRENTLY needs.
const OWN_STEP: &str = "in a migration of its own whose script starts with `-- migrate:no-transaction` (CONCURRENTLY cannot run in a transaction)";

/// Lints one script; `no_transaction` is its directive, `sets_lock_timeout`
/// whether the runner sets a lock timeout for each step.
pub(super) fn lint(sql: &str, no_transaction: bool, sets_lock_timeout: bool) -> Vec<Found> {
    let parse = SourceFile::parse(sql);
    let in_transaction = !no_transaction;
    let mut found: Vec<Found> = parse
        .errors()
        .into_iter()
        .take(1)
        .map(|error| Found {
            at: usize::from(error.range().start()),
            rule: SYNTAX_ERROR.name,
            message: format!("the parser cannot read this: {}", error.message()),
            hint: "check the statement (a missing `;` before it?); the other rules skip what they cannot read".to_owned(),
        })
        .collect();
    let mut linter = Linter::from(
        SQUAWK
            .iter()
            .map(|(squawk, _)| *squawk)
            .filter(|squawk| !(sets_lock_timeout && *squawk == Squawk::RequireLockTimeout)),
    );
    linter.settings.assume_in_transaction = in_transaction;
    let index_backed = index_backed_constraints(&parse.tree());
    for violation in linter.lint(&parse, sql) {
        let Some((_, rule)) = SQUAWK.iter().find(|(squawk, _)| *squawk == violation.code) else {
            continue;
        };
        if violation.code == Squawk::ConstraintMissingNotValid
            && index_backed.contains(&usize::from(violation.text_range.end()))
        {
            continue;
        }
        let hint = match (hint(rule.name, in_transaction), violation.help) {
            (Some(ours), _) => ours.to_owned(),
            (None, Some(help)) => sentence(&help),
            (None, None) => format!(
                "if it is safe here, accept it for this file with `-- migrate:lint-ignore {}`",
                rule.name
            ),
        };
        found.push(Found {
            at: usize::from(violation.text_range.start()),
            rule: rule.name,
            message: sentence(&violation.message),
            hint,
        });
    }
    if in_transaction {
        found.extend(concurrently_in_transaction(&parse.tree()));
    }
    found
}

/// Where each `ADD CONSTRAINT` of a `UNIQUE`, `PRIMARY KEY` or `EXCLUDE`
/// constraint ends. squawk's `constraint-missing-not-valid` flags them too,
/// but they cannot be `NOT VALID` (their index is what they are):
/// `disallowed-unique-constraint` and `adding-serial-primary-key-field`
/// say what to do instead.
fn index_backed_constraints(file: &SourceFile) -> Vec<usize> {
    let mut ends = Vec::new();
    for statement in file.stmts() {
        let ast::Stmt::AlterTable(alter) = statement else {
            continue;
        };
        for action in alter.actions() {
            if let ast::AlterTableAction::AddConstraint(add) = action
                && matches!(
                    add.constraint(),
                    Some(
                        ast::Constraint::UniqueConstraint(_)
                            | ast::Constraint::PrimaryKeyConstraint(_)
                            | ast::Constraint::ExcludeConstraint(_)
                    )
                )
            {
                ends.push(usize::from(add.syntax().text_range().end()));
            }
        }
    }
    ends
}

/// squawk's sentence as a finding's part (as a compiler writes them): no
/// capital to start (unless the word is all capitals), no full stop to end.
pub(super) fn sentence(text: &str) -> String {
    let text = text.trim();
    let text = text.strip_suffix('.').unwrap_or(text);
    let mut chars = text.chars();
    match (chars.next(), chars.next()) {
        (Some(first), Some(second)) if first.is_uppercase() && second.is_lowercase() => first
            .to_lowercase()
            .chain(text[first.len_utf8()..].chars())
            .collect(),
        _ => text.to_owned(),
    }
}

/// Hints of ours where squawk's do not fit how migrate runs a step.
fn hint(rule: &str, in_transaction: bool) -> Option<&'static str> {
    Some(match rule {
        "require-concurrent-index-creation" if in_transaction => {
            "build it with `CREATE INDEX CONCURRENTLY` in a migration of its own whose script starts with `-- migrate:no-transaction`"
        }
        "constraint-missing-not-valid" | "adding-foreign-key-constraint" => {
            "add the constraint with `NOT VALID` here and `VALIDATE CONSTRAINT` in a later migration (each runs in a transaction of its own)"
        }
        "transaction-nesting" | "ban-uncommitted-transaction" => {
            "migrate runs the step in a transaction of its own and refuses a script that ends it: drop the statement, or start the script with `-- migrate:no-transaction` to manage transactions yourself"
        }
        "changing-column-type" => {
            "add a column of the new type, fill it in batches and switch over in later migrations; where the table is small, accept the rewrite with `-- migrate:lint-ignore changing-column-type`"
        }
        "require-lock-timeout" => {
            "start the script with `SET lock_timeout = '2s';`, or keep the runner's statement lock timeout on (it sets one for each step)"
        }
        _ => return None,
    })
}

/// `CREATE INDEX CONCURRENTLY` and `DROP INDEX CONCURRENTLY` in a step
/// that runs in a transaction.
fn concurrently_in_transaction(file: &SourceFile) -> Vec<Found> {
    let mut found = Vec::new();
    for statement in file.stmts() {
        let (token, what) = match &statement {
            ast::Stmt::CreateIndex(create) => (create.concurrently_token(), "CREATE INDEX"),
            ast::Stmt::DropIndex(drop) => (drop.concurrently_token(), "DROP INDEX"),
            _ => continue,
        };
        if let Some(token) = token {
            found.push(Found {
                at: usize::from(token.text_range().start()),
                rule: BAN_CONCURRENT_INDEX_CREATION_IN_TRANSACTION.name,
                message: format!(
                    "`{what} CONCURRENTLY` cannot run inside a transaction, and this step runs in one"
                ),
                hint: format!("keep it {OWN_STEP}"),
            });
        }
    }
    found
}
