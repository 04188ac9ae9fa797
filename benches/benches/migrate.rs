//! The criterion suite of migrate alone: `cargo bench -p benches`.
//!
//! - `planner/*`: the pure planner with all N applied (every checksum
//!   compared) and from empty.
//! - `noop/*`: a start with N applied: `run` on a warm connection, the same
//!   with the connection opened each time, and that open's floor (plain
//!   rusqlite opening the file and touching its first table).
//! - `apply/*`: N migrations from empty (N ≤ 1,000: see
//!   [`APPLY_ALL_UP_TO`]), one transaction per step and all in one; and
//!   the last 1 of N.
//! - `sqlx/*`: the same through sqlx's SQLite pool.
//! - `postgres/*`: no-op and apply-10 on PostgreSQL, when
//!   `MIGRATE_TEST_POSTGRES_URL` is set (a database of its own is created
//!   and dropped).
//!
//! Sets are generated at start into a temporary directory and loaded once
//! (as `embed_migrations!` would have, checksums included), outside every
//! timed loop. Files run in WAL mode with `synchronous = NORMAL`, the
//! setting SQLite recommends for applications: commits then cost no fsync,
//! so what is measured is migrate rather than the disk. The side-by-side
//! comparison (`--bin compare`) uses each tool's default durability instead.

use std::path::{Path, PathBuf};
use std::time::Duration;

use benches::fixtures::{self, Generated};
use benches::sqlite::{self, JournalMode};
use criterion::{BatchSize, BenchmarkId, Criterion, SamplingMode, criterion_group, criterion_main};
use migrate::plan::AppliedRow;
use migrate::{Direction, Migrations, Options, Target, TransactionMode};
use rusqlite::Connection;

/// A generated set of N, loaded, with template databases made on demand.
struct Set {
    n: usize,
    generated: Vec<Generated>,
    migrations: Migrations,
    dir: tempfile::TempDir,
}

