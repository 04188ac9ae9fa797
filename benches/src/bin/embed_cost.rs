//! The compile-time cost of `embed_migrations!`: a small generated binary
//! crate embedding 0, 100 and 1,000 migrations, built clean (its
//! dependencies already built, its own artifacts removed) and incrementally
//! (after touching its `main.rs`, and after editing one migration file),
//! in the dev profile (clean also in release), each several times, median
//! reported. The cost of the
//! macro is the clean build with N files minus the clean build with none.
//!
//! ```text
//! cargo run -p benches --release --bin embed_cost              # prints, rewrites benches/README.md
//! cargo run -p benches --release --bin embed_cost -- --quick   # fewer runs, README untouched
//! ```
//!
//! The crates live in `target/embed-cost/` with a target directory of their
//! own (so other builds' locks do not wait on them), and the workspace's
//! `Cargo.lock`, so they build the same dependency versions.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use benches::fixtures::{self, Style};
use benches::{report, stats};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

const SIZES: [usize; 3] = [0, 100, 1_000];

struct Crate {
    n: usize,
    dir: PathBuf,
    target: PathBuf,
}

impl Crate {
    fn name(&self) -> String {
        format!("embed_cost_{}", self.n)
    }

    fn create(root: &Path, n: usize) -> Result<Crate> {
        let dir = root.join(format!("crate-{n}"));
        let migrations = dir.join("migrations");
        if migrations.exists() {
            std::fs::remove_dir_all(&migrations)?;
        }
        std::fs::create_dir_all(dir.join("src"))?;
        std::fs::create_dir_all(&migrations)?;
        fixtures::write_dir(&migrations, &fixtures::generate(n), Style::Migrate)?;
        let core = report::workspace_root().join("migrate-core");
        std::fs::write(
            dir.join("Cargo.toml"),
            format!(
                "[package]\nname = \"embed_cost_{n}\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
                 [dependencies]\nmigrate-core = {{ path = {:?} }}\n\n[workspace]\n",
                core.display().to_string()
            ),
        )?;
        std::fs::write(
            dir.join("src/main.rs"),
            "//! Embeds the generated migrations.\n\
             const MIGRATIONS: migrate::Migrations = migrate::embed_migrations!(\"migrations\");\n\n\
             fn main() {\n    println!(\"{}\", MIGRATIONS.len());\n}\n",
        )?;
        std::fs::copy(
            report::workspace_root().join("Cargo.lock"),
            dir.join("Cargo.lock"),
        )?;
        Ok(Crate {
            n,
            dir,
            target: root.join("target"),
        })
    }

    fn build(&self, release: bool) -> Result<Duration> {
        let started = Instant::now();
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["build", "--quiet", "--offline"])
            .args(release.then_some("--release"))
            .arg("--manifest-path")
            .arg(self.dir.join("Cargo.toml"))
            .env("CARGO_TARGET_DIR", &self.target)
            .env_remove("RUSTFLAGS")
            .status()?;
        let elapsed = started.elapsed();
        if !status.success() {
            return Err(format!("building {} failed", self.name()).into());
        }
        Ok(elapsed)
    }

    /// Removes this crate's own artifacts (never its dependencies').
    fn remove_artifacts(&self, release: bool) -> Result<()> {
        let debug = self.target.join(if release { "release" } else { "debug" });
        let prefix = format!("{}-", self.name());
        for sub in [".fingerprint", "deps", "incremental", "build"] {
            let Ok(entries) = std::fs::read_dir(debug.join(sub)) else {
                continue;
            };
            for entry in entries.flatten() {
                let file_name = entry.file_name();
                let file_name = file_name.to_string_lossy();
                if file_name.starts_with(&prefix) {
                    let path = entry.path();
                    if path.is_dir() {
                        std::fs::remove_dir_all(path)?;
                    } else {
                        std::fs::remove_file(path)?;
                    }
                }
            }
        }
        let _ = std::fs::remove_file(debug.join(self.name()));
        Ok(())
    }

    fn touch_main(&self) -> Result<()> {
        let main = self.dir.join("src/main.rs");
        let text = std::fs::read_to_string(&main)?;
        std::fs::write(&main, text)?;
        Ok(())
    }

    /// Edits the first migration (a comment appended), so it is re-embedded.
    fn edit_migration(&self, round: usize) -> Result<()> {
        let first = self.dir.join("migrations/1_create_t1.sql");
        let mut text = std::fs::read_to_string(&first)?;
        let _ = writeln!(text, "-- edit {round}");
        std::fs::write(&first, text)?;
        Ok(())
    }
}

