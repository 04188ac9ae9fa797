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

use std::collections::HashMap;

use crate::dialect::{COLUMNS, Dialect, HistorySql};
use crate::plan::{self, Action, AppliedRow, Plan};
use crate::report::Direction;
use crate::{Error, Migration, Migrator, Options, Target};

mod printer;

use printer::{Seen, program, render};

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
    /// assert!(sql.contains("CREATE TABLE t (id INT);\nINSERT INTO \"_migrate_history\""));
    /// // With the summary beside the table, as a run keeps it.
    /// assert!(sql.contains("UPDATE \"_migrate_history_summary\" SET digest = CASE id WHEN 1 THEN '1:"));
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
        let columns: Vec<String> = if plan.from.is_some() {
            COLUMNS.split(", ").map(str::to_owned).collect()
        } else {
            Vec::new()
        };
        let recorded = HashMap::new();
        let seen = Seen {
            columns,
            rows: &rows,
            recorded: &recorded,
            changes: None,
        };
        self.sql_text(&plan, target, &sql, seen)
    }

    /// The SQL text of `plan`: the execution stage's program for it,
    /// written out by the printer.
    fn sql_text(
        &self,
        plan: &Plan<'_>,
        target: Target,
        sql: &HistorySql,
        seen: Seen<'_>,
    ) -> Result<String, Error> {
        let blocks = program(plan, target, self, sql, seen)?;
        Ok(render(plan, &blocks))
    }
}

#[cfg(feature = "rusqlite")]
mod sync {
    use rusqlite::{Connection, OptionalExtension};

    use super::*;

    use crate::rusqlite::database_error;

    #[cfg_attr(docsrs, doc(cfg(feature = "rusqlite")))]
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
        ///     "BEGIN IMMEDIATE;\nDROP TABLE t;\nDELETE FROM \"_migrate_history\" WHERE version = 1;\n\
        ///      UPDATE \"_migrate_history_summary\" SET digest = CASE id WHEN 1 THEN \
        ///      '0:00000000000000000000000000000000' ELSE digest END, recorded = CASE id WHEN 1 \
        ///      THEN changes ELSE (SELECT schema_version FROM pragma_schema_version) END \
        ///      WHERE id = 1 AND changes = 1 OR id = 2;\nCOMMIT;\n"
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
            let columns = crate::rusqlite::columns(conn, &sql).map_err(database_error(format!(
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
            let changes = crate::rusqlite::read_changes(conn, &sql);
            let seen = Seen {
                columns,
                rows: &rows,
                recorded: &recorded,
                changes,
            };
            self.sql_text(&plan, target, &sql, seen)
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
        /// assert!(sql.contains("CREATE TABLE t (id INT);\nINSERT INTO"));
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
            let columns: Vec<String> =
                DB::texts(&mut conn, &sql.columns, &[Param::Text(&sql.bare)])
                    .await
                    .map_err(database_error(format!(
                        "look for the history table {}",
                        sql.table
                    )))?
                    .into_iter()
                    .flatten()
                    .collect();
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
            let changes = crate::sqlx::read_changes::<DB>(&mut conn, &sql).await;
            let seen = Seen {
                columns,
                rows: &rows,
                recorded: &recorded,
                changes,
            };
            self.sql_text(&plan, target, &sql, seen)
        }
    }
}
