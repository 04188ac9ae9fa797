//! The preview's performer: the execution stage's program written down as
//! SQL instead of carried out.

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::dialect::{HistorySql, added_columns, with_literals};
use crate::exec::{self, PerformNow, Resolved, Rules, Run, Sending, Write};
use crate::plan::{AppliedRow, Plan, Step};
use crate::report::Direction;
use crate::run::{History, ScriptError, Table};
use crate::{Error, Migrator, Target};

fn show(version: Option<i64>) -> String {
    version.map_or_else(|| "base".to_owned(), |v| v.to_string())
}

/// A script followed by the `;` that ends its last statement when the
/// script's last line of SQL does not already end with one, so that the
/// next statement printed cannot run into it.
fn terminated(script: &str) -> String {
    let mut text = script.trim_end().to_owned();
    let last_sql = text
        .lines()
        .map(str::trim)
        .rfind(|line| !line.is_empty() && !line.starts_with("--"));
    if last_sql.is_some_and(|line| !line.ends_with(';')) {
        text.push_str("\n;");
    }
    text
}

/// A step's block of printed SQL: its header, then its statements.
pub(super) struct Block {
    /// `apply 3 add_email (0003_add_email.up.sql)`; none for what comes
    /// before the first step (the history table's DDL).
    header: Option<String>,
    /// How it runs ([`Rules::note`]).
    note: &'static str,
    lines: Vec<String>,
}

/// The preview's performer: it carries out nothing and writes down every
/// operation that changes the database as the SQL the runner sends for it,
/// each placeholder filled in as a literal. The history is the one read
/// before (so nothing is re-planned), and recorded down scripts are those
/// fetched before.
struct Printer<'h> {
    sql: &'h HistorySql,
    direction: Direction,
    /// The history as read before, and as the printed writes leave it.
    history: History,
    recorded: &'h HashMap<i64, Option<String>>,
    /// The history table's columns as seen (none: it is missing).
    columns: &'h [String],
    /// The summary's change counter as seen (none: no summary yet; 0 once
    /// the printed SQL makes it).
    changes: Option<i64>,
    blocks: Vec<Block>,
}

impl Printer<'_> {
    fn line(&mut self, line: String) {
        if self.blocks.is_empty() {
            self.blocks.push(Block {
                header: None,
                note: "",
                lines: Vec::new(),
            });
        }
        if let Some(block) = self.blocks.last_mut() {
            block.lines.push(line);
        }
    }

    fn statement(&mut self, statement: &str) {
        self.line(format!("{statement};"));
    }
}

impl PerformNow for Printer<'_> {
    fn announce(&mut self, step: &Step<'_>) {
        let action = match self.direction {
            Direction::Up => "apply",
            Direction::Down => "revert",
        };
        self.blocks.push(Block {
            header: Some(format!(
                "{action} {} {} ({})",
                step.version,
                step.name,
                step.file()
            )),
            note: "",
            lines: Vec::new(),
        });
    }

    fn begin(&mut self) -> Result<(), Error> {
        self.statement(self.sql.begin);
        Ok(())
    }

    /// A setting of the runner's own connection, not of the program.
    fn keep_journal(&mut self) {}

    /// The lock is not printed: whoever runs the SQL runs it once.
    fn lock_step(&mut self) -> Result<(), Error> {
        Ok(())
    }

    fn ensure_table(&mut self) -> Result<(), Error> {
        if let Some(create_schema) = &self.sql.create_schema {
            self.statement(create_schema);
        }
        self.statement(&self.sql.create);
        let has = |name: &str| self.columns.iter().any(|c| c.eq_ignore_ascii_case(name));
        let missing: Vec<String> = added_columns(self.sql.dialect)
            .iter()
            .filter(|(name, _)| !self.columns.is_empty() && !has(name))
            .map(|(_, definition)| self.sql.add_column(definition))
            .collect();
        for alter in missing {
            self.statement(&alter);
        }
        Ok(())
    }

    fn data_version(&mut self) -> Result<Option<i64>, Error> {
        Ok(None)
    }

    fn read_history(&mut self) -> Result<Vec<AppliedRow>, Error> {
        Ok(self.history.rows.clone())
    }

    /// The summary's table, triggers and row, as a run makes them.
    fn ensure_summary(&mut self) -> Result<bool, Error> {
        for statement in &self.sql.summary.ensure {
            self.statement(statement);
        }
        self.changes = Some(0);
        Ok(true)
    }

    fn read_changes(&mut self) -> Result<Option<i64>, Error> {
        Ok(self.changes)
    }

    fn read_recorded(&mut self, version: i64) -> Result<Option<String>, Error> {
        Ok(self.recorded.get(&version).cloned().flatten())
    }

    fn run_script(
        &mut self,
        script: &Resolved<'_>,
        _: Sending,
        _: bool,
    ) -> Result<(), ScriptError> {
        let note =
            Rules::new(self.sql.dialect, &crate::Options::default()).note(script.no_transaction);
        if let Some(block) = self.blocks.last_mut() {
            block.note = note;
        }
        self.line(terminated(&script.sql));
        Ok(())
    }

    /// What a run would find is not known ahead.
    fn foreign_key_violation(&mut self) -> Result<Option<String>, Error> {
        Ok(None)
    }

    /// Nothing is checked ahead, so nothing is read for it.
    fn foreign_keys_declared(&mut self) -> Result<bool, Error> {
        Ok(false)
    }

    fn write(&mut self, write: &Write<'_>) -> Result<(), Error> {
        // What a run measures is not known ahead: printed as 0.
        self.history.apply(write);
        let (statement, values) = write.statement(self.sql, false);
        self.statement(&with_literals(self.sql.dialect, statement, &values));
        Ok(())
    }

    fn commit(&mut self) -> Result<(), Error> {
        self.statement(self.sql.commit);
        Ok(())
    }
}

