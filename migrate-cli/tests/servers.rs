//! Real PostgreSQL and MariaDB/MySQL servers for the command's tests, and
//! the databases under test of every kind.
//!
//! The fresh, uniquely named server database each test gets (dropped when
//! the test ends, even when it panics) is migrate-core's test helper,
//! compiled here as it is there, so that the two test suites share one
//! helper: it reads `MIGRATE_TEST_POSTGRES_URL` and
//! `MIGRATE_TEST_MYSQL_URL`, prints one line saying a test was skipped when
//! one is unset, and fails the test instead when `MIGRATE_REQUIRE_SERVERS=1`
//! is set. The same goes for a database on every node of the Galera cluster
//! of `MIGRATE_TEST_GALERA_URLS` ([`GaleraDatabase`]) and one behind the
//! PgBouncer of `MIGRATE_TEST_PGBOUNCER_URL` ([`PgBouncerDatabase`]). The
//! tests talk to the servers through sqlx on a runtime of their own, never
//! through `migrate`.
//!
//! [`Subject`] is a database of any kind with a copy of a fixture
//! directory, so that a scenario is written once and run on SQLite,
//! PostgreSQL and MySQL alike (see [`every_backend!`]).

use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;
use sqlx::{AssertSqlSafe, Connection, Row as _};

use crate::common::{Project, Row, Run, history_rows, migrate};

#[path = "../../migrate-core/tests/servers.rs"]
mod shared;

/// Which database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
    MySql,
}

