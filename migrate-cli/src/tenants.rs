//! One verb on several databases (one per tenant): each is opened and run
//! in a worker of `migrate::tenants::for_each`, `--jobs` at a time; then one
//! line per database, as a table for people or a JSON array.
//!
//! What each database does is the verb as it runs on one database
//! (`verb.rs`); this module only fans it out and words the outcomes.
//! Every failure is reported (on stderr, one sentence per database, and in
//! the table or array); the exit code is 1 when any database failed, and for
//! `check` 3 when some are pending and none failed, drifted or is dirty.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use migrate::tenants::Outcome;
use migrate::{Error, StepReport, Verdict};
use serde::Serialize;

use crate::cli::Cli;
use crate::db::{self, DatabaseUrl};
use crate::error::CliError;
use crate::output::{self, Printer};
use crate::scrub;
use crate::verb::{Done, Migrators, Verb};

/// Runs `verb` on every database and prints the outcomes; returns the
/// exit code: 1 when any database failed (for `check`, also when one
/// drifted or is dirty), otherwise 3 when `check` found some pending.
pub fn run(
    cli: &Cli,
    printer: &Printer,
    verb: Verb,
    databases: Vec<DatabaseUrl>,
    migrators: &Migrators<'_>,
) -> Result<ExitCode, CliError> {
    let outcomes = fan_out(cli, databases, verb, migrators);
    let failed = finish(printer, verb, &outcomes)?;
    let pending = outcomes.iter().any(|(outcome, _)| {
        matches!(&outcome.result, Ok(Done::Checked(checked))
            if matches!(checked.verdict, Verdict::Pending | Verdict::InProgress))
    });
    Ok(match (failed, pending) {
        (false, true) => ExitCode::from(3),
        (true, _) => ExitCode::FAILURE,
        (false, false) => ExitCode::SUCCESS,
    })
}

/// Opens each database and runs `verb` on it, `--jobs` at a time, with a
/// progress bar when stderr is a terminal (and not with `--json`). Each
/// outcome comes with the URL to scrub its message with.
fn fan_out(
    cli: &Cli,
    databases: Vec<DatabaseUrl>,
    verb: Verb,
    migrators: &Migrators<'_>,
) -> Vec<(Outcome<Done>, Option<String>)> {
    let jobs = cli.jobs.map_or_else(
        || std::thread::available_parallelism().map_or(1, usize::from),
        usize::from,
    );
    let secrets: Vec<Option<String>> = databases
        .iter()
        .map(|url| match url {
            DatabaseUrl::Server(server) => Some(server.connect_url().to_owned()),
            DatabaseUrl::Sqlite(_) => None,
        })
        .collect();
    let named = databases
        .into_iter()
        .map(|url| (url.shown().to_owned(), url))
        .collect();
    let progress = (std::io::stderr().is_terminal() && !cli.json).then(|| {
        let bar = indicatif::ProgressBar::new(secrets.len() as u64);
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("{wide_bar} {pos}/{len} databases ({elapsed})")
        {
            bar.set_style(style);
        }
        bar
    });
    let name = verb.name();
    tracing::info!(databases = secrets.len(), jobs, dir = %cli.dir.display(), "{name}");
    let outcomes = migrate::tenants::for_each(
        named,
        jobs,
        cli.fail_fast,
        |url: DatabaseUrl| {
            tracing::debug!(database = %url.shown(), "{name}");
            let db = db::open(&url, verb.access(), name, crate::database::waits(cli))
                .map_err(|err| Error::from(CliError::from(err)))?;
            verb.run(&db, migrators).map_err(Error::from)
        },
        |_| {
            if let Some(bar) = &progress {
                bar.inc(1);
            }
        },
    );
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    outcomes.into_iter().zip(secrets).collect()
}

/// The headers between DATABASE and RESULT.
fn headers(verb: Verb) -> Vec<&'static str> {
    match verb {
        Verb::Upgrade(_) => vec!["FROM", "TO", "APPLIED"],
        Verb::Downgrade(_) => vec!["FROM", "TO", "REVERTED"],
        Verb::Status => vec!["CURRENT", "HEAD", "PENDING", "DIRTY", "DRIFT"],
        Verb::Check => vec!["CURRENT", "HEAD", "PENDING"],
        Verb::Current => vec!["CURRENT"],
        Verb::History | Verb::Stamp(_) => unreachable!("{ONE_DATABASE}"),
    }
}

/// Those cells for a database that succeeded.
fn cells(done: &Done) -> Vec<String> {
    match done {
        // `upgrade` and `downgrade`: from, to, how many steps ran.
        Done::Steps(report) => vec![
            output::version(report.from),
            output::version(report.to),
            report.steps.len().to_string(),
        ],
        Done::Status(status) => {
            let yes_no = |flag: bool| if flag { "yes" } else { "no" }.to_owned();
            vec![
                output::version(status.current),
                output::version(status.head),
                status.pending.to_string(),
                yes_no(status.dirty),
                yes_no(status.drift),
            ]
        }
        Done::Checked(checked) => vec![
            output::version(checked.status.current),
            output::version(checked.status.head),
            checked.status.pending.to_string(),
        ],
        // The version and name, as `migrate current` prints them.
        Done::Current(current) => vec![match (current.version, &current.name) {
            (Some(_), Some(_)) => output::current(current),
            _ => "base".to_owned(),
        }],
        Done::History(_) | Done::Stamped(_) => unreachable!("{ONE_DATABASE}"),
    }
}

/// Those cells for a database that failed: `-`, but for the steps that
/// completed before an `upgrade` or `downgrade` failed.
fn failed_cells(verb: Verb, err: &Error) -> Vec<String> {
    let mut cells = vec!["-".to_owned(); headers(verb).len()];
    let completed = err.completed().len();
    if let (Verb::Upgrade(_) | Verb::Downgrade(_), 1..) = (verb, completed) {
        cells[2] = completed.to_string();
    }
    cells
}

