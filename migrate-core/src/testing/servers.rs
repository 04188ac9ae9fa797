//! `#[migrate::test]` for `async fn` tests: a fresh database behind a sqlx
//! pool, on SQLite (a copy of the template file), PostgreSQL (`CREATE
//! DATABASE … TEMPLATE`) or MySQL/MariaDB (the migrations replayed on a new database),
//! on the server `DATABASE_URL` names, as `#[sqlx::test]` reads it.

// Builds with some of the backends only leave parts unused.
#![cfg_attr(
    not(all(
        feature = "rusqlite",
        feature = "sqlx-sqlite",
        feature = "sqlx-postgres",
        feature = "sqlx-mysql"
    )),
    allow(dead_code, unused_imports)
)]

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context, Poll};

use sqlx::{AssertSqlSafe, Connection as _};

use super::{Outcome, database_name, digest, kept};
use crate::dialect::{Dialect, database};
use crate::{Error, Migrations};

fn failed(action: impl Into<String>) -> impl FnOnce(sqlx::Error) -> Error {
    crate::sqlx::database_error(action)
}

/// The server tests run on: `url`, or `DATABASE_URL`.
#[cfg(any(feature = "sqlx-postgres", feature = "sqlx-mysql"))]
fn database_url(url: Option<&str>) -> Result<String, Error> {
    if let Some(url) = url {
        return Ok(url.to_owned());
    }
    std::env::var("DATABASE_URL").map_err(|_| Error::Database {
        action: "find the test server".to_owned(),
        message: "DATABASE_URL is not set: #[migrate::test] makes each test's database on the \
                  server it names, as #[sqlx::test] does"
            .to_owned(),
        source: None,
    })
}

/// The test server (`url`, or `DATABASE_URL`), the name of `set`'s
/// template there, and a connection to it.
#[cfg(any(feature = "sqlx-postgres", feature = "sqlx-mysql"))]
async fn server<C: sqlx::Connection>(
    set: &Migrations,
    url: Option<&str>,
) -> Result<(C::Options, String, C), Error> {
    let admin: C::Options = database_url(url)?
        .parse()
        .map_err(failed("read the test server's URL"))?;
    let conn = C::connect_with(&admin)
        .await
        .map_err(failed("connect to the test server"))?;
    Ok((admin, format!("migrate_tpl_{}", digest(set)), conn))
}

/// A test's database, to remove once the test passed (or keep).
#[derive(Debug)]
pub enum Fresh {
    /// A SQLite file.
    File(PathBuf),
    /// A PostgreSQL database, and how to reach the server.
    #[cfg(feature = "sqlx-postgres")]
    Postgres {
        /// The server, as `DATABASE_URL` gave it.
        admin: sqlx::postgres::PgConnectOptions,
        /// The database.
        name: String,
    },
    /// A MySQL/MariaDB database, and how to reach the server.
    #[cfg(feature = "sqlx-mysql")]
    MySql {
        /// The server, as `DATABASE_URL` gave it.
        admin: sqlx::mysql::MySqlConnectOptions,
        /// The database.
        name: String,
    },
}

impl Fresh {
    /// What to look for: the file, or the database's name.
    ///
    /// # Examples
    ///
    /// ```
    /// let fresh = migrate::testing::Fresh::File("/tmp/t.sqlite3".into());
    /// assert_eq!(fresh.describe(), "/tmp/t.sqlite3");
    /// ```
    pub fn describe(&self) -> String {
        match self {
            Fresh::File(path) => path.display().to_string(),
            #[cfg(feature = "sqlx-postgres")]
            Fresh::Postgres { name, .. } => format!("PostgreSQL database {name}"),
            #[cfg(feature = "sqlx-mysql")]
            Fresh::MySql { name, .. } => format!("MySQL/MariaDB database {name}"),
        }
    }

    /// Removes the database.
    ///
    /// # Errors
    ///
    /// The server's error.
    pub async fn remove(self) -> Result<(), Error> {
        match self {
            Fresh::File(path) => {
                let _ = std::fs::remove_file(&path);
                Ok(())
            }
            #[cfg(feature = "sqlx-postgres")]
            Fresh::Postgres { admin, name } => {
                let mut conn = sqlx::PgConnection::connect_with(&admin)
                    .await
                    .map_err(failed("connect to the test server"))?;
                sqlx::raw_sql(AssertSqlSafe(database::drop(Dialect::Postgres, &name)))
                    .execute(&mut conn)
                    .await
                    .map(drop)
                    .map_err(failed(format!("drop the test database {name}")))
            }
            #[cfg(feature = "sqlx-mysql")]
            Fresh::MySql { admin, name } => {
                let mut conn = sqlx::MySqlConnection::connect_with(&admin)
                    .await
                    .map_err(failed("connect to the test server"))?;
                sqlx::raw_sql(AssertSqlSafe(database::drop(Dialect::MySql, &name)))
                    .execute(&mut conn)
                    .await
                    .map(drop)
                    .map_err(failed(format!("drop the test database {name}")))
            }
        }
    }
}

