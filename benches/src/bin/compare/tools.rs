//! Each tool's one timed run, its template builds and the check of its
//! result. A timed run is what an application pays at start-up: open the
//! database (a rusqlite connection, or a one-connection sqlx pool) and
//! upgrade to head; closing happens after the clock stops.

use std::path::Path;
use std::time::{Duration, Instant};

use benches::fixtures::{self, Generated, Style};
use benches::sqlite;
use migrate::{Options, Target, TransactionMode};
use rusqlite::Connection;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// A contestant (or a baseline) of the comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tool {
    /// Plain rusqlite: each migration's SQL in its own transaction.
    RawPerTransaction,
    /// Plain rusqlite: every migration's SQL in one transaction.
    RawSingle,
    /// Plain rusqlite, each migration in its own transaction, the rollback
    /// journal kept between commits (`PERSIST`, where it was `DELETE`), as
    /// migrate keeps it: the like-for-like baseline of migrate per step.
    RawKept,
    /// Plain rusqlite opening the file and reading one row of `t1`: what
    /// every application pays on its first query (SQLite loads the schema).
    FloorRusqlite,
    /// The same through a one-connection sqlx pool.
    FloorSqlx,
    /// `migrate::run` (one transaction per step, the default).
    Migrate,
    /// migrate with `TransactionMode::Single`.
    MigrateSingle,
    /// `migrate::sqlx::run` on a sqlx SQLite pool.
    MigrateSqlx,
    /// refinery's `Runner::run`, one migration at a time.
    Refinery,
    /// refinery with `set_grouped(true)`.
    RefineryGrouped,
    /// sqlx's `Migrator::run`.
    SqlxMigrator,
    /// rusqlite_migration's `to_latest`.
    RusqliteMigration,
}

impl Tool {
    /// The migrators, in table order.
    pub const MIGRATORS: [Tool; 7] = [
        Tool::Migrate,
        Tool::MigrateSingle,
        Tool::MigrateSqlx,
        Tool::Refinery,
        Tool::RefineryGrouped,
        Tool::SqlxMigrator,
        Tool::RusqliteMigration,
    ];

    /// Its name in the tables.
    pub fn label(self) -> &'static str {
        match self {
            Tool::RawPerTransaction => "raw rusqlite, 1 tx per migration",
            Tool::RawSingle => "raw rusqlite, 1 tx for all",
            Tool::RawKept => "raw rusqlite, 1 tx per migration, journal kept",
            Tool::FloorRusqlite => "floor: rusqlite open + first table",
            Tool::FloorSqlx => "floor: sqlx pool + first table",
            Tool::Migrate => "migrate (per step)",
            Tool::MigrateSingle => "migrate (all in one)",
            Tool::MigrateSqlx => "migrate via sqlx pool (per step)",
            Tool::Refinery => "refinery",
            Tool::RefineryGrouped => "refinery (grouped)",
            Tool::SqlxMigrator => "sqlx Migrator",
            Tool::RusqliteMigration => "rusqlite_migration",
        }
    }

    /// True for the tools that open the file through a sqlx pool.
    pub fn uses_sqlx(self) -> bool {
        matches!(
            self,
            Tool::FloorSqlx | Tool::MigrateSqlx | Tool::SqlxMigrator
        )
    }

    /// The tool that builds this tool's starting databases: the variants
    /// of one tool leave the same history, and the floors read the raw
    /// baseline's database (the same N tables).
    pub fn template_builder(self) -> Tool {
        match self {
            Tool::FloorRusqlite | Tool::FloorSqlx | Tool::RawSingle | Tool::RawKept => {
                Tool::RawPerTransaction
            }
            Tool::MigrateSingle | Tool::MigrateSqlx => Tool::Migrate,
            Tool::RefineryGrouped => Tool::Refinery,
            other => other,
        }
    }
}

/// One set of N in every tool's form, loaded once (as each tool's embedding
/// would have it: migrate's and sqlx's checksums computed at load, as their
/// macros compute them while compiling; refinery re-hashes at every start,
/// as its macro's `runner()` does, so that part is inside its timed run).
pub struct Prepared {
    /// N.
    pub n: usize,
    generated: &'static [Generated],
    migrate: migrate::Migrations,
    refinery: Vec<(String, String)>,
    sqlx: sqlx::migrate::Migrator,
    rusqlite_migration: &'static [rusqlite_migration::M<'static>],
}

