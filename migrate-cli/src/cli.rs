//! The command line as clap reads it: global options, one variant per verb,
//! and an example in every verb's help. Nothing here touches a database.

use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::time::Duration;

use clap::parser::ValueSource;
use clap::{ArgAction, Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use migrate::{LockMode, Target, TransactionMode};

use crate::duration::parse_duration;

const ABOUT: &str = "Safe SQL schema migrations: upgrade, downgrade, inspect and stamp a database.";

const LONG_ABOUT: &str = "\
Safe SQL schema migrations: upgrade, downgrade, inspect and stamp a database.

Migrations are the .sql files of a directory (--dir): `0001_name.sql` (up only),
`0001_name.up.sql` + `0001_name.down.sql` (reversible), or Flyway's
`V1__name.sql` + `U1__name.sql`. Each applied migration is recorded, with its
checksum, in a history table (--table, default `_migrate_history`).

Databases: `sqlite://path`, `sqlite:path` or a plain path to a SQLite file
(`?mode=ro` opens it read-only); `postgres://user:password@host/db` or
`postgresql://…` for PostgreSQL; `mysql://…` or `mariadb://…` for MySQL and
MariaDB. A server database must exist (`migrate database create` creates one):
the other verbs create only the history table. Passwords in URLs are never
shown: every message and log line hides them.

Several databases (one per tenant): repeat --database-url, list URLs in a file
(--databases FILE, one per line, `#` comments), or glob SQLite files
(--sqlite-glob 'tenants/*.db'). `upgrade`, `downgrade`, `status`, `check` and
`current` then run on each, --jobs at a time, and print a summary table (or,
with --json, an array of one report per database); every failure is reported
(--fail-fast stops at the first) and makes the exit code 1.

Durations (--lock-timeout, --statement-lock-timeout, --lease-duration,
--connect-timeout, wait --timeout) are a number with a unit, ms, s, m or h
(500ms, 1.5s, 2s, 1m, 1h), or 0 (but for --connect-timeout).

Exit codes: 0 success, 1 error, 2 usage error, 3 (`check` only) migrations pending.";

const EXAMPLES: &str = "\
Examples, one per command:
  current    migrate --database-url sqlite://app.db current
             migrate --database-url postgres://app@db.internal/app current
  history    migrate --database-url sqlite://app.db --dir migrations history
  status     migrate status --json
  upgrade    migrate upgrade head            (also: +1, a version, --dry-run, --sql, --backup)
             migrate --sqlite-glob 'tenants/*.db' upgrade --jobs 4   (every tenant's file)
  downgrade  migrate downgrade -1            (also: a version, base)
  stamp      migrate stamp 3                 (record version 3 as applied, run nothing)
  check      migrate check                   (exit 0 at head, 3 pending, 1 drift or dirty)
  dump       migrate dump --output schema.txt (the schema as text; `check --schema schema.txt` compares)
  verify     migrate verify                  (apply, revert, re-apply each migration on a scratch database)
  new        migrate new add_email --reversible
  lint       migrate lint --dialect postgres  (risky statements; also: --since VERSION, check --lint)
  database   migrate database create         (also: drop, reset; -y to skip the confirmation)
  wait       migrate wait --timeout 1m       (until the database accepts connections)
  completions migrate completions bash > ~/.local/share/bash-completion/completions/migrate

The database URL may come from DATABASE_URL and the directory from MIGRATE_DIR,
or from a `.env` file in the current directory or a parent (--no-dotenv ignores it).";

/// The `migrate` command line.
#[derive(Debug, Parser)]
#[command(
    name = "migrate",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = EXAMPLES,
    propagate_version = true
)]
pub struct Cli {
    /// The database: `sqlite://path` (or a path to a SQLite file),
    /// `postgres://…` or `mysql://…`. Repeat it for several databases.
    #[arg(
        long,
        env = "DATABASE_URL",
        hide_env_values = true,
        global = true,
        value_name = "URL",
        action = ArgAction::Append
    )]
    pub database_url: Vec<String>,

    /// Several databases: a file with one URL per line (blank lines and
    /// lines starting with `#` are skipped; relative SQLite paths are from
    /// the current directory).
    #[arg(long, global = true, value_name = "FILE")]
    pub databases: Option<PathBuf>,

    /// Several SQLite files: a pattern whose file name may hold `*` and `?`,
    /// such as 'tenants/*.db' (quote it, so that the shell leaves it alone).
    #[arg(long, global = true, value_name = "PATTERN")]
    pub sqlite_glob: Option<String>,

    /// With several databases: how many to work on at once [default: the
    /// number of CPUs].
    #[arg(long, global = true, value_name = "N")]
    pub jobs: Option<NonZeroUsize>,

    /// With several databases: start no further database after the first
    /// failure (those are reported as not tried). By default every database
    /// is tried and every failure reported.
    #[arg(long, global = true)]
    pub fail_fast: bool,

    /// The migration directory.
    #[arg(
        long,
        env = "MIGRATE_DIR",
        default_value = "migrations",
        global = true,
        value_name = "DIR"
    )]
    pub dir: PathBuf,

    /// Print one JSON document on stdout (an error as `{"error": "..."}`).
    #[arg(long, global = true)]
    pub json: bool,

    /// The history table, optionally `schema.table` [default: _migrate_history].
    #[arg(long, global = true, value_name = "NAME", value_parser = parse_table)]
    pub table: Option<String>,

    /// Accept applied migrations whose files changed since.
    #[arg(long, global = true)]
    pub ignore_checksums: bool,

    /// Accept applied versions this directory does not have (e.g. after
    /// rolling the application back).
    #[arg(long, global = true)]
    pub allow_unknown: bool,

    /// Apply pending migrations older than the newest applied one.
    #[arg(long, global = true)]
    pub allow_out_of_order: bool,

    /// How concurrent runners keep each other out: PostgreSQL (every mode)
    /// and MySQL/MariaDB (`session`, `lease`). SQLite always uses its write
    /// lock.
    #[arg(long, global = true, value_enum, value_name = "MODE")]
    pub lock_mode: Option<LockModeArg>,

    /// One transaction per step, or one for all pending steps (refused when
    /// a step is `no-transaction`, and on MySQL/MariaDB, whose DDL commits)
    /// [default: per-step; for many databases at once, one for all where
    /// every step allows it, per step otherwise].
    #[arg(long, global = true, value_enum, value_name = "MODE")]
    pub transaction_mode: Option<TransactionModeArg>,

    /// How long to wait for the migration lock, which another run (or on
    /// SQLite a long write transaction) holds, before giving up
    /// [default: 60s].
    #[arg(
        long,
        global = true,
        value_name = "DURATION",
        value_parser = parse_duration,
        allow_hyphen_values = true
    )]
    pub lock_timeout: Option<Duration>,

    /// PostgreSQL and MySQL/MariaDB: how long each statement of a step
    /// waits for a table lock before the step is rolled back and retried;
    /// `0` turns it off [default: 2s on PostgreSQL, off on MySQL/MariaDB].
    #[arg(
        long,
        global = true,
        value_name = "DURATION",
        value_parser = parse_duration,
        allow_hyphen_values = true
    )]
    pub statement_lock_timeout: Option<Duration>,

    /// PostgreSQL and MySQL/MariaDB: how many times a step that hit the
    /// statement lock timeout is retried before the run fails [default: 5].
    #[arg(
        long,
        global = true,
        value_name = "N",
        value_parser = parse_retries,
        allow_hyphen_values = true
    )]
    pub lock_retries: Option<u32>,

    /// PostgreSQL and MySQL/MariaDB: how long a lease (`--lock-mode lease`,
    /// or `session` on a Galera cluster) lasts unless its runner renews it;
    /// a runner that died loses it this long after [default: 30s].
    #[arg(
        long,
        global = true,
        value_name = "DURATION",
        value_parser = parse_duration,
        allow_hyphen_values = true
    )]
    pub lease_duration: Option<Duration>,

    /// PostgreSQL and MySQL/MariaDB: how long to wait for the server to
    /// accept a connection before giving up [default: 30s].
    #[arg(
        long,
        global = true,
        value_name = "DURATION",
        value_parser = parse_connect_timeout,
        allow_hyphen_values = true
    )]
    pub connect_timeout: Option<Duration>,

    /// Do not read DATABASE_URL and MIGRATE_DIR from the `.env` file of the
    /// current directory or a parent.
    #[arg(long, global = true)]
    pub no_dotenv: bool,

    /// What a `.env` may supply: set by [`Cli::from_command_line`] for the
    /// options neither the command line nor the environment gave.
    #[arg(skip)]
    pub dotenv_supplies: DotenvSupplies,

    /// More log lines on stderr: -v steps, -vv debug, -vvv trace.
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Fewer log lines on stderr: -q errors only, -qq none.
    #[arg(short, long, action = ArgAction::Count, global = true, conflicts_with = "verbose")]
    pub quiet: u8,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// Reads this process's command line. `DATABASE_URL` stands in for
    /// `--database-url` only when no database is named on the command line:
    /// with `--databases` or `--sqlite-glob`, the environment's one database
    /// is not added to the list.
    ///
    /// # Errors
    ///
    /// clap's, for `main` to print (usage errors, `--help`, `--version`).
    pub fn from_command_line() -> Result<Cli, clap::Error> {
        let matches = Cli::command().try_get_matches()?;
        let mut cli =
            Cli::from_arg_matches(&matches).map_err(|err| err.format(&mut Cli::command()))?;
        let several = cli.databases.is_some() || cli.sqlite_glob.is_some();
        if matches.value_source("database_url") == Some(ValueSource::EnvVariable) && several {
            cli.database_url.clear();
        }
        if !cli.no_dotenv {
            cli.dotenv_supplies = DotenvSupplies {
                database_url: matches.value_source("database_url").is_none() && !several,
                dir: matches.value_source("dir") == Some(ValueSource::DefaultValue),
            };
        }
        Ok(cli)
    }

    /// Whether the command names several databases: `--database-url` more
    /// than once, `--databases` or `--sqlite-glob` (even when the list or the
    /// pattern turns out to hold one, so that the output's shape depends on
    /// the command line only).
    pub fn several_databases(&self) -> bool {
        self.database_url.len() > 1 || self.databases.is_some() || self.sqlite_glob.is_some()
    }
}

