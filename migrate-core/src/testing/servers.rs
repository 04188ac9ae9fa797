//! `#[migrate::test]` for `async fn` tests: a fresh database behind a sqlx
//! pool, on SQLite (a copy of the template file), PostgreSQL (`CREATE
//! DATABASE … TEMPLATE`, or a ready copy renamed) or MySQL/MariaDB (the
//! template's tables copied by one script),
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

use super::{Outcome, database_name, digest, kept, unique};
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
        /// The template it was copied from.
        template: String,
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

    /// Makes a ready copy of the test's template for a later test to take
    /// at once, unless enough are ready (one for each test that can run at
    /// the same time on this machine, 2 to 8): on PostgreSQL, where a
    /// `CREATE DATABASE … TEMPLATE` takes 50 ms to seconds (it grows with
    /// the schema) while taking a ready copy is a rename. The copies are
    /// named after the template (`<template>_s…`) and stay beside it.
    /// `#[migrate::test]` makes it while the test runs. Does nothing on
    /// SQLite and MySQL/MariaDB.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), migrate::Error> {
    /// let fresh = migrate::testing::Fresh::File("/tmp/t.sqlite3".into());
    /// fresh.refill().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// The server's error; no half-made copy is left.
    pub async fn refill(&self) -> Result<(), Error> {
        match self {
            #[cfg(feature = "sqlx-postgres")]
            Fresh::Postgres {
                admin, template, ..
            } => {
                let mut conn = sqlx::PgConnection::connect_with(admin)
                    .await
                    .map_err(failed("connect to the test server"))?;
                let made = if pg_spares(&mut conn, template).await?.len() < spares_kept() {
                    let spare = format!("{}{}", database::spare_prefix(template), unique());
                    pg_copy(&mut conn, template, &spare).await
                } else {
                    Ok(())
                };
                let _ = conn.close().await;
                made
            }
            _ => Ok(()),
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
            Fresh::Postgres { admin, name, .. } => {
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
        if !pg_claim_spare(&mut conn, &template, &name).await? {
            pg_copy(&mut conn, &template, &name).await?;
        }
        let _ = conn.close().await;
        let pool = sqlx::PgPool::connect_with(admin.clone().database(&name))
            .await
            .map_err(failed("connect to the test database"))?;
        Ok((
            pool,
            Fresh::Postgres {
                admin,
                name,
                template,
            },
        ))
    }

    async fn close(&self) {
        sqlx::Pool::close(self).await;
    }
}

/// A PostgreSQL error's SQLSTATE (`""` for another error).
#[cfg(feature = "sqlx-postgres")]
fn pg_code(source: &(dyn std::error::Error + Send + Sync + 'static)) -> String {
    source
        .downcast_ref::<sqlx::Error>()
        .and_then(sqlx::Error::as_database_error)
        .and_then(|db| db.code())
        .map(|code| code.into_owned())
        .unwrap_or_default()
}

/// Takes one of the template's ready copies, renaming it `name`; `false`
/// when none is left.
#[cfg(feature = "sqlx-postgres")]
async fn pg_claim_spare(
    conn: &mut sqlx::PgConnection,
    template: &str,
    name: &str,
) -> Result<bool, Error> {
    for spare in pg_spares(conn, template).await? {
        match execute_pg(conn, &database::rename(&spare, name)).await {
            Ok(()) => return Ok(true),
            // Another test took it first (3D000), or is still connected to
            // it (55006).
            Err(Error::Database {
                source: Some(ref source),
                ..
            }) if ["3D000", "55006"].contains(&pg_code(source.as_ref()).as_str()) => {}
            Err(err) => return Err(err),
        }
    }
    Ok(false)
}

/// The names of the template's ready copies.
#[cfg(feature = "sqlx-postgres")]
async fn pg_spares(conn: &mut sqlx::PgConnection, template: &str) -> Result<Vec<String>, Error> {
    sqlx::query_scalar::<_, String>(AssertSqlSafe(database::spares(template)))
        .fetch_all(conn)
        .await
        .map_err(failed("look for ready copies of the template database"))
}

/// Copies the template into a new database `name`, waiting while another
/// session reads the template.
#[cfg(feature = "sqlx-postgres")]
async fn pg_copy(conn: &mut sqlx::PgConnection, template: &str, name: &str) -> Result<(), Error> {
    let started = std::time::Instant::now();
    loop {
        let created = execute_pg(
            conn,
            &database::create(Dialect::Postgres, name, Some(template)),
        )
        .await;
        match created {
            Ok(()) => return Ok(()),
            // The template is being read by another copy: try again.
            Err(Error::Database {
                source: Some(ref source),
                ..
            }) if started.elapsed() < std::time::Duration::from_secs(30)
                && pg_code(source.as_ref()) == "55006" =>
            {
                sqlx_core::rt::sleep(std::time::Duration::from_millis(20)).await;
            }
            Err(err) => return Err(err),
        }
    }
}

/// How many ready copies of a template the tests keep: one for each test
/// that can run at once (the machine's threads), from 2 to 8.
fn spares_kept() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 8))
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

    /// A copy of the template's tables, made by one script the template
    /// keeps (its tables' `CREATE TABLE` statements and rows), or the
    /// migrations replayed where the template holds more than tables.
    async fn fresh(
        set: &Migrations,
        test: &str,
        url: Option<&str>,
    ) -> Result<(Self, Fresh), Error> {
        let (admin, template, mut conn) = server::<sqlx::MySqlConnection>(set, url).await?;
        let copy = match mysql_read_copy(&mut conn, &template).await {
            Some(copy) => copy,
            None => mysql_build(&mut conn, &admin, set, &template).await?,
        };
        let name = database_name(test);
        execute_mysql(&mut conn, &database::create(Dialect::MySql, &name, None)).await?;
        let fresh = Fresh::MySql {
            admin: admin.clone(),
            name: name.clone(),
        };
        let copied = match &copy {
            Some(script) => {
                let script = format!("USE {};\n{script}", database::quoted(Dialect::MySql, &name));
                sqlx::raw_sql(AssertSqlSafe(script))
                    .execute(&mut conn)
                    .await
                    .map(drop)
                    .map_err(failed(format!(
                        "copy the template {template}'s tables into {name}"
                    )))
            }
            None => Ok(()),
        };
        let _ = conn.close().await;
        let made = match copied {
            Ok(()) => sqlx::MySqlPool::connect_with(admin.clone().database(&name))
                .await
                .map_err(failed("connect to the test database")),
            Err(err) => Err(err),
        };
        let made = match (made, copy) {
            (Ok(pool), None) => match crate::sqlx::run(&pool, set).await {
                Ok(_) => Ok(pool),
                Err(err) => {
                    pool.close().await;
                    Err(err)
                }
            },
            (made, _) => made,
        };
        match made {
            Ok(pool) => Ok((pool, fresh)),
            Err(err) => {
                let _ = fresh.remove().await;
                Err(err)
            }
        }
    }

    async fn close(&self) {
        sqlx::Pool::close(self).await;
    }
}

