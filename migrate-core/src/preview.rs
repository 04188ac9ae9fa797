//! Plans and SQL that run nothing: `migrate upgrade --dry-run` and `--sql`,
//! from a database's history or, offline, from an assumed version.
//!
//! Nothing here decides what the planner does not. An offline plan is the
//! planner given the history that an upgrade from an empty database to
//! `from` would have written; the SQL is a plan's steps written out with the
//! very statements (from `dialect`) that the runner sends, each placeholder
//! filled in as a literal, in the runner's order: the history table's DDL
//! when it is missing, then per step its transaction, its script and its
//! history row. The dialect decides the transactions as the runner does:
//! SQLite and PostgreSQL wrap each step in one (SQLite's `BEGIN IMMEDIATE`
//! takes the write lock), unless the script says `no-transaction`; MySQL and
//! MariaDB commit DDL implicitly, so there every step is written as the
//! runner writes it, with its history row marked `success = FALSE` before
//! the script and `TRUE` after. The run's lock (PostgreSQL's advisory lock,
//! MySQL's `GET_LOCK`) is not printed: whoever runs the SQL runs it once.

use std::borrow::Cow;
use std::fmt::Write as _;

use std::collections::HashMap;

use crate::dialect::{Dialect, HistorySql, Literal, with_literals};
use crate::exec::{self, PerformNow, Resolved, Rules, Run, Sending, Write};
use crate::plan::{self, Action, AppliedRow, Plan, Step};
use crate::report::Direction;
use crate::run::{ScriptError, Table};
use crate::{Error, Migration, Migrator, Options, Target};

/// The history as if an upgrade from an empty database to `from` had run,
/// in the order it would have run.
fn assumed_history(
    known: &[Migration],
    from: Target,
    options: &Options,
) -> Result<Vec<AppliedRow>, Error> {
    if from == Target::Base {
        return Ok(Vec::new());
    }
    let upgrade = plan::plan(known, &[], Direction::Up, from, options)?;
    Ok(upgrade
        .steps
        .iter()
        .filter_map(|step| match step.action {
            Action::Apply(migration) => Some(AppliedRow {
                version: migration.version(),
                name: migration.name().to_owned(),
                checksum: migration.checksum().to_owned(),
                // Equal times order the rows by version, as they were applied.
                applied_at: String::new(),
                execution_ms: 0,
                success: true,
                has_down_sql: migration.down().is_some(),
            }),
            Action::Revert(_) | Action::RevertRecorded => None,
        })
        .collect())
}

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

/// A down script as a string literal of the dialect: MySQL and MariaDB
/// read `\` in a string as an escape (unless the server runs with
/// `NO_BACKSLASH_ESCAPES`), so there each backslash is doubled; `'` is
/// doubled by [`Literal`] everywhere.
fn text(dialect: Dialect, text: &str) -> Cow<'_, str> {
    if dialect == Dialect::MySql && text.contains('\\') {
        Cow::Owned(text.replace('\\', "\\\\"))
    } else {
        Cow::Borrowed(text)
    }
}

/// A step's block of printed SQL: its header, then its statements.
struct Block {
    /// `apply 3 add_email (0003_add_email.up.sql)`; none for what comes
    /// before the first step (the history table's DDL).
    header: Option<String>,
    outside: bool,
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
    rows: &'h [AppliedRow],
    recorded: &'h HashMap<i64, Option<String>>,
    blocks: Vec<Block>,
}

