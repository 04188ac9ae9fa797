//! What the verbs print for people: plain sentences and one table, with
//! colour only when stdout is a terminal and `NO_COLOR` is not set. The JSON
//! documents are the library's `Serialize` types, and [`Printer`] prints
//! one or the other; nothing here decides anything, it only words what the
//! library returned.

use std::io::{IsTerminal, Write};

use migrate::plan::Plan;
use migrate::{Current, Dialect, Direction, HistoryEntry, Report, State, Status, Verdict};
use serde::Serialize;
use unicode_width::UnicodeWidthStr;

use crate::error::CliError;

/// Where output goes: JSON documents or text for people.
pub(crate) struct Printer {
    pub(crate) json: bool,
    pub(crate) palette: Palette,
    /// The verb, for the message when stdout cannot take its output.
    pub(crate) verb: &'static str,
}

impl Printer {
    /// Prints `value` as JSON, or `text()` for people.
    ///
    /// # Errors
    ///
    /// [`CliError::Output`] when stdout cannot take it (a full disk, a
    /// closed file). A pipe whose reader stopped reading (`migrate history
    /// | head -1`) is no error: the reader has what it wanted, and the
    /// command ends quietly with its own exit code.
    pub(crate) fn print<T: Serialize + ?Sized>(
        &self,
        value: &T,
        text: impl FnOnce() -> String,
    ) -> Result<(), CliError> {
        let line = if self.json {
            serde_json::to_string(value).expect("the output types serialise")
        } else {
            text()
        };
        let mut stdout = std::io::stdout().lock();
        match writeln!(stdout, "{line}").and_then(|()| stdout.flush()) {
            Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => Err(CliError::Output {
                verb: self.verb,
                source: err,
            }),
            _ => Ok(()),
        }
    }
}

impl Printer {
    /// Prints a line for people, and nothing with `--json` (whose document
    /// comes at the end): the steps of a verb that does several things.
    ///
    /// # Errors
    ///
    /// As [`Printer::print`].
    pub(crate) fn say(&self, text: impl FnOnce() -> String) -> Result<(), CliError> {
        if self.json {
            return Ok(());
        }
        self.print(&(), text)
    }
}

/// `text` with its control characters escaped as Rust writes them (`\n`,
/// `\u{1b}`): a file name or a name from the database must not split a
/// line or reach the terminal as an escape sequence.
pub fn escaped(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_debug().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Whether to colour, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Palette {
    enabled: bool,
}

impl Palette {
    /// Colour when stdout is a terminal and `NO_COLOR` is unset or empty.
    pub fn for_stdout() -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty());
        Palette {
            enabled: std::io::stdout().is_terminal() && !no_color,
        }
    }

    /// Colour or not, as told.
    pub fn new(enabled: bool) -> Self {
        Palette { enabled }
    }

    fn paint(self, code: &str, text: &str) -> String {
        if self.enabled {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    fn state(self, state: State) -> String {
        let (code, text) = match state {
            State::Applied => ("32", "applied"),
            State::Pending => ("33", "pending"),
            State::Modified => ("31", "modified"),
            State::Unknown => ("35", "unknown"),
            State::Dirty => ("1;31", "dirty"),
            State::InProgress => ("1;33", "in progress"),
        };
        self.paint(code, text)
    }
}

/// A version for people: `base` when there is none.
pub fn version(version: Option<i64>) -> String {
    version.map_or_else(|| "base".to_owned(), |v| v.to_string())
}

/// `current`: `6 users_item_count (head)`.
pub fn current(current: &Current) -> String {
    match (current.version, &current.name) {
        (Some(version), Some(name)) => {
            format!(
                "{version} {}{}",
                escaped(name),
                if current.head { " (head)" } else { "" }
            )
        }
        _ => "base: no migration is applied".to_owned(),
    }
}

/// `history`: a table of version, name, state, applied at and duration.
pub fn history(entries: &[HistoryEntry], palette: Palette) -> String {
    if entries.is_empty() {
        return "no migrations: the directory has none and the database has no history".to_owned();
    }
    let header = ["VERSION", "NAME", "STATE", "APPLIED AT", "DURATION"];
    let mut rows = vec![header.map(|h| (h.to_owned(), h.len())).to_vec()];
    rows.extend(entries.iter().map(|entry| {
        let plain = |text: String| {
            let text = escaped(&text);
            let width = text.width();
            (text, width)
        };
        vec![
            plain(entry.version.to_string()),
            plain(entry.name.clone()),
            // A colour's escape codes take no room.
            (
                palette.state(entry.state),
                Palette::new(false).state(entry.state).len(),
            ),
            plain(entry.applied_at.clone().unwrap_or_else(|| "-".to_owned())),
            plain(
                entry
                    .execution_ms
                    .map_or_else(|| "-".to_owned(), |ms| format!("{ms} ms")),
            ),
        ]
    }));
    aligned(&rows)
}

/// A table of plain text: the header, then the rows, in columns two spaces
/// apart, with no newline at the end.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let plain = |cells: Vec<String>| {
        cells
            .into_iter()
            .map(|cell| {
                let cell = escaped(&cell);
                let width = cell.width();
                (cell, width)
            })
            .collect()
    };
    let mut all = vec![plain(header.iter().map(|h| h.to_string()).collect())];
    all.extend(rows.iter().cloned().map(plain));
    aligned(&all)
}