/// Which options a `.env` file may supply: those given neither on the
/// command line nor in the environment (none with `--no-dotenv`, and no
/// `--database-url` when `--databases` or `--sqlite-glob` name the
/// databases).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DotenvSupplies {
    /// `--database-url`, from `DATABASE_URL`.
    pub database_url: bool,
    /// `--dir`, from `MIGRATE_DIR`.
    pub dir: bool,
}

impl Command {
    /// The verb's name, as typed.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Current => "current",
            Command::History => "history",
            Command::Status => "status",
            Command::Upgrade(_) => "upgrade",
            Command::Downgrade(_) => "downgrade",
            Command::Stamp { .. } => "stamp",
            Command::Check(_) => "check",
            Command::Dump(_) => "dump",
            Command::Verify => "verify",
            Command::New { .. } => "new",
            Command::Lint(_) => "lint",
            Command::Database(DatabaseCommand::Create) => "database create",
            Command::Database(DatabaseCommand::Drop(_)) => "database drop",
            Command::Database(DatabaseCommand::Reset(_)) => "database reset",
            Command::Wait { .. } => "wait",
            Command::Completions { .. } => "completions",
        }
    }
}

/// The verbs.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the applied version and name, `(head)` when it is the newest known.
    #[command(after_help = "Example:\n  migrate --database-url sqlite://app.db current")]
    Current,

    /// List every known and applied migration with its state: applied,
    /// pending, modified, unknown or dirty.
    #[command(
        after_help = "Example:\n  migrate --database-url sqlite://app.db --dir migrations history"
    )]
    History,

    /// Print the current version, head, how many are pending, and whether
    /// the database is dirty or has drifted.
    #[command(after_help = "Example:\n  migrate --database-url sqlite://app.db status --json")]
    Status,

    /// Apply pending migrations up to TARGET (creates a missing SQLite file).
    #[command(after_help = "\
