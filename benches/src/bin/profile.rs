//! One migrate scenario in a loop, for a profiler: where the time of a
//! goal the tables show missed goes.
//!
//! ```text
//! cargo build -p benches --release --bin profile
//! valgrind --tool=callgrind target/release/profile noop 1000 50
//! perf record -g target/release/profile apply 1000 3
//! ```
//!
//! Scenarios: `noop` (open the file and `migrate::run` with N applied);
//! `floor` (open it and read `t1`: the part of `noop` that is SQLite's);
//! `noop-sqlx` (the same through a sqlx pool); `apply` and `apply-single`
//! (N from empty); `apply-raw` and `apply-raw-single` (the same SQL through
//! plain rusqlite, one transaction per migration or one for all); `ab-step`
//! and `ab-single` (raw and migrate in turn, ITERATIONS rounds, printing the
//! median ratio: a quick A/B of a change); `ab-row` (raw, and raw writing
//! one history-like row in each transaction: what recording a step
//! atomically costs any tool).
//! Durability is off, so that the profile shows CPU rather than fsync,
//! unless `MIGRATE_PROFILE_SYNC` names a `synchronous` setting (`FULL`);
//! `MIGRATE_PROFILE_JOURNAL=WAL` runs the `ab-` scenarios in WAL mode.
//!
//! And the ways of reading the history that the README compares, each on a
//! warm connection (schema loaded) with N applied: `read-owned` (the
//! runner's query today: seven columns into owned rows), `read-borrowed`
//! (version, checksum and success only, compared in place with the known
//! set), `sqlx-rows` (the seven columns through a sqlx pool, as the async
//! runner reads them) and `sqlx-concat` (the same facts as one
//! `group_concat` row through the pool).

use std::time::Instant;

use benches::fixtures;
use benches::sqlite::{self, JournalMode};
use migrate::{Options, Target, TransactionMode};
use rusqlite::Connection;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// A table like the history table, for `ab-row`.
const HISTORY: &str = "CREATE TABLE h (version BIGINT PRIMARY KEY, name TEXT NOT NULL, \
                       checksum TEXT NOT NULL, down_sql TEXT, applied_at TEXT NOT NULL, \
                       execution_ms BIGINT NOT NULL, success BOOLEAN NOT NULL) WITHOUT ROWID";

/// One row of it, as the runner writes one.
const INSERT: &str = "INSERT INTO h VALUES (?1, ?2, \
                      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', \
                      NULL, '2026-11-30T05:00:00.000000Z', 3, 1)";

