//! The catalogue of bad input (issue 10): one table of cases, one loop.
//!
//! Every bad input this project's tests know (malformed migration files,
//! targets, history table names, URLs, edited, unknown, out-of-order and
//! dirty histories, scripts that fail or would break their transaction) is
//! one row of [`CASES`], run on every database it applies to. For each run
//! the loop asserts the exit code, that the command said one sentence (on
//! stderr, as clap's usage error, or as `check`'s verdict on stdout), that
//! it panicked nowhere and showed no password, and that a dump of the
//! database (every table with its columns, rows and indexes, and for SQLite
//! the files beside it) is identical before and after.

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::process::Command;

use rusqlite::types::ValueRef;
use sqlx::{AssertSqlSafe, Connection as _};

use crate::common::{Run, migrate_in, workspace};
use crate::servers::{Kind, ServerDatabase, block_on, execute};

/// Where a case's migrations come from.
#[derive(Debug, Clone, Copy)]
enum Dir {
    /// A folder of `fixtures/`, used in place (the broken ones hold a
    /// dangling link and a directory, which a copy would not keep).
    Fixture(&'static str),
    /// A copy of a folder of `fixtures/`, which the preparation may edit.
    CopyOf(&'static str),
    /// These files, written into a fresh directory.
    Files(&'static [(&'static str, &'static str)]),
}

/// One step of preparing the database (and directory) before the run.
#[derive(Debug, Clone, Copy)]
enum Prepare {
    /// `migrate ARGS` on the case's database and directory, which must
    /// succeed.
    Migrate(&'static [&'static str]),
    /// SQL run on the database directly.
    Sql(&'static str),
    /// A file of the migration directory written (or overwritten).
    Write(&'static str, &'static str),
    /// Text appended to a file of the migration directory.
    Append(&'static str, &'static str),
    /// A file of the migration directory removed.
    Remove(&'static str),
    /// A FIFO made in the migration directory (a FIFO cannot be committed).
    Fifo(&'static str),
    /// The SQLite database file written with text that is not SQLite.
    NotSqlite(&'static str),
    /// A `.env` file written in the directory the command runs in.
    Dotenv(&'static str),
}

/// The `--database-url` of the run.
#[derive(Debug, Clone, Copy)]
enum Url {
    /// The case's fresh database.
    Own,
    /// The fresh database's URL with this appended (`?mode=ro`).
    OwnWith(&'static str),
    /// The fresh database's URL with a password its user does not have.
    OwnWithPassword,
    /// The fresh database's server, without a database.
    ServerOnly,
    /// The fresh database's server, with this database (one the server
    /// itself refuses to drop, should migrate's guard fail).
    System(&'static str),
    /// This URL, as written (the fresh database is only watched).
    Given(&'static str),
    /// No `--database-url` at all.
    Missing,
}

/// What the command must say, besides its exit code.
#[derive(Debug, Clone, Copy)]
enum Says {
    /// One sentence on stderr, holding this text; nothing on stdout.
    Error(&'static str),
    /// clap's usage error: `error: ` and one sentence holding this text,
    /// then clap's usage line and hint; nothing on stdout.
    Usage(&'static str),
    /// `check`'s verdict: one line on stdout holding this text; nothing on
    /// stderr.
    Verdict(&'static str),
}

/// One bad input and what must come of it.
#[derive(Debug, Clone, Copy)]
struct Case {
    name: &'static str,
    dir: Dir,
    prepare: &'static [Prepare],
    url: Url,
    args: &'static [&'static str],
    on: &'static [Kind],
    code: i32,
    says: Says,
}

/// A case on the database's own URL, with nothing prepared.
const fn case(
    name: &'static str,
    dir: Dir,
    args: &'static [&'static str],
    on: &'static [Kind],
    code: i32,
    says: Says,
) -> Case {
    Case {
        name,
        dir,
        prepare: &[],
        url: Url::Own,
        args,
        on,
        code,
        says,
    }
}

impl Case {
    /// The same case after these preparation steps.
    const fn after(self, prepare: &'static [Prepare]) -> Case {
        Case { prepare, ..self }
    }

    /// The same case with another URL.
    const fn url(self, url: Url) -> Case {
        Case { url, ..self }
    }
}

use Dir::{CopyOf, Files, Fixture};
use Kind::{MySql, Postgres, Sqlite};
use Prepare::{Append, Dotenv, Fifo, Migrate, NotSqlite, Remove, Sql, Write};
use Says::{Error, Usage, Verdict};

const ALL: &[Kind] = &[Sqlite, Postgres, MySql];
const SQLITE: &[Kind] = &[Sqlite];
const POSTGRES: &[Kind] = &[Postgres];
const MYSQL: &[Kind] = &[MySql];
const SERVERS: &[Kind] = &[Postgres, MySql];
/// Where a step and its history row commit together: not MySQL/MariaDB,
/// which commit DDL implicitly and mark a failed step dirty by design.
const TRANSACTIONAL: &[Kind] = &[Sqlite, Postgres];

/// A password no output may show.
const SECRET: &str = "s3cret";

/// A user table beside which nothing happens.
const KEEP: Prepare = Sql(
    "CREATE TABLE keep (id INT PRIMARY KEY, note VARCHAR(20));\n\
     INSERT INTO keep (id, note) VALUES (1, 'kept');",
);

/// `portable` applied up to 2 of its 5 steps.
const AT_2: &[Prepare] = &[Migrate(&["upgrade", "2"])];
/// `portable` applied to head (5).
const AT_HEAD: &[Prepare] = &[Migrate(&["upgrade"])];

/// The table's name is quoted as each database quotes it.
const NOT_A_HISTORY_TABLE: Says =
    Error("is not a migrate history table (it has no `version` column), so it was left as it is");

/// A user's own table where the history table would be.
const NOT_HISTORY: &[Prepare] = &[Sql(
    "CREATE TABLE _migrate_history (id INT);\nINSERT INTO _migrate_history (id) VALUES (7);",
)];

/// An irreversible step between two reversible ones: `downgrade base` must
/// refuse before it undoes the third.
const REVERSIBLE_THEN_IRREVERSIBLE: &[(&str, &str)] = &[
    ("0001_a.up.sql", "CREATE TABLE a (id INT);\n"),
    ("0001_a.down.sql", "DROP TABLE a;\n"),
    ("0002_b.sql", "CREATE TABLE b (id INT);\n"),
    ("0003_c.up.sql", "CREATE TABLE c (id INT);\n"),
    ("0003_c.down.sql", "DROP TABLE c;\n"),
];

#[rustfmt::skip]
const CASES: &[Case] = &[
    // Malformed migration directories: refused before the database is
    // opened (a SQLite file is not even created).
    case("a bad file name", Fixture("broken/bad_name"), &["upgrade"], ALL, 1, Error("2-add-users.sql matches no migration file form")),
    case("a duplicate version", Fixture("broken/duplicate_version"), &["upgrade"], ALL, 1, Error("migration version 1 is claimed by both")).after(&[KEEP]),
    case("a down file without its up file", Fixture("broken/missing_up"), &["upgrade"], ALL, 1, Error("0001_t.down.sql")).after(&[KEEP]),
    case("an up file without its down file", Fixture("broken/missing_down"), &["history"], ALL, 1, Error("0001_t.up.sql has no down script")).after(&[KEEP]),
    case("an empty down file", Fixture("broken/empty_down"), &["upgrade"], ALL, 1, Error("0001_t.down.sql")).after(&[KEEP]),
    case("a file that is not UTF-8", Fixture("broken/not_utf8"), &["current"], ALL, 1, Error("0001_latin1.sql is not valid UTF-8")).after(&[KEEP]),
    case("an unknown directive", Fixture("broken/unknown_directive"), &["upgrade"], ALL, 1, Error("no-transactions")).after(&[KEEP]),
    case("an unreadable file", Fixture("broken/unreadable"), &["upgrade"], ALL, 1, Error("cannot read migration file")).after(&[KEEP]),
    case("a .SQL extension", Fixture("broken/upper_case_extension"), &["upgrade"], ALL, 1, Error("0002_x.SQL matches no migration file form")).after(&[KEEP]),
    case("a trailing space", Fixture("broken/trailing_space"), &["upgrade"], ALL, 1, Error("ends in \".sql \"")).after(&[KEEP]),
    case("a directory named .sql", Fixture("broken/directory_named_sql"), &["upgrade"], ALL, 1, Error("0002_x.sql is a directory")).after(&[KEEP]),
    case("a FIFO named .sql", Files(&[("0001_init.sql", "SELECT 1;\n")]), &["upgrade"], ALL, 1, Error("0002_x.sql is a")).after(&[KEEP, Fifo("0002_x.sql")]),
    case("a control character in a file name", Files(&[("0001_a\nb.sql", "SELECT 1;\n")]), &["status"], ALL, 1, Error("0001_a\\nb.sql matches no migration file form")).after(&[KEEP]),
    case("a missing directory", Fixture("does_not_exist"), &["status"], ALL, 1, Error("cannot read the migration directory")).after(&[KEEP]),
    // Targets.
    case("upgrade base", CopyOf("portable"), &["upgrade", "base"], ALL, 2, Usage("`base` is not a target for an upgrade")).after(AT_2),
    case("upgrade -1", CopyOf("portable"), &["upgrade", "-1"], ALL, 2, Usage("`-1` is not a target for an upgrade")).after(AT_2),
    case("downgrade +1", CopyOf("portable"), &["downgrade", "+1"], ALL, 2, Usage("`+1` is not a target for a downgrade")).after(AT_2),
    case("stamp +1", CopyOf("portable"), &["stamp", "+1"], ALL, 2, Usage("`+1` is not a stamp target")).after(AT_2),
    case("stamp -1", CopyOf("portable"), &["stamp", "-1"], ALL, 2, Usage("`-1` is not a stamp target")).after(AT_2),
    case("upgrade +0", CopyOf("portable"), &["upgrade", "+0"], ALL, 2, Usage("`+0` is not a migration target")).after(AT_2),
    case("upgrade abc", CopyOf("portable"), &["upgrade", "abc"], ALL, 2, Usage("`abc` is not a migration target")).after(AT_2),
    case("downgrade -x", CopyOf("portable"), &["downgrade", "-x"], ALL, 2, Usage("`-x` is not a migration target")).after(AT_2),
    case("downgrade without a target", CopyOf("portable"), &["downgrade"], ALL, 2, Usage("the following required arguments were not provided")).after(AT_2),
    case("stamp 1.5", CopyOf("portable"), &["stamp", "1.5"], ALL, 2, Usage("`1.5` is not a migration target")).after(AT_2),
    case("upgrade --backup with a target's place taken", CopyOf("portable"), &["upgrade", "--backup", "backups"], ALL, 2, Usage("`backups` is not a migration target")).after(AT_2),
    case("upgrade 99, an unknown version", CopyOf("portable"), &["upgrade", "99"], ALL, 1, Error("no migration has version 99")).after(AT_2),
    case("downgrade 99, an unknown version", CopyOf("portable"), &["downgrade", "99"], ALL, 1, Error("no migration has version 99")).after(AT_2),
    case("stamp 99, an unknown version", CopyOf("portable"), &["stamp", "99"], ALL, 1, Error("no migration has version 99")).after(AT_2),
    case("upgrade 1, below the current version", CopyOf("portable"), &["upgrade", "1"], ALL, 1, Error("version 1 is below the current version 2, so there is nothing to upgrade to")).after(AT_2),
    case("upgrade +4 with 3 pending", CopyOf("portable"), &["upgrade", "+4"], ALL, 1, Error("`+4` asks for 4 step(s) but only 3 are pending")).after(AT_2),
    case("downgrade -9 with 2 applied", CopyOf("portable"), &["downgrade", "-9"], ALL, 1, Error("`-9` asks for 9 step(s) but only 2 are applied")).after(AT_2),
    case("downgrade -3 with 2 applied, dry run", CopyOf("portable"), &["downgrade", "-3", "--dry-run"], ALL, 1, Error("`-3` asks for 3 step(s) but only 2 are applied")).after(AT_2),
    // Options and the command line.
    case("an unknown verb", CopyOf("portable"), &["frobnicate"], ALL, 2, Usage("unrecognized subcommand 'frobnicate'")).after(AT_2),
    case("-v with -q", CopyOf("portable"), &["-v", "-q", "status"], ALL, 2, Usage("cannot be used with")).after(AT_2),
    case("an unknown --lock-mode", CopyOf("portable"), &["--lock-mode", "advisory", "status"], ALL, 2, Usage("invalid value 'advisory' for '--lock-mode <MODE>'")).after(AT_2),
    case("--lock-mode on SQLite", CopyOf("portable"), &["--lock-mode", "session", "upgrade"], SQLITE, 2, Usage("--lock-mode session does not apply to SQLite, which always locks with its write lock; drop it")).after(AT_2),
    case("--lock-mode transaction on MySQL", CopyOf("portable"), &["--lock-mode", "transaction", "upgrade"], MYSQL, 2, Usage("--lock-mode transaction applies to PostgreSQL only; on MySQL/MariaDB use --lock-mode session (GET_LOCK, the default) or --lock-mode lease")).after(AT_2),
    case("--lock-mode none on MySQL", CopyOf("portable"), &["--lock-mode", "none", "upgrade"], MYSQL, 2, Usage("--lock-mode none applies to PostgreSQL only")).after(AT_2),
    case("--statement-lock-timeout on SQLite", CopyOf("portable"), &["--statement-lock-timeout", "0", "upgrade"], SQLITE, 2, Usage("--statement-lock-timeout does not apply to SQLite, which has no table locks")).after(AT_2),
    case("--lock-retries on SQLite", CopyOf("portable"), &["--lock-retries", "3", "upgrade"], SQLITE, 2, Usage("--lock-retries does not apply to SQLite, which has no table locks")).after(AT_2),
    case("--lease-duration on SQLite", CopyOf("portable"), &["--lease-duration", "10s", "upgrade"], SQLITE, 2, Usage("--lease-duration does not apply to SQLite")).after(AT_2),
    case("--lock-timeout without a unit", CopyOf("portable"), &["--lock-timeout", "5", "upgrade"], ALL, 2, Usage("`5` is not a duration; use a number with ms, s, m or h, as in 500ms, 2s or 1m")).after(AT_2),
    case("--statement-lock-timeout with an unknown unit", CopyOf("portable"), &["--statement-lock-timeout", "1d", "upgrade"], ALL, 2, Usage("`1d` is not a duration")).after(AT_2),
    case("--lease-duration negative", CopyOf("portable"), &["--lease-duration", "-1s", "upgrade"], ALL, 2, Usage("`-1s` is not a duration")).after(AT_2),
    case("--lock-retries negative", CopyOf("portable"), &["--lock-retries", "-1", "upgrade"], ALL, 2, Usage("`-1` is not a number of retries")).after(AT_2),
    case("--backup on a server", CopyOf("portable"), &["upgrade", "--backup"], SERVERS, 2, Usage("--backup copies SQLite database files only")).after(AT_2),
    case("--sql and --dry-run together", CopyOf("portable"), &["upgrade", "--sql", "--dry-run"], ALL, 2, Usage("the argument '--sql' cannot be used with '--dry-run'")).after(AT_2),
    case("--from without --sql", CopyOf("portable"), &["upgrade", "--from", "3"], ALL, 2, Usage("the following required arguments were not provided")).after(AT_2),
    case("--from -1", CopyOf("portable"), &["upgrade", "--sql", "--from", "-1"], ALL, 2, Usage("`-1` is not a version to plan from")).after(AT_2),
    case("--from an unknown version", CopyOf("portable"), &["upgrade", "--sql", "--from", "9"], ALL, 1, Error("no migration has version 9")).after(AT_2),
    // A --table that names a user table, for every verb.
    case("--table users: status", CopyOf("portable"), &["--table", "users", "status"], ALL, 1, NOT_A_HISTORY_TABLE).after(AT_HEAD),
    case("--table users: current", CopyOf("portable"), &["--table", "users", "current"], ALL, 1, NOT_A_HISTORY_TABLE).after(AT_HEAD),
    case("--table users: history", CopyOf("portable"), &["--table", "users", "history"], ALL, 1, NOT_A_HISTORY_TABLE).after(AT_HEAD),
    case("--table users: upgrade", CopyOf("portable"), &["--table", "users", "upgrade"], ALL, 1, NOT_A_HISTORY_TABLE).after(AT_HEAD),
    case("--table users: upgrade --dry-run", CopyOf("portable"), &["--table", "users", "upgrade", "--dry-run"], ALL, 1, NOT_A_HISTORY_TABLE).after(AT_HEAD),
    case("--table users: upgrade --sql", CopyOf("portable"), &["--table", "users", "upgrade", "--sql"], ALL, 1, NOT_A_HISTORY_TABLE).after(AT_HEAD),
    case("--table users: downgrade -1", CopyOf("portable"), &["--table", "users", "downgrade", "-1"], ALL, 1, NOT_A_HISTORY_TABLE).after(AT_HEAD),
    // Regression: `stamp` completed the table (adding later formats' columns)
    // before reading it: MySQL's user table was altered.
    case("--table users: stamp head", CopyOf("portable"), &["--table", "users", "stamp", "head"], ALL, 1, NOT_A_HISTORY_TABLE).after(AT_HEAD),
    case("--table users: check", CopyOf("portable"), &["--table", "users", "check"], ALL, 1, NOT_A_HISTORY_TABLE).after(AT_HEAD),
    case("the default table is not a history table: upgrade", CopyOf("portable"), &["upgrade"], ALL, 1, Error("is not a migrate history table")).after(NOT_HISTORY),
    case("the default table is not a history table: check", CopyOf("portable"), &["check"], ALL, 1, Error("is not a migrate history table")).after(NOT_HISTORY),
    case("the default table is not a history table: stamp head", CopyOf("portable"), &["stamp", "head"], ALL, 1, Error("is not a migrate history table")).after(NOT_HISTORY),
    case("--table temp.h", CopyOf("portable"), &["--table", "temp.h", "upgrade"], ALL, 2, Usage("`temp.h` would keep the history table in the connection's temporary schema")).after(AT_2),
    case("--table pg_temp.h", CopyOf("portable"), &["--table", "pg_temp.h", "upgrade"], ALL, 2, Usage("`pg_temp.h` would keep the history table in the connection's temporary schema")).after(AT_2),
    case("--table 'a b'", CopyOf("portable"), &["--table", "a b", "status"], ALL, 2, Usage("`a b` is not a valid history table name")).after(AT_2),
    // The history and the directory disagree.
    case("an edited migration: upgrade", CopyOf("portable"), &["upgrade"], ALL, 1, Error("0002_create_items.up.sql")).after(&[Migrate(&["upgrade", "2"]), Append("0002_create_items.up.sql", "\n-- edited\n")]),
    case("an edited migration: upgrade --dry-run", CopyOf("portable"), &["upgrade", "--dry-run"], ALL, 1, Error("0002_create_items.up.sql")).after(&[Migrate(&["upgrade", "2"]), Append("0002_create_items.up.sql", "\n-- edited\n")]),
    case("an edited migration: upgrade --sql", CopyOf("portable"), &["upgrade", "--sql"], ALL, 1, Error("0002_create_items.up.sql")).after(&[Migrate(&["upgrade", "2"]), Append("0002_create_items.up.sql", "\n-- edited\n")]),
    case("an edited migration: check", CopyOf("portable"), &["check"], ALL, 1, Verdict("drift: the applied migrations differ from this directory's: migration 2 (create_items) was edited after it was applied; run `migrate history` to see every difference")).after(&[Migrate(&["upgrade", "2"]), Append("0002_create_items.up.sql", "\n-- edited\n")]),
    case("an unknown applied version: upgrade", CopyOf("portable"), &["upgrade"], ALL, 1, Error("the database is at version 5, newer than this build's head 4")).after(&[Migrate(&["upgrade"]), Remove("0005_users_item_count.up.sql"), Remove("0005_users_item_count.down.sql")]),
    case("an unknown applied version: check", CopyOf("portable"), &["check"], ALL, 1, Verdict("drift: the applied migrations differ from this directory's: migration 5 (users_item_count) is applied but unknown to this build")).after(&[Migrate(&["upgrade"]), Remove("0005_users_item_count.up.sql"), Remove("0005_users_item_count.down.sql")]),
    case("an out-of-order pending migration: upgrade", Files(&[("0001_a.sql", "CREATE TABLE a (id INT);\n"), ("0003_c.sql", "CREATE TABLE c (id INT);\n")]), &["upgrade"], ALL, 1, Error("migration 2 (0002_b.sql) is pending but older than the newest applied version 3")).after(&[Migrate(&["upgrade"]), Write("0002_b.sql", "CREATE TABLE b (id INT);\n")]),
    case("an out-of-order pending migration: upgrade --dry-run", Files(&[("0001_a.sql", "CREATE TABLE a (id INT);\n"), ("0003_c.sql", "CREATE TABLE c (id INT);\n")]), &["upgrade", "--dry-run"], ALL, 1, Error("migration 2 (0002_b.sql) is pending but older than the newest applied version 3")).after(&[Migrate(&["upgrade"]), Write("0002_b.sql", "CREATE TABLE b (id INT);\n")]),
    case("an out-of-order pending migration: check", Files(&[("0001_a.sql", "CREATE TABLE a (id INT);\n"), ("0003_c.sql", "CREATE TABLE c (id INT);\n")]), &["check"], ALL, 1, Verdict("drift: the applied migrations differ from this directory's: migration 2 (b) is pending below the newest applied version")).after(&[Migrate(&["upgrade"]), Write("0002_b.sql", "CREATE TABLE b (id INT);\n")]),
    case("a dirty mark: upgrade", CopyOf("portable"), &["upgrade"], ALL, 1, Error("dirty")).after(&[Migrate(&["upgrade", "2"]), Sql("UPDATE _migrate_history SET success = FALSE WHERE version = 2")]),
    case("a dirty mark: downgrade -1", CopyOf("portable"), &["downgrade", "-1"], ALL, 1, Error("dirty")).after(&[Migrate(&["upgrade", "2"]), Sql("UPDATE _migrate_history SET success = FALSE WHERE version = 2")]),
    case("a dirty mark: upgrade --sql", CopyOf("portable"), &["upgrade", "--sql"], ALL, 1, Error("dirty")).after(&[Migrate(&["upgrade", "2"]), Sql("UPDATE _migrate_history SET success = FALSE WHERE version = 2")]),
    case("a dirty mark: check", CopyOf("portable"), &["check"], ALL, 1, Verdict("dirty: migration 2 (create_items) failed or was interrupted outside a transaction")).after(&[Migrate(&["upgrade", "2"]), Sql("UPDATE _migrate_history SET success = FALSE WHERE version = 2")]),
    case("pending migrations: check", CopyOf("portable"), &["check"], ALL, 3, Verdict("pending")).after(AT_2),
    // Scripts that fail, or would break their step's transaction.
    case("a failing script", CopyOf("failing"), &["upgrade"], TRANSACTIONAL, 1, Error("migration 2 (0002_broken.up.sql) failed at statement 3")).after(&[Migrate(&["upgrade", "1"])]),
    // MySQL/MariaDB steps run outside a transaction: a COMMIT ends none.
    case("a script with COMMIT", Files(&[("0001_a.sql", "CREATE TABLE a (id INT);\n"), ("0002_b.sql", "CREATE TABLE b (id INT);\nCOMMIT;\nCREATE TABLE c (id INT);\n")]), &["upgrade"], TRANSACTIONAL, 1, Error("migration 2 (0002_b.sql) has `COMMIT`, which would end the transaction")).after(&[Migrate(&["upgrade", "1"])]),
    case("a script with PRAGMA journal_mode", Files(&[("0001_a.sql", "CREATE TABLE a (id INT);\n"), ("0002_wal.sql", "PRAGMA journal_mode = WAL;\nCREATE TABLE t (id INT);\n")]), &["upgrade"], SQLITE, 1, Error("has `PRAGMA journal_mode = WAL`, which SQLite ignores")).after(&[Migrate(&["upgrade", "1"])]),
    case("a step that leaves orphan rows", Files(&[("0001_parents.sql", "CREATE TABLE parent (id INTEGER PRIMARY KEY);\nCREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL REFERENCES parent (id) ON DELETE CASCADE);\nINSERT INTO parent VALUES (1);\nINSERT INTO child VALUES (1, 1), (2, 1);\n"), ("0002_orphans.sql", "DELETE FROM parent;\n")]), &["upgrade"], SQLITE, 1, Error("left rows in child that break its foreign keys")).after(&[Migrate(&["upgrade", "1"])]),
    case("downgrade of an irreversible step", Files(&[("0001_a.sql", "CREATE TABLE a (id INT);\n")]), &["downgrade", "-1"], ALL, 1, Error("cannot downgrade past migration 1 (0001_a.sql): it has no down script")).after(&[Migrate(&["upgrade"])]),
    case("downgrade through an irreversible step", Files(REVERSIBLE_THEN_IRREVERSIBLE), &["downgrade", "base"], ALL, 1, Error("cannot downgrade past migration 2 (0002_b.sql)")).after(&[Migrate(&["upgrade"])]),
    case("downgrade through an irreversible step, dry run", Files(REVERSIBLE_THEN_IRREVERSIBLE), &["downgrade", "base", "--dry-run"], ALL, 1, Error("cannot downgrade past migration 2 (0002_b.sql)")).after(&[Migrate(&["upgrade"])]),
    // URLs.
    case("no URL", CopyOf("portable"), &["status"], ALL, 2, Usage("no database given")).after(AT_2).url(Url::Missing),
    case("an empty URL", CopyOf("portable"), &["upgrade"], SQLITE, 2, Usage("the database URL is empty")).url(Url::Given("")),
    case("sqlite:// without a path", CopyOf("portable"), &["upgrade"], SQLITE, 2, Usage("names no file")).url(Url::Given("sqlite://")),
    case("sqlite: without a path", CopyOf("portable"), &["upgrade", "--dry-run"], SQLITE, 2, Usage("names no file")).url(Url::Given("sqlite:")),
    case("a jdbc: URL", CopyOf("portable"), &["upgrade", "--dry-run"], POSTGRES, 2, Usage("jdbc:postgresql://u:***@127.0.0.1:5432/db: `jdbc` is not a database migrate knows")).url(Url::Given("jdbc:postgresql://u:s3cret@127.0.0.1:5432/db")),
    case("an http: URL", CopyOf("portable"), &["current"], ALL, 2, Usage("`http` is not a database migrate knows")).url(Url::Given("http://user:s3cret@example.com/db")),
    // A server's own databases are never dropped (these two the servers
    // refuse to drop as well, should the guard fail).
    case("drop of a system database", CopyOf("portable"), &["database", "drop", "-y"], POSTGRES, 2, Usage("names `template1`, a system database of the PostgreSQL server, which `database drop` never drops")).url(Url::System("template1")),
    case("reset of a system database", CopyOf("portable"), &["database", "reset", "-y"], MYSQL, 2, Usage("names `information_schema`, a system database of the MySQL/MariaDB server, which `database reset` never drops")).url(Url::System("information_schema")),
    // A parameter the driver would ignore: refused before connecting, its
    // value hidden (MySQL's driver reads no password parameter; a typo'd
    // TLS mode would have connected without TLS).
    case("a MySQL password parameter", CopyOf("portable"), &["upgrade"], MYSQL, 2, Usage("?password=***: the MySQL/MariaDB driver does not read the parameter `password` and would ignore it; put the password in the URL itself")).after(AT_2).url(Url::OwnWith("?password=s3cret")),
    case("a misspelt TLS parameter", CopyOf("portable"), &["upgrade"], POSTGRES, 2, Usage("?ssl_mode=***: the PostgreSQL driver does not read the parameter `ssl_mode` and would ignore it; the parameters it reads, spelt as here, are sslmode,")).after(AT_2).url(Url::OwnWith("?ssl_mode=require")),
    case("a SQLite URL with a password", CopyOf("portable"), &["upgrade"], SQLITE, 2, Usage("sqlite://admin:***@app.db: a SQLite database takes no user or password")).url(Url::Given("sqlite://admin:s3cret@app.db")),
    // A misspelt scheme, or another tool's without `//`, is no file name:
    // refused before anything is made, its password hidden.
    case("a misspelt scheme", CopyOf("portable"), &["upgrade"], SQLITE, 2, Usage("postgress:app:***@127.0.0.1/app: `postgress` is not a database migrate knows")).url(Url::Given("postgress:app:s3cret@127.0.0.1/app")),
    case("a jdbc: name without //", CopyOf("portable"), &["upgrade", "+1"], SQLITE, 2, Usage("jdbc:x: `jdbc` is not a database migrate knows")).url(Url::Given("jdbc:x")),
    case("a URL missing its colon", CopyOf("portable"), &["status"], SQLITE, 2, Usage("postgres//app:***@127.0.0.1/app: a `:` is missing after `postgres`; write postgres://…")).url(Url::Given("postgres//app:s3cret@127.0.0.1/app")),
    case("a file: URI", CopyOf("portable"), &["upgrade", "--backup"], SQLITE, 2, Usage("file:app.db is a SQLite URI, which migrate does not read; write sqlite://app.db")).url(Url::Given("file:app.db")),
    case("an unknown SQLite URL option", CopyOf("portable"), &["upgrade"], SQLITE, 2, Usage("`cache=shared` is not a SQLite URL option migrate knows")).url(Url::Given("sqlite://app.db?cache=shared")),
    case("a postgres: URL without //", CopyOf("portable"), &["status"], POSTGRES, 2, Usage("a postgres: URL needs // after `postgres:`")).url(Url::Given("postgres:/app:s3cret@127.0.0.1:5432/app")),
    case("a mysql: URL without //", CopyOf("portable"), &["upgrade"], MYSQL, 2, Usage("a mysql: URL needs // after `mysql:`")).url(Url::Given("mysql:root:s3cret@127.0.0.1:3306/app")),
    case("a MySQL URL without a database: upgrade", CopyOf("portable"), &["upgrade"], MYSQL, 2, Usage("names no database")).url(Url::ServerOnly),
    case("a MySQL URL without a database: status", CopyOf("portable"), &["status"], MYSQL, 2, Usage("names no database")).url(Url::ServerOnly),
    case("an unreachable PostgreSQL server", CopyOf("portable"), &["upgrade"], POSTGRES, 1, Error("cannot connect to the PostgreSQL database postgres://admin:***@127.0.0.1:1/app: error communicating with database: Connection refused")).url(Url::Given("postgres://admin:s3cret@127.0.0.1:1/app")),
    case("an unreachable MySQL server", CopyOf("portable"), &["status"], MYSQL, 1, Error("cannot connect to the MySQL/MariaDB database mysql://root:***@127.0.0.1:1/app: error communicating with database: Connection refused")).url(Url::Given("mysql://root:s3cret@127.0.0.1:1/app")),
    case("a wrong password", CopyOf("portable"), &["upgrade"], MYSQL, 1, Error("Access denied for user 'root'@")).after(AT_2).url(Url::OwnWithPassword),
    case("a missing SQLite file: current", CopyOf("portable"), &["current"], SQLITE, 1, Error("does not exist; check --database-url, or run `migrate upgrade` to create it")),
    case("a missing SQLite file: stamp head", CopyOf("portable"), &["stamp", "head"], SQLITE, 1, Error("does not exist")),
    case("a missing SQLite file with ?mode=rw", CopyOf("portable"), &["upgrade"], SQLITE, 1, Error("?mode=rw does not exist")).url(Url::OwnWith("?mode=rw")),
    case("a SQLite file in a missing directory", CopyOf("portable"), &["upgrade"], SQLITE, 1, Error("unable to open database file")).url(Url::Given("sqlite://no/such/dir/app.db")),
    case("a directory as the SQLite file", CopyOf("portable"), &["upgrade"], SQLITE, 1, Error("unable to open database file")).url(Url::Given(".")),
    case("a file that is not SQLite", CopyOf("portable"), &["upgrade"], SQLITE, 1, Error("is not a SQLite database (the file holds something else)")).after(&[NotSqlite("name,email\nada,ada@example.com\n")]),
    case("?mode=ro with work pending: upgrade", CopyOf("portable"), &["upgrade"], SQLITE, 1, Error("is opened read-only (`?mode=ro`), so `upgrade` cannot change it")).after(AT_2).url(Url::OwnWith("?mode=ro")),
    case("?mode=ro: downgrade -1", CopyOf("portable"), &["downgrade", "-1"], SQLITE, 1, Error("so `downgrade` cannot change it")).after(AT_2).url(Url::OwnWith("?mode=ro")),
    case("?mode=ro: stamp head", CopyOf("portable"), &["stamp", "head"], SQLITE, 1, Error("so `stamp` cannot change it")).after(AT_2).url(Url::OwnWith("?mode=ro")),
    // The database itself (issue 12): the command's stdin is not a terminal.
    case("database drop without -y", CopyOf("portable"), &["database", "drop"], ALL, 2, Usage("asks before it drops the ")).after(AT_2),
    case("database reset without -y", CopyOf("portable"), &["database", "reset"], ALL, 2, Usage("and stdin is not a terminal to answer on; pass -y (--yes) to reset it without asking")).after(AT_2),
    case("database reset with a broken directory", Fixture("broken/bad_name"), &["database", "reset", "-y"], ALL, 1, Error("2-add-users.sql matches no migration file form")).after(&[KEEP]),
    case("database drop --force on SQLite or MySQL", CopyOf("portable"), &["database", "drop", "-y", "--force"], &[Sqlite, MySql], 2, Usage("--force applies to PostgreSQL only")).after(AT_2),
    case("database drop of a file that is not SQLite", CopyOf("portable"), &["database", "drop", "-y"], SQLITE, 1, Error("is not a SQLite database (the file holds something else)")).after(&[NotSqlite("name,email\nada,ada@example.com\n")]),
    case("database create of a file that is not SQLite", CopyOf("portable"), &["database", "create"], SQLITE, 1, Error("is not a SQLite database (the file holds something else)")).after(&[NotSqlite("name,email\nada,ada@example.com\n")]),
    case("database drop with ?mode=ro", CopyOf("portable"), &["database", "drop", "-y"], SQLITE, 1, Error("so `database drop` cannot change it")).after(AT_2).url(Url::OwnWith("?mode=ro")),
    case("database create in memory", CopyOf("portable"), &["database", "create"], SQLITE, 2, Usage("sqlite::memory: is a database in memory")).url(Url::Given("sqlite::memory:")),
    case("wait in memory", CopyOf("portable"), &["wait"], SQLITE, 2, Usage("so `wait` has nothing to work on")).url(Url::Given("sqlite::memory:")),
    case("wait --timeout without a unit", CopyOf("portable"), &["wait", "--timeout", "5"], ALL, 2, Usage("`5` is not a duration")).after(AT_2),
    case("--connect-timeout on SQLite", CopyOf("portable"), &["--connect-timeout", "1s", "status"], SQLITE, 2, Usage("--connect-timeout does not apply to SQLite, which opens a file and has no connection to wait for")).after(AT_2),
    case("--connect-timeout 0", CopyOf("portable"), &["--connect-timeout", "0", "upgrade"], ALL, 2, Usage("`0` is no time to connect in")).after(AT_2),
    case("--connect-timeout without a unit", CopyOf("portable"), &["--connect-timeout", "5", "upgrade"], ALL, 2, Usage("`5` is not a duration")).after(AT_2),
    case("a .env line that is not NAME=value", CopyOf("portable"), &["upgrade"], ALL, 2, Usage(".env, line 2 is not a `NAME=value` line")).after(&[Migrate(&["upgrade", "2"]), Dotenv("# local settings\nDATABASE_URL postgres://app:s3cret@127.0.0.1/app\n")]).url(Url::Missing),
    case("a .env value whose quote is never closed", CopyOf("portable"), &["upgrade"], ALL, 2, Usage(".env, line 1 is not a `NAME=value` line (or opens a quote it never closes)")).after(&[Migrate(&["upgrade", "2"]), Dotenv("DATABASE_URL='postgres://app:s3cret@127.0.0.1/app\nMIGRATE_DIR=m\n")]).url(Url::Missing),
];

/// The `--sqlite-glob`/`--databases` cases are in `tenants.rs`; a lock
/// held by another runner (a timeout) in `concurrency.rs`: both need more
/// than one command, which this loop does not run.
#[test]
fn every_bad_input_is_one_sentence_and_changes_nothing() {
    let started = std::time::Instant::now();
    let results = run_catalogue();
    let runs: usize = results.iter().map(|(_, runs, _)| runs).sum();
    let failures: Vec<&String> = results.iter().flat_map(|(_, _, f)| f).collect();
    println!(
        "catalogue: {} cases, {runs} runs ({}) in {:.1?}",
        CASES.len(),
        results
            .iter()
            .map(|(kind, runs, _)| format!("{kind:?} {runs}"))
            .collect::<Vec<_>>()
            .join(", "),
        started.elapsed()
    );
    assert!(
        failures.is_empty(),
        "{} of {runs} runs failed:\n\n{}",
        failures.len(),
        failures
            .iter()
            .map(|f| f.as_str())
            .collect::<Vec<_>>()
            .join("\n\n")
    );
}

/// Runs the cases, each database's in order, the databases side by side:
/// per database, the number of runs and the failures.
fn run_catalogue() -> Vec<(Kind, usize, Vec<String>)> {
    std::thread::scope(|scope| {
        let threads: Vec<_> = [Sqlite, Postgres, MySql]
            .into_iter()
            .map(|kind| scope.spawn(move || (kind, run_on(kind))))
            .collect();
        threads
            .into_iter()
            .map(|thread| {
                let (kind, (runs, failures)) = thread.join().expect("a catalogue thread panicked");
                (kind, runs, failures)
            })
            .collect()
    })
}

/// Every case that applies to `kind`, in the table's order.
fn run_on(kind: Kind) -> (usize, Vec<String>) {
    let mut runs = 0;
    let mut failures = Vec::new();
    for case in CASES.iter().filter(|case| case.on.contains(&kind)) {
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| run_case(case, kind)));
        match outcome {
            Ok(Some(Ok(()))) => runs += 1,
            // The server is not configured, and not required: said once.
            Ok(None) => return (runs, failures),
            Ok(Some(Err(failure))) => {
                runs += 1;
                failures.push(format!("{} on {kind:?}: {failure}", case.name));
            }
            Err(panic) => {
                runs += 1;
                let message = panic
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| panic.downcast_ref::<&str>().copied())
                    .unwrap_or("a panic");
                failures.push(format!("{} on {kind:?}: panicked: {message}", case.name));
            }
        }
    }
    (runs, failures)
}

/// One case on a fresh database of `kind`: `None` when the server is not
/// configured (and not required).
fn run_case(case: &Case, kind: Kind) -> Option<Result<(), String>> {
    let fresh = Fresh::new(kind, case.dir)?;
    for step in case.prepare {
        fresh.prepare(step);
    }
    let before = fresh.dump();
    let run = fresh.migrate(case.url, case.args);
    let after = fresh.dump();
    let shown = fresh.anonymous(&format!(
        "migrate {:?}\nexit {}\nstdout: {:?}\nstderr: {:?}",
        case.args, run.code, run.stdout, run.stderr
    ));
    let mut problems = Vec::new();
    if run.code != case.code {
        problems.push(format!("exit {} instead of {}", run.code, case.code));
    }
    if let Err(problem) = says(case.says, &run) {
        problems.push(problem);
    }
    if run.stdout.contains(SECRET) || run.stderr.contains(SECRET) {
        problems.push("a password was shown".to_owned());
    }
    if before != after {
        problems.push(format!(
            "the database changed:\n{}",
            difference(&before, &after)
        ));
    }
    Some(if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("{}\n{shown}", problems.join("; ")))
    })
}

/// Whether `run` said what `says` asks, as one sentence.
fn says(says: Says, run: &Run) -> Result<(), String> {
    if run.stderr.contains("panicked") || run.code == 101 {
        return Err("a panic".to_owned());
    }
    match says {
        Error(part) => {
            if !run.stdout.is_empty() {
                return Err("stdout is not empty".to_owned());
            }
            let sentence = one_line(&run.stderr)?;
            if sentence.starts_with("error:") || sentence.starts_with("Error") {
                return Err("the sentence has a prefix".to_owned());
            }
            one_sentence(sentence, part)
        }
        Usage(part) => {
            if !run.stdout.is_empty() {
                return Err("stdout is not empty".to_owned());
            }
            let Some(rest) = run.stderr.strip_prefix("error: ") else {
                return Err("a usage error starts with `error: `".to_owned());
            };
            let Some(body) = rest.strip_suffix("\n\nFor more information, try '--help'.\n") else {
                return Err("a usage error ends with clap's hint".to_owned());
            };
            // clap's usage line, when it shows one, is a paragraph of its own.
            let message = match body.split_once("\n\nUsage: ") {
                Some((message, usage)) if !usage.contains('\n') => message,
                Some(_) => return Err("more than one usage line".to_owned()),
                None => body,
            };
            // clap's own messages list what is missing on indented lines.
            let mut lines = message.lines();
            let sentence = lines.next().unwrap_or_default();
            if lines.any(|line| !line.starts_with("  ") || line.trim().is_empty()) {
                return Err("more than one line before clap's usage".to_owned());
            }
            one_sentence(sentence, part)
        }
        Verdict(part) => {
            if !run.stderr.is_empty() {
                return Err("stderr is not empty".to_owned());
            }
            one_sentence(one_line(&run.stdout)?, part)
        }
    }
}

/// The one line `text` is (ending in a newline), or why it is not one.
fn one_line(text: &str) -> Result<&str, String> {
    match text.strip_suffix('\n') {
        Some(line) if !line.is_empty() && !line.contains('\n') => Ok(line),
        _ => Err("not exactly one line".to_owned()),
    }
}

/// Whether `sentence` is one sentence (no full stop, `!` or `?` followed by
/// another sentence's capital) holding `part`.
fn one_sentence(sentence: &str, part: &str) -> Result<(), String> {
    let characters: Vec<char> = sentence.chars().collect();
    let second = characters.windows(3).any(|window| {
        matches!(window[0], '.' | '!' | '?') && window[1] == ' ' && window[2].is_uppercase()
    });
    if second {
        return Err("more than one sentence".to_owned());
    }
    if !sentence.contains(part) {
        return Err(format!("the sentence does not say {part:?}"));
    }
    Ok(())
}

/// The lines of `before` and `after` that differ.
fn difference(before: &[String], after: &[String]) -> String {
    let gone = before
        .iter()
        .filter(|line| !after.contains(line))
        .map(|line| format!("- {line}"));
    let new = after
        .iter()
        .filter(|line| !before.contains(line))
        .map(|line| format!("+ {line}"));
    let lines: Vec<String> = gone.chain(new).collect();
    if lines.is_empty() {
        "(the same lines in another order)".to_owned()
    } else {
        lines.join("\n")
    }
}

/// A fresh database of one kind, its migration directory and a temporary
/// directory to run in (a misread SQLite URL creates its file there, in
/// view of the dump).
struct Fresh {
    kind: Kind,
    tmp: tempfile::TempDir,
    dir: PathBuf,
    server: Option<ServerDatabase>,
}

impl Fresh {
    fn new(kind: Kind, dir: Dir) -> Option<Fresh> {
        let server = match kind {
            Sqlite => None,
            _ => Some(ServerDatabase::create(kind)?),
        };
        let tmp = tempfile::tempdir().unwrap();
        let fixtures = workspace().join("fixtures");
        let dir = match dir {
            Fixture(set) => fixtures.join(set),
            CopyOf(set) => {
                let copy = tmp.path().join("migrations");
                std::fs::create_dir(&copy).unwrap();
                for entry in std::fs::read_dir(fixtures.join(set)).unwrap() {
                    let entry = entry.unwrap();
                    std::fs::copy(entry.path(), copy.join(entry.file_name())).unwrap();
                }
                copy
            }
            Files(files) => {
                let dir = tmp.path().join("migrations");
                std::fs::create_dir(&dir).unwrap();
                for (name, content) in files {
                    std::fs::write(dir.join(name), content).unwrap();
                }
                dir
            }
        };
        Some(Fresh {
            kind,
            tmp,
            dir,
            server,
        })
    }

    fn sqlite_file(&self) -> PathBuf {
        self.tmp.path().join("app.db")
    }

    fn url(&self) -> String {
        match &self.server {
            Some(server) => server.url().to_owned(),
            None => format!("sqlite://{}", self.sqlite_file().display()),
        }
    }

    /// Text with the temporary directory as `[TMP]`.
    fn anonymous(&self, text: &str) -> String {
        text.replace(&self.tmp.path().display().to_string(), "[TMP]")
    }

    /// Runs `migrate --database-url URL --dir DIR ARGS...` in the
    /// temporary directory.
    fn migrate(&self, url: Url, args: &[&str]) -> Run {
        let url = match url {
            Url::Own => Some(self.url()),
            Url::OwnWith(suffix) => Some(format!("{}{suffix}", self.url())),
            Url::OwnWithPassword => {
                let url = self.url();
                let (scheme, rest) = url.split_once("://").unwrap();
                let (user, host) = rest.split_once('@').unwrap();
                Some(format!("{scheme}://{user}:{SECRET}@{host}"))
            }
            Url::ServerOnly => {
                let server = self.server.as_ref().expect("a server database");
                let url = server.url();
                let host_end = url.rfind('/').unwrap();
                Some(url[..host_end].to_owned())
            }
            Url::System(name) => {
                let server = self.server.as_ref().expect("a server database");
                let url = server.url();
                let host_end = url.rfind('/').unwrap();
                Some(format!("{}/{name}", &url[..host_end]))
            }
            Url::Given(url) => Some(url.to_owned()),
            Url::Missing => None,
        };
        let dir = self.dir.display().to_string();
        let mut all = Vec::new();
        if let Some(url) = &url {
            all.extend(["--database-url", url.as_str()]);
        }
        all.extend(["--dir", dir.as_str()]);
        all.extend_from_slice(args);
        migrate_in(self.tmp.path(), &all)
    }

    fn prepare(&self, step: &Prepare) {
        assert!(
            !matches!(step, Write(..) | Append(..) | Remove(_) | Fifo(_))
                || self.dir.starts_with(self.tmp.path()),
            "a fixture used in place is never edited"
        );
        match *step {
            Migrate(args) => {
                let run = self.migrate(Url::Own, args);
                assert_eq!(run.code, 0, "preparing with {args:?}: {run:?}");
            }
            Sql(sql) => match &self.server {
                Some(server) => execute(self.kind, server.url(), sql).unwrap(),
                None => rusqlite::Connection::open(self.sqlite_file())
                    .unwrap()
                    .execute_batch(sql)
                    .unwrap(),
            },
            Write(name, content) => std::fs::write(self.dir.join(name), content).unwrap(),
            Append(name, content) => {
                let path = self.dir.join(name);
                let mut text = std::fs::read_to_string(&path).unwrap();
                text.push_str(content);
                std::fs::write(path, text).unwrap();
            }
            Remove(name) => std::fs::remove_file(self.dir.join(name)).unwrap(),
            Fifo(name) => {
                let status = Command::new("mkfifo")
                    .arg(self.dir.join(name))
                    .status()
                    .unwrap();
                assert!(status.success(), "mkfifo failed");
            }
            NotSqlite(text) => std::fs::write(self.sqlite_file(), text).unwrap(),
            Dotenv(text) => std::fs::write(self.tmp.path().join(".env"), text).unwrap(),
        }
    }

    /// Everything a command could change, as lines.
    fn dump(&self) -> Vec<String> {
        match &self.server {
            Some(server) => block_on(server_dump(self.kind, server.url())),
            None => sqlite_dump(self.tmp.path(), &self.sqlite_file()),
        }
    }
}

/// The files of the temporary directory, and every table of the SQLite
/// database (the history table too): its SQL, columns, indexes and rows,
/// and the journal mode.
fn sqlite_dump(tmp: &Path, file: &Path) -> Vec<String> {
    let mut lines: Vec<String> = std::fs::read_dir(tmp)
        .unwrap()
        .map(|entry| format!("file {}", entry.unwrap().file_name().to_string_lossy()))
        .collect();
    lines.sort();
    if !file.exists() {
        lines.push("no database file".to_owned());
        return lines;
    }
    let bytes = std::fs::read(file).unwrap();
    if !bytes.starts_with(b"SQLite format 3\0") && !bytes.is_empty() {
        lines.push(format!("not SQLite: {}", String::from_utf8_lossy(&bytes)));
        return lines;
    }
    let conn = rusqlite::Connection::open_with_flags(
        file,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .unwrap();
    let query = |sql: &str| -> Vec<Vec<String>> {
        let mut statement = conn.prepare(sql).unwrap();
        let columns = statement.column_count();
        statement
            .query_map([], |row| {
                (0..columns)
                    .map(|i| row.get_ref(i).map(sqlite_value))
                    .collect()
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    lines.push(format!("journal_mode {:?}", query("PRAGMA journal_mode")));
    for object in query("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name") {
        lines.push(format!("object {}", object.join(" ")));
    }
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for table in tables {
        let columns = query(&format!(
            "SELECT name, type, \"notnull\", pk, dflt_value FROM pragma_table_info('{}')",
            table.replace('\'', "''")
        ));
        for column in &columns {
            lines.push(format!("column {table} {}", column.join(" ")));
        }
        let order: Vec<String> = (1..=columns.len()).map(|i| i.to_string()).collect();
        for row in query(&format!(
            "SELECT * FROM \"{}\" ORDER BY {}",
            table.replace('"', "\"\""),
            order.join(", ")
        )) {
            lines.push(format!("row {table} {}", row.join(" | ")));
        }
    }
    lines
}

fn sqlite_value(value: ValueRef<'_>) -> String {
    match value {
        ValueRef::Null => "NULL".to_owned(),
        ValueRef::Integer(i) => i.to_string(),
        ValueRef::Real(r) => r.to_string(),
        ValueRef::Text(text) => format!("'{}'", String::from_utf8_lossy(text)),
        ValueRef::Blob(blob) => format!("x'{blob:02x?}'"),
    }
}

/// Every table of the server database (the history table too): its
/// columns, indexes and rows, each row as JSON in a stable order.
async fn server_dump(kind: Kind, url: &str) -> Vec<String> {
    /// Each line a query returns (one text column).
    macro_rules! lines {
        ($conn:expr, $query:expr) => {
            sqlx::query_scalar::<_, String>(AssertSqlSafe($query.to_string()))
                .fetch_all(&mut $conn)
                .await
                .unwrap()
        };
    }
    let mut lines = Vec::new();
    match kind {
        Postgres => {
            let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
            const USER: &str = "NOT IN ('pg_catalog', 'information_schema', 'pg_toast')";
            for schema in lines!(
                conn,
                format!(
                    "SELECT CAST(schema_name AS TEXT) FROM information_schema.schemata \
                     WHERE schema_name {USER} ORDER BY 1"
                )
            ) {
                lines.push(format!("schema {schema}"));
            }
            for column in lines!(
                conn,
                format!(
                    "SELECT concat_ws(' ', table_schema, table_name, ordinal_position, column_name, \
                     data_type, is_nullable, coalesce(column_default, '-')) \
                     FROM information_schema.columns WHERE table_schema {USER} \
                     ORDER BY table_schema, table_name, ordinal_position"
                )
            ) {
                lines.push(format!("column {column}"));
            }
            for index in lines!(
                conn,
                format!(
                    "SELECT concat_ws(' ', schemaname, tablename, indexname, indexdef) \
                     FROM pg_indexes WHERE schemaname {USER} ORDER BY 1"
                )
            ) {
                lines.push(format!("index {index}"));
            }
            for table in lines!(
                conn,
                format!(
                    "SELECT concat_ws(' ', table_schema, table_name, table_type) \
                     FROM information_schema.tables WHERE table_schema {USER} ORDER BY 1"
                )
            ) {
                lines.push(format!("table {table}"));
                let mut words = table.split(' ');
                let (schema, name) = (words.next().unwrap(), words.next().unwrap());
                for row in lines!(
                    conn,
                    format!(
                        "SELECT CAST(row_to_json(t) AS TEXT) FROM \"{schema}\".\"{name}\" AS t ORDER BY 1"
                    )
                ) {
                    lines.push(format!("row {name} {row}"));
                }
            }
            conn.close().await.unwrap();
        }
        MySql => {
            let mut conn = sqlx::MySqlConnection::connect(url).await.unwrap();
            for column in lines!(
                conn,
                "SELECT CAST(CONCAT_WS(' ', table_name, ordinal_position, column_name, column_type, \
                 is_nullable, COALESCE(column_default, '-'), column_key) AS CHAR) \
                 FROM information_schema.columns WHERE table_schema = DATABASE() \
                 ORDER BY table_name, ordinal_position"
            ) {
                lines.push(format!("column {column}"));
            }
            for index in lines!(
                conn,
                "SELECT CAST(CONCAT_WS(' ', table_name, index_name, seq_in_index, column_name, \
                 non_unique) AS CHAR) FROM information_schema.statistics \
                 WHERE table_schema = DATABASE() ORDER BY table_name, index_name, seq_in_index"
            ) {
                lines.push(format!("index {index}"));
            }
            for table in lines!(
                conn,
                "SELECT CAST(table_name AS CHAR) FROM information_schema.tables \
                 WHERE table_schema = DATABASE() ORDER BY 1"
            ) {
                lines.push(format!("table {table}"));
                let columns = lines!(
                    conn,
                    format!(
                        "SELECT CAST(column_name AS CHAR) FROM information_schema.columns \
                         WHERE table_schema = DATABASE() AND table_name = '{table}' \
                         ORDER BY ordinal_position"
                    )
                );
                let columns: Vec<String> = columns
                    .iter()
                    .map(|column| format!("`{}`", column.replace('`', "``")))
                    .collect();
                for row in lines!(
                    conn,
                    format!(
                        "SELECT CAST(JSON_ARRAY({}) AS CHAR) FROM `{}` ORDER BY 1",
                        columns.join(", "),
                        table.replace('`', "``")
                    )
                ) {
                    lines.push(format!("row {table} {row}"));
                }
            }
            conn.close().await.unwrap();
        }
        Sqlite => unreachable!("SQLite is dumped with rusqlite"),
    }
    lines
}
