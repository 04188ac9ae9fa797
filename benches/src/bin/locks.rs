//! The lock modes on servers (issue 11): what a whole `migrate upgrade`
//! process costs in each `--lock-mode` (session, transaction, lease) on
//! PostgreSQL directly and through PgBouncer in transaction pooling, on
//! MySQL/MariaDB (session, lease) and on a MariaDB Galera node (where the
//! runner takes the lease by itself): a run with work (20 small migrations
//! on an empty database, then the 21st alone) and a start with nothing to
//! do.
//!
//! ```text
//! cargo run -p benches --release --bin locks                      # prints, rewrites benches/README.md
//! cargo run -p benches --release --bin locks -- --quick           # 3 rounds, README untouched
//! cargo run -p benches --release --bin locks -- --baseline PATH --baseline-name NAME
//! ```
//!
//! It first builds the `migrate` binary (`cargo build --release -p
//! migrate-cli`), then times that binary as a deploy runs it: one process,
//! its own connections, timed from spawn to exit. `--baseline PATH` also
//! times another build of `migrate` (an older commit's, built by hand) in
//! its default mode and, on PostgreSQL, in `transaction` mode, on a
//! database of its own, in the same rounds; it is not run through
//! PgBouncer, which builds from before the simple query protocol fail
//! behind.
//!
//! Servers come from the tests' variables: `MIGRATE_TEST_POSTGRES_URL`,
//! `MIGRATE_TEST_PGBOUNCER_URL` (in front of that server),
//! `MIGRATE_TEST_MYSQL_URL` and the first node of
//! `MIGRATE_TEST_GALERA_URLS`; a server whose variable is unset is left
//! out. Each runner gets a database of its own, created before and dropped
//! after the measurement.
//!
//! Each round, for every server and every runner (in an order rotated by
//! the round): empty the database (outside the clock), upgrade to 20
//! (timed), start again with nothing to do five times (timed), upgrade to
//! the 21st (timed), then check the history holds 21 clean rows, the 21
//! tables exist, and the lease table (where there is one) is empty. Every
//! timed run must exit 0; a no-op must say "nothing to upgrade".

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use benches::{report, stats};
use sqlx::Connection as _;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// The migrations of a full run; the run after it applies one more.
const MIGRATIONS: usize = 20;
/// No-op starts timed per round and runner.
const NOOPS_PER_ROUND: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Postgres,
    MySql,
}

/// A server the runners run against.
struct Server {
    /// As the tables name it.
    name: &'static str,
    kind: Kind,
    /// Where databases are created, emptied and checked (directly).
    admin: String,
    /// Where the runners connect (PgBouncer, or the server itself).
    runners_connect: String,
    /// Whether the baseline build runs here.
    baseline: bool,
    /// The lock modes this build is timed in (`None`: the default).
    modes: Vec<Option<&'static str>>,
}

/// A `migrate` binary in one lock mode, on one server, with its database.
struct Runner {
    server: usize,
    /// The build's name in the tables (`this build`, or the baseline's).
    build: String,
    binary: PathBuf,
    /// `--lock-mode`, or none for the default.
    mode: Option<&'static str>,
    database: String,
    samples: Samples,
}

impl Runner {
    fn mode_name(&self, server: &Server) -> String {
        match (self.mode, server.name) {
            (Some(mode), _) => mode.to_owned(),
            (None, name) if name.contains("Galera") && self.build == THIS_BUILD => {
                "session (default: lease taken by itself)".to_owned()
            }
            (None, _) => "session (default)".to_owned(),
        }
    }
}

const THIS_BUILD: &str = "this build";

#[derive(Default)]
struct Samples {
    apply: Vec<Duration>,
    noop: Vec<Duration>,
    last: Vec<Duration>,
}

#[derive(Debug, Clone, Copy)]
enum Scenario {
    Apply,
    Last,
    Noop,
}

impl Scenario {
    const ALL: [Scenario; 3] = [Scenario::Apply, Scenario::Last, Scenario::Noop];

    fn title(self) -> String {
        match self {
            Scenario::Apply => format!("Apply {MIGRATIONS} on an empty database"),
            Scenario::Last => format!(
                "Apply the last 1 of {} ({MIGRATIONS} applied)",
                MIGRATIONS + 1
            ),
            Scenario::Noop => format!("No-op start ({MIGRATIONS} applied, nothing pending)"),
        }
    }