Examples:
  migrate upgrade                      every pending migration
  migrate upgrade +1                   the next one
  migrate upgrade 20261121093000       up to and including this version
  migrate upgrade --dry-run            say what would run
  migrate upgrade --sql > upgrade.sql  print the SQL instead of running it
  migrate upgrade --sql --from 3       the SQL from version 3 on, with no database
  migrate upgrade --backup=backups     copy the SQLite database to backups/ first
  migrate --lock-mode transaction upgrade
                                       PostgreSQL behind PgBouncer in transaction mode
  migrate --lock-timeout 10s upgrade   give up after 10 s if another run holds the lock")]
    Upgrade(Upgrade),

    /// Revert applied migrations down to TARGET, newest first.
    #[command(after_help = "\
Examples:
  migrate downgrade -1                 undo the last applied migration
  migrate downgrade 3                  undo everything applied above version 3
  migrate downgrade base               undo everything
  migrate downgrade -2 --sql           print the SQL instead of running it")]
    Downgrade(Downgrade),

    /// Record the history as if at TARGET without running any script
    /// (baselining an existing database; clearing a dirty mark).
    #[command(after_help = "\
Examples:
  migrate stamp head                   an existing schema is already at head
  migrate stamp 3                      record 1..=3 as applied and forget anything above")]
    Stamp {
        /// `head`, `base` or a version.
        #[arg(allow_hyphen_values = true, value_parser = parse_stamp_target)]
        target: Target,
    },

    /// Exit 0 when the database is at head and consistent, 3 when
    /// migrations are pending, 1 on drift, a dirty mark or an error.
    #[command(after_help = "\
