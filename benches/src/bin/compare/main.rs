//! The side-by-side comparison: migrate, refinery (per migration and
//! grouped), sqlx's `Migrator`, rusqlite_migration and three raw rusqlite
//! baselines, on fresh SQLite files in DELETE and WAL journal modes, in one
//! run, the tools interleaved (round r runs every tool once, in an order
//! rotated by r) so that drift of the machine hits all alike.
//!
//! ```text
//! cargo run -p benches --release --bin compare            # prints the tables, rewrites benches/README.md
//! cargo run -p benches --release --bin compare -- --quick # small N, few rounds, README untouched
//! ```
//!
//! Scenarios: apply all N from an empty file; a no-op start with N applied;
//! apply the last 1 of N. Every run is checked afterwards (N tables, N
//! history entries in the tool's own form), and the commits it made are
//! counted with SQLite's file change counter (DELETE mode; SQLite does not
//! maintain the counter in WAL mode, where the tools' transactions are the
//! same). Times are medians; ratios and overheads are medians of the
//! per-round ratios and differences, so a slow round moves neither side.

mod tools;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use benches::sqlite::{self, JournalMode};
use benches::{report, stats};
use tools::{How, Prepared, Tool};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Scenario {
    ApplyAll,
    Noop,
    /// The no-op start timed alone: the clock starts once the connection
    /// is open and its schema loaded (the floor's query run on it).
    NoopWarm,
    ApplyLast,
}

impl Scenario {
    const ALL: [Scenario; 4] = [
        Scenario::ApplyAll,
        Scenario::Noop,
        Scenario::NoopWarm,
        Scenario::ApplyLast,
    ];

    fn title(self) -> &'static str {
        match self {
            Scenario::ApplyAll => "Apply all N from an empty file",
            Scenario::Noop => "No-op start with N applied",
            Scenario::NoopWarm => {
                "No-op start with N applied, beyond the floor timed alone (schema loaded before the clock)"
            }
            Scenario::ApplyLast => "Apply the last 1 of N",
        }
    }

    /// The baselines (raw rusqlite, or for a no-op the floors), then every
    /// migrator.
    fn tools(self) -> Vec<Tool> {
        let baselines = match self {
            Scenario::ApplyAll | Scenario::ApplyLast => {
                vec![Tool::RawPerTransaction, Tool::RawSingle, Tool::RawKept]
            }
            Scenario::Noop => vec![Tool::FloorRusqlite, Tool::FloorSqlx],
            // The floor is paid before the clock.
            Scenario::NoopWarm => Vec::new(),
        };
        baselines.into_iter().chain(Tool::MIGRATORS).collect()
    }

    /// How many migrations the file holds before the run.
    fn applied_before(self, n: usize) -> usize {
        match self {
            Scenario::ApplyAll => 0,
            Scenario::Noop | Scenario::NoopWarm => n,
            Scenario::ApplyLast => n - 1,
        }
    }

    /// (N, rounds): the full run, or `--quick`.
    fn sizes(self, quick: bool) -> &'static [(usize, usize)] {
        match (self, quick) {
            (Scenario::ApplyAll, false) => &[(100, 21), (1_000, 15)],
            (Scenario::Noop, false) => &[(10, 41), (100, 41), (1_000, 41), (10_000, 41)],
            (Scenario::NoopWarm, false) => &[(10, 41), (1_000, 41), (10_000, 41)],
            (Scenario::ApplyLast, false) => &[(100, 31), (1_000, 31), (10_000, 11)],
            (Scenario::Noop | Scenario::NoopWarm, true) => &[(10, 5), (100, 5)],
            (_, true) => &[(10, 3), (100, 3)],
        }
    }
}

/// The measurements of one tool in one scenario, size and journal mode.
#[derive(Default)]
struct Cell {
    times: Vec<Duration>,
    commits: Vec<u32>,
}

type Key = (Scenario, usize, JournalModeKey, Tool);

/// `JournalMode` as a map key, in table order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum JournalModeKey {
    Delete,
    Wal,
}

impl From<JournalMode> for JournalModeKey {
    fn from(mode: JournalMode) -> Self {
        match mode {
            JournalMode::Delete => JournalModeKey::Delete,
            JournalMode::Wal => JournalModeKey::Wal,
        }
    }
}

impl JournalModeKey {
    fn label(self) -> &'static str {
        match self {
            JournalModeKey::Delete => "DELETE",
            JournalModeKey::Wal => "WAL",
        }
    }
}