/// The template's copy script: `Some(None)` where the migrations are
/// replayed instead, `None` while the template is not built.
#[cfg(feature = "sqlx-mysql")]
async fn mysql_read_copy(
    conn: &mut sqlx::MySqlConnection,
    template: &str,
) -> Option<Option<String>> {
    use sqlx::Row as _;
    // Read as plain text, not prepared: sqlx keeps a connection's prepared
    // statements, and past its cache's 100 each new one measured 44 ms on
    // MariaDB.
    let row = sqlx::raw_sql(AssertSqlSafe(database::mysql_read_copy(template)))
        .fetch_optional(conn)
        .await
        .ok()??;
    row.try_get::<Option<String>, _>(0).ok()
}

/// Builds the template, one test at a time (the others wait for
/// `GET_LOCK`, then find it built), and returns its copy script.
#[cfg(feature = "sqlx-mysql")]
async fn mysql_build(
    conn: &mut sqlx::MySqlConnection,
    admin: &sqlx::mysql::MySqlConnectOptions,
    set: &Migrations,
    template: &str,
) -> Result<Option<String>, Error> {
    let locked: Option<i64> = sqlx::query_scalar("SELECT GET_LOCK(?, 600)")
        .bind(template)
        .fetch_one(&mut *conn)
        .await
        .map_err(failed("wait for the template database"))?;
    if locked != Some(1) {
        return Err(Error::LockTimeout {
            waited: std::time::Duration::from_secs(600),
            holder: None,
        });
    }
    let built = async {
        if let Some(copy) = mysql_read_copy(conn, template).await {
            return Ok(copy);
        }
        // A build that stopped half-way leaves a template without its
        // script: it is made again.
        execute_mysql(conn, &database::drop(Dialect::MySql, template)).await?;
        execute_mysql(conn, &database::create(Dialect::MySql, template, None)).await?;
        let pool = sqlx::MySqlPool::connect_with(admin.clone().database(template))
            .await
            .map_err(failed("connect to the template database"))?;
        let ran = crate::sqlx::run(&pool, set).await;
        pool.close().await;
        ran?;
        let copy = mysql_copy_script(conn, template).await?;
        sqlx::raw_sql(AssertSqlSafe(database::mysql_write_copy(
            template,
            copy.as_deref(),
        )))
        .execute(&mut *conn)
        .await
        .map_err(failed(format!(
            "record the template {template}'s copy script"
        )))?;
        Ok(copy)
    }
    .await;
    let _ = sqlx::query("SELECT RELEASE_LOCK(?)")
        .bind(template)
        .execute(&mut *conn)
        .await;
    built
}