impl Printer<'_> {
    fn line(&mut self, line: String) {
        if self.blocks.is_empty() {
            self.blocks.push(Block {
                header: None,
                outside: false,
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
            outside: false,
            lines: Vec::new(),
        });
    }

    fn begin(&mut self) -> Result<(), Error> {
        self.statement(self.sql.begin);
        Ok(())
    }

    /// The lock is not printed: whoever runs the SQL runs it once.
    fn lock_step(&mut self) -> Result<(), Error> {
        Ok(())
    }

    fn ensure_table(&mut self) -> Result<(), Error> {
        if let Some(create_schema) = &self.sql.create_schema {
            self.statement(create_schema);
        }
        self.statement(&self.sql.create);
        Ok(())
    }

    fn data_version(&mut self) -> Result<Option<i64>, Error> {
        Ok(None)
    }

    fn read_history(&mut self) -> Result<Vec<AppliedRow>, Error> {
        Ok(self.rows.to_vec())
    }

    fn read_recorded(&mut self, version: i64) -> Result<Option<String>, Error> {
        Ok(self.recorded.get(&version).cloned().flatten())
    }

    fn run_script(
        &mut self,
        script: &Resolved<'_>,
        _: Sending,
        outside: bool,
    ) -> Result<(), ScriptError> {
        if let Some(block) = self.blocks.last_mut() {
            block.outside |= outside;
        }
        self.line(terminated(&script.sql));
        Ok(())
    }

    fn write(&mut self, write: &Write<'_>) -> Result<(), Error> {
        let dialect = self.sql.dialect;
        // What a run measures is not known ahead: printed as 0.
        let statement = match write {
            Write::Insert { row, down_sql } => {
                let down = down_sql.map(|down| text(dialect, down));
                with_literals(
                    &self.sql.insert,
                    &[
                        Literal::Integer(row.version),
                        Literal::Text(&row.name),
                        Literal::Text(&row.checksum),
                        down.as_deref().map_or(Literal::Null, Literal::Text),
                        Literal::Text(&row.applied_at),
                        Literal::Integer(0),
                        Literal::Boolean(row.success),
                    ],
                )
            }
            Write::Mark {
                version, success, ..
            } => with_literals(
                &self.sql.mark,
                &[
                    Literal::Boolean(*success),
                    Literal::Integer(0),
                    Literal::Integer(*version),
                ],
            ),
            Write::Delete(version) => {
                with_literals(&self.sql.delete, &[Literal::Integer(*version)])
            }
            Write::MarkClean { version, checksum } => with_literals(
                &self.sql.mark_clean,
                &[Literal::Text(checksum), Literal::Integer(*version)],
            ),
        };
        self.statement(&statement);
        Ok(())
    }

    fn commit(&mut self) -> Result<(), Error> {
        self.statement(self.sql.commit);
        Ok(())
    }
}

/// A plan carried out by the execution stage on the printer, from the
/// history `rows` (`table_exists` false: the table is created first).
fn program(
    plan: &Plan<'_>,
    known: &[Migration],
    sql: &HistorySql,
    options: &Options,
    table_exists: bool,
    rows: &[AppliedRow],
    recorded: &HashMap<i64, Option<String>>,
) -> Result<Vec<Block>, Error> {
    let mut printer = Printer {
        sql,
        direction: plan.direction,
        rows,
        recorded,
        blocks: Vec::new(),
    };
    if plan.steps.is_empty() {
        return Ok(Vec::new());
    }
    let table = if table_exists {
        Table::Rows(rows.to_vec())
    } else {
        Table::Missing
    };
    let run = Run {
        rules: Rules::new(sql.dialect, options),
        options,
        known,
        direction: plan.direction,
        target: Target::Head,
        table,
        first: Some(plan.clone()),
        data_version: None,
    };
    exec::block_on(exec::run(&mut printer, run))?;
    Ok(printer.blocks)
}

/// The SQL text of a plan: a header, then each block.
fn render(plan: &Plan<'_>, blocks: &[Block]) -> String {
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
            let outside = if block.outside {
                ", outside a transaction"
            } else {
                ""
            };
            let _ = writeln!(out, "-- {header}{outside}");
        }
        for line in &block.lines {
            let _ = writeln!(out, "{line}");
        }
    }
    out
}