impl Prepared {
    /// Generates N migrations into `dir` in every form and loads them.
    pub fn new(n: usize, dir: &Path, runtime: &tokio::runtime::Runtime) -> Result<Prepared> {
        // Leaked once per N, as string literals of a program would be.
        let generated: &'static [Generated] = Vec::leak(fixtures::generate(n));
        let ours = dir.join(format!("migrate-{n}"));
        let refinery_dir = dir.join(format!("refinery-{n}"));
        let sqlx_dir = dir.join(format!("sqlx-{n}"));
        fixtures::write_dir(&refinery_dir, generated, Style::Refinery)?;
        fixtures::write_dir(&sqlx_dir, generated, Style::Sqlx)?;
        let refinery = generated
            .iter()
            .map(|m| {
                let file = Style::Refinery.file_name(m);
                let stem = file.trim_end_matches(".sql").to_owned();
                let sql = std::fs::read_to_string(refinery_dir.join(&file))?;
                Ok((stem, sql))
            })
            .collect::<std::io::Result<Vec<_>>>()?;
        let sqlx = runtime.block_on(sqlx::migrate::Migrator::new(sqlx_dir.as_path()))?;
        let rusqlite_migration = Vec::leak(
            generated
                .iter()
                .map(|m| rusqlite_migration::M::up(&m.sql))
                .collect(),
        );
        Ok(Prepared {
            n,
            generated,
            migrate: fixtures::load(&ours, generated)?,
            refinery,
            sqlx,
            rusqlite_migration,
        })
    }
}

/// How a run is timed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum How {
    /// A template build: fsync off, only the contents matter.
    Build,
    /// From opening the database to the tool's return.
    Timed,
    /// The database opened and its schema loaded (the floor's query run)
    /// before the clock starts: the tool's own time beyond the floor,
    /// measured alone rather than as a difference of two timings.
    Warm,
}

/// The floor's query: one row of `t1`, which makes SQLite load the schema.
const FLOOR: &str = "SELECT id FROM t1 LIMIT 1";

async fn pool(path: &Path, how: How, started: &mut Instant) -> Result<SqlitePool> {
    let mut options = SqliteConnectOptions::new().filename(path);
    if how == How::Build {
        options = options.synchronous(SqliteSynchronous::Off);
    }
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await?;
    if how == How::Warm {
        let _: i64 = sqlx::query_scalar(FLOOR).fetch_one(&pool).await?;
        *started = Instant::now();
    }
    Ok(pool)
}

fn open(path: &Path, how: How, started: &mut Instant) -> Result<Connection> {
    let conn = Connection::open(path)?;
    if how == How::Build {
        conn.pragma_update(None, "synchronous", "OFF")?;
    }
    if how == How::Warm {
        let _: i64 = conn.query_row(FLOOR, [], |row| row.get(0))?;
        *started = Instant::now();
    }
    Ok(conn)
}

/// refinery's embedded `runner()`, as its macro expands it: every script
/// copied into a `String`, every file name parsed, every script hashed.
fn refinery_runner(
    inputs: &[(String, String)],
    grouped: bool,
    upto: usize,
) -> Result<refinery::Runner> {
    let quoted: Vec<(&str, String)> = inputs
        .iter()
        .map(|(name, sql)| (name.as_str(), sql.clone()))
        .collect();
    let mut migrations = Vec::with_capacity(quoted.len());
    for (name, sql) in quoted {
        migrations.push(refinery::Migration::unapplied(name, &sql)?);
    }
    let runner = refinery::Runner::new(&migrations).set_grouped(grouped);
    Ok(if upto < inputs.len() {
        runner.set_target(refinery::Target::Version(i32::try_from(upto)?))
    } else {
        runner
    })
}

