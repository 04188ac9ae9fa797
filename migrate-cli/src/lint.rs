//! `lint` and `check --lint`: the library's lint of the migration
//! directory, each finding as `file:line:column rule: message` with its
//! hint on an indented line, or as JSON. A finding makes the exit code 1.

use std::process::ExitCode;

use migrate::lint::{self, Finding, LintOptions};
use migrate::{Dialect, Migrations, Options};

use crate::cli::{Cli, Lint};
use crate::db;
use crate::error::CliError;
use crate::output::{Printer, escaped};

/// `lint`: no database, only its dialect (`--dialect`, or the URL's).
///
/// # Errors
///
/// [`CliError::NoDialect`] when neither says it; a URL that cannot be
/// read; a directory that cannot be loaded; stdout that cannot take the
/// output.
pub(crate) fn run(cli: &Cli, printer: &Printer, args: &Lint) -> Result<ExitCode, CliError> {
    let dialect = match (args.dialect, cli.database_url.first()) {
        (Some(dialect), _) => dialect.into(),
        (None, Some(url)) => db::parse_url(url)?.dialect(),
        (None, None) => return Err(CliError::NoDialect),
    };
    let set = Migrations::from_dir(&cli.dir)?;
    let findings = findings(cli, &set, dialect, args.since);
    printer.print(&serde_json::json!({ "findings": findings }), || {
        if findings.is_empty() {
            "no findings".to_owned()
        } else {
            text(&findings)
        }
    })?;
    Ok(exit_code(&findings))
}

/// The findings in `set` for `dialect`, each file named by its path under
/// `--dir`, knowing the runner's statement lock timeout.
pub(crate) fn findings(
    cli: &Cli,
    set: &Migrations,
    dialect: Dialect,
    since: Option<i64>,
) -> Vec<Finding> {
    let mut runner = Options::default();
    if let Some(timeout) = cli.statement_lock_timeout {
        runner = runner.statement_lock_timeout(timeout);
    }
    let mut options = LintOptions::default().runner(runner);
    if let Some(version) = since {
        options = options.since(version);
    }
    let mut findings = lint::lint(set, dialect, &options);
    for finding in &mut findings {
        finding.file = cli.dir.join(&finding.file).display().to_string();
    }
    findings
}

/// Each finding's two lines, then how many there are.
pub(crate) fn text(findings: &[Finding]) -> String {
    let mut lines: Vec<String> = findings
        .iter()
        .flat_map(|finding| finding.to_string().lines().map(escaped).collect::<Vec<_>>())
        .collect();
    let mut files: Vec<&str> = findings
        .iter()
        .map(|finding| finding.file.as_str())
        .collect();
    files.dedup();
    lines.push(format!(
        "{} finding{} in {} file{}",
        findings.len(),
        if findings.len() == 1 { "" } else { "s" },
        files.len(),
        if files.len() == 1 { "" } else { "s" },
    ));
    lines.join("\n")
}

/// 1 on any finding, 0 when there is none.
pub(crate) fn exit_code(findings: &[Finding]) -> ExitCode {
    if findings.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
