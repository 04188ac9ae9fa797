//! Real PostgreSQL and MariaDB/MySQL servers for the tests: each test gets
//! its own uniquely named database, dropped when the test ends (even when it
//! panics), so tests run in parallel and leave nothing behind.
//!
//! The servers come from `MIGRATE_TEST_POSTGRES_URL` and
//! `MIGRATE_TEST_MYSQL_URL`; a MariaDB Galera cluster ([`Galera`]) from
//! `MIGRATE_TEST_GALERA_URLS` (its nodes' URLs, comma-separated) and a
//! PgBouncer in front of the PostgreSQL server ([`PgBouncer`]) from
//! `MIGRATE_TEST_PGBOUNCER_URL` (`scripts/galera` and `scripts/pgbouncer`
//! start both). Unset, a server test prints one line saying it was skipped
//! and why; with `MIGRATE_REQUIRE_SERVERS=1`, an unset or unreachable server
//! fails the test instead.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Which server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Postgres,
    MySql,
}

impl Kind {
    pub fn variable(self) -> &'static str {
        match self {
            Kind::Postgres => "MIGRATE_TEST_POSTGRES_URL",
            Kind::MySql => "MIGRATE_TEST_MYSQL_URL",
        }
    }
}

/// `sql`'s one integer, on a pool of `url`.
#[allow(dead_code)] // the CLI's tests share this file
pub async fn count(url: &str, kind: Kind, sql: &str) -> i64 {
    match kind {
        Kind::Postgres => {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
                .fetch_one(&pool)
                .await
                .unwrap()
        }
        Kind::MySql => {
            let pool = sqlx::MySqlPool::connect(url).await.unwrap();
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    }
}

/// Runs `sql` (one or more statements) on a pool of `url`.
#[allow(dead_code)] // the CLI's tests share this file
pub async fn execute(url: &str, kind: Kind, sql: &str) {
    match kind {
        Kind::Postgres => {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
                .execute(&pool)
                .await
                .unwrap();
        }
        Kind::MySql => {
            let pool = sqlx::MySqlPool::connect(url).await.unwrap();
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
                .execute(&pool)
                .await
                .unwrap();
        }
    }
}

/// Upgrades `url` to head with `set` and `options`: the steps it applied.
#[allow(dead_code)] // the CLI's tests share this file
pub async fn upgrade(
    url: &str,
    kind: Kind,
    set: &migrate::Migrations,
    options: &migrate::Options,
) -> Result<usize, migrate::Error> {
    let steps = match kind {
        Kind::Postgres => {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            migrate::sqlx::upgrade(&pool, set, migrate::Target::Head, options).await
        }
        Kind::MySql => {
            let pool = sqlx::MySqlPool::connect(url).await.unwrap();
            migrate::sqlx::upgrade(&pool, set, migrate::Target::Head, options).await
        }
    };
    steps.map(|report| report.steps.len())
}

/// A fresh database on a real server, dropped on drop.
pub struct Database {
    pub kind: Kind,
    /// The URL of the fresh database.
    pub url: String,
    admin_url: String,
    name: String,
}

fn required() -> bool {
    std::env::var("MIGRATE_REQUIRE_SERVERS").is_ok_and(|v| v == "1")
}

/// The value of `variable`, or `None` (after saying why) when it is unset
/// or empty and servers are not required.
fn configured(variable: &str) -> Option<String> {
    match std::env::var(variable) {
        Ok(value) if !value.is_empty() => Some(value),
        _ => {
            assert!(
                !required(),
                "{variable} is not set but MIGRATE_REQUIRE_SERVERS=1"
            );
            crate::skip::skipped(&format!(
                "{variable} is not set (see README.md, \"Server tests\")"
            ));
            None
        }
    }
}

/// Says that the server `variable` configures cannot be used (`failure`,
/// naming the variable, then `err`); a test failure when servers are
/// required.
fn unreachable_server(variable: &str, failure: &str, err: &dyn std::fmt::Display) {
    assert!(!required(), "{failure}: {err}");
    crate::skip::skipped(&format!("the server at {variable} is unreachable: {err}"));
}

/// `base` with its path (the database) replaced by `name`.
fn with_database(base: &str, name: &str) -> String {
    let (before_query, query) = base
        .split_once('?')
        .map_or((base, None), |(a, q)| (a, Some(q)));
    let scheme_end = before_query.find("://").map_or(0, |at| at + 3);
    let path_start = before_query[scheme_end..]
        .find('/')
        .map_or(before_query.len(), |at| scheme_end + at);
    let mut url = format!("{}/{name}", &before_query[..path_start]);
    if let Some(query) = query {
        url.push('?');
        url.push_str(query);
    }
    url
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// The configured server's URL, or `None` (after saying why) when it is not
/// configured and not required.
#[allow(dead_code)]
pub fn url(kind: Kind) -> Option<String> {
    configured(kind.variable())
}

impl Database {
    /// A fresh database, or `None` (after saying why) when the server is not
    /// configured and not required.
    pub async fn create(kind: Kind) -> Option<Database> {
        let admin_url = configured(kind.variable())?;
        Database::create_on(kind, kind.variable(), admin_url).await
    }

    /// A fresh database on the server `admin_url` names, which `variable`
    /// configured, or `None` (after saying why) when it is unreachable and
    /// not required.
    async fn create_on(kind: Kind, variable: &str, admin_url: String) -> Option<Database> {
        let name = format!(
            "migrate_test_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos()
        );
        let created = match kind {
            Kind::Postgres => {
                async {
                    let mut conn =
                        <sqlx::PgConnection as sqlx::Connection>::connect(&admin_url).await?;
                    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                        .execute(&mut conn)
                        .await?;
                    Ok::<_, sqlx::Error>(())
                }
                .await
            }
            Kind::MySql => {
                async {
                    let mut conn =
                        <sqlx::MySqlConnection as sqlx::Connection>::connect(&admin_url).await?;
                    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                        .execute(&mut conn)
                        .await?;
                    Ok::<_, sqlx::Error>(())
                }
                .await
            }
        };
        if let Err(err) = created {
            let failure = format!("cannot create a test database on {variable}");
            unreachable_server(variable, &failure, &err);
            return None;
        }
        Some(Database {
            kind,
            url: with_database(&admin_url, &name),
            admin_url,
            name,
        })
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let (kind, admin_url, name) = (self.kind, self.admin_url.clone(), self.name.clone());
        // A runtime of its own: this may run inside (or after) the test's.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                match kind {
                    Kind::Postgres => {
                        let mut conn =
                            <sqlx::PgConnection as sqlx::Connection>::connect(&admin_url).await?;
                        sqlx::query(sqlx::AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                        )))
                        .execute(&mut conn)
                        .await?;
                    }
                    Kind::MySql => {
                        let mut conn =
                            <sqlx::MySqlConnection as sqlx::Connection>::connect(&admin_url)
                                .await?;
                        sqlx::query(sqlx::AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS {name}"
                        )))
                        .execute(&mut conn)
                        .await?;
                    }
                }
                Ok::<_, sqlx::Error>(())
            })
        })
        .join();
        if let Ok(Err(err)) = dropped {
            eprintln!("could not drop the test database {}: {err}", self.name);
        }
    }
}

