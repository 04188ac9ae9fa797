//! One function per verb: open what it needs, call the library, print.
//! Every decision (what is pending, what a target means, what `--sql`
//! prints, `check`'s verdict) is the library's.

use std::process::ExitCode;
use std::time::SystemTime;

use migrate::{Backup, Dialect, Direction, Migrations, Migrator, Options, Target, Verdict};
use serde::Serialize;

use crate::cli::{Cli, Command, Downgrade, Preview, Upgrade};
use crate::db::{self, Access, DatabaseUrl, Open};
use crate::error::CliError;
use crate::output::{self, Palette};
use crate::{sources, tenants};

/// Where output goes: JSON documents or text for people.
pub(crate) struct Printer {
    pub(crate) json: bool,
    pub(crate) palette: Palette,
}

impl Printer {
    /// Prints `value` as JSON, or `text()` for people.
    pub(crate) fn print<T: Serialize + ?Sized>(&self, value: &T, text: impl FnOnce() -> String) {
        if self.json {
            println!(
                "{}",
                serde_json::to_string(value).expect("the output types serialise")
            );
        } else {
            println!("{}", text());
        }
    }
}

/// Runs the verb; the exit code is 0 but for `check`.
///
/// # Errors
///
/// Whatever stops the verb, for `main` to print.
pub fn run(cli: &Cli) -> Result<ExitCode, CliError> {
    let printer = Printer {
        json: cli.json,
        palette: Palette::for_stdout(),
    };
    if cli.several_databases() {
        refuse_one_database_verbs(&cli.command)?;
    }
    if let Command::New { name, reversible } = &cli.command {
        let created =
            migrate_files::create_migration(&cli.dir, name, *reversible, SystemTime::now())?;
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
        );
        return Ok(ExitCode::SUCCESS);
    }
    // The URL is read before anything else, so that a bad one is named
    // first. A `--from` preview needs none, but takes its dialect if given.
    let from = match &cli.command {
        Command::Upgrade(Upgrade { preview, .. })
        | Command::Downgrade(Downgrade { preview, .. }) => preview.from,
        _ => None,
    };
    let databases = if cli.several_databases() {
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
    let migrators = Migrators {
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
    };
    if cli.several_databases() {
        return Ok(tenants::run(cli, &printer, databases, &migrators));
    }
    let url = databases.into_iter().next();
    let migrator = &migrators.plain;
    let open = |access, verb| {
        let url = url
            .as_ref()
            .expect("every verb but `--from` previews has a URL");
        tracing::info!(database = %url.shown(), dir = %cli.dir.display(), "{verb}");
        db::open(url, access, verb)
    };
    match &cli.command {
        Command::Current => {
            let current = open(Access::Read, "current")?.current(migrator)?;
            printer.print(&current, || output::current(&current));
        }
        Command::History => {
            let history = open(Access::Read, "history")?.history(migrator)?;
            printer.print(&history, || output::history(&history, printer.palette));
        }
        Command::Status => {
            let status = open(Access::Read, "status")?.status(migrator)?;
            printer.print(&status, || output::status(&status));
        }
        Command::Check => {
            let status = open(Access::Read, "check")?.status(migrator)?;
            let verdict = status.verdict();
            let mut document = serde_json::to_value(&status).expect("a status serialises");
            document["verdict"] = serde_json::to_value(verdict).expect("a verdict serialises");
            printer.print(&document, || output::check(&status));
            return Ok(match verdict {
                Verdict::Current => ExitCode::SUCCESS,
                Verdict::Pending => ExitCode::from(3),
                Verdict::Drift | Verdict::Dirty => ExitCode::from(1),
            });
        }
        Command::Upgrade(Upgrade {
            target, preview, ..
        })
        | Command::Downgrade(Downgrade { target, preview })
            if preview.mode.sql || preview.mode.dry_run =>
        {
            let direction = match cli.command {
                Command::Upgrade(_) => Direction::Up,
                _ => Direction::Down,
            };
            let dialect = url.as_ref().map_or(Dialect::Sqlite, DatabaseUrl::dialect);
            show_preview(
                &printer, migrator, preview, direction, *target, dialect, &open,
            )?;
        }
        Command::Upgrade(upgrade) => {
            let db = open(Access::Create, "upgrade")?;
            let report = db.upgrade(migrators.for_upgrade(&db), upgrade.target)?;
            printer.print(&report, || output::report(&report));
        }
        Command::Downgrade(downgrade) => {
            let report = open(Access::Write, "downgrade")?.downgrade(migrator, downgrade.target)?;
            printer.print(&report, || output::report(&report));
        }
        Command::Stamp { target } => {
            let report = open(Access::Write, "stamp")?.stamp(migrator, *target)?;
            printer.print(
                &serde_json::json!({"from": report.from, "to": report.to}),
                || {
                    format!(
                        "stamped the history at {} (it was at {}); no script ran",
                        output::version(report.to),
                        output::version(report.from)
                    )
                },
            );
        }
        Command::New { .. } => unreachable!("handled above"),
    }
    Ok(ExitCode::SUCCESS)
}

/// The run's migrators: one with the run's options, and for `upgrade
/// --backup` one that also backs up.
pub(crate) struct Migrators<'m> {
    /// The options of the command line.
    pub(crate) plain: Migrator<'m>,
    /// The same with `Options::backup`, for `upgrade --backup`.
    pub(crate) backing_up: Option<Migrator<'m>>,
}

impl<'m> Migrators<'m> {
    /// The migrator to upgrade `db` with. Whether there is anything to
    /// apply, and so anything to back up, is the library's to decide; a
    /// SQLite file this command has just created holds nothing to copy.
    pub(crate) fn for_upgrade(&self, db: &Open) -> &Migrator<'m> {
        match (&self.backing_up, db) {
            (Some(_), Open::Sqlite(sqlite)) if sqlite.created => &self.plain,
            (Some(backing_up), _) => backing_up,
            (None, _) => &self.plain,
        }
    }
}

/// With several databases, only the verbs that report one line per
/// database run; the others (and the previews, which print per-database
/// SQL or plans) are refused before anything is read.
fn refuse_one_database_verbs(command: &Command) -> Result<(), CliError> {
    let what = match command {
        Command::New { .. } => return Err(CliError::NewWithDatabases),
        Command::History => "`history`",
        Command::Stamp { .. } => "`stamp`",
        Command::Upgrade(Upgrade { preview, .. })
        | Command::Downgrade(Downgrade { preview, .. })
            if preview.mode.sql =>
        {
            "--sql"
        }
        Command::Upgrade(Upgrade { preview, .. })
        | Command::Downgrade(Downgrade { preview, .. })
            if preview.mode.dry_run =>
        {
            "--dry-run"
        }
        Command::Current
        | Command::Status
        | Command::Check
        | Command::Upgrade(_)
        | Command::Downgrade(_) => return Ok(()),
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
        });
    } else {
        let plan = match preview.from {
            Some(from) => migrator.plan_from(from, direction, target)?,
            None => open(access, verb)?.plan(migrator, direction, target)?,
        };
        printer.print(&output::plan_json(&plan), || output::plan(&plan));
    }
    Ok(())
}