/// Runs `tool` on `path`, bringing the database from `from` to `upto`
/// migrations applied (floors only read). Returns the time from opening
/// the database to the tool's return; the connection or pool is closed
/// after that (see [`How`]).
pub fn run(
    tool: Tool,
    set: &Prepared,
    path: &Path,
    from: usize,
    upto: usize,
    how: How,
    runtime: &tokio::runtime::Runtime,
) -> Result<Duration> {
    let head = upto == set.n;
    let target = if head {
        Target::Head
    } else {
        Target::Version(i64::try_from(upto)?)
    };
    let mut started = Instant::now();
    match tool {
        Tool::RawPerTransaction | Tool::RawSingle | Tool::RawKept => {
            let mut conn = open(path, how, &mut started)?;
            let scripts = &set.generated[from..upto];
            let kept = tool == Tool::RawKept
                && conn.query_row("PRAGMA main.journal_mode", [], |row| {
                    row.get::<_, String>(0)
                })? == "delete";
            if kept {
                let _: String =
                    conn.query_row("PRAGMA main.journal_mode = PERSIST", [], |row| row.get(0))?;
            }
            if tool == Tool::RawSingle {
                let transaction = conn.transaction()?;
                for migration in scripts {
                    transaction.execute_batch(&migration.sql)?;
                }
                transaction.commit()?;
            } else {
                for migration in scripts {
                    let transaction = conn.transaction()?;
                    transaction.execute_batch(&migration.sql)?;
                    transaction.commit()?;
                }
            }
            if kept {
                let _: String =
                    conn.query_row("PRAGMA main.journal_mode = DELETE", [], |row| row.get(0))?;
            }
            let elapsed = started.elapsed();
            conn.close().map_err(|(_, err)| err)?;
            Ok(elapsed)
        }
        Tool::FloorRusqlite => {
            let conn = open(path, how, &mut started)?;
            let _: i64 = conn.query_row(FLOOR, [], |row| row.get(0))?;
            let elapsed = started.elapsed();
            conn.close().map_err(|(_, err)| err)?;
            Ok(elapsed)
        }
        Tool::Migrate | Tool::MigrateSingle => {
            let conn = open(path, how, &mut started)?;
            let mode = if tool == Tool::Migrate {
                TransactionMode::PerStep
            } else {
                TransactionMode::Single
            };
            let report = set
                .migrate
                .with_options(Options::default().transaction_mode(mode))
                .upgrade(&conn, target)?;
            let elapsed = started.elapsed();
            expect_steps(report.steps.len(), upto - from)?;
            conn.close().map_err(|(_, err)| err)?;
            Ok(elapsed)
        }
        Tool::Refinery | Tool::RefineryGrouped => {
            let mut conn = open(path, how, &mut started)?;
            let runner = refinery_runner(&set.refinery, tool == Tool::RefineryGrouped, upto)?;
            let report = runner.run(&mut conn)?;
            let elapsed = started.elapsed();
            expect_steps(report.applied_migrations().len(), upto - from)?;
            conn.close().map_err(|(_, err)| err)?;
            Ok(elapsed)
        }
        Tool::RusqliteMigration => {
            let mut conn = open(path, how, &mut started)?;
            let migrations = rusqlite_migration::Migrations::from_slice(set.rusqlite_migration);
            if head {
                migrations.to_latest(&mut conn)?;
            } else {
                migrations.to_version(&mut conn, upto)?;
            }
            let elapsed = started.elapsed();
            conn.close().map_err(|(_, err)| err)?;
            Ok(elapsed)
        }
        Tool::FloorSqlx | Tool::MigrateSqlx | Tool::SqlxMigrator => runtime.block_on(async {
            let pool = pool(path, how, &mut started).await?;
            match tool {
                Tool::FloorSqlx => {
                    let _: i64 = sqlx::query_scalar(FLOOR).fetch_one(&pool).await?;
                }
                Tool::MigrateSqlx => {
                    let report =
                        migrate::sqlx::upgrade(&pool, &set.migrate, target, &Options::default())
                            .await?;
                    expect_steps(report.steps.len(), upto - from)?;
                }
                _ if head => set.sqlx.run(&pool).await?,
                _ => set.sqlx.run_to(i64::try_from(upto)?, &pool).await?,
            }
            let elapsed = started.elapsed();
            pool.close().await;
            Ok(elapsed)
        }),
    }
}

fn expect_steps(ran: usize, expected: usize) -> Result<()> {
    if ran == expected {
        Ok(())
    } else {
        Err(format!("applied {ran} migrations, expected {expected}").into())
    }
}

/// Checks that the database at `path` holds `n` generated tables and, for
/// a migrator, `n` history entries in its own form.
pub fn verify(tool: Tool, path: &Path, n: usize) -> Result<()> {
    let conn = Connection::open(path)?;
    let expected = i64::try_from(n)?;
    let tables = sqlite::generated_tables(&conn)?;
    let history = match tool {
        Tool::Migrate | Tool::MigrateSingle | Tool::MigrateSqlx => {
            Some(sqlite::rows(&conn, "_migrate_history")?)
        }
        Tool::Refinery | Tool::RefineryGrouped => {
            Some(sqlite::rows(&conn, "refinery_schema_history")?)
        }
        Tool::SqlxMigrator => Some(sqlite::rows(&conn, "_sqlx_migrations")?),
        Tool::RusqliteMigration => {
            Some(conn.pragma_query_value(None, "user_version", |row| row.get(0))?)
        }
        Tool::RawPerTransaction
        | Tool::RawSingle
        | Tool::RawKept
        | Tool::FloorRusqlite
        | Tool::FloorSqlx => None,
    };
    if tables != expected || history.is_some_and(|rows| rows != expected) {
        return Err(format!(
            "{}: {tables} tables and {history:?} history entries, expected {n}",
            tool.label()
        )
        .into());
    }
    Ok(())
}