/// A type `#[migrate::test]` can hand an `async fn` test.
#[diagnostic::on_unimplemented(
    message = "`#[migrate::test]` gives an `async fn` test a `sqlx::SqlitePool`, `sqlx::PgPool` or `sqlx::MySqlPool` (and a test that is not `async` a `rusqlite::Connection`), not `{Self}`",
    label = "not a database `#[migrate::test]` can give"
)]
pub trait AsyncArgument: Sized + Clone + Send + 'static {
    /// It lives on a server (whose URL the test needs).
    #[doc(hidden)]
    const SERVER: bool;
    #[doc(hidden)]
    fn fresh(
        set: &Migrations,
        test: &str,
        url: Option<&str>,
    ) -> impl Future<Output = Result<(Self, Fresh), Error>> + Send;
    #[doc(hidden)]
    fn close(&self) -> impl Future<Output = ()> + Send;
}

/// A fresh database with every migration of `set` applied, for the test
/// named `test`, and what to remove once it is done: on SQLite a file, on
/// PostgreSQL and MySQL/MariaDB a database on the server `url` names
/// (`None`: `DATABASE_URL`).
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// # std::fs::write(dir.path().join("1_a.sql"), "CREATE TABLE a (id INT);")?;
/// let set = migrate::Migrations::from_dir(dir.path())?;
/// let (pool, fresh): (sqlx::SqlitePool, _) = migrate::testing::fresh(&set, "my_test", None).await?;
/// assert_eq!(migrate::sqlx::status(&pool, &set, &Default::default()).await?.pending, 0);
/// pool.close().await;
/// fresh.remove().await?;
/// # Ok(()) }
/// ```
///
/// # Errors
///
/// A migration that fails while the template is built, no server URL, or
/// the server's error.
pub async fn fresh<T: AsyncArgument>(
    set: &Migrations,
    test: &str,
    url: Option<&str>,
) -> Result<(T, Fresh), Error> {
    T::fresh(set, test, url).await
}

#[cfg(feature = "sqlx-sqlite")]
impl AsyncArgument for sqlx::SqlitePool {
    const SERVER: bool = false;

    async fn fresh(set: &Migrations, test: &str, _: Option<&str>) -> Result<(Self, Fresh), Error> {
        async fn open(path: &std::path::Path) -> Result<sqlx::SqlitePool, Error> {
            let options = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(path)
                .create_if_missing(true);
            sqlx::SqlitePool::connect_with(options)
                .await
                .map_err(failed("open the test database"))
        }
        let (template, built) = super::sqlite_template(set)?;
        if !built {
            let building = super::building(&template);
            let pool = open(&building).await?;
            let ran = crate::sqlx::run(&pool, set).await.map(drop);
            pool.close().await;
            super::install(ran, &building, &template)?;
        }
        let file = super::sqlite_copy(&template, test)?;
        Ok((open(&file).await?, Fresh::File(file)))
    }

    async fn close(&self) {
        sqlx::Pool::close(self).await;
    }
}

#[cfg(feature = "sqlx-postgres")]
impl AsyncArgument for sqlx::PgPool {
    const SERVER: bool = true;

    async fn fresh(
        set: &Migrations,
        test: &str,
        url: Option<&str>,
    ) -> Result<(Self, Fresh), Error> {
        let (admin, template, mut conn) = server::<sqlx::PgConnection>(set, url).await?;
        if !pg_exists(&mut conn, &template).await? {
            // Built under a name of its own, then renamed into place: tests
            // starting at once never copy half of one.
            let building = database_name("template");
            execute_pg(
                &mut conn,
                &database::create(Dialect::Postgres, &building, None),
            )
            .await?;
            let pool = sqlx::PgPool::connect_with(admin.clone().database(&building))
                .await
                .map_err(failed("connect to the template database"))?;
            let ran = crate::sqlx::run(&pool, set).await;
            pool.close().await;
            let moved = match ran {
                Ok(_) => {
                    execute_pg(&mut conn, &database::no_connections(&building)).await?;
                    execute_pg(&mut conn, &database::rename(&building, &template)).await
                }
                Err(err) => Err(err),
            };
            if let Err(err) = moved {
                let _ = execute_pg(&mut conn, &database::drop(Dialect::Postgres, &building)).await;
                // Another test built it first.
                if !pg_exists(&mut conn, &template).await? {
                    return Err(err);
                }
            }
        }
        let name = database_name(test);
        let mut tries = 0;
        loop {
            let created = execute_pg(
                &mut conn,
                &database::create(Dialect::Postgres, &name, Some(&template)),
            )
            .await;
            match created {
                Ok(()) => break,
                // The template is being read by another copy: try again.
                Err(Error::Database {
                    source: Some(ref source),
                    ..
                }) if tries < 50 && object_in_use(source.as_ref()) => {
                    tries += 1;
                    sqlx_core::rt::sleep(std::time::Duration::from_millis(20)).await;
                }
                Err(err) => return Err(err),
            }
        }
        let _ = conn.close().await;
        let pool = sqlx::PgPool::connect_with(admin.clone().database(&name))
            .await
            .map_err(failed("connect to the test database"))?;
        Ok((pool, Fresh::Postgres { admin, name }))
    }