#[derive(Default)]
struct Timings {
    clean: Vec<Duration>,
    clean_release: Vec<Duration>,
    touch: Vec<Duration>,
    edit: Vec<Duration>,
}

fn main() -> Result<()> {
    let quick = std::env::args().any(|a| a == "--quick");
    let rounds = if quick { 2 } else { 7 };
    let run = report::Run::start();
    let root = report::workspace_root().join("target/embed-cost");
    let crates = SIZES
        .iter()
        .map(|&n| Crate::create(&root, n))
        .collect::<Result<Vec<_>>>()?;
    // Dependencies once, untimed.
    for krate in &crates {
        eprintln!("warming {}", krate.name());
        krate.build(false)?;
        krate.build(true)?;
    }
    let mut timings: Vec<Timings> = crates.iter().map(|_| Timings::default()).collect();
    for round in 0..rounds {
        for offset in 0..crates.len() {
            let index = (round + offset) % crates.len();
            let krate = &crates[index];
            eprintln!("round {round}: {}", krate.name());
            krate.remove_artifacts(true)?;
            timings[index].clean_release.push(krate.build(true)?);
            krate.remove_artifacts(false)?;
            timings[index].clean.push(krate.build(false)?);
            krate.touch_main()?;
            timings[index].touch.push(krate.build(false)?);
            if krate.n > 0 {
                krate.edit_migration(round)?;
                timings[index].edit.push(krate.build(false)?);
            }
        }
    }
    let mut section = run.header(
        &format!(
            "cargo run -p benches --release --bin embed_cost{}",
            if quick { " -- --quick" } else { "" }
        ),
        &format!(
            "a binary crate whose `main.rs` is one `embed_migrations!` of N fixture files, \
             `cargo build` (dev profile, and `--release` for the last two columns) with its \
             dependencies already built, median of {rounds} runs each, sizes interleaved. \
             Clean: the crate's own artifacts removed first. The macro's cost is the clean \
             build minus the clean build with 0 files."
        ),
    );
    section.push('\n');
    section.push_str(
        "| files | clean build | added by the embed | rebuild after touching main.rs | rebuild after editing one migration | clean release build | added (release) |\n\
         |---:|---:|---:|---:|---:|---:|---:|\n",
    );
    let base = stats::median(&timings[0].clean).as_secs_f64();
    let base_release = stats::median(&timings[0].clean_release).as_secs_f64();
    let added = |n: usize, clean: Duration, base: f64| {
        if n == 0 {
            "—".to_owned()
        } else {
            stats::format_seconds(clean.as_secs_f64() - base)
        }
    };
    for (krate, timing) in crates.iter().zip(&timings) {
        let clean = stats::median(&timing.clean);
        let clean_release = stats::median(&timing.clean_release);
        let _ = writeln!(
            section,
            "| {} | {} | {} | {} | {} | {} | {} |",
            krate.n,
            stats::format(clean),
            added(krate.n, clean, base),
            stats::format(stats::median(&timing.touch)),
            if timing.edit.is_empty() {
                "—".to_owned()
            } else {
                stats::format(stats::median(&timing.edit))
            },
            stats::format(clean_release),
            added(krate.n, clean_release, base_release),
        );
    }
    println!("{section}");
    if !quick {
        report::replace_section("embed", &section)?;
        eprintln!("wrote benches/README.md");
    }
    Ok(())
}