/// Rows of cells, each with the width it takes on screen, in columns two
/// spaces apart; the last column is not padded.
fn aligned(rows: &[Vec<(String, usize)>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|column| {
            rows.iter()
                .filter_map(|row| row.get(column).map(|(_, width)| *width))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let last = row.len().saturating_sub(1);
        for (column, (cell, width)) in row.iter().enumerate() {
            out.push_str(cell);
            if column < last {
                out.push_str(&" ".repeat(widths[column] - width + 2));
            }
        }
        out.push('\n');
    }
    out.pop();
    out
}

/// `status`: one field a line.
pub fn status(status: &Status) -> String {
    let yes_no = |flag: bool| if flag { "yes" } else { "no" };
    format!(
        "current: {}\nhead:    {}\npending: {}\ndirty:   {}\ndrift:   {}",
        version(status.current),
        version(status.head),
        status.pending,
        if status.in_progress {
            "no (a migration is in progress)"
        } else {
            yes_no(status.dirty)
        },
        yes_no(status.drift)
    )
}

/// `check`: the verdict in a sentence, naming the migration that makes
/// drift or a dirty mark where it is known.
pub fn check(status: &Status, culprit: Option<&HistoryEntry>) -> String {
    let named =
        |entry: &HistoryEntry| format!("migration {} ({})", entry.version, escaped(&entry.name));
    match (status.verdict(), culprit) {
        (Verdict::Drift, Some(entry)) => {
            let what = match entry.state {
                State::Modified => "was edited after it was applied",
                State::Unknown => "is applied but unknown to this build",
                _ => "is pending below the newest applied version",
            };
            return format!(
                "drift: the applied migrations differ from this directory's: {} {what}; run `migrate history` to see every difference",
                named(entry)
            );
        }
        (Verdict::Dirty, Some(entry)) => {
            return format!(
                "dirty: {} failed or was interrupted outside a transaction; repair the schema, then `migrate stamp` (`migrate upgrade` says at which version)",
                named(entry)
            );
        }
        _ => {}
    }
    match status.verdict() {
        Verdict::Current => format!("ok: the database is at head ({})", version(status.current)),
        Verdict::Pending => format!(
            "pending: {} migration{} to apply (at {}, head {}); run `migrate upgrade`",
            status.pending,
            if status.pending == 1 { "" } else { "s" },
            version(status.current),
            version(status.head)
        ),
        Verdict::Drift => "drift: the applied migrations differ from this directory's (edited, unknown or out of order); run `migrate history` to see which".to_owned(),
        Verdict::Dirty => "dirty: a migration failed or was interrupted outside a transaction; run `migrate history`, repair the schema, then `migrate stamp`".to_owned(),
        Verdict::InProgress => "in progress: another runner is applying a migration outside a transaction; check again when it ends".to_owned(),
    }
}

/// The steps of a report, one line each (also for the steps that completed
/// before a failure), a step below `newest` (the newest applied version
/// the run left in place, where known) said to be out of order.
pub fn steps(direction: Direction, steps: &[migrate::StepReport], newest: Option<i64>) -> String {
    let verb = steps_verb(direction);
    steps
        .iter()
        .map(|step| {
            format!(
                "{verb} {} {} ({} ms{})\n",
                step.version,
                escaped(&step.name),
                step.duration_ms,
                out_of_order(step.version, newest)
            )
        })
        .collect()
}

/// `, out of order` for a step below `newest`, the newest applied version
/// the run leaves in place.
fn out_of_order(version: i64, newest: Option<i64>) -> &'static str {
    if newest.is_some_and(|newest| version < newest) {
        ", out of order"
    } else {
        ""
    }
}

