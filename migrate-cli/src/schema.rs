//! `dump`, `check --schema` and `verify`: the schema as the library reads
//! it (`migrate::schema`), from the database or from a scratch database.
//!
//! A scratch database is a temporary SQLite file, removed afterwards, or,
//! when --database-url names a server, a uniquely named database created
//! beside the one the URL names and dropped afterwards (even when the work
//! on it failed). The database the URL names is never opened for writing:
//! the URL only says which server, and which kind of database, to use.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use migrate::schema::diff;
use migrate::{Dialect, Migrator, Outcome, StepKind, Target, Verification};

use crate::cli::{Check, Cli, Command, Dump};
use crate::database::waits;
use crate::db::{self, Access, DatabaseUrl, Named, Open};
use crate::error::CliError;
use crate::output::{Printer, escaped};

/// True for the verbs here that work without any database: `verify`,
/// and `dump` or `check --schema` with `--from-migrations`.
pub(crate) fn needs_no_database(command: &Command) -> bool {
    matches!(
        command,
        Command::Verify
            | Command::Dump(Dump {
                from_migrations: true,
                ..
            })
            | Command::Check(Check {
                schema: Some(_),
                from_migrations: true,
                ..
            })
    )
}

/// True for `dump` and `check --schema` of the database itself, which
/// read no migration file.
pub(crate) fn reads_no_migrations(command: &Command) -> bool {
    matches!(
        command,
        Command::Dump(Dump {
            from_migrations: false,
            ..
        }) | Command::Check(Check {
            schema: Some(_),
            from_migrations: false,
            ..
        })
    )
}

/// Runs `dump`, `check --schema` or `verify`; `None` for any other verb.
///
/// # Errors
///
/// Whatever stops the verb: the database, the library, the schema file.
pub(crate) fn run(
    cli: &Cli,
    printer: &Printer,
    url: Option<&DatabaseUrl>,
    migrator: &Migrator<'_>,
) -> Result<Option<ExitCode>, CliError> {
    match &cli.command {
        Command::Dump(Dump {
            from_migrations,
            output,
        }) => {
            let text = schema_text(cli, url, migrator, *from_migrations, "dump")?;
            match output {
                Some(path) => {
                    std::fs::write(path, &text).map_err(|source| CliError::SchemaFile {
                        action: "write",
                        path: path.clone(),
                        source,
                        hint: "check that its directory exists and can be written",
                    })?;
                    printer.print(&serde_json::json!({"output": path}), || {
                        format!(
                            "wrote the schema to {}",
                            escaped(&path.display().to_string())
                        )
                    })?;
                }
                None => printer.print(&serde_json::json!({"schema": text}), || {
                    text.trim_end_matches('\n').to_owned()
                })?,
            }
            Ok(Some(ExitCode::SUCCESS))
        }
        Command::Check(Check {
            schema: Some(file),
            from_migrations,
            ..
        }) => check(cli, printer, url, migrator, file, *from_migrations).map(Some),
        Command::Verify => verify(cli, printer, url, migrator).map(Some),
        _ => Ok(None),
    }
}