Examples:
  migrate --database-url sqlite:///data/app.db check || exit 1     (a container health check)
  migrate check --lint                                             also lint the migration files (exit 1 on a finding)
  migrate check --schema schema.txt                                (the database's schema is the committed one)
  migrate check --schema schema.txt --from-migrations              (so is the schema the migrations give)")]
    Check(Check),

    /// Print the schema as canonical text: tables, columns, keys,
    /// constraints, indexes, views, triggers (and on PostgreSQL functions,
    /// sequences, types and extensions), read from the database's catalog.
    /// The history table is left out. Read-only.
    #[command(after_help = "\
Examples:
  migrate dump                                     the database's schema on stdout
  migrate dump --from-migrations --output schema.txt
                                                   the schema the migrations give, on a scratch database")]
    Dump(Dump),

    /// Apply, revert and apply again every migration on a scratch database,
    /// reading the schema around each step: report each down script that
    /// does not restore the schema exactly (exit 1), and stop at a script
    /// that fails. Up-only migrations are applied and noted. The scratch
    /// database is a temporary SQLite file, or with a server's
    /// --database-url a temporary database created and dropped beside it;
    /// the database the URL names is never touched.
    #[command(after_help = "\
Examples:
  migrate verify                                               on a temporary SQLite file
  migrate --database-url postgres://app@localhost/app verify   on a scratch database on that server
  migrate verify --json                                        each step's result")]
    Verify,

    /// Create the next migration's files, numbered in the directory's style.
    #[command(after_help = "\
Examples:
  migrate new add_email                 0007_add_email.sql (after 0006_...)
  migrate new add_email --reversible    0007_add_email.up.sql + 0007_add_email.down.sql
An empty directory, or one numbered by time, gets a UTC timestamp (20261121093000_add_email.sql).")]
    New {
        /// The migration's name: letters, digits, `_` and `-`.
        name: String,
        /// Write an up and a down file.
        #[arg(long)]
        reversible: bool,
    },

    /// Find risky statements in the migration files before they run: for
    /// PostgreSQL, locks that block the table (an index built without
    /// CONCURRENTLY, a column's type changed, a constraint added without NOT
    /// VALID, ...) and statements the step's transaction refuses; for
    /// SQLite, a PRAGMA that cannot take effect in the step's transaction;
    /// for MySQL/MariaDB, DDL and data changes in one step. Exit 1 on any
    /// finding. `-- migrate:lint-ignore RULE` among a script's leading
    /// comments silences RULE for that file. Needs no database, only its
    /// dialect (--dialect, or that of --database-url).
    #[command(after_help = "\
Examples:
  migrate lint --dialect postgres       every up and down script
  migrate lint --since 20261121093000   only the migrations newer than this one (a pull request's)
  migrate --statement-lock-timeout 0 lint
                                       also ask each script to set its own lock_timeout")]
    Lint(Lint),

    /// Print the completion script of a shell on stdout.
    #[command(after_help = "\
Examples:
  migrate completions bash > ~/.local/share/bash-completion/completions/migrate
  migrate completions zsh > ~/.zfunc/_migrate     (with fpath+=~/.zfunc before compinit)
  migrate completions fish > ~/.config/fish/completions/migrate.fish
  migrate completions powershell >> $PROFILE")]
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Create, drop or re-create the database itself (a SQLite file, or a
    /// database on a PostgreSQL or MySQL/MariaDB server).
    #[command(subcommand)]
    Database(DatabaseCommand),

    /// Return once the database accepts connections, trying again with a
    /// growing pause until the timeout.
    #[command(after_help = "\
Example (a container's entrypoint):
  migrate wait --timeout 1m && migrate upgrade")]
    Wait {
        /// How long to keep trying before giving up (exit 1).
        #[arg(
            long,
            value_name = "DURATION",
            default_value = "30s",
            value_parser = parse_duration,
            allow_hyphen_values = true
        )]
        timeout: Duration,
    },
}

/// `database`'s verbs.
#[derive(Debug, Subcommand)]
#[command(after_help = "\
Examples:
  migrate database create              create the database DATABASE_URL names, if missing
  migrate database drop                drop it, after asking (-y: without asking)
  migrate database reset -y            drop it, create it and upgrade it to head")]
pub enum DatabaseCommand {
    /// Create the database, if it does not exist: an empty SQLite file, or
    /// `CREATE DATABASE` on the server.
    #[command(
        after_help = "Example:\n  migrate --database-url postgres://app@localhost/app database create"
    )]
    Create,

    /// Drop the database, if it exists: a SQLite file with its journal
    /// and lock files, or `DROP DATABASE` on the server.
    #[command(after_help = "Example:\n  migrate --database-url sqlite://app.db database drop -y")]
    Drop(Confirm),

    /// Drop the database, create it again and upgrade it to head.
    #[command(
        after_help = "Example:\n  migrate --database-url mysql://root@localhost/app database reset -y"
    )]
    Reset(Confirm),
}

