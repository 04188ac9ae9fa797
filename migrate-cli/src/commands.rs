//! The command as a whole: read the URLs and the directory, then run the
//! verb on the one database and print its result, or hand the verb to
//! `tenants.rs` for several. How a verb runs on an opened database is
//! `verb.rs`'s; every decision (what is pending, what a target means, what
//! `--sql` prints, `check`'s verdict) is the library's.

use std::process::ExitCode;
use std::time::SystemTime;

use migrate::{Backup, Dialect, Direction, Migrations, Migrator, Options, Target, Verdict};

use crate::cli::{Cli, Command, Preview, Upgrade};
use crate::db::{self, Access, DatabaseUrl, Open};
use crate::error::CliError;
use crate::output::{self, Palette, Printer};
use crate::verb::{Checked, Done, Migrators, Verb, preview_of};
use crate::{new, sources, tenants};

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
            (None, None) => return Err(CliError::NoDatabase),
        }
    };
    for url in &databases {
        refuse_server_only_options(cli, url)?;
    }
    let set = Migrations::from_dir(&cli.dir)?;
    let migrators = migrators(cli, &set)?;
    if let Some(verb) = several {
        return tenants::run(cli, &printer, verb, databases, &migrators);
    }
    let url = databases.into_iter().next();
    let open = |access, verb| {
        let url = url
            .as_ref()
            .expect("every verb but `--from` previews has a URL");
        tracing::info!(database = %url.shown(), dir = %cli.dir.display(), "{verb}");
        db::open(url, access, verb)
    };
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
    let verb = Verb::of(&cli.command).expect("`new` is handled above, the previews just now");
    let done = verb.run(&open(verb.access(), verb.name())?, &migrators)?;
    print(&printer, done)
}

/// The run's migrators of `set`: with the command line's options, and for
/// `upgrade --backup` one that also backs up.
fn migrators<'m>(cli: &Cli, set: &'m Migrations) -> Result<Migrators<'m>, CliError> {
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

/// Prints what a verb returned; the exit code is 0 but for `check`.
fn print(printer: &Printer, done: Done) -> Result<ExitCode, CliError> {
    match done {
        Done::Current(current) => printer.print(&current, || output::current(&current))?,
        Done::History(history) => {
            printer.print(&history, || output::history(&history, printer.palette))?;
        }
        Done::Status(status) => printer.print(&status, || output::status(&status))?,
        Done::Checked(Checked { status, verdict }) => {
            let mut document = serde_json::to_value(&status).expect("a status serialises");
            document["verdict"] = serde_json::to_value(verdict).expect("a verdict serialises");
            printer.print(&document, || output::check(&status))?;
            return Ok(match verdict {
                Verdict::Current => ExitCode::SUCCESS,
                Verdict::Pending | Verdict::InProgress => ExitCode::from(3),
                Verdict::Drift | Verdict::Dirty => ExitCode::from(1),
            });
        }
        Done::Steps(report) => printer.print(&report, || output::report(&report))?,
        Done::Stamped(report) => printer.print(
            &serde_json::json!({"from": report.from, "to": report.to}),
            || {
                format!(
                    "stamped the history at {} (it was at {}); no script ran",
                    output::version(report.to),
                    output::version(report.from)
                )
            },
        )?,
    }
    Ok(ExitCode::SUCCESS)
}

/// The verb to run on each of several databases. Only the verbs that
/// report one line per database run; the others (and the previews, which
/// print per-database SQL or plans) are refused before anything is read.
fn verb_for_several(command: &Command) -> Result<Verb, CliError> {
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
        (None, None) => return Err(CliError::NewWithDatabases),
    };
    Err(CliError::OneDatabaseOnly { what })
}

/// `--backup` is for SQLite files and `--lock-mode` for PostgreSQL: refused
/// elsewhere rather than ignored, before anything is opened (with several
/// databases, before any of them is).
fn refuse_server_only_options(cli: &Cli, url: &DatabaseUrl) -> Result<(), CliError> {
    let dialect = url.dialect();
    if let Command::Upgrade(Upgrade {
        backup: Some(_), ..
    }) = &cli.command
        && dialect != Dialect::Sqlite
    {
        return Err(CliError::BackupOnServer { dialect });
    }
    let lock = match (cli.lock_mode, dialect) {
        (None, _) | (_, Dialect::Postgres) => return Ok(()),
        (Some(_), Dialect::Sqlite) => "its write lock",
        (Some(_), Dialect::MySql) => "GET_LOCK",
    };
    Err(CliError::LockModeNotPostgres { dialect, lock })
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