    async fn close(&self) {
        sqlx::Pool::close(self).await;
    }
}

/// PostgreSQL's `object_in_use` (55006): "source database is being
/// accessed by other users".
#[cfg(feature = "sqlx-postgres")]
fn object_in_use(source: &(dyn std::error::Error + Send + Sync + 'static)) -> bool {
    source
        .downcast_ref::<sqlx::Error>()
        .and_then(sqlx::Error::as_database_error)
        .is_some_and(|db| db.code().as_deref() == Some("55006"))
}

#[cfg(feature = "sqlx-postgres")]
async fn pg_exists(conn: &mut sqlx::PgConnection, name: &str) -> Result<bool, Error> {
    sqlx::query_scalar::<_, i64>(AssertSqlSafe(database::count(name)))
        .fetch_one(conn)
        .await
        .map(|n| n > 0)
        .map_err(failed("look for the template database"))
}

#[cfg(feature = "sqlx-postgres")]
async fn execute_pg(conn: &mut sqlx::PgConnection, statement: &str) -> Result<(), Error> {
    sqlx::raw_sql(AssertSqlSafe(statement.to_owned()))
        .execute(conn)
        .await
        .map(drop)
        .map_err(failed(statement.to_owned()))
}

#[cfg(feature = "sqlx-mysql")]
impl AsyncArgument for sqlx::MySqlPool {
    const SERVER: bool = true;

    /// A new database with the migrations replayed: on MariaDB, copying a
    /// template's tables measured no faster at 10 and 100 migrations and
    /// ten times slower at 1,000 (benches/README.md).
    async fn fresh(
        set: &Migrations,
        test: &str,
        url: Option<&str>,
    ) -> Result<(Self, Fresh), Error> {
        let (admin, _, mut conn) = server::<sqlx::MySqlConnection>(set, url).await?;
        let name = database_name(test);
        execute_mysql(&mut conn, &database::create(Dialect::MySql, &name, None)).await?;
        let _ = conn.close().await;
        let pool = sqlx::MySqlPool::connect_with(admin.clone().database(&name))
            .await
            .map_err(failed("connect to the test database"))?;
        let fresh = Fresh::MySql { admin, name };
        if let Err(err) = crate::sqlx::run(&pool, set).await {
            pool.close().await;
            let _ = fresh.remove().await;
            return Err(err);
        }
        Ok((pool, fresh))
    }

    async fn close(&self) {
        sqlx::Pool::close(self).await;
    }
}

#[cfg(feature = "sqlx-mysql")]
async fn execute_mysql(conn: &mut sqlx::MySqlConnection, statement: &str) -> Result<(), Error> {
    sqlx::raw_sql(AssertSqlSafe(statement.to_owned()))
        .execute(conn)
        .await
        .map(drop)
        .map_err(failed(statement.to_owned()))
}

/// A future's panic, caught: `Err` holds it, to resume once the test's
/// database is kept.
struct CatchUnwind<F>(Pin<Box<F>>);

impl<F: Future> Future for CatchUnwind<F> {
    type Output = std::thread::Result<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let future = self.0.as_mut();
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| future.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(value)) => Poll::Ready(Ok(value)),
            Err(panic) => Poll::Ready(Err(panic)),
        }
    }
}

/// Runs one `#[migrate::test]` `async fn`. Internal.
#[doc(hidden)]
pub fn __run_async<T: AsyncArgument, R: Outcome, F: Future<Output = R>>(
    set: &Migrations,
    test: &str,
    variable: &str,
    f: impl FnOnce(T) -> F,
) -> R {
    let url = std::env::var(variable).ok();
    sqlx_core::rt::test_block_on(async move {
        let fresh = match (&url, T::SERVER) {
            (None, true) => Err(Error::Database {
                action: "find the test server".to_owned(),
                message: format!(
                    "{variable} is not set: #[migrate::test] makes each test's database on the \
                     server it names"
                ),
                source: None,
            }),
            _ => T::fresh(set, test, url.as_deref()).await,
        };
        let (argument, fresh) = fresh.unwrap_or_else(|err| {
            panic!("#[migrate::test] could not give {test} a database: {err}")
        });
        let outcome = CatchUnwind(Box::pin(f(argument.clone()))).await;
        argument.close().await;
        match outcome {
            Ok(result) if !result.failed() => {
                let _ = fresh.remove().await;
                result
            }
            Ok(result) => {
                kept(test, &fresh.describe());
                result
            }
            Err(panic) => {
                kept(test, &fresh.describe());
                std::panic::resume_unwind(panic)
            }
        }
    })
}