/// The script that copies the template's tables, or `None` where it holds
/// more than a copy of its tables would give.
#[cfg(feature = "sqlx-mysql")]
async fn mysql_copy_script(
    conn: &mut sqlx::MySqlConnection,
    template: &str,
) -> Result<Option<String>, Error> {
    use sqlx::Row as _;
    let text = |row: &sqlx::mysql::MySqlRow, column: usize| {
        row.try_get::<String, _>(column)
            .map_err(failed("read the template database's catalog"))
    };
    async fn rows(
        conn: &mut sqlx::MySqlConnection,
        sql: String,
    ) -> Result<Vec<sqlx::mysql::MySqlRow>, Error> {
        sqlx::raw_sql(AssertSqlSafe(sql))
            .fetch_all(conn)
            .await
            .map_err(failed("read the template database's catalog"))
    }
    // The summary's triggers and row stay behind (see
    // `database::mysql_beyond_tables`).
    let summary =
        crate::dialect::summary::SummarySql::new(Dialect::MySql, &crate::Options::default().table);
    let beyond = rows(
        conn,
        database::mysql_beyond_tables(template, &summary.triggers),
    )
    .await?;
    if beyond
        .first()
        .map(|row| text(row, 0))
        .transpose()?
        .as_deref()
        != Some("0")
    {
        return Ok(None);
    }
    let mut tables = Vec::new();
    for row in rows(&mut *conn, database::mysql_tables(template)).await? {
        let table = text(&row, 0)?;
        let create = rows(conn, database::mysql_show_create(template, &table)).await?;
        let create = match create.first() {
            Some(row) => text(row, 1)?,
            None => return Ok(None),
        };
        let filled = table != summary.bare
            && !rows(conn, database::mysql_has_rows(template, &table))
                .await?
                .is_empty();
        tables.push((table, create, filled));
    }
    Ok(Some(database::mysql_copy(template, &tables)))
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

/// Two futures run together; their outputs once both are done.
struct Both<A: Future, B: Future> {
    a: Pin<Box<A>>,
    b: Pin<Box<B>>,
    a_out: Option<A::Output>,
    b_out: Option<B::Output>,
}

impl<A: Future, B: Future> Future for Both<A, B>
where
    A::Output: Unpin,
    B::Output: Unpin,
{
    type Output = (A::Output, B::Output);

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if this.a_out.is_none()
            && let Poll::Ready(out) = this.a.as_mut().poll(cx)
        {
            this.a_out = Some(out);
        }
        if this.b_out.is_none()
            && let Poll::Ready(out) = this.b.as_mut().poll(cx)
        {
            this.b_out = Some(out);
        }
        match (this.a_out.take(), this.b_out.take()) {
            (Some(a), Some(b)) => Poll::Ready((a, b)),
            (a, b) => {
                this.a_out = a;
                this.b_out = b;
                Poll::Pending
            }
        }
    }
}

/// Runs one `#[migrate::test]` `async fn`. Internal.
#[doc(hidden)]
pub fn __run_async<T: AsyncArgument, R: Outcome + Unpin, F: Future<Output = R>>(
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
        // A ready copy of the template for a later test is made while this
        // one runs.
        let (outcome, _) = Both {
            a: Box::pin(CatchUnwind(Box::pin(f(argument.clone())))),
            b: Box::pin(fresh.refill()),
            a_out: None,
            b_out: None,
        }
        .await;
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