/// How `database drop` and `reset` confirm.
#[derive(Debug, Args)]
pub struct Confirm {
    /// Do not ask for confirmation (needed when stdin is not a terminal).
    #[arg(short, long)]
    pub yes: bool,

    /// PostgreSQL: end the other sessions connected to the database
    /// (`DROP DATABASE … WITH (FORCE)`) rather than refuse to drop it.
    #[arg(long)]
    pub force: bool,
}

/// `check`'s options.
#[derive(Debug, Args)]
pub struct Check {
    /// Compare the schema with this file (as `dump` writes it) instead of
    /// checking the history: exit 1, printing a unified diff, when they
    /// differ.
    #[arg(long, value_name = "FILE")]
    pub schema: Option<PathBuf>,

    /// With --schema: the schema the migrations give on a scratch database,
    /// rather than the database's.
    #[arg(long, requires = "schema")]
    pub from_migrations: bool,

    /// Also lint the migration files (as `migrate lint` does, for this
    /// database's dialect); a finding makes the exit code 1.
    #[arg(long, conflicts_with = "schema")]
    pub lint: bool,
}

/// `dump`'s options.
#[derive(Debug, Args)]
pub struct Dump {
    /// The schema the migrations give, applied to head on a scratch
    /// database (a temporary SQLite file, or beside a server's
    /// --database-url), rather than the database's.
    #[arg(long)]
    pub from_migrations: bool,