impl Set {
    fn new(n: usize) -> Set {
        let dir = tempfile::Builder::new()
            .prefix("migrate-bench-")
            .tempdir()
            .expect("a temporary directory");
        let generated = fixtures::generate(n);
        let migrations =
            fixtures::load(&dir.path().join("migrations"), &generated).expect("the set loads");
        Set {
            n,
            generated,
            migrations,
            dir,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A database with the first `applied` migrations applied by migrate,
    /// checkpointed so that the main file alone can be copied. Made on
    /// first use (criterion runs only the benchmarks its filter selects);
    /// N applied is N-1 applied plus one step, since applying 10,000 costs
    /// SQLite minutes (every `ALTER TABLE` reloads the whole schema).
    fn template(&self, applied: usize) -> PathBuf {
        let path = self.path(&format!("template-{applied}.db"));
        if path.exists() {
            return path;
        }
        if applied == self.n && applied > 1 {
            sqlite::copy(&self.template(applied - 1), &path).expect("copy");
        } else {
            sqlite::fresh(&path, JournalMode::Wal).expect("a fresh file");
        }
        let conn = Connection::open(&path).expect("open");
        conn.pragma_update(None, "synchronous", "OFF")
            .expect("pragma");
        if applied > 0 {
            self.migrations
                .with_options(Options::default().transaction_mode(TransactionMode::Single))
                .upgrade(&conn, Target::Version(applied as i64))
                .expect("the template applies");
        }
        drop(conn);
        sqlite::checkpoint(&path).expect("checkpoint");
        path
    }

    /// A copy of a template at `name`, opened for the benchmark.
    fn open_copy(&self, template: &Path, name: &str) -> Connection {
        let path = self.path(name);
        sqlite::copy(template, &path).expect("copy");
        open(&path)
    }
}

fn open(path: &Path) -> Connection {
    let conn = Connection::open(path).expect("open");
    conn.pragma_update(None, "synchronous", "NORMAL")
        .expect("pragma");
    conn
}

/// Criterion's minimum of 10 samples, one iteration each, for cases that
/// take seconds.
fn heavy(group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>, n: usize) {
    if n >= 1_000 {
        group.sample_size(10).sampling_mode(SamplingMode::Flat);
    } else {
        group.sample_size(30).sampling_mode(SamplingMode::Auto);
    }
}

fn applied_rows(set: &Set) -> Vec<AppliedRow> {
    set.migrations
        .iter()
        .map(|m| AppliedRow {
            version: m.version(),
            name: m.name().to_owned(),
            checksum: m.checksum().to_owned(),
            applied_at: format!("2026-01-01T00:00:00.{:06}Z", m.version()),
            execution_ms: 1,
            success: true,
            has_down_sql: false,
        })
        .collect()
}

fn planner(c: &mut Criterion, sets: &[Set]) {
    let mut group = c.benchmark_group("planner");
    let options = Options::default();
    for set in sets {
        let rows = applied_rows(set);
        group.bench_with_input(BenchmarkId::new("all_applied", set.n), &rows, |b, rows| {
            b.iter(|| {
                migrate::plan::plan(
                    set.migrations.as_slice(),
                    rows,
                    Direction::Up,
                    Target::Head,
                    &options,
                )
                .expect("plans")
            })
        });
        group.bench_with_input(BenchmarkId::new("from_empty", set.n), &(), |b, ()| {
            b.iter(|| {
                migrate::plan::plan(
                    set.migrations.as_slice(),
                    &[],
                    Direction::Up,
                    Target::Head,
                    &options,
                )
                .expect("plans")
            })
        });
    }
    group.finish();
}

fn noop(c: &mut Criterion, sets: &[Set]) {
    let mut group = c.benchmark_group("noop");
    for set in sets {
        let path = set.path("noop.db");
        let prepare = || {
            if !path.exists() {
                sqlite::copy(&set.template(set.n), &path).expect("copy");
            }
        };
        group.bench_with_input(BenchmarkId::new("run_warm", set.n), &(), |b, ()| {
            prepare();
            let warm = open(&path);
            assert!(
                migrate::run(&warm, &set.migrations)
                    .expect("runs")
                    .steps
                    .is_empty()
            );
            b.iter(|| migrate::run(&warm, &set.migrations).expect("runs"))
        });
        group.bench_with_input(BenchmarkId::new("open_and_run", set.n), &(), |b, ()| {
            prepare();
            b.iter(|| {
                let conn = Connection::open(&path).expect("open");
                let report = migrate::run(&conn, &set.migrations).expect("runs");
                (conn, report)
            })
        });
        group.bench_with_input(
            BenchmarkId::new("floor_open_and_touch", set.n),
            &(),
            |b, ()| {
                prepare();
                b.iter(|| {
                    let conn = Connection::open(&path).expect("open");
                    let id: i64 = conn
                        .query_row("SELECT id FROM t1 LIMIT 1", [], |row| row.get(0))
                        .expect("t1");
                    (conn, id)
                })
            },
        );
    }
    group.finish();
}

/// Applying all of N from empty is left out at 10,000: SQLite alone takes
/// minutes there (each of the 1,000 `ALTER TABLE`s reloads a schema of
/// 20,000 objects), which criterion's ten samples would multiply.
const APPLY_ALL_UP_TO: usize = 1_000;

fn apply(c: &mut Criterion, sets: &[Set]) {
    let mut group = c.benchmark_group("apply");
    for set in sets {
        heavy(&mut group, set.n);
        for (label, mode) in [
            ("per_step", TransactionMode::PerStep),
            ("single", TransactionMode::Single),
        ] {
            if set.n > APPLY_ALL_UP_TO {
                continue;
            }
            let migrator = set
                .migrations
                .with_options(Options::default().transaction_mode(mode));
            group.bench_with_input(BenchmarkId::new(label, set.n), &(), |b, ()| {
                let empty = set.template(0);
                b.iter_batched(
                    || set.open_copy(&empty, "apply.db"),
                    |conn| {
                        let report = migrator.upgrade(&conn, Target::Head).expect("applies");
                        assert_eq!(report.steps.len(), set.n);
                        conn
                    },
                    BatchSize::PerIteration,
                )
            });
        }
        group.bench_with_input(BenchmarkId::new("last_1_of", set.n), &(), |b, ()| {
            let before_last = set.template(set.n - 1);
            b.iter_batched(
                || set.open_copy(&before_last, "last.db"),
                |conn| {
                    let report = migrate::run(&conn, &set.migrations).expect("applies");
                    assert_eq!(report.steps.len(), 1);
                    conn
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

fn sqlx_pool(runtime: &tokio::runtime::Runtime, path: &Path) -> sqlx::SqlitePool {
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(path)
        .synchronous(sqlx::sqlite::SqliteSynchronous::Normal);
    runtime
        .block_on(
            sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(options),
        )
        .expect("a pool")
}

fn through_sqlx(c: &mut Criterion, sets: &[Set]) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let mut group = c.benchmark_group("sqlx");
    for set in sets {
        heavy(&mut group, set.n);
        group.bench_with_input(BenchmarkId::new("noop", set.n), &(), |b, ()| {
            let path = set.path("sqlx-noop.db");
            if !path.exists() {
                sqlite::copy(&set.template(set.n), &path).expect("copy");
            }
            let pool = sqlx_pool(&runtime, &path);
            b.iter(|| {
                runtime
                    .block_on(migrate::sqlx::run(&pool, &set.migrations))
                    .expect("runs")
            });
            runtime.block_on(pool.close());
        });
        for label in ["apply", "last_1_of"] {
            if label == "apply" && set.n > APPLY_ALL_UP_TO {
                continue;
            }
            let (from, expected) = if label == "apply" {
                (0, set.n)
            } else {
                (set.n - 1, 1)
            };
            let path = set.path("sqlx-apply.db");
            group.bench_with_input(BenchmarkId::new(label, set.n), &(), |b, ()| {
                let template = set.template(from);
                b.iter_batched(
                    || {
                        sqlite::copy(&template, &path).expect("copy");
                        sqlx_pool(&runtime, &path)
                    },
                    |pool| {
                        let report = runtime
                            .block_on(migrate::sqlx::run(&pool, &set.migrations))
                            .expect("applies");
                        assert_eq!(report.steps.len(), expected);
                        runtime.block_on(pool.close());
                    },
                    BatchSize::PerIteration,
                )
            });
        }
    }
    group.finish();
}

/// A database of its own on the server named by `MIGRATE_TEST_POSTGRES_URL`,
/// dropped at the end.
struct PgDatabase {
    admin_url: String,
    name: String,
    options: sqlx::postgres::PgConnectOptions,
}

impl PgDatabase {
    async fn create(admin_url: String) -> Result<PgDatabase, sqlx::Error> {
        use sqlx::Connection as _;
        let name = format!("migrate_bench_{}", std::process::id());
        let mut admin = sqlx::PgConnection::connect(&admin_url).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name}"
        )))
        .execute(&mut admin)
        .await?;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await?;
        let options: sqlx::postgres::PgConnectOptions = admin_url.parse()?;
        Ok(PgDatabase {
            options: options.database(&name),
            admin_url,
            name,
        })
    }

    async fn drop_database(&self) -> Result<(), sqlx::Error> {
        use sqlx::Connection as _;
        let mut admin = sqlx::PgConnection::connect(&self.admin_url).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        )))
        .execute(&mut admin)
        .await?;
        Ok(())
    }
}