impl<'a> Migrator<'a> {
    /// What an upgrade or downgrade would do to a database whose history is
    /// as if an upgrade from an empty database to `from` had run (`base`,
    /// `head`, `+N` or a version: every known migration up to it applied).
    /// No database is needed: this is `migrate upgrade --dry-run --from`.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # for v in 1..=3 { std::fs::write(dir.path().join(format!("{v}_t{v}.sql")), format!("CREATE TABLE t{v} (id INT);")).unwrap(); }
    /// let set = migrate::Migrations::from_dir(dir.path())?;
    /// let migrator = set.with_options(migrate::Options::default());
    /// let plan = migrator.plan_from("1".parse()?, migrate::Direction::Up, migrate::Target::Head)?;
    /// assert_eq!((plan.from, plan.to, plan.steps.len()), (Some(1), Some(3), 2));
    /// # Ok::<(), migrate::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// What an upgrade from an empty database to `from` would refuse (a
    /// version this build does not know, `-N`), then what the upgrade or
    /// downgrade to `target` would refuse.
    pub fn plan_from(
        &self,
        from: Target,
        direction: Direction,
        target: Target,
    ) -> Result<Plan<'a>, Error> {
        let known = self.migrations().as_slice();
        let assumed = assumed_history(known, from, self.options())?;
        plan::plan(known, &assumed, direction, target, self.options())
    }

    /// The SQL an upgrade or downgrade would run from `from` on a
    /// `dialect` database, as [`Migrator::plan_from`] plans it, with no
    /// database: `migrate upgrade --sql --from`. From `base` it starts with
    /// the history table's DDL. Each history row's `applied_at` is the time
    /// the SQL was written.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # std::fs::write(dir.path().join("1_t.sql"), "CREATE TABLE t (id INT);").unwrap();
    /// use migrate::{Dialect, Direction, Target};
    /// let set = migrate::Migrations::from_dir(dir.path())?;
    /// let migrator = set.with_options(migrate::Options::default());
    /// let sql = migrator.sql_from(Dialect::Sqlite, Target::Base, Direction::Up, Target::Head)?;
    /// assert!(sql.contains("CREATE TABLE IF NOT EXISTS \"_migrate_history\""));
    /// assert!(sql.contains("BEGIN IMMEDIATE;\nCREATE TABLE t (id INT);"));
    /// // Run it, and the database is as `upgrade` would leave it.
    /// let conn = rusqlite::Connection::open_in_memory()?;
    /// conn.execute_batch(&sql)?;
    /// assert_eq!(set.status(&conn)?.pending, 0);
    ///
    /// // The same for MySQL: no transaction, the row marked in flight first.
    /// let sql = migrator.sql_from(Dialect::MySql, Target::Base, Direction::Up, Target::Head)?;
    /// assert!(sql.contains("CREATE TABLE IF NOT EXISTS `_migrate_history`"));
    /// assert!(sql.contains(", FALSE);\nCREATE TABLE t (id INT);\nUPDATE `_migrate_history` SET success = TRUE"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`Migrator::plan_from`].
    pub fn sql_from(
        &self,
        dialect: Dialect,
        from: Target,
        direction: Direction,
        target: Target,
    ) -> Result<String, Error> {
        let known = self.migrations().as_slice();
        let rows = assumed_history(known, from, self.options())?;
        let plan = plan::plan(known, &rows, direction, target, self.options())?;
        let sql = HistorySql::new(dialect, &self.options().table);
        // Only `+N`, `head` or a version can have applied anything.
        let table_exists = plan.from.is_some();
        self.sql_text(&plan, &sql, table_exists, &rows, &HashMap::new())
    }

    /// The SQL text of `plan`: the execution stage's program for it,
    /// written out by the printer.
    fn sql_text(
        &self,
        plan: &Plan<'_>,
        sql: &HistorySql,
        table_exists: bool,
        rows: &[AppliedRow],
        recorded: &HashMap<i64, Option<String>>,
    ) -> Result<String, Error> {
        let known = self.migrations().as_slice();
        let blocks = program(
            plan,
            known,
            sql,
            self.options(),
            table_exists,
            rows,
            recorded,
        )?;
        Ok(render(plan, &blocks))
    }
}

#[cfg(feature = "rusqlite")]
mod sync {
    use rusqlite::{Connection, OptionalExtension};

    use super::*;

    use crate::rusqlite::database_error;

    impl Migrator<'_> {
        /// The SQL an upgrade or downgrade to `target` would run on this
        /// database, changing nothing: `migrate upgrade --sql`. It holds the
        /// history table's DDL when the table is missing, each script in its
        /// transaction (none for `-- migrate:no-transaction`) and each
        /// history row written or deleted, with literal values; each row's
        /// `applied_at` is the time the SQL was written.
        ///
        /// # Examples
        ///
        /// ```
        /// # let dir = tempfile::tempdir().unwrap();
        /// # std::fs::write(dir.path().join("1_t.up.sql"), "CREATE TABLE t (id INT);").unwrap();
        /// # std::fs::write(dir.path().join("1_t.down.sql"), "DROP TABLE t;").unwrap();
        /// let set = migrate::Migrations::from_dir(dir.path())?;
        /// let conn = rusqlite::Connection::open_in_memory()?;
        /// migrate::run(&conn, &set)?;
        /// let migrator = set.with_options(migrate::Options::default());
        /// let sql = migrator.sql(&conn, migrate::Direction::Down, migrate::Target::Base)?;
        /// assert!(sql.ends_with(
        ///     "BEGIN IMMEDIATE;\nDROP TABLE t;\nDELETE FROM \"_migrate_history\" WHERE version = 1;\nCOMMIT;\n"
        /// ));
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        ///
        /// # Errors
        ///
        /// What [`Migrator::upgrade`] or [`Migrator::downgrade`] would
        /// refuse, and a database error reading the history.
        pub fn sql(
            &self,
            conn: &Connection,
            direction: Direction,
            target: Target,
        ) -> Result<String, Error> {
            let options = self.options();
            let sql = HistorySql::sqlite(&options.table);
            let tables: i64 = conn
                .query_row(&sql.exists, [options.table.table()], |row| row.get(0))
                .map_err(database_error(format!(
                    "look for the history table {}",
                    sql.table
                )))?;
            let rows = crate::rusqlite::read_rows(conn, options)?;
            let plan = plan::plan(
                self.migrations().as_slice(),
                &rows,
                direction,
                target,
                options,
            )?;
            let mut recorded = HashMap::new();
            for step in &plan.steps {
                if let Action::RevertRecorded = step.action {
                    let script = conn
                        .query_row(&sql.down_sql, [step.version], |row| row.get(0))
                        .optional()
                        .map(Option::flatten)
                        .map_err(database_error(format!(
                            "read the recorded down script of {}",
                            step.version
                        )))?;
                    recorded.insert(step.version, script);
                }
            }
            self.sql_text(&plan, &sql, tables > 0, &rows, &recorded)
        }
    }
}