struct Bench {
    work: tempfile::TempDir,
    runtime: tokio::runtime::Runtime,
    sets: BTreeMap<usize, Prepared>,
    templates: BTreeMap<(Tool, usize, JournalModeKey, usize), PathBuf>,
    cells: BTreeMap<Key, Cell>,
}

impl Bench {
    fn set(&mut self, n: usize) -> Result<()> {
        if !self.sets.contains_key(&n) {
            let prepared = Prepared::new(n, self.work.path(), &self.runtime)?;
            self.sets.insert(n, prepared);
        }
        Ok(())
    }

    /// A closed database with the first `applied` migrations applied by
    /// `tool`'s template builder (fsync off: only its contents matter).
    /// A WAL template is the DELETE one switched to WAL: the same pages.
    fn template(
        &mut self,
        tool: Tool,
        n: usize,
        mode: JournalMode,
        applied: usize,
    ) -> Result<PathBuf> {
        let builder = tool.template_builder();
        let key = (builder, n, mode.into(), applied);
        if let Some(path) = self.templates.get(&key) {
            return Ok(path.clone());
        }
        let path = self.work.path().join(format!(
            "template-{builder:?}-{n}-{}-{applied}.db",
            mode.as_str()
        ));
        if mode == JournalMode::Wal {
            let source = self.template(tool, n, JournalMode::Delete, applied)?;
            sqlite::copy(&source, &path)?;
            sqlite::set_journal_mode(&path, mode)?;
        } else {
            eprintln!(
                "  building the {} template: {applied} of {n} applied",
                builder.label()
            );
            sqlite::fresh(&path, mode)?;
            if applied > 0 {
                tools::run(
                    builder,
                    &self.sets[&n],
                    &path,
                    0,
                    applied,
                    How::Build,
                    &self.runtime,
                )?;
            }
        }
        sqlite::checkpoint(&path)?;
        tools::verify(builder, &path, applied)?;
        self.templates.insert(key, path.clone());
        Ok(path)
    }

    /// Every round of one scenario, size and journal mode.
    fn measure(
        &mut self,
        scenario: Scenario,
        n: usize,
        rounds: usize,
        mode: JournalMode,
    ) -> Result<()> {
        self.set(n)?;
        let before = scenario.applied_before(n);
        let tools = scenario.tools();
        let mut starts = BTreeMap::new();
        for &tool in &tools {
            let start = if before == 0 {
                None
            } else {
                Some(self.template(tool, n, mode, before)?)
            };
            starts.insert(tool, start);
        }
        for round in 0..rounds {
            for offset in 0..tools.len() {
                let tool = tools[(round + offset) % tools.len()];
                let path = self.work.path().join(format!("run-{tool:?}.db"));
                match (&starts[&tool], scenario) {
                    (None, _) => sqlite::fresh(&path, mode)?,
                    // A no-op leaves the file as it was: copy it once.
                    (Some(_), Scenario::Noop | Scenario::NoopWarm) if round > 0 => {}
                    (Some(template), _) => sqlite::copy(template, &path)?,
                }
                let counter = sqlite::change_counter(&path);
                let how = if scenario == Scenario::NoopWarm {
                    How::Warm
                } else {
                    How::Timed
                };
                let elapsed =
                    tools::run(tool, &self.sets[&n], &path, before, n, how, &self.runtime)
                        .map_err(|err| {
                            format!(
                                "{} ({scenario:?}, N={n}, {}): {err}",
                                tool.label(),
                                mode.as_str()
                            )
                        })?;
                let commits = sqlite::change_counter(&path).wrapping_sub(counter);
                tools::verify(tool, &path, n)?;
                let cell = self
                    .cells
                    .entry((scenario, n, mode.into(), tool))
                    .or_default();
                cell.times.push(elapsed);
                cell.commits.push(commits);
            }
        }
        for &tool in &tools {
            sqlite::remove(&self.work.path().join(format!("run-{tool:?}.db")));
        }
        Ok(())
    }

    fn cell(
        &self,
        scenario: Scenario,
        n: usize,
        mode: JournalModeKey,
        tool: Tool,
    ) -> Option<&Cell> {
        self.cells.get(&(scenario, n, mode, tool))
    }

    /// Median of the per-round ratios `tool / baseline`.
    fn ratio(
        &self,
        scenario: Scenario,
        n: usize,
        mode: JournalModeKey,
        tool: Tool,
        baseline: Tool,
    ) -> Option<f64> {
        let (a, b) = (
            self.cell(scenario, n, mode, tool)?,
            self.cell(scenario, n, mode, baseline)?,
        );
        let mut ratios: Vec<f64> = a
            .times
            .iter()
            .zip(&b.times)
            .map(|(a, b)| a.as_secs_f64() / b.as_secs_f64())
            .collect();
        ratios.sort_by(f64::total_cmp);
        ratios.get(ratios.len() / 2).copied()
    }