/// Runs `future` to completion on a runtime of its own.
pub fn block_on<T>(future: impl Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// Runs SQL text (one or many statements) on the server `url` names.
pub fn execute(kind: Kind, url: &str, sql: &str) -> Result<(), sqlx::Error> {
    let sql = AssertSqlSafe(sql.to_owned());
    block_on(async {
        match kind {
            Kind::Postgres => {
                let mut conn = sqlx::PgConnection::connect(url).await?;
                sqlx::raw_sql(sql).execute(&mut conn).await?;
                conn.close().await
            }
            Kind::MySql => {
                let mut conn = sqlx::MySqlConnection::connect(url).await?;
                sqlx::raw_sql(sql).execute(&mut conn).await?;
                conn.close().await
            }
            Kind::Sqlite => unreachable!("SQLite is reached with rusqlite"),
        }
    })
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A name no other test (or test run) uses.
pub fn unique_name(prefix: &str) -> String {
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// A fresh database on a real server, dropped on drop.
pub struct ServerDatabase(shared::Database);

impl ServerDatabase {
    /// A fresh database, or `None` (after saying why) when the server is
    /// not configured and not required.
    pub fn create(kind: Kind) -> Option<ServerDatabase> {
        let kind = match kind {
            Kind::Postgres => shared::Kind::Postgres,
            Kind::MySql => shared::Kind::MySql,
            Kind::Sqlite => unreachable!("SQLite needs no server"),
        };
        block_on(shared::Database::create(kind)).map(ServerDatabase)
    }

    /// The URL of the fresh database.
    pub fn url(&self) -> &str {
        &self.0.url
    }

    fn kind(&self) -> Kind {
        match self.0.kind {
            shared::Kind::Postgres => Kind::Postgres,
            shared::Kind::MySql => Kind::MySql,
        }
    }

    /// The URL of the server the database was made on, as configured.
    pub fn server_url(&self) -> String {
        let variable = match self.0.kind {
            shared::Kind::Postgres => "MIGRATE_TEST_POSTGRES_URL",
            shared::Kind::MySql => "MIGRATE_TEST_MYSQL_URL",
        };
        std::env::var(variable).unwrap()
    }

    /// The first column of the rows of `query`, each read as `T`.
    fn column<T>(&self, query: &str) -> Vec<T>
    where
        T: for<'r> sqlx::Decode<'r, sqlx::Postgres>
            + sqlx::Type<sqlx::Postgres>
            + for<'r> sqlx::Decode<'r, sqlx::MySql>
            + sqlx::Type<sqlx::MySql>
            + Send
            + Unpin,
    {
        macro_rules! column {
            ($connection:ty) => {{
                let mut conn = <$connection>::connect(self.url()).await.unwrap();
                sqlx::query_scalar(AssertSqlSafe(query))
                    .fetch_all(&mut conn)
                    .await
                    .unwrap()
            }};
        }
        block_on(async {
            match self.kind() {
                Kind::Postgres => column!(sqlx::PgConnection),
                _ => column!(sqlx::MySqlConnection),
            }
        })
    }

    /// Every row of the history table, every column as stored.
    fn history(&self) -> Vec<Row> {
        if !self.tables().iter().any(|name| name == "_migrate_history") {
            return Vec::new();
        }
        let query = "SELECT version, name, checksum, down_sql, applied_at, execution_ms, success \
                     FROM _migrate_history ORDER BY version";
        macro_rules! rows {
            ($connection:ty) => {{
                let mut conn = <$connection>::connect(self.url()).await.unwrap();
                sqlx::query(query)
                    .fetch_all(&mut conn)
                    .await
                    .unwrap()
                    .iter()
                    .map(|r| Row {
                        version: r.get(0),
                        name: r.get(1),
                        checksum: r.get(2),
                        down_sql: r.get(3),
                        applied_at: r.get(4),
                        execution_ms: r.get(5),
                        success: r.get(6),
                    })
                    .collect()
            }};
        }
        block_on(async {
            match self.kind() {
                Kind::Postgres => rows!(sqlx::PgConnection),
                _ => rows!(sqlx::MySqlConnection),
            }
        })
    }

    /// The tables of the database, by name.
    fn tables(&self) -> Vec<String> {
        self.column(match self.kind() {
            Kind::Postgres => {
                "SELECT CAST(table_name AS TEXT) FROM information_schema.tables \
                 WHERE table_schema = current_schema() ORDER BY 1"
            }
            _ => {
                "SELECT CAST(table_name AS CHAR) FROM information_schema.tables \
                 WHERE table_schema = DATABASE() ORDER BY 1"
            }
        })
    }
}

/// A fresh database on the MariaDB Galera cluster, on every node: created
/// on the first node of `MIGRATE_TEST_GALERA_URLS`, there on every node
/// before `create` returns, dropped on drop.
pub struct GaleraDatabase(shared::Galera);

impl GaleraDatabase {
    /// A fresh database on the cluster, or `None` (after saying why) when
    /// the cluster is not configured and not required.
    pub fn create() -> Option<GaleraDatabase> {
        block_on(shared::Galera::create()).map(GaleraDatabase)
    }

    /// The database's URL on each node, the node it was made on first.
    pub fn urls(&self) -> &[String] {
        &self.0.urls
    }

    /// The integers `query` returns (one column) on the node `urls()[node]`,
    /// read causally (`wsrep_sync_wait = 1`): after everything the cluster
    /// committed before the read.
    pub fn integers(&self, node: usize, query: &str) -> Vec<i64> {
        block_on(async {
            let mut conn = sqlx::MySqlConnection::connect(&self.0.urls[node])
                .await
                .unwrap();
            sqlx::raw_sql("SET SESSION wsrep_sync_wait = 1")
                .execute(&mut conn)
                .await
                .unwrap();
            sqlx::query_scalar(AssertSqlSafe(query))
                .fetch_all(&mut conn)
                .await
                .unwrap()
        })
    }
}

/// A fresh database on the PostgreSQL server, reached through the PgBouncer
/// of `MIGRATE_TEST_PGBOUNCER_URL`; made and dropped directly on the server.
pub struct PgBouncerDatabase(shared::PgBouncer);

impl PgBouncerDatabase {
    /// A fresh database behind PgBouncer, or `None` (after saying why) when
    /// PgBouncer or the server is not configured and not required.
    pub fn create() -> Option<PgBouncerDatabase> {
        block_on(shared::PgBouncer::create()).map(PgBouncerDatabase)
    }

    /// The database through PgBouncer.
    pub fn url(&self) -> &str {
        &self.0.url
    }

    /// The database directly on the server, PgBouncer bypassed.
    pub fn direct_url(&self) -> &str {
        &self.0.database.url
    }

    /// The integers `query` returns (one column), read directly on the
    /// server.
    pub fn integers(&self, query: &str) -> Vec<i64> {
        block_on(async {
            let mut conn = sqlx::PgConnection::connect(self.direct_url())
                .await
                .unwrap();
            sqlx::query_scalar(AssertSqlSafe(query))
                .fetch_all(&mut conn)
                .await
                .unwrap()
        })
    }
}

/// A database of any kind under test, with its own copy of a fixture
/// directory in `project.dir`.
pub struct Subject {
    pub kind: Kind,
    pub project: Project,
    server: Option<ServerDatabase>,
}

impl Subject {
    /// A fresh database of `kind` with a copy of the fixture `set`, or
    /// `None` when its server is not configured (and not required).
    pub fn new(kind: Kind, set: &str) -> Option<Subject> {
        let server = match kind {
            Kind::Sqlite => None,
            _ => Some(ServerDatabase::create(kind)?),
        };
        Some(Subject {
            kind,
            project: Project::copy_of(set),
            server,
        })
    }

    /// The database's URL.
    pub fn url(&self) -> String {
        match &self.server {
            Some(server) => server.url().to_owned(),
            None => self.project.url(),
        }
    }

    /// The server database, when this is one.
    pub fn server(&self) -> Option<&ServerDatabase> {
        self.server.as_ref()
    }

    /// Runs `migrate --database-url URL --dir DIR ARGS...` in the workspace.
    pub fn run(&self, args: &[&str]) -> Run {
        let url = self.url();
        let dir = self.project.dir.display().to_string();
        let mut all = vec!["--database-url", url.as_str(), "--dir", dir.as_str()];
        all.extend_from_slice(args);
        migrate(&all)
    }

    /// Runs with `--json` and returns the exit code and the document,
    /// asserting that stderr is empty.
    #[track_caller]
    pub fn json(&self, args: &[&str]) -> (i32, Value) {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let run = self.run(&all);
        assert_eq!(run.stderr, "", "{args:?} on {:?}", self.kind);
        (run.code, run.json())
    }

    /// Runs and asserts success; returns stdout.
    #[track_caller]
    pub fn ok(&self, args: &[&str]) -> String {
        self.run(args).ok().to_owned()
    }

    /// The history table's rows, every column as stored.
    pub fn history(&self) -> Vec<Row> {
        match &self.server {
            Some(server) => server.history(),
            None => history_rows(&self.project.open()),
        }
    }

    /// The applied versions.
    pub fn versions(&self) -> Vec<i64> {
        self.history().into_iter().map(|row| row.version).collect()
    }

    /// The database's tables, by name (the history table included).
    pub fn tables(&self) -> Vec<String> {
        match &self.server {
            Some(server) => server.tables(),
            None => crate::common::tables(&self.project.open()),
        }
    }

    /// The integers `query` returns (one column), as `i64`.
    pub fn integers(&self, query: &str) -> Vec<i64> {
        match &self.server {
            Some(server) => server.column(query),
            None => self
                .project
                .open()
                .prepare(query)
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap(),
        }
    }

    /// Runs SQL text (many statements) on the database, as a person would
    /// run what `--sql` printed.
    pub fn execute(&self, sql: &str) {
        match &self.server {
            Some(server) => execute(self.kind, server.url(), sql).unwrap(),
            None => self.project.open().execute_batch(sql).unwrap(),
        }
    }
}

/// Writes each scenario once, as `fn name(kind: Kind)`, and runs it on
/// every backend: `every_backend!(name, …)` makes `name::sqlite`,
/// `name::postgres` and `name::mysql` tests.
macro_rules! every_backend {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use crate::servers::Kind;

            #[test]
            fn sqlite() {
                super::$name(Kind::Sqlite);
            }

            #[test]
            fn postgres() {
                super::$name(Kind::Postgres);
            }

            #[test]
            fn mysql() {
                super::$name(Kind::MySql);
            }
        }
    )*};
}
pub(crate) use every_backend;
