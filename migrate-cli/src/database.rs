//! The verbs about the database itself rather than its migrations:
//! `database create`, `drop` and `reset`, and `wait`. What they do to the
//! database is `db/admin.rs`'s and `db/wait.rs`'s; here they are asked for,
//! confirmed and printed.
//!
//! `drop` and `reset` destroy data, so on a terminal they ask first, and
//! without one (a script, CI) they need `-y`: a usage error (exit 2) says
//! so before anything is touched. `reset` reads the migration directory
//! before it asks, so that a broken migration stops it before the drop.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use migrate::Target;
use serde_json::json;

use crate::cli::{Cli, Confirm};
use crate::db::{self, Access, DatabaseUrl, Named, Open, Waits};
use crate::error::CliError;
use crate::output::{self, Printer};
use crate::verb::{Done, Migrators, Verb};

/// `database create`.
pub(crate) fn create(
    printer: &Printer,
    url: &DatabaseUrl,
    waits: Waits,
) -> Result<ExitCode, CliError> {
    let named = Named::new(url, "database create")?;
    let created = named.create(waits.connect)?;
    printer.print(
        &json!({"database": url.shown(), "created": created}),
        || created_line(&named, created),
    )?;
    Ok(ExitCode::SUCCESS)
}

/// `database drop`.
pub(crate) fn drop(
    cli: &Cli,
    printer: &Printer,
    url: &DatabaseUrl,
    confirm: &Confirm,
) -> Result<ExitCode, CliError> {
    let named = Named::new(url, "database drop")?;
    ask(
        "database drop",
        &named,
        confirm,
        "drop it",
        &format!("drop the {}?", named.described()),
    )?;
    let dropped = named.drop(confirm.force, cli.lock_timeout, waits(cli).connect)?;
    printer.print(
        &json!({"database": url.shown(), "dropped": dropped}),
        || dropped_line(&named, dropped),
    )?;
    Ok(ExitCode::SUCCESS)
}

/// `database reset`: drop, create and upgrade to head, each step said as
/// it is done (with `--json`, one document at the end).
pub(crate) fn reset(
    cli: &Cli,
    printer: &Printer,
    url: &DatabaseUrl,
    confirm: &Confirm,
    migrators: &Migrators<'_>,
    open: &impl Fn(Access, &'static str) -> Result<Open, db::DatabaseError>,
) -> Result<ExitCode, CliError> {
    let named = Named::new(url, "database reset")?;
    ask(
        "database reset",
        &named,
        confirm,
        "reset it",
        &format!(
            "drop the {}, create it again and upgrade it to head?",
            named.described()
        ),
    )?;
    let connect = waits(cli).connect;
    let dropped = named.drop(confirm.force, cli.lock_timeout, connect)?;
    printer.say(|| dropped_line(&named, dropped))?;
    let created = named.create(connect)?;
    printer.say(|| created_line(&named, created))?;
    let verb = Verb::Upgrade(Target::Head);
    let Done::Steps(report) = verb.run(&open(verb.access(), "database reset")?, migrators)? else {
        unreachable!("an upgrade reports its steps")
    };
    if printer.json {
        printer.print(
            &json!({"database": url.shown(), "dropped": dropped, "upgrade": report}),
            String::new,
        )?;
    } else {
        printer.print(&(), || output::report(&report))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `wait`.
pub(crate) fn wait(
    printer: &Printer,
    url: &DatabaseUrl,
    timeout: Duration,
    waits: Waits,
) -> Result<ExitCode, CliError> {
    if let DatabaseUrl::Sqlite(db::SqliteUrl {
        location: db::Location::Memory,
        ..
    }) = url
    {
        return Err(db::DatabaseError::InMemory {
            url: url.shown().to_owned(),
            verb: "wait",
        }
        .into());
    }
    db::wait(url, timeout, waits.connect)?;
    printer.print(&json!({"database": url.shown(), "ready": true}), || {
        format!("ready: {}", url.shown())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// How long opening the database may wait, as the command line says.
pub(crate) fn waits(cli: &Cli) -> Waits {
    Waits {
        lock: cli.lock_timeout,
        connect: cli.connect_timeout.unwrap_or(db::DEFAULT_CONNECT_TIMEOUT),
    }
}

/// Asks `question` on the terminal unless `-y` was given: anything but
/// `y` or `yes` keeps the database. Without a terminal, refuses.
fn ask(
    verb: &'static str,
    named: &Named<'_>,
    confirm: &Confirm,
    action: &'static str,
    question: &str,
) -> Result<(), CliError> {
    if confirm.yes {
        return Ok(());
    }
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(CliError::Unconfirmed {
            verb,
            database: named.described(),
            action,
        });
    }
    let mut stderr = std::io::stderr();
    let _ = write!(stderr, "{question} [y/N] ");
    let _ = stderr.flush();
    let mut answer = String::new();
    // An unreadable answer is no answer: the database is kept.
    let _ = stdin.lock().read_line(&mut answer);
    match answer.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" => Ok(()),
        _ => Err(CliError::Declined {
            database: named.described(),
        }),
    }
}

fn created_line(named: &Named<'_>, created: bool) -> String {
    if created {
        format!("created the {}", named.described())
    } else {
        format!(
            "the {} already exists; nothing to create",
            named.described()
        )
    }
}

fn dropped_line(named: &Named<'_>, dropped: bool) -> String {
    if dropped {
        format!("dropped the {}", named.described())
    } else {
        format!("the {} does not exist; nothing to drop", named.described())
    }
}
