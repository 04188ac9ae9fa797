//! The command as a whole: read the URLs and the directory, then run the
//! verb on the one database and print its result, or hand the verb to
//! `tenants.rs` for several. How a verb runs on an opened database is
//! `verb.rs`'s; every decision (what is pending, what a target means, what
//! `--sql` prints, `check`'s verdict) is the library's.

use std::process::ExitCode;
use std::time::SystemTime;

use migrate::{Backup, Dialect, Direction, Migrations, Migrator, Options, Target, Verdict};

use crate::cli::{Check, Cli, Command, Confirm, DatabaseCommand, LockModeArg, Preview, Upgrade};
use crate::db::{self, Access, DatabaseUrl, Open};
use crate::error::CliError;
use crate::output::{self, Palette, Printer};
use crate::verb::{Checked, Done, Migrators, Verb, preview_of};
use crate::{completions, database, lint, new, schema, sources, tenants};

/// Runs the verb; the exit code is 0 but for `check`.
///
/// # Errors
///
/// Whatever stops the verb, for `main` to print.
pub fn run(cli: &Cli) -> Result<ExitCode, CliError> {
    let printer = Printer {
        json: cli.json,
        palette: Palette::for_stdout(),
        verb: cli.command.name(),
    };
    if let Command::Completions { shell } = cli.command {
        let script = completions::script(shell);
        printer.print(
            &serde_json::json!({"shell": shell.to_string(), "script": script}),
            || script.trim_end_matches('\n').to_owned(),
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    if let Command::Lint(args) = &cli.command {
        return lint::run(cli, &printer, args);
    }
    let several = if cli.several_databases() {
        Some(verb_for_several(&cli.command)?)
    } else {
        None
    };
    if let Command::New { name, reversible } = &cli.command {
        let created = new::create_migration(&cli.dir, name, *reversible, SystemTime::now())?;
        printer.print(
            &serde_json::json!({"version": created.version, "files": created.files}),
            || {
                created
                    .files
                    .iter()
                    .map(|file| format!("created {}", file.display()))
                    .collect::<Vec<_>>()
                    .join("\n")
            },
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    // The URL is read before anything else, so that a bad one is named
    // first. A `--from` preview needs none, but takes its dialect if given.
    let from = preview_of(&cli.command).and_then(|(_, _, preview)| preview.from);
    let databases = if several.is_some() {
        sources::gather(cli)?
    } else {
        match (cli.database_url.first(), from) {
            (Some(url), _) => vec![db::parse_url(url)?],
            (None, Some(_)) => Vec::new(),
            (None, None) if schema::needs_no_database(&cli.command) => Vec::new(),
            (None, None) => return Err(CliError::NoDatabase),
        }
    };
    for url in &databases {
        refuse_options_for_other_databases(cli, url)?;
    }
    // The verbs about the database itself read no migration directory,
    // but `reset`, which upgrades.
    let first = databases.first();
    match (&cli.command, first) {
        (Command::Wait { timeout }, Some(url)) => {
            return database::wait(&printer, url, *timeout, database::waits(cli));
        }
        (Command::Database(DatabaseCommand::Create), Some(url)) => {
            return database::create(&printer, url, database::waits(cli));
        }
        (Command::Database(DatabaseCommand::Drop(confirm)), Some(url)) => {
            return database::drop(cli, &printer, url, confirm);
        }
        _ => {}
    }
    // `dump` and `check --schema` of the database itself read no migration.
    let set = if schema::reads_no_migrations(&cli.command) {
        Migrations::default()
    } else {
        Migrations::from_dir(&cli.dir)?
    };
    let migrators = migrators(cli, &set, several.is_some())?;
    if let Some(verb) = several {
        return tenants::run(cli, &printer, verb, databases, &migrators);
    }
    let url = databases.into_iter().next();
    if let Some(code) = schema::run(cli, &printer, url.as_ref(), &migrators.plain)? {
        return Ok(code);
    }
    let open = |access, verb| {
        let url = url
            .as_ref()
            .expect("every verb but `--from` previews has a URL");
        tracing::info!(database = %url.shown(), dir = %cli.dir.display(), "{verb}");
        db::open(url, access, verb, database::waits(cli))
    };
    if let (Command::Database(DatabaseCommand::Reset(confirm)), Some(url)) = (&cli.command, &url) {
        return database::reset(cli, &printer, url, confirm, &migrators, &open);
    }
    if let Some((direction, target, preview)) = preview_of(&cli.command) {
        let dialect = url.as_ref().map_or(Dialect::Sqlite, DatabaseUrl::dialect);
        show_preview(
            &printer,
            &migrators.plain,
            preview,
            direction,
            target,
            dialect,
            &open,
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    let verb = Verb::of(&cli.command)
        .expect("`new` and the database's own verbs are handled above, the previews just now");
    let done = verb.run(&open(verb.access(), verb.name())?, &migrators)?;
    let lint_findings = match (&cli.command, &url) {
        (Command::Check(Check { lint: true, .. }), Some(url)) => {
            Some(lint::findings(cli, &set, url.dialect(), None))
        }
        _ => None,
    };
    print(&printer, done, lint_findings)
}

/// The run's migrators of `set`: with the command line's options (and for
/// `many` databases at once, those of a run over many), and for
/// `upgrade --backup` one that also backs up.
fn migrators<'m>(cli: &Cli, set: &'m Migrations, many: bool) -> Result<Migrators<'m>, CliError> {
    let mut options = Options::default()
        .ignore_checksums(cli.ignore_checksums)
        .allow_unknown(cli.allow_unknown)
        .allow_out_of_order(cli.allow_out_of_order);
    if let Some(table) = &cli.table {
        options = options.table(table)?;
    }
    if let Some(mode) = cli.lock_mode {
        options = options.lock_mode(mode.into());
    }
    if let Some(mode) = cli.transaction_mode {
        options = options.transaction_mode(mode.into());
    }
    if many {
        options = options.for_many();
    }
    if let Some(timeout) = cli.lock_timeout {
        options = options.lock_timeout(timeout);
    }
    if let Some(timeout) = cli.statement_lock_timeout {
        options = options.statement_lock_timeout(timeout);
    }
    if let Some(retries) = cli.lock_retries {
        options = options.lock_retries(retries);
    }
    if let Some(duration) = cli.lease_duration {
        options = options.lease_duration(duration);
    }
    Ok(Migrators {
        backing_up: match &cli.command {
            Command::Upgrade(Upgrade {
                backup: Some(dir), ..
            }) => Some(set.with_options(options.clone().backup(match dir {
                Some(dir) if !dir.as_os_str().is_empty() => Backup::Into(dir.clone()),
                _ => Backup::Beside,
            }))),
            _ => None,
        },
        plain: set.with_options(options),
    })
}

/// Prints what a verb returned (and `check --lint`'s findings); the exit
/// code is 0 but for `check`.
fn print(
    printer: &Printer,
    done: Done,
    lint_findings: Option<Vec<migrate::lint::Finding>>,
) -> Result<ExitCode, CliError> {
    match done {
        Done::Current(current) => printer.print(&current, || output::current(&current))?,
        Done::History(history) => {
            printer.print(&history, || output::history(&history, printer.palette))?;
        }
        Done::Status(status) => printer.print(&status, || output::status(&status))?,
        Done::Checked(Checked {
            status,
            verdict,
            culprit,
        }) => {
            let mut document = serde_json::to_value(&status).expect("a status serialises");
            document["verdict"] = serde_json::to_value(verdict).expect("a verdict serialises");
            if let Some(findings) = &lint_findings {
                document["lint"] = serde_json::to_value(findings).expect("findings serialise");
            }
            printer.print(&document, || match &lint_findings {
                Some(findings) if !findings.is_empty() => {
                    format!(
                        "{}\n{}",
                        output::check(&status, culprit.as_ref()),
                        lint::text(findings)
                    )
                }
                _ => output::check(&status, culprit.as_ref()),
            })?;
            if let Some(findings) = lint_findings.as_deref()
                && !findings.is_empty()
            {
                return Ok(lint::exit_code(findings));
            }
            return Ok(match verdict {
                Verdict::Current => ExitCode::SUCCESS,
                Verdict::Pending | Verdict::InProgress => ExitCode::from(3),
                Verdict::Drift | Verdict::Dirty => ExitCode::from(1),
            });
        }
        Done::Steps(report) => printer.print(&report, || output::report(&report))?,
        Done::Stamped(stamped) => printer.print(&stamped, || output::stamped(&stamped))?,
    }
    Ok(ExitCode::SUCCESS)
}

/// The verb to run on each of several databases. Only the verbs that
/// report one line per database run; the others (and the previews, which
/// print per-database SQL or plans) are refused before anything is read.
fn verb_for_several(command: &Command) -> Result<Verb, CliError> {
    if let Command::Check(Check { lint: true, .. }) = command {
        return Err(CliError::OneDatabaseOnly {
            what: "`check --lint`",
        });
    }
    let what = match (Verb::of(command), preview_of(command)) {
        (
            Some(
                verb @ (Verb::Current
                | Verb::Status
                | Verb::Check
                | Verb::Upgrade(_)
                | Verb::Downgrade(_)),
            ),
            _,
        ) => return Ok(verb),
        (Some(Verb::History), _) => "`history`",
        (Some(Verb::Stamp(_)), _) => "`stamp`",
        (None, Some((_, _, preview))) if preview.mode.sql => "--sql",
        (None, Some(_)) => "--dry-run",
        (None, None) => match command {
            Command::Database(DatabaseCommand::Create) => "`database create`",
            Command::Database(DatabaseCommand::Drop(_)) => "`database drop`",
            Command::Database(DatabaseCommand::Reset(_)) => "`database reset`",
            Command::Wait { .. } => "`wait`",
            Command::Dump(_) => "`dump`",
            Command::Verify => "`verify`",
            Command::Check(_) => "`check --schema`",
            _ => return Err(CliError::NewWithDatabases),
        },
    };
    Err(CliError::OneDatabaseOnly { what })
}

/// Options for another kind of database are refused rather than ignored,
/// before anything is opened (with several databases, before any of them
/// is): `--backup` copies SQLite files; `--lock-mode transaction` and
/// `none` are PostgreSQL's; SQLite has its write lock and nothing else, so
/// no lock mode, no table locks and no lease.
fn refuse_options_for_other_databases(cli: &Cli, url: &DatabaseUrl) -> Result<(), CliError> {
    let dialect = url.dialect();
    if let Command::Upgrade(Upgrade {
        backup: Some(_), ..
    }) = &cli.command
        && dialect != Dialect::Sqlite
    {
        return Err(CliError::BackupOnServer { dialect });
    }
    if let Command::Database(
        DatabaseCommand::Drop(Confirm { force: true, .. })
        | DatabaseCommand::Reset(Confirm { force: true, .. }),
    ) = &cli.command
        && dialect != Dialect::Postgres
    {
        return Err(CliError::ForcePostgresOnly { dialect });
    }
    match dialect {
        Dialect::Postgres => Ok(()),
        Dialect::MySql => match cli.lock_mode {
            Some(mode @ (LockModeArg::Transaction | LockModeArg::None)) => {
                Err(CliError::LockModePostgresOnly { mode })
            }
            _ => Ok(()),
        },
        Dialect::Sqlite => {
            const NO_TABLE_LOCKS: &str =
                "has no table locks (a migration holds the whole database's write lock)";
            let given = [
                cli.lock_mode.map(|mode| {
                    (
                        format!("--lock-mode {mode}"),
                        "always locks with its write lock",
                    )
                }),
                cli.statement_lock_timeout
                    .map(|_| ("--statement-lock-timeout".to_owned(), NO_TABLE_LOCKS)),
                cli.lock_retries
                    .map(|_| ("--lock-retries".to_owned(), NO_TABLE_LOCKS)),
                cli.lease_duration.map(|_| {
                    (
                        "--lease-duration".to_owned(),
                        "locks with its write lock and takes no lease",
                    )
                }),
                cli.connect_timeout.map(|_| {
                    (
                        "--connect-timeout".to_owned(),
                        "opens a file and has no connection to wait for",
                    )
                }),
            ];
            match given.into_iter().flatten().next() {
                Some((option, why)) => Err(CliError::NotForSqlite { option, why }),
                None => Ok(()),
            }
        }
    }
}

/// `--sql` and `--dry-run`, from the database (a SQLite file opened
/// read-only) or, with `--from`, from no database at all, in `dialect`.
fn show_preview(
    printer: &Printer,
    migrator: &Migrator<'_>,
    preview: &Preview,
    direction: Direction,
    target: Target,
    dialect: Dialect,
    open: &impl Fn(Access, &'static str) -> Result<Open, db::DatabaseError>,
) -> Result<(), CliError> {
    // What `upgrade` would create is empty; what `downgrade` needs must exist.
    let access = Access::Preview {
        missing_is_empty: direction == Direction::Up,
    };
    let verb = match direction {
        Direction::Up => "upgrade",
        Direction::Down => "downgrade",
    };
    if preview.mode.sql {
        let sql = match preview.from {
            Some(from) => migrator.sql_from(dialect, from, direction, target)?,
            None => open(access, verb)?.sql(migrator, direction, target)?,
        };
        printer.print(&serde_json::json!({"sql": sql}), || {
            sql.trim_end().to_owned()
        })?;
    } else {
        let plan = match preview.from {
            Some(from) => migrator.plan_from(from, direction, target)?,
            None => open(access, verb)?.plan(migrator, direction, target)?,
        };
        printer.print(&output::plan_json(&plan), || output::plan(&plan, dialect))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use clap::{CommandFactory, Parser};
    use migrate::LockMode;

    use super::*;

    fn options_of(args: &[&str]) -> Options {
        let cli = Cli::try_parse_from([&["migrate"], args, &["status"]].concat()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let set = Migrations::from_dir(dir.path()).unwrap();
        migrators(&cli, &set, false)
            .unwrap()
            .plain
            .options()
            .clone()
    }

    #[test]
    fn every_lock_option_reaches_the_run_options() {
        assert_eq!(options_of(&[]), Options::default());
        assert_eq!(
            options_of(&[
                "--lock-mode",
                "lease",
                "--lock-timeout",
                "300ms",
                "--statement-lock-timeout",
                "0",
                "--lock-retries",
                "0",
                "--lease-duration",
                "1.5m",
            ]),
            Options::default()
                .lock_mode(LockMode::Lease)
                .lock_timeout(Duration::from_millis(300))
                .statement_lock_timeout(Duration::ZERO)
                .lock_retries(0)
                .lease_duration(Duration::from_secs(90))
        );
    }

    /// `--transaction-mode` reaches the options; unless given, a run over
    /// many databases takes `Auto` and one over one database per step.
    #[test]
    fn the_transaction_mode_reaches_the_run_options() {
        use migrate::TransactionMode;
        let dir = tempfile::tempdir().unwrap();
        let set = Migrations::from_dir(dir.path()).unwrap();
        let mode = |args: &[&str], many: bool| {
            let cli = Cli::try_parse_from([&["migrate"], args, &["upgrade"]].concat()).unwrap();
            migrators(&cli, &set, many).unwrap().plain.options().mode()
        };
        assert_eq!(mode(&[], false), TransactionMode::PerStep);
        assert_eq!(mode(&[], true), TransactionMode::Auto);
        for many in [false, true] {
            assert_eq!(
                mode(&["--transaction-mode", "single"], many),
                TransactionMode::Single
            );
            assert_eq!(
                mode(&["--transaction-mode", "per-step"], many),
                TransactionMode::PerStep
            );
        }
    }

    /// The help names the library's defaults; this fails when they move.
    #[test]
    fn the_defaults_the_help_names_are_the_librarys() {
        assert_eq!(
            Options::default(),
            Options::default()
                .lock_timeout(Duration::from_secs(60))
                .lock_retries(5)
                .lease_duration(Duration::from_secs(30))
        );
        // `database drop` on MySQL/MariaDB waits as long as a run would.
        assert_eq!(
            Options::default(),
            Options::default().lock_timeout(db::DEFAULT_LOCK_TIMEOUT)
        );
        assert_eq!(db::DEFAULT_CONNECT_TIMEOUT, Duration::from_secs(30));
        let Command::Wait { timeout } = Cli::try_parse_from(["migrate", "wait"]).unwrap().command
        else {
            panic!("`wait` is the wait verb");
        };
        assert_eq!(timeout, Duration::from_secs(30), "the README names it");
        let command = Cli::command();
        for (option, default) in [
            ("lock_timeout", "[default: 60s]"),
            ("lock_retries", "[default: 5]"),
            ("lease_duration", "[default: 30s]"),
            ("connect_timeout", "[default: 30s]"),
        ] {
            let help = command
                .get_arguments()
                .find(|arg| arg.get_id() == option)
                .and_then(|arg| arg.get_help())
                .map(ToString::to_string)
                .unwrap_or_default();
            assert!(help.ends_with(default), "{option}: {help}");
        }
    }
}