/// The newest applied version a run leaves in place: where an upgrade
/// starts, where a downgrade ends.
fn newest_kept(direction: Direction, from: Option<i64>, to: Option<i64>) -> Option<i64> {
    match direction {
        Direction::Up => from,
        Direction::Down => to,
    }
}

/// The words for a direction: the verb, its past and its step's action.
fn words(direction: Direction) -> (&'static str, &'static str, &'static str) {
    match direction {
        Direction::Up => ("upgrade", "upgraded", "apply"),
        Direction::Down => ("downgrade", "downgraded", "revert"),
    }
}

/// `upgrade` and `downgrade`: each step, then where the database ended.
pub fn report(report: &Report) -> String {
    let (verb, _, _) = words(report.direction);
    let mut out = String::new();
    if let Some(backup) = &report.backup {
        out.push_str(&format!(
            "backed up the database to {}\n",
            escaped(&backup.display().to_string())
        ));
    }
    if report.steps.is_empty() {
        out.push_str(&format!(
            "nothing to {verb}: the database is at {}",
            version(report.to)
        ));
        return out;
    }
    let newest = newest_kept(report.direction, report.from, report.to);
    out.push_str(&steps(report.direction, &report.steps, newest));
    out.push_str(&ended(
        report.direction,
        report.from,
        report.to,
        report.steps.len(),
        false,
    ));
    out
}

/// Where a run of `count` steps from `from` ends (`would`: a dry run's
/// words). Steps applied or reverted out of order below the newest leave
/// the current version where it was: said so, not "from 3 to 3".
fn ended(
    direction: Direction,
    from: Option<i64>,
    to: Option<i64>,
    count: usize,
    would: bool,
) -> String {
    let (verb, done, action) = words(direction);
    let migrations = if count == 1 {
        "migration"
    } else {
        "migrations"
    };
    match (from == to, would) {
        (false, false) => format!("{done} from {} to {}", version(from), version(to)),
        (false, true) => format!("would {verb} from {} to {}", version(from), version(to)),
        (true, false) => format!(
            "{} {count} {migrations} out of order; the database stays at {}",
            steps_verb(direction),
            version(to)
        ),
        (true, true) => format!(
            "would {action} {count} {migrations} out of order; the database would stay at {}",
            version(to)
        ),
    }
}

/// A step's verb in the past: `applied` or `reverted`.
fn steps_verb(direction: Direction) -> &'static str {
    match direction {
        Direction::Up => "applied",
        Direction::Down => "reverted",
    }
}

