//! What every published figure comes with: the machine, its load, the
//! crate versions, and the README section it replaces.

use std::path::{Path, PathBuf};

/// The workspace root (the benches crate's parent).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_owned)
}

/// `benches/README.md`.
pub fn readme_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")
}

/// When a measurement started and how loaded the machine was then: the
/// first lines of every README section.
pub struct Run {
    started: chrono::DateTime<chrono::Utc>,
    load_before: String,
}

impl Run {
    /// Notes the time and the load now.
    pub fn start() -> Run {
        Run {
            started: chrono::Utc::now(),
            load_before: load_average(),
        }
    }

    /// "Measured … with `command`: description", then the machine and the
    /// load before and now, as a Markdown list.
    pub fn header(&self, command: &str, description: &str) -> String {
        format!(
            "Measured {} with `{command}`{}{description}\n\n\
             - Machine: {}\n\
             - Load average (1, 5, 15 min) before: {}; after: {}\n\
             - Code: {}\n",
            self.started.format("%Y-%m-%d %H:%M UTC"),
            if description.is_empty() { "." } else { ": " },
            machine(),
            self.load_before,
            load_average(),
            revision(),
        )
    }
}

/// The commit measured, and whether the library's sources differed from it.
pub fn revision() -> String {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(workspace_root())
            .args(args)
            .output()
            .ok()
            .filter(|out| out.status.success())
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    let Some(commit) = git(&["rev-parse", "--short", "HEAD"]) else {
        return "unknown commit".to_owned();
    };
    let sources = ["migrate-core", "migrate-files", "migrate-macros"];
    let mut status = vec!["status", "--porcelain", "--"];
    status.extend(sources);
    match git(&status) {
        Some(changes) if changes.is_empty() => format!("commit {commit}"),
        Some(_) => format!("commit {commit}, with uncommitted changes to the library"),
        None => format!("commit {commit}"),
    }
}

/// The 1-, 5- and 15-minute load averages, as `/proc/loadavg` gives them.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

/// One line about the machine: CPUs, CPU model, rustc, SQLite.
pub fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split_once(':'))
                .map(|(_, model)| model.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let rustc =
        std::process::Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
            .arg("--version")
            .output()
            .ok()
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
            .unwrap_or_else(|| "rustc (unknown)".to_owned());
    format!(
        "{cpus} CPUs (nproc), {model}; {rustc}; SQLite {} (bundled, one libsqlite3-sys for every tool)",
        rusqlite::version()
    )
}

/// The locked versions of the crates a table depends on, from `Cargo.lock`.
pub fn versions(names: &[&str]) -> String {
    let lock = std::fs::read_to_string(workspace_root().join("Cargo.lock")).unwrap_or_default();
    let mut found = Vec::new();
    let mut name = None;
    for line in lock.lines() {
        if let Some(value) = line.strip_prefix("name = ") {
            name = Some(value.trim_matches('"').to_owned());
        } else if let Some(value) = line.strip_prefix("version = ")
            && let Some(current) = name.take()
            && names.contains(&current.as_str())
        {
            found.push(format!("{current} {}", value.trim_matches('"')));
        }
    }
    found.sort();
    found.join(", ")
}

/// Replaces the text between `<!-- {marker}:begin -->` and
/// `<!-- {marker}:end -->` in `benches/README.md` with `content`.
///
/// # Errors
///
/// An I/O error, or the markers are missing.
pub fn replace_section(marker: &str, content: &str) -> std::io::Result<()> {
    let path = readme_path();
    let text = std::fs::read_to_string(&path)?;
    let begin = format!("<!-- {marker}:begin -->");
    let end = format!("<!-- {marker}:end -->");
    let (Some(start), Some(stop)) = (text.find(&begin), text.find(&end)) else {
        return Err(std::io::Error::other(format!(
            "{} has no {begin} … {end} section",
            path.display()
        )));
    };
    let updated = format!(
        "{}{begin}\n{}\n{}",
        &text[..start],
        content.trim_end(),
        &text[stop..]
    );
    std::fs::write(&path, updated)
}
