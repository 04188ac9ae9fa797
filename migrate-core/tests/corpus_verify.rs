//! `verify` on every set of ../shared/corpus: SQLite sets on a fresh file
//! (with foreign keys off for ory-hydra and authelia's functions
//! registered, as `corpus.rs` runs them), PostgreSQL and MariaDB sets each
//! in a fresh database. Each test asserts exactly which steps verify
//! reports and where it stops; each finding is explained beside it.

use migrate::{Migrations, Outcome, Verification};
use rusqlite::Connection;

use crate::common::TempDb;
use crate::corpus::{foreign_keys, load, register_base64};
use crate::servers::{Database, Kind};

/// Every step verify did not pass: (version, outcome), in order.
fn findings(verification: &Verification) -> Vec<(i64, Outcome)> {
    verification
        .steps
        .iter()
        .filter(|step| step.result != Outcome::Ok)
        .map(|step| (step.version, step.result))
        .collect()
}

/// Prints every finding in full, for the reader of a failing test.
fn show(set: &str, verification: &Verification) {
    for step in verification
        .steps
        .iter()
        .filter(|s| s.result != Outcome::Ok)
    {
        println!(
            "{set}: {} {} {:?}\n{}{}",
            step.version,
            step.name,
            step.result,
            step.diff.as_deref().unwrap_or(""),
            step.error.as_deref().unwrap_or("")
        );
    }
    println!(
        "{set}: {} steps verified, {} findings",
        verification.steps.len(),
        findings(verification).len()
    );
}

fn verify_sqlite(set: &str, prepare: impl Fn(&Connection)) -> Option<(Migrations, Verification)> {
    let migrations = load(set)?;
    let db = TempDb::new();
    let conn = db.open();
    prepare(&conn);
    let verification = migrations.verify(&conn).unwrap();
    show(set, &verification);
    Some((migrations, verification))
}

macro_rules! sqlite_sets {
    ($($name:ident: $set:literal, $prepare:expr, $expected:expr;)*) => {
        $(
            #[test]
            fn $name() {
                let Some((migrations, verification)) = verify_sqlite($set, $prepare) else {
                    return;
                };
                let expected: &[(i64, Outcome)] = &$expected;
                assert_eq!(findings(&verification), expected);
                let stopped = expected.last().is_some_and(|(_, outcome)| *outcome == Outcome::Failed);
                if !stopped {
                    assert_eq!(verification.steps.len(), migrations.len(), "every step verified");
                }
            }
        )*
    };
}

sqlite_sets! {
    atuin_client_verifies: "atuin-client/sqlite", |_| {}, [];
    atuin_client_records_verifies: "atuin-client-records/sqlite", |_| {}, [];
    atuin_client_meta_verifies: "atuin-client-meta/sqlite", |_| {}, [];
    atuin_kv_verifies: "atuin-kv/sqlite", |_| {}, [];
    atuin_ai_verifies: "atuin-ai/sqlite", |_| {}, [];
    atuin_server_sqlite_verifies: "atuin-server/sqlite", |_| {}, [];
    atuin_scripts_stops_at_its_mysql_syntax_down: "atuin-scripts/sqlite", |_| {}, [];
    ory_kratos_sqlite_verify: "ory-kratos/sqlite", |_| {}, [];
    ory_hydra_sqlite_verify: "ory-hydra/sqlite", |conn| foreign_keys(conn, false), [];
    authelia_sqlite_verify: "authelia/sqlite", register_base64, [];
}

async fn verify_server<DB: migrate::sqlx::Backend>(
    set: &str,
    kind: Kind,
) -> Option<(Migrations, Verification)> {
    let migrations = load(set)?;
    let database = Database::create(kind).await?;
    let pool = sqlx::pool::PoolOptions::<DB>::new()
        .max_connections(2)
        .connect(&database.url)
        .await
        .unwrap();
    let verification = migrate::sqlx::verify(&pool, &migrations, &Default::default())
        .await
        .unwrap();
    pool.close().await;
    show(set, &verification);
    Some((migrations, verification))
}

macro_rules! server_sets {
    ($($name:ident: $db:ty, $kind:expr, $set:literal, $expected:expr;)*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let Some((migrations, verification)) = verify_server::<$db>($set, $kind).await else {
                    return;
                };
                let expected: &[(i64, Outcome)] = &$expected;
                assert_eq!(findings(&verification), expected);
                let stopped = expected.last().is_some_and(|(_, outcome)| *outcome == Outcome::Failed);
                if !stopped {
                    assert_eq!(verification.steps.len(), migrations.len(), "every step verified");
                }
            }
        )*
    };
}

server_sets! {
    ory_kratos_postgres_verify: sqlx::Postgres, Kind::Postgres, "ory-kratos/postgres", [];
    ory_hydra_postgres_verify: sqlx::Postgres, Kind::Postgres, "ory-hydra/postgres", [];
    authelia_postgres_verify: sqlx::Postgres, Kind::Postgres, "authelia/postgres", [];
    atuin_server_postgres_verify: sqlx::Postgres, Kind::Postgres, "atuin-server/postgres", [];
    crates_io_postgres_verify: sqlx::Postgres, Kind::Postgres, "crates-io/postgres", [];
    ory_kratos_mysql_verify: sqlx::MySql, Kind::MySql, "ory-kratos/mysql", [];
    ory_hydra_mysql_verify: sqlx::MySql, Kind::MySql, "ory-hydra/mysql", [];
    authelia_mysql_verify: sqlx::MySql, Kind::MySql, "authelia/mysql", [];
}