    /// Write the schema to FILE rather than stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// `upgrade`'s arguments.
#[derive(Debug, Args)]
pub struct Upgrade {
    /// `head`, `+N` (the next N) or a version.
    #[arg(default_value = "head", allow_hyphen_values = true, value_parser = parse_upgrade_target)]
    pub target: Target,

    /// How to preview instead of running.
    #[command(flatten)]
    pub preview: Preview,

    /// Copy the SQLite database first, when there is anything to apply,
    /// into DIR (default: beside the database) as
    /// `<name>.<UTC timestamp>.<version>.bak`, readable by its owner only.
    /// SQLite only: back up a server database with pg_dump or mysqldump.
    #[arg(
        long,
        value_name = "DIR",
        num_args = 0..=1,
        require_equals = true,
        conflicts_with = "mode"
    )]
    pub backup: Option<Option<PathBuf>>,
}

/// `downgrade`'s arguments.
#[derive(Debug, Args)]
pub struct Downgrade {
    /// `-N` (the last N applied), a version (undo everything above it) or `base`.
    #[arg(allow_hyphen_values = true, value_parser = parse_downgrade_target)]
    pub target: Target,

    /// How to preview instead of running.
    #[command(flatten)]
    pub preview: Preview,
}

/// Previews: `--sql`, `--dry-run`, and `--from` to need no database.
#[derive(Debug, Args)]
pub struct Preview {
    /// The two ways to preview.
    #[command(flatten)]
    pub mode: Mode,

    /// Plan from this version instead of reading the database, which is then
    /// not needed: `base`, `head`, `+N` or a version (every migration up to
    /// it counts as applied). Only with --sql or --dry-run.
    #[arg(long, value_name = "VERSION", value_parser = parse_from, requires = "mode")]
    pub from: Option<Target>,
}

/// `--sql` or `--dry-run`, not both.
#[derive(Debug, Args)]
#[group(id = "mode", multiple = false)]
pub struct Mode {
    /// Print the SQL that would run (history table DDL, each script in its
    /// transaction, each history row) and change nothing.
    #[arg(long)]
    pub sql: bool,

    /// Say which steps would run and change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// `--transaction-mode`: [`TransactionMode`] as the command line spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TransactionModeArg {
    /// One transaction per step: a failure keeps the steps before it.
    PerStep,
    /// All pending steps in one transaction: the database ends where it
    /// started or at the target.
    Single,
}

impl From<TransactionModeArg> for TransactionMode {
    fn from(mode: TransactionModeArg) -> Self {
        match mode {
            TransactionModeArg::PerStep => TransactionMode::PerStep,
            TransactionModeArg::Single => TransactionMode::Single,
        }
    }
}

/// `lint`'s arguments.
#[derive(Debug, Args)]
pub struct Lint {
    /// Lint only the migrations newer than this version.
    #[arg(long, value_name = "VERSION")]
    pub since: Option<i64>,

    /// The database the migrations are for, when no --database-url says it.
    #[arg(long, value_enum, value_name = "DIALECT")]
    pub dialect: Option<DialectArg>,
}

/// `--dialect`: [`migrate::Dialect`] as the command line spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DialectArg {
    /// PostgreSQL.
    Postgres,
    /// MySQL and MariaDB.
    Mysql,
    /// SQLite.
    Sqlite,
}

impl From<DialectArg> for migrate::Dialect {
    fn from(dialect: DialectArg) -> Self {
        match dialect {
            DialectArg::Postgres => migrate::Dialect::Postgres,
            DialectArg::Mysql => migrate::Dialect::MySql,
            DialectArg::Sqlite => migrate::Dialect::Sqlite,
        }
    }
}