/// The RESULT of a database that succeeded: `check`'s verdict, `ok` else.
fn result(done: &Done) -> &'static str {
    match done {
        Done::Checked(checked) => match checked.verdict {
            Verdict::Current => "ok",
            Verdict::Pending => "pending",
            Verdict::Drift => "drift",
            Verdict::Dirty => "dirty",
            Verdict::InProgress => "in progress",
        },
        _ => "ok",
    }
}

/// Whether a database that succeeded counts as failed: `check` found it
/// drifted or dirty.
fn bad(done: &Done) -> bool {
    matches!(done, Done::Checked(checked) if matches!(checked.verdict, Verdict::Drift | Verdict::Dirty))
}

/// The BACKUP cell after DURATION, if any database has one.
fn backup(done: &Done) -> Option<String> {
    match done {
        Done::Steps(report) => report
            .backup
            .as_ref()
            .map(|backup| backup.display().to_string()),
        _ => None,
    }
}

/// Why `history` and `stamp` never get here.
const ONE_DATABASE: &str = "refused with several databases before anything is read";

/// One element of the `--json` array.
#[derive(Serialize)]
struct Entry<'a, T> {
    database: &'a str,
    ok: bool,
    #[serde(flatten)]
    body: Body<'a, T>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Body<'a, T> {
    Done(&'a T),
    Failed {
        error: String,
        #[serde(skip_serializing_if = "<[_]>::is_empty")]
        completed: &'a [StepReport],
    },
}

/// Prints the table (or the JSON array) and each failure's sentence on
/// stderr; returns whether any database failed, was not tried or is
/// [`bad`].
///
/// # Errors
///
/// [`CliError::Output`] when stdout cannot take the table.
fn finish(
    printer: &Printer,
    verb: Verb,
    outcomes: &[(Outcome<Done>, Option<String>)],
) -> Result<bool, CliError> {
    let message = |err: &Error, secret: &Option<String>| match secret {
        Some(url) => scrub(&err.to_string(), url),
        None => err.to_string(),
    };
    let entries: Vec<Entry<'_, Done>> = outcomes
        .iter()
        .map(|(outcome, secret)| Entry {
            database: &outcome.database,
            ok: outcome.result.is_ok(),
            body: match &outcome.result {
                Ok(done) => Body::Done(done),
                Err(err) => Body::Failed {
                    error: message(err, secret),
                    completed: err.completed(),
                },
            },
        })
        .collect();
    printer.print(&entries, || table(verb, outcomes))?;
    let mut skipped = 0;
    let mut stderr = std::io::stderr().lock();
    for (outcome, secret) in outcomes {
        match &outcome.result {
            Err(Error::Skipped) => skipped += 1,
            Err(err) => {
                let line = format!("{}: {}", outcome.database, message(err, secret));
                let _ = writeln!(stderr, "{}", output::escaped(&line));
            }
            Ok(_) => {}
        }
    }
    if skipped > 0 {
        let _ = writeln!(
            stderr,
            "{skipped} database{} not tried: the run stopped at the first failure (--fail-fast)",
            if skipped == 1 { " was" } else { "s were" }
        );
    }
    Ok(outcomes
        .iter()
        .any(|(outcome, _)| outcome.result.as_ref().map_or(true, bad)))
}

/// The summary table, then one line counting the results.
fn table(verb: Verb, outcomes: &[(Outcome<Done>, Option<String>)]) -> String {
    let backups = outcomes.iter().any(|(outcome, _)| {
        outcome
            .result
            .as_ref()
            .is_ok_and(|done| backup(done).is_some())
    });
    let mut header = vec!["DATABASE"];
    header.extend(headers(verb));
    header.extend(["RESULT", "DURATION"]);
    if backups {
        header.push("BACKUP");
    }
    let mut results: Vec<&'static str> = Vec::new();
    let rows: Vec<Vec<String>> = outcomes
        .iter()
        .map(|(outcome, _)| {
            let mut row = vec![outcome.database.clone()];
            let (cells, result, trailing) = match &outcome.result {
                Ok(done) => (cells(done), result(done), backup(done)),
                Err(Error::Skipped) => (failed_cells(verb, &Error::Skipped), "not tried", None),
                Err(err) => (failed_cells(verb, err), "failed", None),
            };
            results.push(result);
            row.extend(cells);
            row.push(result.to_owned());
            row.push(duration(outcome.duration));
            if backups {
                row.push(trailing.unwrap_or_else(|| "-".to_owned()));
            }
            row
        })
        .collect();
    let mut out = output::table(&header, &rows);
    out.push('\n');
    out.push_str(&counts(&results));
    out
}

/// `200 databases: 199 ok, 1 failed`.
fn counts(results: &[&str]) -> String {
    let parts: Vec<String> = ["ok", "pending", "drift", "dirty", "failed", "not tried"]
        .iter()
        .filter_map(|label| {
            let n = results.iter().filter(|result| *result == label).count();
            (n > 0).then(|| format!("{n} {label}"))
        })
        .collect();
    format!(
        "{} database{}: {}",
        results.len(),
        if results.len() == 1 { "" } else { "s" },
        parts.join(", ")
    )
}

/// A duration as the other tables show one.
fn duration(duration: Duration) -> String {
    format!("{} ms", duration.as_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_name_each_result_once_in_a_fixed_order() {
        assert_eq!(
            counts(&["failed", "ok", "ok", "not tried"]),
            "4 databases: 2 ok, 1 failed, 1 not tried"
        );
        assert_eq!(counts(&["pending"]), "1 database: 1 pending");
    }
}