/// What the preview saw of the database: whether the history table
/// exists, its rows, and the down scripts recorded for the plan's steps.
pub(super) struct Seen<'h> {
    /// The history table's columns (none: it does not exist).
    pub columns: Vec<String>,
    pub rows: &'h [AppliedRow],
    pub recorded: &'h HashMap<i64, Option<String>>,
    /// The summary's change counter (none: no summary).
    pub changes: Option<i64>,
}

/// A plan carried out by the execution stage on the printer, from what
/// was `seen` of the database (no table: it is created first).
pub(super) fn program(
    plan: &Plan<'_>,
    target: Target,
    migrator: &Migrator<'_>,
    sql: &HistorySql,
    seen: Seen<'_>,
) -> Result<Vec<Block>, Error> {
    let (known, options) = (migrator.migrations().as_slice(), migrator.options());
    let Seen {
        columns,
        rows,
        recorded,
        changes,
    } = seen;
    if plan.steps.is_empty() {
        return Ok(Vec::new());
    }
    let table = Table::from_columns(columns.clone(), sql.dialect, &sql.table)?
        .unwrap_or_else(|| Table::Rows(rows.to_vec()));
    let mut printer = Printer {
        sql,
        direction: plan.direction,
        history: History::new(rows.to_vec()),
        recorded,
        columns: &columns,
        changes,
        blocks: Vec::new(),
    };
    let run = Run {
        rules: Rules::new(sql.dialect, options),
        options,
        known,
        direction: plan.direction,
        target,
        table,
        first: Some(plan.clone()),
        data_version: None,
        // The summary is written as a run writes it, on the condition that
        // its counter is then where it was seen plus the printed writes:
        // anything else written between the printing and the running
        // leaves it unread.
        changes,
    };
    exec::block_on(exec::run(&mut printer, run))?;
    Ok(printer.blocks)
}

/// The SQL text of a plan: a header, then each block.
pub(super) fn render(plan: &Plan<'_>, blocks: &[Block]) -> String {
    let verb = match plan.direction {
        Direction::Up => "upgrade",
        Direction::Down => "downgrade",
    };
    let mut out = format!(
        "-- {verb} from {} to {}: {}\n",
        show(plan.from),
        show(plan.to),
        match plan.steps.len() {
            0 => "nothing to do".to_owned(),
            1 => "1 step".to_owned(),
            n => format!("{n} steps"),
        }
    );
    for block in blocks {
        out.push('\n');
        if let Some(header) = &block.header {
            let _ = writeln!(out, "-- {header}{}", block.note);
        }
        for line in &block.lines {
            let _ = writeln!(out, "{line}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_are_terminated_once() {
        assert_eq!(terminated("SELECT 1;\n\n"), "SELECT 1;");
        assert_eq!(terminated("SELECT 1"), "SELECT 1\n;");
        assert_eq!(terminated("SELECT 1\n-- done\n"), "SELECT 1\n-- done\n;");
        assert_eq!(terminated("SELECT 1; -- done"), "SELECT 1; -- done\n;");
        assert_eq!(terminated("-- nothing\n"), "-- nothing");
        assert_eq!(terminated(""), "");
    }
}
