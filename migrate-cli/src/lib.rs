//! The `migrate` command: a thin shell around the `migrate` library.
//!
//! It parses arguments ([`Cli`]), opens the database (`db/`), loads the
//! directory with `Migrations::from_dir`, runs the verb (`verb.rs`: each
//! verb's library call, described once) and prints (`output.rs`); no
//! migration logic lives here but `new`'s choice of the next file names
//! (`new.rs`). Output is text for people or, with `--json`, one JSON
//! document on stdout; errors are one sentence on stderr (and
//! `{"error": "..."}` on stdout with `--json`), control characters
//! escaped. Exit codes: 0 success, 1 error, 2 usage error (a URL that
//! cannot be read as written is one), 3 pending migrations (`check` only).
//! A stdout that cannot take the output (full) is an error (exit 1); a
//! pipe whose reader stopped reading (`| head -1`) ends the output quietly,
//! with the verb's own exit code.
//!
//! `lint` (and `check --lint`) reads the directory and no database: only
//! the dialect, from `--dialect` or the URL (`lint.rs`).
//!
//! The command line's gaps are filled from the nearest `.env`
//! (`dotenv.rs`, `--no-dotenv` to skip it) before anything runs. The verbs
//! about the database itself, `database create|drop|reset` and `wait`, are
//! `database.rs`'s (with `db/admin.rs` and `db/wait.rs`); only `reset`
//! reads the migration directory.
//!
//! Given several databases (`--database-url` repeated, `--databases FILE`,
//! `--sqlite-glob PATTERN`), the verbs that report one line per database
//! run on each through `migrate::tenants::for_each` (`tenants.rs`), the
//! same verb as on one database.

mod cli;
mod commands;
mod completions;
mod database;
mod db;
mod dotenv;
mod duration;
mod error;
mod glob;
mod lint;
mod new;
mod output;
mod schema;
mod sources;
mod tenants;
mod verb;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::CommandFactory;
use migrate::Direction;

use crate::error::CliError;

pub use cli::{
    Check, Cli, Command, Confirm, DatabaseCommand, DotenvSupplies, Downgrade, Dump, LockModeArg,
    Mode, Preview, Upgrade,
};
pub use db::{redact, scrub};
pub use dotenv::DotenvError;

use crate::db::scrub_remembered;
use crate::output::escaped;

/// Runs the command line of this process and returns its exit code.
///
/// # Examples
///
/// ```no_run
/// fn main() -> std::process::ExitCode {
///     migrate_cli::main()
/// }
/// ```
pub fn main() -> ExitCode {
    let mut cli = match Cli::from_command_line() {
        Ok(cli) => cli,
        Err(err) => usage_error(err, std::env::args_os().any(|arg| arg == "--json")),
    };
    init_logging(&cli);
    match read_dotenv(&mut cli).and_then(|()| commands::run(&cli)) {
        Ok(code) => code,
        Err(err) if err.usage_kind().is_some() => usage_error(
            Cli::command().error(
                err.usage_kind().expect("a usage error"),
                escaped(&scrub_remembered(&err.to_string())),
            ),
            cli.json,
        ),
        Err(err) => {
            report_error(&cli, &err);
            ExitCode::FAILURE
        }
    }
}

/// Fills in what the nearest `.env` supplies (see `dotenv.rs`): the
/// options [`Cli::dotenv_supplies`] names, from its `DATABASE_URL` and
/// `MIGRATE_DIR`.
fn read_dotenv(cli: &mut Cli) -> Result<(), CliError> {
    let supplies = cli.dotenv_supplies;
    if !supplies.database_url && !supplies.dir {
        return Ok(());
    }
    let Some(file) = std::env::current_dir()
        .ok()
        .and_then(|cwd| dotenv::find(&cwd))
    else {
        return Ok(());
    };
    let settings = dotenv::read(&file)?;
    if let Some(url) = settings.database_url.filter(|_| supplies.database_url) {
        tracing::debug!(file = %file.display(), "DATABASE_URL from the file");
        cli.database_url = vec![url];
    }
    if let Some(dir) = settings.dir.filter(|_| supplies.dir) {
        tracing::debug!(file = %file.display(), "MIGRATE_DIR from the file");
        cli.dir = dir.into();
    }
    Ok(())
}

/// Prints a usage error clap's way (exit 2; help and version exit 0), and
/// with `--json` also as a JSON document on stdout.
fn usage_error(err: clap::Error, json: bool) -> ! {
    if json && err.use_stderr() {
        let rendered = err.render().to_string();
        // The sentence, on one line: clap lists what is missing on the
        // lines after it ("… were not provided:" / "  <TARGET>"), then
        // its usage line and hint, which are no part of the error.
        let message = rendered
            .lines()
            .take_while(|line| {
                !line.starts_with("Usage:") && !line.starts_with("For more information")
            })
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        let message = message.strip_prefix("error: ").unwrap_or(&message);
        let _ = writeln!(
            std::io::stdout(),
            "{}",
            serde_json::json!({"error": message})
        );
    }
    err.exit()
}

/// Prints a failed verb's error: the steps that completed before it (they
/// stay applied), then the one sentence, its control characters escaped
/// (the JSON document holds it as it is: JSON escapes them). Every message
/// already shows URLs redacted; any password of a URL read is scrubbed from
/// it all the same.
fn report_error(cli: &Cli, err: &CliError) {
    let completed = match err {
        CliError::Migrate(err) => err.completed(),
        _ => &[],
    };
    let message = scrub_remembered(&err.to_string());
    tracing::debug!(error = %scrub_remembered(&format!("{err:?}")));
    let mut stdout = std::io::stdout();
    if cli.json {
        let mut document = serde_json::json!({"error": message});
        if !completed.is_empty() {
            document["completed"] = serde_json::json!(completed);
        }
        let _ = writeln!(stdout, "{document}");
    } else if !completed.is_empty() {
        let direction = match cli.command {
            Command::Downgrade(_) => Direction::Down,
            _ => Direction::Up,
        };
        let _ = write!(stdout, "{}", output::steps(direction, completed, None));
    }
    let _ = writeln!(std::io::stderr(), "{}", escaped(&message));
}

/// Logs go to stderr: warnings by default, more with `-v`, fewer with `-q`;
/// `RUST_LOG` overrides both. Every line is scrubbed of the passwords of
/// the URLs read (a driver logs what it ignores of a URL, value and all).
fn init_logging(cli: &Cli) {
    let level = match (cli.verbose, cli.quiet) {
        (0, 0) => "warn",
        (1, _) => "info",
        (2, _) => "debug",
        (3.., _) => "trace",
        (0, 1) => "error",
        (0, _) => "off",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty());
    tracing_subscriber::fmt()
        .with_writer(|| ScrubbedLine(Vec::new()))
        .with_ansi(std::io::stderr().is_terminal() && !no_color)
        .with_target(false)
        .without_time()
        .with_env_filter(filter)
        .init();
}

/// One log line, written to stderr scrubbed of every password when the
/// subscriber is done with it (it writes each event whole, then drops the
/// writer). A failure to write a log line is not the command's failure.
struct ScrubbedLine(Vec<u8>);

impl Write for ScrubbedLine {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for ScrubbedLine {
    fn drop(&mut self) {
        let line = scrub_remembered(&String::from_utf8_lossy(&self.0));
        let _ = std::io::stderr().write_all(line.as_bytes());
    }
}