/// The runner's history query today (`HistorySql::read`).
const OWNED: &str = "SELECT version, name, checksum, applied_at, execution_ms, success, \
                     down_sql IS NOT NULL FROM \"_migrate_history\" ORDER BY version";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: profile noop|floor|noop-sqlx|apply|apply-single|apply-raw|apply-raw-single|ab-step|ab-single|ab-row|ladder|read-owned|read-borrowed|sqlx-rows|sqlx-concat N ITERATIONS";
    let scenario = args.first().ok_or(usage)?.clone();
    let n: usize = args.get(1).ok_or(usage)?.parse()?;
    let iterations: usize = args.get(2).ok_or(usage)?.parse()?;

    let sync = std::env::var("MIGRATE_PROFILE_SYNC").unwrap_or_else(|_| "OFF".to_owned());
    let journal = match std::env::var("MIGRATE_PROFILE_JOURNAL").as_deref() {
        Ok("WAL") => JournalMode::Wal,
        _ => JournalMode::Delete,
    };
    let work = tempfile::Builder::new()
        .prefix("migrate-profile-")
        .tempdir()?;
    let generated = fixtures::generate(n);
    let set = fixtures::load(&work.path().join("m"), &generated)?;
    let path = work.path().join("app.db");
    let single = set.with_options(Options::default().transaction_mode(TransactionMode::Single));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;

    if !scenario.starts_with("apply") {
        sqlite::fresh(&path, JournalMode::Delete)?;
        let conn = Connection::open(&path)?;
        conn.pragma_update(None, "synchronous", "OFF")?;
        single.upgrade(&conn, Target::Head)?;
    }
    let warm = Connection::open(&path)?;
    let pool = runtime.block_on(
        sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(sqlx::sqlite::SqliteConnectOptions::new().filename(&path)),
    )?;
    let known: Vec<&str> = set.iter().map(|m| m.checksum()).collect();
    if scenario == "ladder" {
        return ladder(&path, journal, &sync, &generated, &set, iterations);
    }
    if let Some(mode) = scenario.strip_prefix("ab-") {
        // Raw rusqlite and migrate in turn, fsync as `MIGRATE_PROFILE_SYNC`
        // says: the median of the per-round ratios.
        let single = mode == "single";
        // `ab-row`: raw against raw that also inserts one history-like row
        // per transaction, the floor of any tool that records its steps
        // atomically.
        let row = mode == "row";
        let mut ratios = Vec::new();
        for _ in 0..iterations {
            let mut times = [0.0; 2];
            let order = if ratios.len() % 2 == 0 {
                [(0, true), (1, false)]
            } else {
                [(1, false), (0, true)]
            };
            for (at, raw) in order {
                sqlite::fresh(&path, journal)?;
                let mut conn = Connection::open(&path)?;
                conn.pragma_update(None, "synchronous", &sync)?;
                if row {
                    conn.execute_batch(HISTORY)?;
                }
                let started = Instant::now();
                if row && !raw {
                    for migration in &generated {
                        let transaction = conn.transaction()?;
                        transaction.execute_batch(&migration.sql)?;
                        transaction
                            .prepare_cached(INSERT)?
                            .execute(rusqlite::params![migration.version, migration.name])?;
                        transaction.commit()?;
                    }
                } else if raw {
                    if single {
                        let transaction = conn.transaction()?;
                        for migration in &generated {
                            transaction.execute_batch(&migration.sql)?;
                        }
                        transaction.commit()?;
                    } else {
                        for migration in &generated {
                            let transaction = conn.transaction()?;
                            transaction.execute_batch(&migration.sql)?;
                            transaction.commit()?;
                        }
                    }
                } else {
                    let mode = if single {
                        TransactionMode::Single
                    } else {
                        TransactionMode::PerStep
                    };
                    set.with_options(Options::default().transaction_mode(mode))
                        .upgrade(&conn, Target::Head)?;
                }
                times[at] = started.elapsed().as_secs_f64();
            }
            if std::env::var_os("MIGRATE_PROFILE_VERBOSE").is_some() {
                eprintln!(
                    "raw {:.1} ms, migrate {:.1} ms",
                    times[0] * 1e3,
                    times[1] * 1e3
                );
            }
            ratios.push(times[1] / times[0]);
        }
        ratios.sort_by(f64::total_cmp);
        eprintln!(
            "{scenario} N={n}: migrate / raw, median of {iterations} rounds: {:.3} (p25 {:.3}, p75 {:.3})",
            ratios[ratios.len() / 2],
            ratios[ratios.len() / 4],
            ratios[ratios.len() * 3 / 4]
        );
        return Ok(());
    }
    let started = Instant::now();
    for _ in 0..iterations {
        match scenario.as_str() {
            "noop" => {
                let conn = Connection::open(&path)?;
                assert!(migrate::run(&conn, &set)?.steps.is_empty());
            }
            "floor" => {
                let conn = Connection::open(&path)?;
                let _: i64 = conn.query_row("SELECT id FROM t1 LIMIT 1", [], |row| row.get(0))?;
            }
            "noop-sqlx" => runtime.block_on(async {
                let options = sqlx::sqlite::SqliteConnectOptions::new().filename(&path);
                let pool = sqlx::sqlite::SqlitePoolOptions::new()
                    .max_connections(1)
                    .connect_with(options)
                    .await?;
                assert!(migrate::sqlx::run(&pool, &set).await?.steps.is_empty());
                pool.close().await;
                Ok::<_, Box<dyn std::error::Error>>(())
            })?,
            "apply-raw" | "apply-raw-single" => {
                sqlite::fresh(&path, JournalMode::Delete)?;
                let mut conn = Connection::open(&path)?;
                conn.pragma_update(None, "synchronous", &sync)?;
                if scenario == "apply-raw" {
                    for migration in &generated {
                        let transaction = conn.transaction()?;
                        transaction.execute_batch(&migration.sql)?;
                        transaction.commit()?;
                    }
                } else {
                    let transaction = conn.transaction()?;
                    for migration in &generated {
                        transaction.execute_batch(&migration.sql)?;
                    }
                    transaction.commit()?;
                }
            }
            "apply" | "apply-single" => {
                sqlite::fresh(&path, JournalMode::Delete)?;
                let conn = Connection::open(&path)?;
                conn.pragma_update(None, "synchronous", &sync)?;
                let migrator = if scenario == "apply" {
                    set.with_options(Options::default())
                } else {
                    single.clone()
                };
                assert_eq!(migrator.upgrade(&conn, Target::Head)?.steps.len(), n);
            }
            "read-owned" => {
                let mut statement = warm.prepare_cached(OWNED)?;
                let rows = statement
                    .query_map([], |row| {
                        Ok((
                            row.get::<_, i64>(0)?,
                            row.get::<_, String>(1)?,
                            row.get::<_, String>(2)?,
                            row.get::<_, String>(3)?,
                            row.get::<_, i64>(4)?,
                            row.get::<_, bool>(5)?,
                            row.get::<_, bool>(6)?,
                        ))
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                assert_eq!(rows.len(), n);
            }
            "read-borrowed" => {
                let mut statement = warm.prepare_cached(
                    "SELECT version, checksum, success FROM \"_migrate_history\"",
                )?;
                let mut rows = statement.query([])?;
                let mut matching = 0;
                while let Some(row) = rows.next()? {
                    let version: i64 = row.get(0)?;
                    let checksum = row.get_ref(1)?.as_str()?;
                    let success: bool = row.get(2)?;
                    let known = usize::try_from(version - 1)
                        .ok()
                        .and_then(|at| known.get(at));
                    if success && known == Some(&checksum) {
                        matching += 1;
                    }
                }
                assert_eq!(matching, n);
            }
            "sqlx-rows" => runtime.block_on(async {
                let rows = sqlx::query(OWNED).fetch_all(&pool).await?;
                assert_eq!(rows.len(), n);
                Ok::<_, Box<dyn std::error::Error>>(())
            })?,
            "sqlx-concat" => runtime.block_on(async {
                let all: String = sqlx::query_scalar(
                    "SELECT group_concat(version || ' ' || checksum || ' ' || success, ',') \
                     FROM \"_migrate_history\"",
                )
                .fetch_one(&pool)
                .await?;
                assert_eq!(all.split(',').count(), n);
                Ok::<_, Box<dyn std::error::Error>>(())
            })?,
            _ => return Err(usage.into()),
        }
    }
    drop(warm);
    runtime.block_on(pool.close());
    eprintln!(
        "{scenario} N={n}: {:?} per iteration",
        started.elapsed() / u32::try_from(iterations.max(1))?
    );
    Ok(())
}

/// The arms of `ladder`, each one thing more than the one before.
const LADDER: [&str; 5] = [
    "raw",
    "raw, journal kept",
    "+ history row",
    "+ counter trigger",
    "migrate per step",
];

/// `ladder`: raw rusqlite one transaction per migration, then the same
/// with each thing a runner adds, one at a time, and migrate itself, in
/// turn (the order rotated each round): the median of each arm's per-round
/// ratio to raw, so the cost of each addition shows on its own.
fn ladder(
    path: &std::path::Path,
    journal: JournalMode,
    sync: &str,
    generated: &[fixtures::Generated],
    set: &migrate::Migrations,
    iterations: usize,
) -> Result<()> {
    const TRIGGER: &str = "CREATE TABLE s (id INTEGER PRIMARY KEY, digest TEXT NOT NULL, \
                           changes BIGINT NOT NULL, recorded BIGINT NOT NULL); \
                           INSERT INTO s VALUES (1, '', 0, -1); \
                           CREATE TRIGGER s_insert AFTER INSERT ON h \
                           BEGIN UPDATE s SET changes = changes + 1 WHERE id = 1; END";
    // `MIGRATE_PROFILE_ARMS=K`: only the first K arms (more rounds in the
    // same time, for a close A/B of two).
    let arms = std::env::var("MIGRATE_PROFILE_ARMS")
        .ok()
        .and_then(|arms| arms.parse().ok())
        .unwrap_or(LADDER.len())
        .clamp(2, LADDER.len());
    let mut ratios = vec![Vec::new(); arms];
    for round in 0..iterations {
        let mut times = [0.0; LADDER.len()];
        for offset in 0..arms {
            let arm = (round + offset) % arms;
            sqlite::fresh(path, journal)?;
            let mut conn = Connection::open(path)?;
            conn.pragma_update(None, "synchronous", sync)?;
            if (2..4).contains(&arm) {
                conn.execute_batch(HISTORY)?;
            }
            if arm == 3 {
                conn.execute_batch(TRIGGER)?;
            }
            let started = Instant::now();
            if arm == 4 {
                set.with_options(Options::default().transaction_mode(TransactionMode::PerStep))
                    .upgrade(&conn, Target::Head)?;
            } else {
                for (at, migration) in generated.iter().enumerate() {
                    if at == 1 && arm >= 1 && journal == JournalMode::Delete {
                        conn.pragma_update(None, "journal_mode", "PERSIST")?;
                    }
                    let transaction = conn.transaction()?;
                    transaction.execute_batch(&migration.sql)?;
                    if arm >= 2 {
                        transaction
                            .prepare_cached(INSERT)?
                            .execute(rusqlite::params![migration.version, migration.name])?;
                    }
                    transaction.commit()?;
                }
                if arm >= 1 && journal == JournalMode::Delete {
                    conn.pragma_update(None, "journal_mode", "DELETE")?;
                }
            }
            times[arm] = started.elapsed().as_secs_f64();
        }
        if std::env::var_os("MIGRATE_PROFILE_VERBOSE").is_some() {
            let line: Vec<String> = times.iter().map(|t| format!("{:.0}", t * 1e3)).collect();
            eprintln!("round {round}: {} ms", line.join(" "));
        }
        for (arm, time) in times.iter().take(arms).enumerate() {
            ratios[arm].push(time / times[0]);
        }
    }
    for (arm, mut ratios) in ratios.into_iter().enumerate() {
        ratios.sort_by(f64::total_cmp);
        eprintln!(
            "{:<20} × raw: median {:.3} (p25 {:.3}, p75 {:.3})",
            LADDER[arm],
            ratios[ratios.len() / 2],
            ratios[ratios.len() / 4],
            ratios[ratios.len() * 3 / 4]
        );
    }
    Ok(())
}
