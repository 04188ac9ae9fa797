//! The tenant upgrade (issues 5 and 14): 1,000 SQLite files × 20
//! migrations through `migrate::tenants::upgrade_sqlite_files`, as files per
//! second for 1, 2 and 4 jobs, side by side in one run with what the disk
//! allows: the `sqlite3` shell applying the same 20 scripts to each file in
//! one transaction, `jobs` files at a time, and raw rusqlite doing the same
//! in-process. Then the same files again with nothing to do (the start-up
//! check of every tenant), and an upgrade of files already at version 10
//! with and without a backup of each.
//!
//! ```text
//! cargo run -p benches --release --bin tenants              # prints, rewrites benches/README.md
//! cargo run -p benches --release --bin tenants -- --quick   # 100 files, README untouched
//! ```
//!
//! Each round runs every way and job count once (order rotated per round;
//! one transaction per step only at 4 jobs, being by far the slowest)
//! on fresh paths (the files created by the call, default journal and
//! durability), checks that every outcome applied the steps it should and
//! that every file holds 20 tables, and reports the median. The commits per
//! tenant are read from each file's header (its change counter, which every
//! write transaction in rollback-journal mode bumps once).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use benches::fixtures;
use benches::{report, stats};
use migrate::{Migrations, Options, Target};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

const JOBS: [usize; 3] = [1, 2, 4];
const MIGRATIONS: usize = 20;

fn tenant_paths(dir: &Path, files: usize) -> Vec<PathBuf> {
    (0..files)
        .map(|n| dir.join(format!("tenant-{n:04}.db")))
        .collect()
}

/// One call over every file; checks each outcome applied `expected` steps.
fn upgrade_all(
    paths: &[PathBuf],
    set: &Migrations,
    options: &Options,
    jobs: usize,
    expected: usize,
) -> Result<Duration> {
    let started = Instant::now();
    let outcomes = migrate::tenants::upgrade_sqlite_files(
        paths.iter().cloned(),
        set,
        Target::Head,
        options,
        jobs,
        false,
    );
    let elapsed = started.elapsed();
    if outcomes.len() != paths.len() {
        return Err(format!("{} outcomes for {} files", outcomes.len(), paths.len()).into());
    }
    for outcome in outcomes {
        let report = outcome
            .result
            .map_err(|err| format!("{}: {err}", outcome.database))?;
        if report.steps.len() != expected {
            return Err(format!(
                "{}: {} steps, expected {expected}",
                outcome.database,
                report.steps.len()
            )
            .into());
        }
    }
    Ok(elapsed)
}

fn verify(paths: &[PathBuf]) -> Result<()> {
    for path in paths {
        let conn = rusqlite::Connection::open(path)?;
        let tables = benches::sqlite::generated_tables(&conn)?;
        if tables != MIGRATIONS as i64 {
            return Err(format!("{}: {tables} tables", path.display()).into());
        }
    }
    Ok(())
}

/// The file change counter in a SQLite file's header: one per committed
/// write transaction (rollback-journal mode).
fn commits(path: &Path) -> Result<u32> {
    let mut header = [0u8; 28];
    std::io::Read::read_exact(&mut std::fs::File::open(path)?, &mut header)?;
    Ok(u32::from_be_bytes([
        header[24], header[25], header[26], header[27],
    ]))
}