/// `check --schema FILE`: exit 0 when the schema is the file's, 1 with a
/// unified diff (the file's text as the old side) when it is not.
fn check(
    cli: &Cli,
    printer: &Printer,
    url: Option<&DatabaseUrl>,
    migrator: &Migrator<'_>,
    file: &Path,
    from_migrations: bool,
) -> Result<ExitCode, CliError> {
    let committed = std::fs::read_to_string(file).map_err(|source| CliError::SchemaFile {
        action: "read",
        path: file.to_owned(),
        source,
        hint: "write it with `migrate dump --output FILE`",
    })?;
    let text = schema_text(cli, url, migrator, from_migrations, "check")?;
    let theirs = if from_migrations {
        format!("the migrations in {}", cli.dir.display())
    } else {
        url.map_or_else(String::new, |url| url.shown().to_owned())
    };
    let shown_file = file.display().to_string();
    let difference = diff(&committed, &text, &shown_file, &theirs);
    printer.print(
        &serde_json::json!({"matches": difference.is_none(), "diff": difference}),
        || match &difference {
            None => format!("the schema matches {}", escaped(&shown_file)),
            Some(diff) => format!(
                "{}\nthe schema differs from {}: update the file with `migrate dump{} --output {}` if the change is meant",
                diff.trim_end_matches('\n'),
                escaped(&shown_file),
                if from_migrations { " --from-migrations" } else { "" },
                escaped(&shown_file)
            ),
        },
    )?;
    Ok(if difference.is_none() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `verify`: exit 0 when every step passed, 1 otherwise.
fn verify(
    cli: &Cli,
    printer: &Printer,
    url: Option<&DatabaseUrl>,
    migrator: &Migrator<'_>,
) -> Result<ExitCode, CliError> {
    let verification = on_scratch(cli, url, "verify", |open| Ok(open.verify(migrator)?))?;
    printer.print(&verification, || verification_text(&verification))?;
    Ok(if verification.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// One line per step, each diff and error after its step, and a summary.
fn verification_text(verification: &Verification) -> String {
    let mut lines = Vec::new();
    for step in &verification.steps {
        let result = match step.result {
            Outcome::Ok => "ok",
            Outcome::Differs => "DIFFERS",
            Outcome::Failed => "FAILED",
        };
        let kind = match step.kind {
            StepKind::Reversible => "reversible",
            StepKind::UpOnly => "up-only: applied, not reverted",
        };
        lines.push(format!(
            "{result:<8} {} {} ({kind})",
            step.version,
            escaped(&step.name)
        ));
        if let Some(diff) = &step.diff {
            lines.push(diff.trim_end_matches('\n').to_owned());
        }
        if let Some(error) = &step.error {
            lines.push(format!("  {}", escaped(error)));
        }
    }
    let differs = verification
        .steps
        .iter()
        .filter(|s| s.result == Outcome::Differs)
        .count();
    let failed = verification
        .steps
        .iter()
        .any(|s| s.result == Outcome::Failed);
    lines.push(match (differs, failed) {
        (0, false) => format!(
            "verified {} migration(s): every down script restores the schema exactly",
            verification.steps.len()
        ),
        (n, false) => format!("{n} down script(s) do not restore the schema exactly"),
        (n, true) => format!(
            "{n} down script(s) do not restore the schema exactly; verification stopped at the failed step"
        ),
    });
    lines.join("\n")
}

/// The schema as text: of the database `url` names, opened read-only (a
/// missing SQLite file is an error, not created), or with
/// `from_migrations` of a scratch database migrated to head.
fn schema_text(
    cli: &Cli,
    url: Option<&DatabaseUrl>,
    migrator: &Migrator<'_>,
    from_migrations: bool,
    verb: &'static str,
) -> Result<String, CliError> {
    let options = migrator.options();
    if from_migrations {
        return on_scratch(cli, url, verb, |open| {
            open.upgrade(migrator, Target::Head)?;
            Ok(open.schema(options)?.text())
        });
    }
    let url = url.ok_or(CliError::NoDatabase)?;
    let open = db::open(
        url,
        Access::Preview {
            missing_is_empty: false,
        },
        verb,
        waits(cli),
    )?;
    Ok(open.schema(options)?.text())
}

/// A name no other run picks: the process and the time.
fn unique_name(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{prefix}_{}_{nanos}", std::process::id())
}

/// Runs `work` on a scratch database: a temporary SQLite file, or beside a
/// server's `url` a new database, removed or dropped afterwards.
fn on_scratch<T>(
    cli: &Cli,
    url: Option<&DatabaseUrl>,
    verb: &'static str,
    work: impl FnOnce(&Open) -> Result<T, CliError>,
) -> Result<T, CliError> {
    let waits = waits(cli);
    match url {
        Some(DatabaseUrl::Server(server)) => {
            let name = unique_name("migrate_scratch");
            let scratch = db::parse_url(&with_database(server.connect_url(), &name))?;
            let named = Named::new(&scratch, verb)?;
            named.create(waits.connect)?;
            let result = db::open(&scratch, Access::Write, verb, waits)
                .map_err(CliError::from)
                .and_then(|open| work(&open));
            // Dropped whatever happened; PostgreSQL closes the pool's sessions.
            let force = server.dialect() == Dialect::Postgres;
            let dropped = named.drop(force, None, waits.connect);
            let value = result?;
            dropped?;
            Ok(value)
        }
        None | Some(DatabaseUrl::Sqlite(_)) => {
            let file = ScratchFile(
                std::env::temp_dir().join(format!("{}.db", unique_name("migrate-scratch"))),
            );
            let scratch = db::parse_url(&format!("sqlite://{}", file.0.display()))?;
            let open = db::open(&scratch, Access::Create, verb, waits)?;
            let result = work(&open);
            drop(open);
            result
        }
    }
}

/// A temporary SQLite file, removed with its journals and run lock file.
struct ScratchFile(PathBuf);

impl Drop for ScratchFile {
    fn drop(&mut self) {
        for suffix in ["", "-journal", "-wal", "-shm", "-migrate.lock"] {
            let mut path = self.0.clone().into_os_string();
            path.push(suffix);
            let _ = std::fs::remove_file(path);
        }
    }
}

/// `url` with its database (the path) replaced by `name`, its query kept.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let authority = base.find("://").map_or(0, |at| at + 3);
    let path = base[authority..]
        .find('/')
        .map_or(base.len(), |at| authority + at);
    let mut out = format!("{}/{name}", &base[..path]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn a_scratch_url_keeps_the_server_and_the_query() {
        assert_eq!(
            with_database("postgres://u:p@h:5432/app?sslmode=disable", "s"),
            "postgres://u:p@h:5432/s?sslmode=disable"
        );
        assert_eq!(with_database("mysql://root@h", "s"), "mysql://root@h/s");
    }
}