    /// Median of the per-round differences `tool - baseline`, in seconds.
    fn beyond(&self, n: usize, mode: JournalModeKey, tool: Tool, floor: Tool) -> Option<f64> {
        let (a, b) = (
            self.cell(Scenario::Noop, n, mode, tool)?,
            self.cell(Scenario::Noop, n, mode, floor)?,
        );
        Some(stats::median_difference(&a.times, &b.times))
    }
}

fn commits_text(cell: &Cell, mode: JournalModeKey) -> String {
    if mode == JournalModeKey::Wal {
        return "(as DELETE)".to_owned();
    }
    let (min, max) = (
        cell.commits.iter().min().copied().unwrap_or(0),
        cell.commits.iter().max().copied().unwrap_or(0),
    );
    if min == max {
        min.to_string()
    } else {
        format!("{min}–{max}")
    }
}

fn ratio_text(ratio: Option<f64>) -> String {
    ratio.map_or_else(|| "—".to_owned(), |r| format!("{r:.2}×"))
}

fn tables(
    bench: &Bench,
    scenarios: &[Scenario],
    plan: &dyn Fn(Scenario) -> Vec<(usize, usize)>,
) -> String {
    let mut out = String::new();
    for &scenario in scenarios {
        let _ = writeln!(out, "\n### {}\n", scenario.title());
        if scenario == Scenario::NoopWarm {
            out.push_str("| N | journal | tool | median beyond the floor | p25–p75 | × migrate (per step) | — | commits |\n");
            out.push_str("|---:|---|---|---:|---:|---:|---:|---:|\n");
        } else if scenario == Scenario::Noop {
            out.push_str("| N | journal | tool | median | p25–p75 | beyond rusqlite floor | beyond sqlx floor | commits |\n");
            out.push_str("|---:|---|---|---:|---:|---:|---:|---:|\n");
        } else {
            out.push_str("| N | journal | tool | median | p25–p75 | × raw 1 tx per migration | × raw 1 tx for all | commits |\n");
            out.push_str("|---:|---|---|---:|---:|---:|---:|---:|\n");
        }
        for (n, _) in plan(scenario) {
            for mode in [JournalModeKey::Delete, JournalModeKey::Wal] {
                for tool in scenario.tools() {
                    let Some(cell) = bench.cell(scenario, n, mode, tool) else {
                        continue;
                    };
                    let spread = format!(
                        "{}–{}",
                        stats::format(stats::quantile(&cell.times, 0.25)),
                        stats::format(stats::quantile(&cell.times, 0.75))
                    );
                    let (first, second) = if scenario == Scenario::NoopWarm {
                        (
                            ratio_text(bench.ratio(scenario, n, mode, tool, Tool::Migrate)),
                            "—".to_owned(),
                        )
                    } else if scenario == Scenario::Noop {
                        let floor = |floor: Tool| {
                            bench
                                .beyond(n, mode, tool, floor)
                                .filter(|_| !matches!(tool, Tool::FloorRusqlite | Tool::FloorSqlx))
                                .map_or_else(|| "—".to_owned(), stats::format_seconds)
                        };
                        (
                            floor(Tool::FloorRusqlite),
                            if tool.uses_sqlx() {
                                floor(Tool::FloorSqlx)
                            } else {
                                "—".to_owned()
                            },
                        )
                    } else {
                        (
                            ratio_text(bench.ratio(
                                scenario,
                                n,
                                mode,
                                tool,
                                Tool::RawPerTransaction,
                            )),
                            ratio_text(bench.ratio(scenario, n, mode, tool, Tool::RawSingle)),
                        )
                    };
                    let _ = writeln!(
                        out,
                        "| {n} | {} | {} | {} | {spread} | {first} | {second} | {} |",
                        mode.label(),
                        tool.label(),
                        stats::format(stats::median(&cell.times)),
                        commits_text(cell, mode),
                    );
                }
            }
        }
    }
    out
}

/// `10000` as `10,000`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (at, digit) in digits.chars().enumerate() {
        if at > 0 && (digits.len() - at).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// The constant-time goal: `most` (10,000 applied) within 1.2× or 0.1 ms