/// `--lock-mode`: [`LockMode`] as the command line spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LockModeArg {
    /// A lock held for the whole run (the default): an advisory lock on
    /// PostgreSQL, GET_LOCK on MySQL/MariaDB.
    Session,
    /// A transaction-scoped advisory lock in each step's transaction, for
    /// poolers in transaction mode such as PgBouncer (PostgreSQL only).
    Transaction,
    /// A lock row with an expiry beside the history table, renewed while
    /// the run lasts: holds across a cluster's nodes and through any
    /// pooler.
    Lease,
    /// No lock, for PostgreSQL-compatible databases without advisory locks
    /// (CockroachDB): run one migrate at a time yourself (PostgreSQL only).
    None,
}

impl From<LockModeArg> for LockMode {
    fn from(mode: LockModeArg) -> Self {
        match mode {
            LockModeArg::Session => LockMode::Session,
            LockModeArg::Transaction => LockMode::Transaction,
            LockModeArg::Lease => LockMode::Lease,
            LockModeArg::None => LockMode::None,
        }
    }
}

/// The mode as typed (`transaction`), for messages.
impl std::fmt::Display for LockModeArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.to_possible_value()
            .expect("no mode is skipped")
            .get_name()
            .fmt(f)
    }
}

/// `--connect-timeout`: a duration, not 0 (no connection is that quick).
fn parse_connect_timeout(input: &str) -> Result<Duration, String> {
    match parse_duration(input)? {
        Duration::ZERO => Err(format!(
            "`{input}` is no time to connect in; give the server a while, as in 500ms, 2s or 1m"
        )),
        timeout => Ok(timeout),
    }
}

fn parse_target(input: &str) -> Result<Target, String> {
    input.parse().map_err(|err: migrate::Error| err.to_string())
}

/// A target for `upgrade`: not one that only a downgrade reaches (a usage
/// error, refused before any database is opened or created).
fn parse_upgrade_target(input: &str) -> Result<Target, String> {
    match parse_target(input)? {
        Target::Base | Target::Back(_) => Err(wrong_direction(input, "an upgrade", "downgrade")),
        target => Ok(target),
    }
}

/// A target for `downgrade`: not `+N`, which only an upgrade reaches.
fn parse_downgrade_target(input: &str) -> Result<Target, String> {
    match parse_target(input)? {
        Target::Forward(_) => Err(wrong_direction(input, "a downgrade", "upgrade")),
        target => Ok(target),
    }
}

/// A target for `stamp`: not a relative one.
fn parse_stamp_target(input: &str) -> Result<Target, String> {
    match parse_target(input)? {
        Target::Forward(_) | Target::Back(_) => Err(migrate::Error::StampTarget {
            target: input.to_owned(),
        }
        .to_string()),
        target => Ok(target),
    }
}

/// The library's sentence for a target in the wrong direction.
fn wrong_direction(input: &str, operation: &'static str, suggestion: &'static str) -> String {
    migrate::Error::WrongDirection {
        target: input.to_owned(),
        operation,
        suggestion,
    }
    .to_string()
}

/// `--table`, validated as the library validates it.
fn parse_table(input: &str) -> Result<String, String> {
    migrate::Options::default()
        .table(input)
        .map(|_| input.to_owned())
        .map_err(|err| err.to_string())
}

/// `--lock-retries`: a count, refused with a sentence rather than Rust's
/// "invalid digit found in string".
fn parse_retries(input: &str) -> Result<u32, String> {
    input.parse().map_err(|_| {
        format!(
            "`{input}` is not a number of retries; use a whole number from 0 to {}",
            u32::MAX
        )
    })
}

fn parse_from(input: &str) -> Result<Target, String> {
    match input.parse::<Target>() {
        Ok(Target::Back(_)) | Err(_) => Err(format!(
            "`{input}` is not a version to plan from; use `base`, `head`, `+N` or a version number"
        )),
        Ok(target) => Ok(target),
    }
}