/// A fresh database on a MariaDB Galera cluster, on every node: created on
/// the first node of `MIGRATE_TEST_GALERA_URLS`, replicated to the others
/// (each node has it before `create` returns), dropped on drop.
pub struct Galera {
    /// The database on the first node, where it was created and is dropped.
    _database: Database,
    /// The database's URL on each node, in the order of the variable.
    pub urls: Vec<String>,
}

impl Galera {
    const VARIABLE: &str = "MIGRATE_TEST_GALERA_URLS";

    /// A fresh database on the cluster, or `None` (after saying why) when
    /// the cluster is not configured and not required.
    pub async fn create() -> Option<Galera> {
        let nodes: Vec<String> = configured(Self::VARIABLE)?
            .split(',')
            .map(str::trim)
            .filter(|node| !node.is_empty())
            .map(str::to_owned)
            .collect();
        let database = Database::create_on(Kind::MySql, Self::VARIABLE, nodes[0].clone()).await?;
        for (at, node) in nodes.iter().enumerate() {
            if let Err(err) = has_database(node, &database.name).await {
                let failure = format!(
                    "cannot find the test database on node {} of {}",
                    at + 1,
                    Self::VARIABLE
                );
                unreachable_server(Self::VARIABLE, &failure, &err);
                return None;
            }
        }
        let urls = nodes
            .iter()
            .map(|node| with_database(node, &database.name))
            .collect();
        Some(Galera {
            _database: database,
            urls,
        })
    }
}

/// Waits (through a causal read) until the Galera node `url` names has the
/// database `name`.
async fn has_database(url: &str, name: &str) -> Result<(), sqlx::Error> {
    let mut conn = <sqlx::MySqlConnection as sqlx::Connection>::connect(url).await?;
    sqlx::raw_sql("SET SESSION wsrep_sync_wait = 1")
        .execute(&mut conn)
        .await?;
    let found: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
    )
    .bind(name)
    .fetch_one(&mut conn)
    .await?;
    if found != 1 {
        return Err(sqlx::Error::Protocol(format!(
            "the database {name} has not reached this node"
        )));
    }
    <sqlx::MySqlConnection as sqlx::Connection>::close(conn).await
}

/// A fresh database on the PostgreSQL server, reached through the PgBouncer
/// of `MIGRATE_TEST_PGBOUNCER_URL` (which must pass every database name to
/// that server): created and dropped directly on the server
/// (`MIGRATE_TEST_POSTGRES_URL`), with `WITH (FORCE)` since PgBouncer may
/// still hold server connections to it.
pub struct PgBouncer {
    /// The database directly on the server, PgBouncer bypassed.
    pub database: Database,
    /// The database through PgBouncer.
    pub url: String,
}

impl PgBouncer {
    const VARIABLE: &str = "MIGRATE_TEST_PGBOUNCER_URL";

    /// A fresh database behind PgBouncer, or `None` (after saying why) when
    /// PgBouncer or the server is not configured and not required.
    pub async fn create() -> Option<PgBouncer> {
        let bouncer = configured(Self::VARIABLE)?;
        let database = Database::create(Kind::Postgres).await?;
        let url = with_database(&bouncer, &database.name);
        let reached = async {
            let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&url).await?;
            sqlx::raw_sql("SELECT 1").execute(&mut conn).await?;
            <sqlx::PgConnection as sqlx::Connection>::close(conn).await
        }
        .await;
        if let Err(err) = reached {
            let failure = format!("cannot reach the test database through {}", Self::VARIABLE);
            unreachable_server(Self::VARIABLE, &failure, &err);
            return None;
        }
        Some(PgBouncer { database, url })
    }
}

#[test]
fn urls_get_the_test_database() {
    assert_eq!(
        with_database("postgres://u:p@h:5432/postgres", "x"),
        "postgres://u:p@h:5432/x"
    );
    assert_eq!(
        with_database("mysql://root@127.0.0.1:3306", "x"),
        "mysql://root@127.0.0.1:3306/x"
    );
    assert_eq!(
        with_database("postgres://h/db?sslmode=disable", "x"),
        "postgres://h/x?sslmode=disable"
    );
}