    fn of(self, samples: &Samples) -> &[Duration] {
        match self {
            Scenario::Apply => &samples.apply,
            Scenario::Last => &samples.last,
            Scenario::Noop => &samples.noop,
        }
    }
}

/// `url` with its database (the path) replaced by `database`.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |at| at + 3);
    let host_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |at| scheme_end + at);
    let mut out = format!("{}/{database}", &base[..host_end]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

/// Runs `sql` (one or more statements, simple protocol) on `url`.
async fn execute(kind: Kind, url: &str, sql: &str) -> Result<()> {
    let sql = sqlx::AssertSqlSafe(sql.to_owned());
    match kind {
        Kind::Postgres => {
            let mut conn = sqlx::PgConnection::connect(url).await?;
            sqlx::raw_sql(sql).execute(&mut conn).await?;
            conn.close().await?;
        }
        Kind::MySql => {
            let mut conn = sqlx::MySqlConnection::connect(url).await?;
            sqlx::raw_sql(sql).execute(&mut conn).await?;
            conn.close().await?;
        }
    }
    Ok(())
}

/// The first column of the first row of `sql` on `url`, as text.
async fn text(kind: Kind, url: &str, sql: &str) -> Result<String> {
    let sql = sqlx::AssertSqlSafe(sql.to_owned());
    Ok(match kind {
        Kind::Postgres => {
            let mut conn = sqlx::PgConnection::connect(url).await?;
            let value: String = sqlx::query_scalar(sql).fetch_one(&mut conn).await?;
            conn.close().await?;
            value
        }
        Kind::MySql => {
            let mut conn = sqlx::MySqlConnection::connect(url).await?;
            let value: String = sqlx::query_scalar(sql).fetch_one(&mut conn).await?;
            conn.close().await?;
            value
        }
    })
}

/// (Two statements, two queries: PostgreSQL runs neither in a transaction.)
async fn create_database(server: &Server, name: &str) -> Result<()> {
    drop_database(server, name).await?;
    execute(
        server.kind,
        &server.admin,
        &format!("CREATE DATABASE {name}"),
    )
    .await
}

async fn drop_database(server: &Server, name: &str) -> Result<()> {
    let sql = match server.kind {
        Kind::Postgres => format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        Kind::MySql => format!("DROP DATABASE IF EXISTS {name}"),
    };
    execute(server.kind, &server.admin, &sql).await
}

/// Empties the runner's database: no history, no lease table, no tables.
async fn empty(server: &Server, name: &str) -> Result<()> {
    match server.kind {
        Kind::Postgres => {
            execute(
                Kind::Postgres,
                &with_database(&server.admin, name),
                "DROP SCHEMA public CASCADE; CREATE SCHEMA public",
            )
            .await
        }
        Kind::MySql => create_database(server, name).await,
    }
}

/// After a round: 21 clean history rows, the 21 tables, no lease left.
async fn verify(server: &Server, runner: &Runner) -> Result<()> {
    let url = with_database(&server.admin, &runner.database);
    let (history, tables, lease_table) = match server.kind {
        Kind::Postgres => (
            "SELECT count(*)::text FROM _migrate_history WHERE success",
            "SELECT count(*)::text FROM pg_tables WHERE schemaname = 'public' AND tablename ~ '^t[0-9]+$'",
            "SELECT count(*)::text FROM pg_tables WHERE schemaname = 'public' AND tablename = '_migrate_history_lock'",
        ),
        Kind::MySql => (
            "SELECT CAST(count(*) AS CHAR) FROM _migrate_history WHERE success",
            "SELECT CAST(count(*) AS CHAR) FROM information_schema.tables WHERE table_schema = DATABASE() \
             AND table_name REGEXP '^t[0-9]+$'",
            "SELECT CAST(count(*) AS CHAR) FROM information_schema.tables WHERE table_schema = DATABASE() \
             AND table_name = '_migrate_history_lock'",
        ),
    };
    let expected = (MIGRATIONS + 1).to_string();
    let what = format!("{} / {} / {:?}", server.name, runner.build, runner.mode);
    let rows = text(server.kind, &url, history).await?;
    let made = text(server.kind, &url, tables).await?;
    if rows != expected || made != expected {
        return Err(
            format!("{what}: {rows} history rows and {made} tables, not {expected}").into(),
        );
    }
    let has_lease_table = text(server.kind, &url, lease_table).await? == "1";
    let takes_lease = runner.build == THIS_BUILD
        && (runner.mode == Some("lease") || server.name.contains("Galera"));
    if takes_lease != has_lease_table {
        return Err(format!("{what}: lease table present: {has_lease_table}").into());
    }
    if has_lease_table {
        let left = text(
            server.kind,
            &url,
            match server.kind {
                Kind::Postgres => "SELECT count(*)::text FROM _migrate_history_lock",
                Kind::MySql => "SELECT CAST(count(*) AS CHAR) FROM _migrate_history_lock",
            },
        )
        .await?;
        if left != "0" {
            return Err(format!("{what}: {left} lease rows left").into());
        }
    }
    Ok(())
}

/// One `migrate upgrade` process, timed from spawn to exit.
fn upgrade(server: &Server, runner: &Runner, dir: &Path, noop: bool) -> Result<Duration> {
    let url = with_database(&server.runners_connect, &runner.database);
    let mut command = Command::new(&runner.binary);
    command
        .args(["--database-url", &url, "--dir"])
        .arg(dir)
        .args(
            runner
                .mode
                .map(|mode| ["--lock-mode", mode])
                .into_iter()
                .flatten(),
        )
        .arg("upgrade")
        .env_remove("DATABASE_URL")
        .env_remove("MIGRATE_DIR")
        .env_remove("RUST_LOG");
    let started = Instant::now();
    let out = command.output()?;
    let elapsed = started.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() || noop != stdout.contains("nothing to upgrade") {
        return Err(format!(
            "{} / {} / {:?}: {} (no-op expected: {noop})\nstdout:\n{stdout}\nstderr:\n{}",
            server.name,
            runner.build,
            runner.mode,
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(elapsed)
}

/// `n` small migrations, portable between PostgreSQL and MySQL: a table
/// and two rows each.
fn write_set(dir: &Path, n: usize) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    for v in 1..=n {
        std::fs::write(
            dir.join(format!("{v:04}_t{v}.sql")),
            format!(
                "CREATE TABLE t{v} (id INT NOT NULL PRIMARY KEY, name VARCHAR(40) NOT NULL);\n\
                 INSERT INTO t{v} (id, name) VALUES (1, 'a'), (2, 'b');\n"
            ),
        )?;
    }
    Ok(())
}

/// The `q`-quantile (0.0..=1.0) of `values`, by linear interpolation.
fn quantile_f64(mut values: Vec<f64>, q: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let position = q.clamp(0.0, 1.0) * (values.len() - 1) as f64;
    let (low, high) = (position.floor() as usize, position.ceil() as usize);
    values[low] + (values[high] - values[low]) * (position - low as f64)
}

fn servers() -> Vec<Server> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let mut servers = Vec::new();
    if let Some(postgres) = var("MIGRATE_TEST_POSTGRES_URL") {
        servers.push(Server {
            name: "PostgreSQL",
            kind: Kind::Postgres,
            admin: postgres.clone(),
            runners_connect: postgres.clone(),
            baseline: true,
            modes: vec![None, Some("transaction"), Some("lease")],
        });
        if let Some(bouncer) = var("MIGRATE_TEST_PGBOUNCER_URL") {
            servers.push(Server {
                name: "PostgreSQL via PgBouncer",
                kind: Kind::Postgres,
                admin: postgres,
                runners_connect: bouncer,
                baseline: false,
                modes: vec![None, Some("transaction"), Some("lease")],
            });
        }
    }
    if let Some(mysql) = var("MIGRATE_TEST_MYSQL_URL") {
        servers.push(Server {
            name: "MySQL/MariaDB",
            kind: Kind::MySql,
            admin: mysql.clone(),
            runners_connect: mysql,
            baseline: true,
            modes: vec![None, Some("lease")],
        });
    }
    if let Some(galera) = var("MIGRATE_TEST_GALERA_URLS")
        && let Some(first) = galera.split(',').next()
    {
        servers.push(Server {
            name: "MariaDB Galera (node 1 of 3)",
            kind: Kind::MySql,
            admin: first.to_owned(),
            runners_connect: first.to_owned(),
            baseline: true,
            modes: vec![None],
        });
    }
    servers
}

/// Builds this workspace's `migrate` in release; its path.
fn build_migrate() -> Result<PathBuf> {
    eprintln!("building migrate (cargo build --release -p migrate-cli)");
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "build",
            "--quiet",
            "--release",
            "-p",
            "migrate-cli",
            "--bin",
            "migrate",
        ])
        .current_dir(report::workspace_root())
        .status()?;
    if !status.success() {
        return Err("cargo build --release -p migrate-cli failed".into());
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| report::workspace_root().join("target"), PathBuf::from);
    Ok(target.join("release").join("migrate"))
}

