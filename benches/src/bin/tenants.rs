//! The tenant upgrade (issue 5): 1,000 SQLite files × 20 migrations through
//! `migrate::tenants::upgrade_sqlite_files`, as files per second for 1, 2
//! and 4 jobs; then the same files again with nothing to do (the start-up
//! check of every tenant).
//!
//! ```text
//! cargo run -p benches --release --bin tenants              # prints, rewrites benches/README.md
//! cargo run -p benches --release --bin tenants -- --quick   # 100 files, README untouched
//! ```
//!
//! Each round runs every job count once (order rotated per round) on fresh
//! paths (the files are created by the call, default journal and
//! durability), checks that every outcome applied 20 steps and that every
//! file holds 20 tables, and reports the median.

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
    jobs: usize,
    expected: usize,
) -> Result<Duration> {
    let started = Instant::now();
    let outcomes = migrate::tenants::upgrade_sqlite_files(
        paths.iter().cloned(),
        set,
        Target::Head,
        &Options::default(),
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

    let mut upgrade = vec![Vec::new(); JOBS.len()];
    let mut noop = vec![Vec::new(); JOBS.len()];
    for round in 0..rounds {
        for offset in 0..JOBS.len() {
            let index = (round + offset) % JOBS.len();
            let jobs = JOBS[index];
            let dir = work.path().join(format!("round-{round}-jobs-{jobs}"));
            std::fs::create_dir_all(&dir)?;
            let paths = tenant_paths(&dir, files);
            eprintln!("round {round}: {files} files, jobs {jobs}");
            upgrade[index].push(upgrade_all(&paths, &set, jobs, MIGRATIONS)?);
            verify(&paths)?;
            noop[index].push(upgrade_all(&paths, &set, jobs, 0)?);
            std::fs::remove_dir_all(&dir)?;
        }
    }
    let mut section = run.header(
        &format!(
            "cargo run -p benches --release --bin tenants{}",
            if quick { " -- --quick" } else { "" }
        ),
        &format!(
            "{files} SQLite files (created by the call; DELETE journal, default durability) \
             × {MIGRATIONS} migrations (the fixture set), one `upgrade_sqlite_files` call per \
             job count, median of {rounds} round(s), job counts interleaved."
        ),
    );
    section.push('\n');
    section.push_str(
        "| jobs | upgrade: time | upgrade: files/s | × jobs 1 | no-op start: time | no-op: files/s |\n\
         |---:|---:|---:|---:|---:|---:|\n",
    );
    let base = stats::median(&upgrade[0]).as_secs_f64();
    for (index, jobs) in JOBS.iter().enumerate() {
        let up = stats::median(&upgrade[index]);
        let idle = stats::median(&noop[index]);
        let _ = writeln!(
            section,
            "| {jobs} | {} | {:.0} | {:.2}× | {} | {:.0} |",
            stats::format(up),
            files as f64 / up.as_secs_f64(),
            base / up.as_secs_f64(),
            stats::format(idle),
            files as f64 / idle.as_secs_f64(),
        );
    }
    println!("{section}");
    if !quick {
        report::replace_section("tenants", &section)?;
        eprintln!("wrote benches/README.md");
    }
    Ok(())
}