#[cfg(any(
    feature = "sqlx-sqlite",
    feature = "sqlx-postgres",
    feature = "sqlx-mysql"
))]
mod pool {
    use std::collections::HashMap;

    use super::*;
    use crate::sqlx::{Backend, Param};

    use crate::sqlx::database_error;

    impl Migrator<'_> {
        /// The SQL an upgrade or downgrade to `target` would run on the
        /// database behind `pool`, in its dialect, changing nothing: `migrate
        /// --database-url postgres://… upgrade --sql`. As
        /// [`Migrator::sql`]: the history table's DDL when the table is
        /// missing, each script in its transaction where the runner uses one
        /// (never on MySQL, where each history row is marked in flight
        /// before its script instead), each history row with literal values.
        ///
        /// # Examples
        ///
        /// ```
        /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
        /// # let dir = tempfile::tempdir()?;
        /// # std::fs::write(dir.path().join("1_t.sql"), "CREATE TABLE t (id INT);")?;
        /// use migrate::{Direction, Target};
        /// let set = migrate::Migrations::from_dir(dir.path())?;
        /// let pool = sqlx::SqlitePool::connect("sqlite::memory:").await?;
        /// let migrator = set.with_options(migrate::Options::default());
        /// let sql = migrator.sql_pool(&pool, Direction::Up, Target::Head).await?;
        /// assert!(sql.contains("BEGIN IMMEDIATE;\nCREATE TABLE t (id INT);\nINSERT INTO"));
        /// migrate::sqlx::run(&pool, &set).await?;
        /// let sql = migrator.sql_pool(&pool, Direction::Up, Target::Head).await?;
        /// assert_eq!(sql, "-- upgrade from 1 to 1: nothing to do\n");
        /// # Ok(()) }
        /// ```
        ///
        /// # Errors
        ///
        /// What the upgrade or downgrade would refuse, and a database error
        /// reading the history.
        pub async fn sql_pool<DB: Backend>(
            &self,
            pool: &::sqlx::Pool<DB>,
            direction: Direction,
            target: Target,
        ) -> Result<String, Error> {
            let (set, options) = (self.migrations(), self.options());
            let sql = HistorySql::new(DB::DIALECT, &options.table);
            let rows = crate::sqlx::read_rows(pool, options).await?;
            let plan = plan::plan(set.as_slice(), &rows, direction, target, options)?;
            let mut conn = pool
                .acquire()
                .await
                .map_err(database_error("get a connection from the pool".to_owned()))?;
            let columns = DB::texts(&mut conn, &sql.columns, &[Param::Text(&sql.bare)])
                .await
                .map_err(database_error(format!(
                    "look for the history table {}",
                    sql.table
                )))?;
            let mut recorded = HashMap::new();
            for step in &plan.steps {
                if let Action::RevertRecorded = step.action {
                    let script =
                        DB::texts(&mut conn, &sql.down_sql, &[Param::Integer(step.version)])
                            .await
                            .map_err(database_error(format!(
                                "read the recorded down script of {}",
                                step.version
                            )))?;
                    recorded.insert(step.version, script.into_iter().next().flatten());
                }
            }
            self.sql_text(&plan, &sql, !columns.is_empty(), &rows, &recorded)
        }
    }
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