/// Runs `each` on every path, `jobs` threads taking the next path.
fn in_parallel(
    paths: &[PathBuf],
    jobs: usize,
    each: impl Fn(&Path) -> Result<()> + Sync,
) -> Result<Duration> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let started = Instant::now();
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..jobs)
            .map(|_| {
                scope.spawn(|| -> std::result::Result<(), String> {
                    loop {
                        let at = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(path) = paths.get(at) else {
                            return Ok(());
                        };
                        each(path).map_err(|err| format!("{}: {err}", path.display()))?;
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .try_for_each(|worker| worker.join().map_err(|_| "a worker panicked".to_owned())?)
    })?;
    Ok(started.elapsed())
}

/// Every script of the set in one transaction: what the `sqlite3` shell
/// and raw rusqlite run on each file.
fn one_transaction(generated: &[fixtures::Generated]) -> String {
    let mut script = String::from("BEGIN;\n");
    for migration in generated {
        script.push_str(&migration.sql);
        script.push_str(";\n");
    }
    script.push_str("COMMIT;\n");
    script
}

/// The `sqlite3` shell on each file, the script on its stdin.
fn sqlite3_shell(paths: &[PathBuf], script: &str, jobs: usize) -> Result<Duration> {
    in_parallel(paths, jobs, |path| {
        let mut child = std::process::Command::new("sqlite3")
            .arg(path)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()?;
        std::io::Write::write_all(
            &mut child.stdin.take().ok_or("no stdin")?,
            script.as_bytes(),
        )?;
        let status = child.wait()?;
        if !status.success() {
            return Err(format!("sqlite3 exited with {status}").into());
        }
        Ok(())
    })
}

/// Raw rusqlite: open, the script in one transaction, close.
fn raw_rusqlite(paths: &[PathBuf], script: &str, jobs: usize) -> Result<Duration> {
    in_parallel(paths, jobs, |path| {
        rusqlite::Connection::open(path)?.execute_batch(script)?;
        Ok(())
    })
}

/// How a fleet is upgraded.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Way {
    /// `upgrade_sqlite_files` with default options: one transaction per
    /// file where every step allows it.
    Migrate,
    /// The same with `TransactionMode::PerStep`.
    MigratePerStep,
    /// The `sqlite3` shell, one transaction per file.
    Sqlite3,
    /// Raw rusqlite, one transaction per file.
    Raw,
}

impl Way {
    const ALL: [Way; 4] = [Way::Migrate, Way::MigratePerStep, Way::Sqlite3, Way::Raw];

    fn label(self) -> &'static str {
        match self {
            Way::Migrate => "migrate (`upgrade_sqlite_files`, default: one transaction per file)",
            Way::MigratePerStep => "migrate, `TransactionMode::PerStep` (one per step)",
            Way::Sqlite3 => "`sqlite3` shell, the 20 scripts in one transaction per file",
            Way::Raw => "raw rusqlite, the 20 scripts in one transaction per file",
        }
    }
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let (files, rounds) = if quick { (100, 1) } else { (1_000, 3) };
    let run = report::Run::start();

    let work = tempfile::Builder::new()
        .prefix("migrate-tenants-")
        .tempdir()?;
    let generated = fixtures::generate(MIGRATIONS);
    let set = fixtures::load(&work.path().join("migrations"), &generated)?;
    let half = fixtures::load(&work.path().join("half"), &generated[..MIGRATIONS / 2])?;
    let script = one_transaction(&generated);
    let per_step = Options::default().transaction_mode(migrate::TransactionMode::PerStep);
    let backing_up = Options::default().backup(migrate::Backup::Beside);

    // (way, jobs) → upgrade times; jobs → no-op times; (backup, jobs) →
    // times of an upgrade from version 10; way → commits per file.
    let mut upgrade: std::collections::BTreeMap<(usize, usize), Vec<Duration>> = Default::default();
    let mut noop = vec![Vec::new(); JOBS.len()];
    let mut from_half: std::collections::BTreeMap<(bool, usize), Vec<Duration>> =
        Default::default();
    let mut commit_counts: std::collections::BTreeMap<usize, u32> = Default::default();
    for round in 0..rounds {
        for offset in 0..JOBS.len() {
            let index = (round + offset) % JOBS.len();
            let jobs = JOBS[index];
            for (way_index, way) in Way::ALL
                .iter()
                .enumerate()
                .cycle()
                .skip(round)
                .take(Way::ALL.len())
            {
                // One transaction per step, for comparison, at 4 jobs only:
                // 21 commits per file make it the slowest by far.
                if *way == Way::MigratePerStep && jobs != 4 {
                    continue;
                }
                let dir = work
                    .path()
                    .join(format!("round-{round}-jobs-{jobs}-way-{way_index}"));
                std::fs::create_dir_all(&dir)?;
                let paths = tenant_paths(&dir, files);
                eprintln!("round {round}: {files} files, jobs {jobs}, {}", way.label());
                let took = match way {
                    Way::Migrate => {
                        upgrade_all(&paths, &set, &Options::default(), jobs, MIGRATIONS)?
                    }
                    Way::MigratePerStep => upgrade_all(&paths, &set, &per_step, jobs, MIGRATIONS)?,
                    Way::Sqlite3 => sqlite3_shell(&paths, &script, jobs)?,
                    Way::Raw => raw_rusqlite(&paths, &script, jobs)?,
                };
                upgrade.entry((way_index, jobs)).or_default().push(took);
                verify(&paths)?;
                commit_counts.insert(way_index, commits(&paths[0])?);
                if *way == Way::Migrate {
                    noop[index].push(upgrade_all(&paths, &set, &Options::default(), jobs, 0)?);
                }
                std::fs::remove_dir_all(&dir)?;
            }
            for backup in [false, true] {
                let dir = work
                    .path()
                    .join(format!("round-{round}-jobs-{jobs}-half-{backup}"));
                std::fs::create_dir_all(&dir)?;
                let paths = tenant_paths(&dir, files);
                upgrade_all(&paths, &half, &Options::default(), 4, MIGRATIONS / 2)?;
                eprintln!(
                    "round {round}: {files} files from version 10, jobs {jobs}, backup {backup}"
                );
                let options = if backup {
                    &backing_up
                } else {
                    &Options::default()
                };
                let took = upgrade_all(&paths, &set, options, jobs, MIGRATIONS / 2)?;
                verify(&paths)?;
                if backup {
                    let copies = std::fs::read_dir(&dir)?
                        .filter(|e| {
                            e.as_ref()
                                .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".bak"))
                        })
                        .count();
                    if copies != files {
                        return Err(format!("{copies} backups for {files} files").into());
                    }
                }
                from_half.entry((backup, jobs)).or_default().push(took);
                std::fs::remove_dir_all(&dir)?;
            }
        }
    }
    let mut section = run.header(
        &format!(
            "cargo run -p benches --release --bin tenants{}",
            if quick { " -- --quick" } else { "" }
        ),
        &format!(
            "{files} SQLite files (created by the call; DELETE journal, default durability) \
             × {MIGRATIONS} migrations (the fixture set), one call per way and job count, \
             median of {rounds} round(s), job counts and ways interleaved."
        ),
    );
    section.push_str(
        "\n### From empty to head\n\n\
         | way | commits per file | jobs | time | files/s | × the `sqlite3` shell |\n\
         |---|---:|---:|---:|---:|---:|\n",
    );
    let sqlite3_index = Way::ALL
        .iter()
        .position(|w| *w == Way::Sqlite3)
        .unwrap_or(0);
    for (way_index, way) in Way::ALL.iter().enumerate() {
        for jobs in JOBS {
            let Some(times) = upgrade.get(&(way_index, jobs)) else {
                continue;
            };
            let time = stats::median(times);
            let shell = stats::median(&upgrade[&(sqlite3_index, jobs)]);
            let _ = writeln!(
                section,
                "| {} | {} | {jobs} | {} | {:.0} | {:.2}× |",
                way.label(),
                commit_counts[&way_index],
                stats::format(time),
                files as f64 / time.as_secs_f64(),
                shell.as_secs_f64() / time.as_secs_f64(),
            );
        }
    }
    section.push_str(
        "\n### Nothing to do (the start-up check of every tenant)\n\n\
         | jobs | time | files/s |\n|---:|---:|---:|\n",
    );
    for (index, jobs) in JOBS.iter().enumerate() {
        let idle = stats::median(&noop[index]);
        let _ = writeln!(
            section,
            "| {jobs} | {} | {:.0} |",
            stats::format(idle),
            files as f64 / idle.as_secs_f64(),
        );
    }
    section.push_str(
        "\n### From version 10 to 20, with and without a backup of each file\n\n\
         | backup | jobs | time | files/s |\n|---|---:|---:|---:|\n",
    );
    for backup in [false, true] {
        for jobs in JOBS {
            let time = stats::median(&from_half[&(backup, jobs)]);
            let _ = writeln!(
                section,
                "| {} | {jobs} | {} | {:.0} |",
                if backup {
                    "`Backup::Beside` (one copy per file)"
                } else {
                    "none"
                },
                stats::format(time),
                files as f64 / time.as_secs_f64(),
            );
        }
    }
    println!("{section}");
    if !quick {
        report::replace_section("tenants", &section)?;
        eprintln!("wrote benches/README.md");
    }
    Ok(())
}