async fn reset_schema(pool: &sqlx::PgPool) {
    sqlx::query("DROP SCHEMA public CASCADE")
        .execute(pool)
        .await
        .expect("drop schema");
    sqlx::query("CREATE SCHEMA public")
        .execute(pool)
        .await
        .expect("create schema");
}

fn postgres(c: &mut Criterion, sets: &[Set]) {
    let Some(admin_url) = std::env::var("MIGRATE_TEST_POSTGRES_URL")
        .ok()
        .filter(|url| !url.is_empty())
    else {
        println!("postgres: skipped, MIGRATE_TEST_POSTGRES_URL is not set");
        return;
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let database = match runtime.block_on(PgDatabase::create(admin_url)) {
        Ok(database) => database,
        Err(err) => {
            println!("postgres: skipped, cannot create a database: {err}");
            return;
        }
    };
    let pool = runtime
        .block_on(
            sqlx::postgres::PgPoolOptions::new()
                .max_connections(1)
                .connect_with(database.options.clone()),
        )
        .expect("a pool");
    let mut group = c.benchmark_group("postgres");
    runtime.block_on(reset_schema(&pool));
    // The sets are prefixes of one another: each no-op case first brings
    // the database up to its N (in one transaction), in ascending N.
    let single = Options::default().transaction_mode(TransactionMode::Single);
    for set in sets.iter().filter(|set| set.n <= APPLY_ALL_UP_TO) {
        group.bench_with_input(BenchmarkId::new("noop", set.n), &(), |b, ()| {
            runtime.block_on(async {
                migrate::sqlx::upgrade(&pool, &set.migrations, Target::Head, &single)
                    .await
                    .expect("applies");
            });
            b.iter(|| {
                runtime
                    .block_on(migrate::sqlx::run(&pool, &set.migrations))
                    .expect("runs")
            })
        });
    }
    if let Some(ten) = sets.iter().find(|set| set.n == 10) {
        group.sample_size(30);
        group.bench_function("apply_10", |b| {
            b.iter_batched(
                || runtime.block_on(reset_schema(&pool)),
                |()| {
                    let report = runtime
                        .block_on(migrate::sqlx::run(&pool, &ten.migrations))
                        .expect("applies");
                    assert_eq!(report.steps.len(), 10);
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
    runtime.block_on(pool.close());
    if let Err(err) = runtime.block_on(database.drop_database()) {
        println!("postgres: could not drop {}: {err}", database.name);
    }
}

fn suite(c: &mut Criterion) {
    let sets: Vec<Set> = fixtures::SIZES.iter().map(|&n| Set::new(n)).collect();
    assert!(sets.iter().all(|set| set.generated.len() == set.n));
    planner(c, &sets);
    noop(c, &sets);
    apply(c, &sets);
    through_sqlx(c, &sets);
    postgres(c, &sets);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = suite
}
criterion_main!(benches);
