//! One verb on several databases (one per tenant): each is opened and run
//! in a worker of `migrate::tenants::for_each`, `--jobs` at a time; then one
//! line per database, as a table for people or a JSON array.
//!
//! What each database does is the same library call as with one database
//! (`db::Open`); this module only fans it out and words the outcomes.
//! Every failure is reported (on stderr, one sentence per database, and in
//! the table or array); the exit code is 1 when any database failed, and for
//! `check` 3 when some are pending and none failed, drifted or is dirty.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use migrate::tenants::Outcome;
use migrate::{Current, Error, Report, Status, StepReport, Verdict};
use serde::Serialize;

use crate::cli::{Cli, Command, Downgrade, Upgrade};
use crate::commands::{Migrators, Printer};
use crate::db::{self, Access, DatabaseUrl, Open};
use crate::output;
use crate::scrub;

/// Runs `cli`'s verb on every database and prints the outcomes; returns
/// the exit code.
pub fn run(
    cli: &Cli,
    printer: &Printer,
    databases: Vec<DatabaseUrl>,
    migrators: &Migrators<'_>,
) -> ExitCode {
    let migrator = &migrators.plain;
    match &cli.command {
        Command::Upgrade(Upgrade { target, .. }) => {
            let outcomes = fan_out(cli, databases, Access::Create, "upgrade", |db| {
                db.upgrade(migrators.for_upgrade(db), *target)
            });
            exit_code(finish(printer, &outcomes, &Steps("APPLIED"), |_| false))
        }
        Command::Downgrade(Downgrade { target, .. }) => {
            let outcomes = fan_out(cli, databases, Access::Write, "downgrade", |db| {
                db.downgrade(migrator, *target)
            });
            exit_code(finish(printer, &outcomes, &Steps("REVERTED"), |_| false))
        }
        Command::Status => {
            let outcomes = fan_out(cli, databases, Access::Read, "status", |db| {
                db.status(migrator)
            });
            exit_code(finish(printer, &outcomes, &StatusColumns, |_| false))
        }
        Command::Check => {
            let outcomes = fan_out(cli, databases, Access::Read, "check", |db| {
                db.status(migrator).map(|status| Checked {
                    verdict: status.verdict(),
                    status,
                })
            });
            let failed = finish(printer, &outcomes, &CheckColumns, |checked| {
                matches!(checked.verdict, Verdict::Drift | Verdict::Dirty)
            });
            let pending = outcomes.iter().any(|(outcome, _)| {
                matches!(&outcome.result, Ok(checked) if checked.verdict == Verdict::Pending)
            });
            match (failed, pending) {
                (false, true) => ExitCode::from(3),
                (failed, _) => exit_code(failed),
            }
        }
        Command::Current => {
            let outcomes = fan_out(cli, databases, Access::Read, "current", |db| {
                db.current(migrator)
            });
            exit_code(finish(printer, &outcomes, &CurrentColumns, |_| false))
        }
        Command::History | Command::Stamp { .. } | Command::New { .. } => {
            unreachable!("refused with several databases before anything is read")
        }
    }
}

/// `check`'s per-database document: the status and its verdict.
#[derive(Debug, Serialize)]
struct Checked {
    #[serde(flatten)]
    status: Status,
    verdict: Verdict,
}