/// of `fewest` (10 applied), in seconds; the figures and the verdict.
fn constant(most: Option<f64>, fewest: Option<f64>) -> (String, Option<bool>) {
    match most.zip(fewest) {
        Some((most, fewest)) => (
            format!(
                "{} vs {}",
                stats::format_seconds(most),
                stats::format_seconds(fewest)
            ),
            Some(most <= fewest * 1.2 || most <= fewest + 0.1e-3),
        ),
        None => ("—".to_owned(), None),
    }
}

/// The issue's goals, each with the figure that decides it.
fn goals(bench: &Bench) -> String {
    let mut out = String::from("| goal | measured | met |\n|---|---|---|\n");
    let mut row = |goal: String, measured: String, met: Option<bool>| {
        let verdict = match met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "not measured",
        };
        let _ = writeln!(out, "| {goal} | {measured} | {verdict} |");
    };
    for mode in [JournalModeKey::Delete, JournalModeKey::Wal] {
        let per_step = bench.ratio(
            Scenario::ApplyAll,
            1_000,
            mode,
            Tool::Migrate,
            Tool::RawPerTransaction,
        );
        row(
            format!(
                "apply 1,000 ({}), per step ≤ 1.05× raw 1 tx per migration",
                mode.label()
            ),
            ratio_text(per_step),
            per_step.map(|r| r <= 1.05),
        );
        if mode == JournalModeKey::Delete {
            // Not the issue's goal: the same ratio with the journal kept on
            // both sides, what recording each step costs beyond raw.
            let like = bench.ratio(
                Scenario::ApplyAll,
                1_000,
                mode,
                Tool::Migrate,
                Tool::RawKept,
            );
            row(
                format!(
                    "apply 1,000 ({}), per step ≤ 1.05× raw 1 tx per migration with the journal kept (like for like)",
                    mode.label()
                ),
                ratio_text(like),
                like.map(|r| r <= 1.05),
            );
        }
        let single = bench.ratio(
            Scenario::ApplyAll,
            1_000,
            mode,
            Tool::MigrateSingle,
            Tool::RawSingle,
        );
        row(
            format!(
                "apply 1,000 ({}), all in one ≤ 1.05× raw 1 tx for all",
                mode.label()
            ),
            ratio_text(single),
            single.map(|r| r <= 1.05),
        );
    }
    for mode in [JournalModeKey::Delete, JournalModeKey::Wal] {
        let mut within = |n: usize, limit: f64| {
            let ours = bench.beyond(n, mode, Tool::Migrate, Tool::FloorRusqlite);
            row(
                format!(
                    "no-op, {} applied ({}): ≤ {} beyond the floor",
                    thousands(n),
                    mode.label(),
                    stats::format_seconds(limit)
                ),
                ours.map_or_else(|| "—".to_owned(), stats::format_seconds),
                ours.map(|s| s <= limit),
            );
            ours
        };
        let ours = within(1_000, 0.5e-3);
        let most = within(10_000, 3e-3);
        // Constant time: 10,000 applied cost what 10 do, within 1.2× or
        // 0.1 ms.
        let fewest = bench.beyond(10, mode, Tool::Migrate, Tool::FloorRusqlite);
        let (measured, met) = constant(most, fewest);
        row(
            format!(
                "no-op, 10,000 applied ({}): within 1.2× (or 0.1 ms) of 10 applied",
                mode.label()
            ),
            measured,
            met,
        );
        let peers = [
            (Tool::Refinery, Tool::FloorRusqlite, "refinery"),
            (
                Tool::SqlxMigrator,
                Tool::FloorSqlx,
                "sqlx (beyond its own pool floor)",
            ),
        ];
        for (peer, floor, name) in peers {
            let theirs = bench.beyond(1_000, mode, peer, floor);
            let factor = ours
                .zip(theirs)
                .map(|(ours, theirs)| theirs / ours.max(1e-9));
            row(
                format!("no-op, 1,000 applied ({}): ≥ 5× below {name}", mode.label()),
                match (theirs, factor) {
                    (Some(theirs), Some(factor)) => {
                        format!("{} vs ours: {factor:.1}×", stats::format_seconds(theirs))
                    }
                    _ => "—".to_owned(),
                },
                factor.map(|f| f >= 5.0),
            );
        }
    }
    // The same goals on the no-op start timed alone, where no difference
    // of two timings of a schema load (51–54 ms at 10,000, with an
    // interquartile range of milliseconds) blurs the figure.
    for mode in [JournalModeKey::Delete, JournalModeKey::Wal] {
        let warm = |n: usize, tool: Tool| {
            bench
                .cell(Scenario::NoopWarm, n, mode, tool)
                .map(|cell| stats::median(&cell.times).as_secs_f64())
        };
        let (most, fewest) = (warm(10_000, Tool::Migrate), warm(10, Tool::Migrate));
        let (measured, met) = constant(most, fewest);
        row(
            format!(
                "no-op timed alone, 10,000 applied ({}): within 1.2× (or 0.1 ms) of 10 applied",
                mode.label()
            ),
            measured,
            met,
        );
        for (peer, name) in [(Tool::Refinery, "refinery"), (Tool::SqlxMigrator, "sqlx")] {
            let factor = bench.ratio(Scenario::NoopWarm, 1_000, mode, peer, Tool::Migrate);
            row(
                format!(
                    "no-op timed alone, 1,000 applied ({}): ≥ 5× below {name}",
                    mode.label()
                ),
                match (warm(1_000, peer), factor) {
                    (Some(theirs), Some(factor)) => {
                        format!("{} vs ours: {factor:.1}×", stats::format_seconds(theirs))
                    }
                    _ => "—".to_owned(),
                },
                factor.map(|f| f >= 5.0),
            );
        }
    }
    out
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let write_readme = !quick && !args.iter().any(|a| a == "--no-readme");
    let only: Option<Scenario> = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|at| args.get(at + 1))
        .map(|name| match name.as_str() {
            "apply" => Ok(Scenario::ApplyAll),
            "noop" => Ok(Scenario::Noop),
            "noop-warm" => Ok(Scenario::NoopWarm),
            "last" => Ok(Scenario::ApplyLast),
            other => Err(format!(
                "--only takes apply, noop, noop-warm or last, not {other}"
            )),
        })
        .transpose()?;
    // `--n N` (repeatable) keeps only those sizes, `--rounds R` overrides
    // the rounds: for exploring, never for the published table.
    let value_of = |flag: &str| -> Vec<usize> {
        args.windows(2)
            .filter(|pair| pair[0] == flag)
            .filter_map(|pair| pair[1].parse().ok())
            .collect()
    };
    let only_sizes = value_of("--n");
    let rounds_override = value_of("--rounds").first().copied();
    let partial = only.is_some() || !only_sizes.is_empty() || rounds_override.is_some();
    let plan = |scenario: Scenario| -> Vec<(usize, usize)> {
        scenario
            .sizes(quick)
            .iter()
            .filter(|(n, _)| only_sizes.is_empty() || only_sizes.contains(n))
            .map(|&(n, rounds)| (n, rounds_override.unwrap_or(rounds)))
            .collect()
    };
    let scenarios: Vec<Scenario> = Scenario::ALL
        .into_iter()
        .filter(|s| only.is_none_or(|only| only == *s))
        .collect();

    let run = report::Run::start();
    let mut bench = Bench {
        work: tempfile::Builder::new()
            .prefix("migrate-compare-")
            .tempdir()?,
        runtime: tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?,
        sets: BTreeMap::new(),
        templates: BTreeMap::new(),
        cells: BTreeMap::new(),
    };
    for &scenario in &scenarios {
        for (n, rounds) in plan(scenario) {
            for mode in JournalMode::ALL {
                eprintln!(
                    "{} N={n} {} ({rounds} rounds)",
                    scenario.title(),
                    mode.as_str()
                );
                bench.measure(scenario, n, rounds, mode)?;
            }
        }
    }
    let rounds: Vec<String> = scenarios
        .iter()
        .map(|s| {
            let sizes: Vec<String> = plan(*s)
                .iter()
                .map(|(n, r)| format!("N={n}: {r}"))
                .collect();
            format!("{} ({})", s.title(), sizes.join(", "))
        })
        .collect();
    let mut section = run.header(
        &format!(
            "cargo run -p benches --release --bin compare{}",
            if quick { " -- --quick" } else { "" }
        ),
        "",
    );
    let _ = writeln!(
        section,
        "- Versions: {}\n- Rounds: {}",
        report::versions(&[
            "migrate-core",
            "refinery",
            "refinery-core",
            "rusqlite",
            "rusqlite_migration",
            "sqlx",
            "libsqlite3-sys"
        ]),
        rounds.join("; "),
    );
    if !quick {
        let _ = writeln!(section, "\n### Goals\n\n{}", goals(&bench));
    }
    section.push_str(&tables(&bench, &scenarios, &plan));
    println!("{section}");
    if write_readme && !partial {
        report::replace_section("compare", &section)?;
        eprintln!("wrote {}", Path::new("benches/README.md").display());
    }
    Ok(())
}