/// `stamp`: each history row it changed, then where the history is.
pub fn stamped(stamped: &migrate::Stamped) -> String {
    let mut out = String::new();
    for row in &stamped.rows {
        let name = escaped(&row.name);
        out.push_str(&match row.change {
            migrate::Stamp::Recorded => format!("recorded {} {name} as applied\n", row.version),
            migrate::Stamp::Cleared => {
                format!("cleared the dirty mark of {} {name}\n", row.version)
            }
            migrate::Stamp::Removed => {
                format!("removed {} {name} from the history\n", row.version)
            }
        });
    }
    out.push_str(&format!(
        "stamped the history at {} (it was at {}); no script ran",
        version(stamped.to),
        version(stamped.from)
    ));
    out
}

/// `--dry-run`: the steps that would run.
pub fn plan(plan: &Plan<'_>, dialect: Dialect) -> String {
    if plan.steps.is_empty() {
        // Nothing to do reads as it does after a run.
        return report(&Report {
            direction: plan.direction,
            from: plan.from,
            to: plan.to,
            steps: Vec::new(),
            backup: None,
        });
    }
    let (_, _, action) = words(plan.direction);
    let newest = newest_kept(plan.direction, plan.from, plan.to);
    let mut out = String::new();
    for step in &plan.steps {
        out.push_str(&format!(
            "would {action} {} {} ({}{}){}\n",
            step.version,
            escaped(&step.name.to_string()),
            escaped(&step.file().to_string()),
            out_of_order(step.version, newest),
            step.transaction_note(dialect)
        ));
    }
    out.push_str(&ended(
        plan.direction,
        plan.from,
        plan.to,
        plan.steps.len(),
        true,
    ));
    out.push_str("; nothing was changed");
    out
}

/// `--dry-run --json`: the report's shape, without durations, with each
/// step's file.
pub fn plan_json(plan: &Plan<'_>) -> serde_json::Value {
    let steps: Vec<serde_json::Value> = plan
        .steps
        .iter()
        .map(|step| serde_json::json!({"version": step.version, "name": step.name, "file": step.file()}))
        .collect();
    let key = match plan.direction {
        Direction::Up => "applied",
        Direction::Down => "reverted",
    };
    serde_json::json!({"from": plan.from, "to": plan.to, key: steps, "dry_run": true})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_codes_do_not_shift_the_columns() {
        let entries = [
            HistoryEntry {
                version: 1,
                name: "a".into(),
                state: State::Applied,
                checksum: String::new(),
                applied_at: Some("2026-01-01T00:00:00.000000Z".into()),
                execution_ms: Some(12),
            },
            HistoryEntry {
                version: 10,
                name: "bb".into(),
                state: State::Pending,
                checksum: String::new(),
                applied_at: None,
                execution_ms: None,
            },
        ];
        let plain = history(&entries, Palette::new(false));
        assert_eq!(
            plain,
            "VERSION  NAME  STATE    APPLIED AT                   DURATION\n\
             1        a     applied  2026-01-01T00:00:00.000000Z  12 ms\n\
             10       bb    pending  -                            -"
        );
        let coloured = history(&entries, Palette::new(true));
        assert_eq!(
            coloured
                .replace("\x1b[32m", "")
                .replace("\x1b[33m", "")
                .replace("\x1b[0m", ""),
            plain
        );
        assert!(coloured.contains("\x1b[32mapplied\x1b[0m"));
    }

    #[test]
    fn a_step_in_flight_reads_in_progress_and_its_json_in_progress() {
        let entry = HistoryEntry {
            version: 2,
            name: "slow".into(),
            state: State::InProgress,
            checksum: String::new(),
            applied_at: Some("2026-01-01T00:00:00.000000Z".into()),
            execution_ms: Some(0),
        };
        assert_eq!(
            history(std::slice::from_ref(&entry), Palette::new(false)),
            "VERSION  NAME  STATE        APPLIED AT                   DURATION\n\
             2        slow  in progress  2026-01-01T00:00:00.000000Z  0 ms"
        );
        assert_eq!(
            serde_json::to_value(&entry).unwrap()["state"],
            "in_progress"
        );
    }
}