/// Opens each database and runs `operation` on it, `--jobs` at a time,
/// with a progress bar when stderr is a terminal (and not with `--json`).
/// Each outcome comes with the URL to scrub its message with.
fn fan_out<T: Send>(
    cli: &Cli,
    databases: Vec<DatabaseUrl>,
    access: Access,
    verb: &'static str,
    operation: impl Fn(&Open) -> Result<T, Error> + Sync,
) -> Vec<(Outcome<T>, Option<String>)> {
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
    tracing::info!(databases = secrets.len(), jobs, dir = %cli.dir.display(), "{verb}");
    let outcomes = migrate::tenants::for_each(
        named,
        jobs,
        cli.fail_fast,
        |url: DatabaseUrl| {
            tracing::debug!(database = %url.shown(), "{verb}");
            let db = db::open(&url, access, verb).map_err(|err| Error::Database {
                action: "open the database".to_owned(),
                message: err.to_string(),
            })?;
            operation(&db)
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

/// How one verb's outcomes read in the table.
trait Columns<T> {
    /// The headers between DATABASE and RESULT.
    fn headers(&self) -> Vec<&'static str>;
    /// Those cells for a database that succeeded.
    fn cells(&self, done: &T) -> Vec<String>;
    /// Those cells for a database that failed.
    fn failed(&self, _err: &Error) -> Vec<String> {
        vec!["-".to_owned(); self.headers().len()]
    }
    /// The RESULT of a database that succeeded.
    fn result(&self, _done: &T) -> &'static str {
        "ok"
    }
    /// Extra cells after DURATION (the backups), if any database has them.
    fn trailing(&self, _done: &T) -> Option<String> {
        None
    }
}

/// `upgrade` and `downgrade`: from, to, how many steps ran.
struct Steps(&'static str);

impl Columns<Report> for Steps {
    fn headers(&self) -> Vec<&'static str> {
        vec!["FROM", "TO", self.0]
    }

    fn cells(&self, report: &Report) -> Vec<String> {
        vec![
            output::version(report.from),
            output::version(report.to),
            report.steps.len().to_string(),
        ]
    }

    fn failed(&self, err: &Error) -> Vec<String> {
        let completed = err.completed().len();
        vec![
            "-".to_owned(),
            "-".to_owned(),
            if completed == 0 {
                "-".to_owned()
            } else {
                completed.to_string()
            },
        ]
    }

    fn trailing(&self, report: &Report) -> Option<String> {
        report
            .backup
            .as_ref()
            .map(|backup| backup.display().to_string())
    }
}

/// `status`: current, head, pending, dirty, drift.
struct StatusColumns;

impl Columns<Status> for StatusColumns {
    fn headers(&self) -> Vec<&'static str> {
        vec!["CURRENT", "HEAD", "PENDING", "DIRTY", "DRIFT"]
    }

    fn cells(&self, status: &Status) -> Vec<String> {
        let yes_no = |flag: bool| if flag { "yes" } else { "no" }.to_owned();
        vec![
            output::version(status.current),
            output::version(status.head),
            status.pending.to_string(),
            yes_no(status.dirty),
            yes_no(status.drift),
        ]
    }
}

/// `check`: current, head, pending, and the verdict as the result.
struct CheckColumns;

impl Columns<Checked> for CheckColumns {
    fn headers(&self) -> Vec<&'static str> {
        vec!["CURRENT", "HEAD", "PENDING"]
    }

    fn cells(&self, checked: &Checked) -> Vec<String> {
        vec![
            output::version(checked.status.current),
            output::version(checked.status.head),
            checked.status.pending.to_string(),
        ]
    }

    fn result(&self, checked: &Checked) -> &'static str {
        match checked.verdict {
            Verdict::Current => "ok",
            Verdict::Pending => "pending",
            Verdict::Drift => "drift",
            Verdict::Dirty => "dirty",
        }
    }
}

/// `current`: the version and name, as `migrate current` prints them.
struct CurrentColumns;

impl Columns<Current> for CurrentColumns {
    fn headers(&self) -> Vec<&'static str> {
        vec!["CURRENT"]
    }

    fn cells(&self, current: &Current) -> Vec<String> {
        vec![match (current.version, &current.name) {
            (Some(_), Some(_)) => output::current(current),
            _ => "base".to_owned(),
        }]
    }
}

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

/// 1 when anything failed, 0 otherwise.
fn exit_code(failed: bool) -> ExitCode {
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Prints the table (or the JSON array) and each failure's sentence on
/// stderr; returns whether any database failed, was not tried or is `bad`
/// (for `check`: drifted or dirty).
fn finish<T: Serialize>(
    printer: &Printer,
    outcomes: &[(Outcome<T>, Option<String>)],
    columns: &impl Columns<T>,
    bad: impl Fn(&T) -> bool,
) -> bool {
    let message = |err: &Error, secret: &Option<String>| match secret {
        Some(url) => scrub(&err.to_string(), url),
        None => err.to_string(),
    };
    let entries: Vec<Entry<'_, T>> = outcomes
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
    printer.print(&entries, || table(outcomes, columns));
    let mut skipped = 0;
    for (outcome, secret) in outcomes {
        match &outcome.result {
            Err(Error::Skipped) => skipped += 1,
            Err(err) => eprintln!("{}: {}", outcome.database, message(err, secret)),
            Ok(_) => {}
        }
    }
    if skipped > 0 {
        eprintln!(
            "{skipped} database{} not tried: the run stopped at the first failure (--fail-fast)",
            if skipped == 1 { " was" } else { "s were" }
        );
    }
    outcomes
        .iter()
        .any(|(outcome, _)| outcome.result.as_ref().map_or(true, &bad))
}

/// The summary table, then one line counting the results.
fn table<T>(outcomes: &[(Outcome<T>, Option<String>)], columns: &impl Columns<T>) -> String {
    let backups = outcomes.iter().any(|(outcome, _)| {
        outcome
            .result
            .as_ref()
            .is_ok_and(|done| columns.trailing(done).is_some())
    });
    let mut header = vec!["DATABASE"];
    header.extend(columns.headers());
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
                Ok(done) => (
                    columns.cells(done),
                    columns.result(done),
                    columns.trailing(done),
                ),
                Err(Error::Skipped) => (columns.failed(&Error::Skipped), "not tried", None),
                Err(err) => (columns.failed(err), "failed", None),
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
