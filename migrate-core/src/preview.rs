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

use crate::dialect::{Dialect, HistorySql, Literal, with_literals};
use crate::plan::{self, Action, AppliedRow, Plan};
use crate::report::Direction;
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

/// Writes `plan` out as the SQL the runner would send. `create_table` adds
/// the history table's DDL (and its schema's); `newest_applied_at` is the
/// history's newest `applied_at`, after which the printed rows' times
/// follow; `recorded` fetches a down script recorded in the history.
fn render(
    plan: &Plan<'_>,
    sql: &HistorySql,
    create_table: bool,
    newest_applied_at: Option<&str>,
    recorded: impl Fn(i64) -> Result<Option<String>, Error>,
) -> Result<String, Error> {
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
    if plan.steps.is_empty() {
        return Ok(out);
    }
    if create_table {
        out.push('\n');
        if let Some(create_schema) = &sql.create_schema {
            let _ = writeln!(out, "{create_schema};");
        }
        let _ = writeln!(out, "{};", sql.create);
    }
    let mut applied_at = newest_applied_at.map(str::to_owned);
    for step in &plan.steps {
        let (script, no_transaction) = match step.action {
            Action::Apply(migration) => (
                migration.up().sql().to_owned(),
                migration.up().no_transaction(),
            ),
            Action::Revert(script) => (script.sql().to_owned(), script.no_transaction()),
            Action::RevertRecorded => {
                let script = recorded(step.version)?.ok_or_else(|| Error::Irreversible {
                    version: step.version,
                    file: format!("{}_{}", step.version, step.name),
                })?;
                // As the runner: a recorded script keeps its directives.
                let no_transaction =
                    migrate_files::directives(&script).is_ok_and(|d| d.no_transaction);
                (script, no_transaction)
            }
        };
        // As the runner: MySQL runs every step outside a transaction.
        let outside = no_transaction || sql.dialect == Dialect::MySql;
        // What the history says before a script run outside a transaction
        // (the step is in flight) and after the script.
        let (in_flight, after) = match step.action {
            Action::Apply(migration) => {
                let at = crate::clock::after(applied_at.as_deref());
                let down = migration.down().map(|down| text(sql.dialect, down.sql()));
                let insert = |success| {
                    with_literals(
                        &sql.insert,
                        &[
                            Literal::Integer(step.version),
                            Literal::Text(&step.name),
                            Literal::Text(migration.checksum()),
                            down.as_deref().map_or(Literal::Null, Literal::Text),
                            Literal::Text(&at),
                            Literal::Integer(0),
                            Literal::Boolean(success),
                        ],
                    )
                };
                let statements = if outside {
                    (insert(false), mark(sql, step.version, true))
                } else {
                    (String::new(), insert(true))
                };
                applied_at = Some(at);
                statements
            }
            Action::Revert(_) | Action::RevertRecorded => (
                mark(sql, step.version, false),
                with_literals(&sql.delete, &[Literal::Integer(step.version)]),
            ),
        };
        let action = match plan.direction {
            Direction::Up => "apply",
            Direction::Down => "revert",
        };
        let _ = write!(
            out,
            "\n-- {action} {} {} ({}){}\n",
            step.version,
            step.name,
            step.file(),
            if outside {
                ", outside a transaction"
            } else {
                ""
            }
        );
        let script = terminated(&script);
        if outside {
            let _ = writeln!(out, "{in_flight};\n{script}\n{after};");
        } else {
            let _ = writeln!(out, "{};\n{script}\n{after};\n{};", sql.begin, sql.commit);
        }
    }
    Ok(out)
}

fn mark(sql: &HistorySql, version: i64, success: bool) -> String {
    with_literals(
        &sql.mark,
        &[
            Literal::Boolean(success),
            Literal::Integer(0),
            Literal::Integer(version),
        ],
    )
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
        let plan = self.plan_from(from, direction, target)?;
        let sql = HistorySql::new(dialect, &self.options().table);
        // Only `+N`, `head` or a version can have applied anything.
        let create_table = plan.from.is_none();
        render(&plan, &sql, create_table, None, |_| Ok(None))
    }
}

#[cfg(feature = "rusqlite")]
mod sync {
    use rusqlite::{Connection, OptionalExtension};

    use super::*;

    fn database_error(action: String) -> impl FnOnce(rusqlite::Error) -> Error {
        move |err| Error::Database {
            action,
            message: err.to_string(),
        }
    }

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
            let newest = rows.iter().map(|row| row.applied_at.as_str()).max();
            render(&plan, &sql, tables == 0, newest, |version| {
                conn.query_row(&sql.down_sql, [version], |row| row.get(0))
                    .optional()
                    .map(Option::flatten)
                    .map_err(database_error(format!(
                        "read the recorded down script of {version}"
                    )))
            })
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

    fn database_error(action: String) -> impl FnOnce(::sqlx::Error) -> Error {
        move |err| Error::Database {
            action,
            message: crate::sqlx::message(&err),
        }
    }

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
            let plan = crate::sqlx::plan(pool, set, direction, target, options).await?;
            let newest = crate::sqlx::history(pool, set, options)
                .await?
                .into_iter()
                .filter_map(|entry| entry.applied_at)
                .max();
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
            render(
                &plan,
                &sql,
                columns.is_empty(),
                newest.as_deref(),
                |version| Ok(recorded.get(&version).cloned().flatten()),
            )
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
