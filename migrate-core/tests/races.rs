//! Upgrades and downgrades racing each other: whatever the interleaving,
//! the history ends as some serial order of the runs would leave it.
//!
//! Regression: a relative target (`-1`) was resolved from the history read
//! before the lock and never again, so a `downgrade -1` that waited while an
//! upgrade committed version 3 reverted 2 instead, reported "downgraded from
//! 2 to 3" and left a hole that failed every later upgrade (7 rounds in 9).

use std::sync::{Arc, Barrier};

use migrate::{Error, Migrations, Target};

use crate::common::{TempDb, migration_dir};
use crate::servers::{Database, Kind};

const STEPS: i64 = 6;
const RUNNERS: usize = 8;
const ROUNDS: usize = 3;

/// Six reversible migrations, each creating its own table.
fn set() -> (tempfile::TempDir, Migrations) {
    let files: Vec<(String, String)> = (1..=STEPS)
        .flat_map(|v| {
            [
                (
                    format!("{v:04}_t{v}.up.sql"),
                    format!("CREATE TABLE t{v} (id INT);"),
                ),
                (format!("{v:04}_t{v}.down.sql"), format!("DROP TABLE t{v};")),
            ]
        })
        .collect();
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(name, sql)| (name.as_str(), sql.as_str()))
        .collect();
    let dir = migration_dir(&refs);
    let set = Migrations::from_dir(dir.path()).unwrap();
    (dir, set)
}

/// A downgrade that found nothing left to undo is a serial outcome too.
fn acceptable(result: Result<migrate::Report, Error>) {
    match result {
        Ok(_) | Err(Error::NotEnoughSteps { .. }) => {}
        Err(err) => panic!("{err}"),
    }
}

/// The history a serial order leaves: versions 1..=k, all clean, and
/// exactly their tables.
fn assert_serial(rows: &[(i64, bool)], tables: &[String]) {
    let k = i64::try_from(rows.len()).unwrap();
    assert_eq!(
        rows,
        (1..=k).map(|v| (v, true)).collect::<Vec<_>>(),
        "a hole or a dirty mark in the history"
    );
    let expected: Vec<String> = (1..=k).map(|v| format!("t{v}")).collect();
    assert_eq!(tables, expected, "the tables do not match the history");
}

#[test]
fn upgrades_and_downgrades_racing_on_sqlite_end_as_a_serial_order() {
    let (_dir, set) = set();
    let set = Arc::new(set);
    for _ in 0..ROUNDS {
        let db = TempDb::new();
        set.upgrade(&db.open(), "3".parse().unwrap()).unwrap();
        let barrier = Arc::new(Barrier::new(2 * RUNNERS));
        let runners: Vec<_> = (0..2 * RUNNERS)
            .map(|i| {
                let (set, barrier, path) = (set.clone(), barrier.clone(), db.path.clone());
                std::thread::spawn(move || {
                    let conn = rusqlite::Connection::open(path).unwrap();
                    barrier.wait();
                    if i % 2 == 0 {
                        set.upgrade(&conn, Target::Head).map(drop).unwrap();
                    } else {
                        acceptable(set.downgrade(&conn, "-1".parse().unwrap()));
                    }
                })
            })
            .collect();
        for runner in runners {
            runner.join().unwrap();
        }
        let conn = db.open();
        let rows: Vec<(i64, bool)> = conn
            .prepare("SELECT version, success FROM _migrate_history ORDER BY version")
            .unwrap()
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let tables: Vec<String> = conn
            .prepare(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 't%' ORDER BY name",
            )
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_serial(&rows, &tables);
        // And the next upgrade works: no hole.
        set.upgrade(&conn, Target::Head).unwrap();
    }
}

async fn race_on_server(kind: Kind) {
    let (_dir, set) = set();
    let set = Arc::new(set);
    for _ in 0..ROUNDS {
        let Some(db) = Database::create(kind).await else {
            return;
        };
        match kind {
            Kind::Postgres => {
                let tables = "SELECT table_name::text FROM information_schema.tables \
                              WHERE table_schema = current_schema() AND table_name LIKE 't%' ORDER BY 1";
                race::<sqlx::Postgres>(&db.url, &set, tables).await;
            }
            Kind::MySql => {
                let tables = "SELECT CAST(table_name AS CHAR(64)) FROM information_schema.tables \
                              WHERE table_schema = DATABASE() AND table_name LIKE 't%' ORDER BY 1";
                race::<sqlx::MySql>(&db.url, &set, tables).await;
            }
        }
    }
}

async fn race<DB: migrate::sqlx::Backend>(url: &str, set: &Arc<Migrations>, tables: &'static str)
where
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'r> (i64, bool): sqlx::FromRow<'r, DB::Row>,
    for<'r> (String,): sqlx::FromRow<'r, DB::Row>,
    DB::Arguments: sqlx::IntoArguments<DB>,
{
    let options = migrate::Options::default();
    let pool = sqlx::pool::PoolOptions::<DB>::new()
        .max_connections(u32::try_from(2 * RUNNERS + 1).unwrap())
        .connect(url)
        .await
        .unwrap();
    migrate::sqlx::upgrade(&pool, set, "3".parse().unwrap(), &options)
        .await
        .unwrap();
    let barrier = Arc::new(tokio::sync::Barrier::new(2 * RUNNERS));
    let runners: Vec<_> = (0..2 * RUNNERS)
        .map(|i| {
            let (pool, set, barrier, options) =
                (pool.clone(), set.clone(), barrier.clone(), options.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                if i % 2 == 0 {
                    migrate::sqlx::upgrade(&pool, &set, Target::Head, &options)
                        .await
                        .map(drop)
                        .unwrap();
                } else {
                    acceptable(
                        migrate::sqlx::downgrade(&pool, &set, "-1".parse().unwrap(), &options)
                            .await,
                    );
                }
            })
        })
        .collect();
    for runner in runners {
        runner.await.unwrap();
    }
    let rows: Vec<(i64, bool)> =
        sqlx::query_as("SELECT version, success FROM _migrate_history ORDER BY version")
            .fetch_all(&pool)
            .await
            .unwrap();
    let tables: Vec<(String,)> = sqlx::query_as(tables).fetch_all(&pool).await.unwrap();
    let tables: Vec<String> = tables.into_iter().map(|(name,)| name).collect();
    assert_serial(&rows, &tables);
    migrate::sqlx::upgrade(&pool, set, Target::Head, &options)
        .await
        .unwrap();
    pool.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn upgrades_and_downgrades_racing_on_postgres_end_as_a_serial_order() {
    race_on_server(Kind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn upgrades_and_downgrades_racing_on_mysql_end_as_a_serial_order() {
    race_on_server(Kind::MySql).await;
}
