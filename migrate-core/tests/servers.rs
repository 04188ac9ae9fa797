//! Real PostgreSQL and MariaDB/MySQL servers for the tests: each test gets
//! its own uniquely named database, dropped when the test ends (even when it
//! panics), so tests run in parallel and leave nothing behind.
//!
//! The servers come from `MIGRATE_TEST_POSTGRES_URL` and
//! `MIGRATE_TEST_MYSQL_URL`. Unset, a server test prints one line saying it
//! was skipped and why; with `MIGRATE_REQUIRE_SERVERS=1`, an unset or
//! unreachable server fails the test instead.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Which server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Postgres,
    MySql,
}

impl Kind {
    fn variable(self) -> &'static str {
        match self {
            Kind::Postgres => "MIGRATE_TEST_POSTGRES_URL",
            Kind::MySql => "MIGRATE_TEST_MYSQL_URL",
        }
    }
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

impl Database {
    /// A fresh database, or `None` (after saying why) when the server is not
    /// configured and not required.
    pub async fn create(kind: Kind) -> Option<Database> {
        let admin_url = match std::env::var(kind.variable()) {
            Ok(url) if !url.is_empty() => url,
            _ => {
                assert!(
                    !required(),
                    "{} is not set but MIGRATE_REQUIRE_SERVERS=1",
                    kind.variable()
                );
                println!(
                    "skipped: {} is not set (see README.md, \"Server tests\")",
                    kind.variable()
                );
                return None;
            }
        };
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
            assert!(
                !required(),
                "cannot create a test database on {}: {err}",
                kind.variable()
            );
            println!(
                "skipped: the server at {} is unreachable: {err}",
                kind.variable()
            );
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