/// One line per server: what it is.
async fn versions(servers: &[Server]) -> Result<String> {
    let mut lines = String::new();
    for server in servers {
        let version = match server.kind {
            Kind::Postgres => text(server.kind, &server.admin, "SELECT version()").await?,
            Kind::MySql => {
                text(
                    server.kind,
                    &server.admin,
                    "SELECT CONCAT(VERSION(), ', wsrep_on=', @@wsrep_on)",
                )
                .await?
            }
        };
        let version = version.split(" on ").next().unwrap_or(&version).to_owned();
        let _ = writeln!(lines, "- {}: {version}", server.name);
    }
    Ok(lines)
}

fn table(scenario: Scenario, servers: &[Server], runners: &[Runner]) -> String {
    let mut out = format!(
        "### {}\n\n\
         | server | lock mode | build | median | p25–p75 | beyond the default, paired (p25 to p75) | × the default |\n\
         |---|---|---|---:|---:|---:|---:|\n",
        scenario.title()
    );
    for (index, server) in servers.iter().enumerate() {
        let ours: Vec<&Runner> = runners.iter().filter(|r| r.server == index).collect();
        let Some(base) = ours
            .iter()
            .find(|r| r.build == THIS_BUILD && r.mode.is_none())
        else {
            continue;
        };
        let base = scenario.of(&base.samples);
        for runner in ours {
            let samples = scenario.of(&runner.samples);
            let is_base = runner.build == THIS_BUILD && runner.mode.is_none();
            let (beyond, ratio) = if is_base {
                ("—".to_owned(), "1.00×".to_owned())
            } else {
                let pairs = samples.iter().zip(base);
                let differences: Vec<f64> = pairs
                    .clone()
                    .map(|(a, b)| a.as_secs_f64() - b.as_secs_f64())
                    .collect();
                let ratios = pairs
                    .map(|(a, b)| a.as_secs_f64() / b.as_secs_f64())
                    .collect();
                (
                    format!(
                        "{} ({} to {})",
                        stats::format_seconds(stats::median_difference(samples, base)),
                        stats::format_seconds(quantile_f64(differences.clone(), 0.25)),
                        stats::format_seconds(quantile_f64(differences, 0.75)),
                    ),
                    format!("{:.2}×", quantile_f64(ratios, 0.5)),
                )
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {}–{} | {beyond} | {ratio} |",
                server.name,
                runner.mode_name(server),
                runner.build,
                stats::format(stats::median(samples)),
                stats::format(stats::quantile(samples, 0.25)),
                stats::format(stats::quantile(samples, 0.75)),
            );
        }
    }
    out
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let value = |flag: &str| {
        args.windows(2)
            .find(|pair| pair[0] == flag)
            .map(|pair| pair[1].clone())
    };
    let baseline = value("--baseline").map(PathBuf::from);
    let baseline_name = value("--baseline-name").unwrap_or_else(|| "baseline".to_owned());
    let rounds: usize = match value("--rounds") {
        Some(rounds) => rounds.parse()?,
        None if quick => 3,
        None => 41,
    };
    let write_readme = !quick && value("--rounds").is_none();

    let servers = servers();
    if servers.is_empty() {
        return Err(
            "no server: set MIGRATE_TEST_POSTGRES_URL, MIGRATE_TEST_PGBOUNCER_URL, \
                    MIGRATE_TEST_MYSQL_URL or MIGRATE_TEST_GALERA_URLS"
                .into(),
        );
    }
    let binary = build_migrate()?;
    let run = report::Run::start();
    let work = tempfile::Builder::new()
        .prefix("migrate-locks-")
        .tempdir()?;
    let (full, plus_one) = (work.path().join("full"), work.path().join("plus-one"));
    write_set(&full, MIGRATIONS)?;
    write_set(&plus_one, MIGRATIONS + 1)?;

    let mut runners = Vec::new();
    for (index, server) in servers.iter().enumerate() {
        let mut builds = vec![(THIS_BUILD.to_owned(), binary.clone(), server.modes.clone())];
        if let Some(path) = &baseline
            && server.baseline
        {
            let modes = match server.kind {
                Kind::Postgres => vec![None, Some("transaction")],
                Kind::MySql => vec![None],
            };
            builds.push((baseline_name.clone(), path.clone(), modes));
        }
        for (build, binary, modes) in builds {
            for mode in modes {
                let database = format!(
                    "migrate_bench_locks_{}_{}",
                    runners.len(),
                    std::process::id()
                );
                runners.push(Runner {
                    server: index,
                    build: build.clone(),
                    binary: binary.clone(),
                    mode,
                    database,
                    samples: Samples::default(),
                });
            }
        }
    }

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let server_versions = runtime.block_on(versions(&servers))?;
    for runner in &runners {
        runtime.block_on(create_database(&servers[runner.server], &runner.database))?;
    }
    let measured = (|| -> Result<()> {
        for round in 0..rounds {
            eprintln!("round {} of {rounds}", round + 1);
            for (index, server) in servers.iter().enumerate() {
                let ours: Vec<usize> = (0..runners.len())
                    .filter(|&r| runners[r].server == index)
                    .collect();
                for offset in 0..ours.len() {
                    let runner = &mut runners[ours[(round + offset) % ours.len()]];
                    runtime.block_on(empty(server, &runner.database))?;
                    let apply = upgrade(server, runner, &full, false)?;
                    runner.samples.apply.push(apply);
                    for _ in 0..NOOPS_PER_ROUND {
                        let noop = upgrade(server, runner, &full, true)?;
                        runner.samples.noop.push(noop);
                    }
                    let last = upgrade(server, runner, &plus_one, false)?;
                    runner.samples.last.push(last);
                    runtime.block_on(verify(server, runner))?;
                }
            }
        }
        Ok(())
    })();
    for runner in &runners {
        let _ = runtime.block_on(drop_database(&servers[runner.server], &runner.database));
    }
    measured?;

    let mut command = "cargo run -p benches --release --bin locks".to_owned();
    if quick || baseline.is_some() {
        command.push_str(" --");
    }
    if quick {
        command.push_str(" --quick");
    }
    if baseline.is_some() {
        let _ = write!(command, " --baseline PATH --baseline-name {baseline_name}");
    }
    let mut section = run.header(
        &command,
        &format!(
            "whole `migrate upgrade` processes (the release build, spawn to exit), {rounds} \
             round(s), runners in an order rotated by the round, each on a database of its own; \
             per round and runner: {MIGRATIONS} migrations applied to an empty database, \
             {NOOPS_PER_ROUND} no-op starts, then the {}st applied. Each migration creates a table \
             and inserts two rows.",
            MIGRATIONS + 1
        ),
    );
    section.push_str(&server_versions);
    section.push_str(
        "\n\"Beyond the default\" is the median of the per-round differences from the same \
         server's default mode in this build, with their interquartile range in parentheses (a \
         range across zero: no difference this run can tell); `× the default` is the median \
         of the per-round ratios; p25–p75 is the interquartile range of the times.\n",
    );
    for scenario in Scenario::ALL {
        section.push('\n');
        section.push_str(&table(scenario, &servers, &runners));
    }
    println!("{section}");
    if write_readme {
        report::replace_section("locks", &section)?;
        eprintln!("wrote benches/README.md");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_is_put_in_the_url() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "b"),
            "postgres://postgres@127.0.0.1:5432/b"
        );
        assert_eq!(
            with_database("mysql://root@127.0.0.1:3306/mysql?ssl-mode=disabled", "b"),
            "mysql://root@127.0.0.1:3306/b?ssl-mode=disabled"
        );
        assert_eq!(with_database("mysql://root@h", "b"), "mysql://root@h/b");
    }

    #[test]
    fn quantiles_of_differences() {
        assert_eq!(quantile_f64(vec![3.0, 1.0, 2.0], 0.5), 2.0);
        assert_eq!(quantile_f64(vec![1.0, 2.0], 0.5), 1.5);
        assert_eq!(quantile_f64(vec![-1.0, 0.0, 1.0, 2.0, 3.0], 0.25), 0.0);
    }
}
