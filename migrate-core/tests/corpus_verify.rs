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

/// Exactly the `expected` findings; every step verified unless the last
/// one failed (verification stops there).
fn assert_findings(
    migrations: &Migrations,
    verification: &Verification,
    expected: &[(i64, Outcome)],
) {
    assert_eq!(findings(verification), expected);
    let stopped = expected
        .last()
        .is_some_and(|(_, outcome)| *outcome == Outcome::Failed);
    if !stopped {
        assert_eq!(
            verification.steps.len(),
            migrations.len(),
            "every step verified"
        );
    }
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
                assert_findings(&migrations, &verification, &$expected);
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
    // Its down script is MySQL's `alter table … drop index` (corpus README).
    atuin_scripts_stops_at_its_mysql_syntax_down: "atuin-scripts/sqlite", |_| {}, [
        (20250402170430, Outcome::Failed),
    ];
    // popx splits the reverse of one change across the parts' down
    // scripts: part 002's down drops `identity_credentials`, which its own
    // up (an index) did not create, so it fails right after that up.
    ory_kratos_sqlite_stops_at_its_first_split_down: "ory-kratos/sqlite", |_| {}, [
        (20191100000001002, Outcome::Failed),
    ];
    ory_hydra_sqlite_verify: "ory-hydra/sqlite", |conn| foreign_keys(conn, false), [
        // The down rebuilds the table as it was before `nid` was added (by
        // the up-only 20220210000001000): `nid`, its foreign key and unique
        // key are lost, and the up (ADD COLUMN) does not bring them back.
        (20220328111500000, Outcome::Differs),
        // The down's rebuild of hydra_client makes `pk` NOT NULL, puts
        // two columns in another order and forgets two indexes.
        (20230908104443000, Outcome::Differs),
        // The down leaves one index commented out, recreates one on fewer
        // columns, and creates `expires_at` indexes the up (DROP IF EXISTS)
        // never dropped.
        (20241012144910001, Outcome::Differs),
        // Fails for want of the `nid` column the finding above lost.
        (20250520000001000, Outcome::Failed),
    ];
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
                assert_findings(&migrations, &verification, &$expected);
            }
        )*
    };
}

server_sets! {
    // As on SQLite: popx's split down scripts.
    ory_kratos_postgres_stops_at_its_first_split_down: sqlx::Postgres, Kind::Postgres, "ory-kratos/postgres", [
        (20191100000001002, Outcome::Failed),
    ];
    ory_hydra_postgres_verify: sqlx::Postgres, Kind::Postgres, "ory-hydra/postgres", [
        // `public` comes back with DEFAULT FALSE, which it never had.
        (20190100000005000, Outcome::Differs),
        // The down restores the column's default, not the foreign key's
        // ON DELETE CASCADE that the up changed to SET NULL.
        (20221109000010000, Outcome::Differs),
        // The down recreates `hydra_oauth2_flow_multi_query_idx` on
        // `consent_error`, which was indexed as `consent_error::varchar(2)`.
        (20230606112801001, Outcome::Differs),
        // As on SQLite (20241012144910001).
        (20241012144910001, Outcome::Differs),
        // The up's DROP INDEX IF EXISTS found nothing; the down creates it.
        (20250523000001000, Outcome::Differs),
        // popx split: part 000's up drops NOT NULL and every default, its
        // down restores the NOT NULLs only; part 002 (empty up) restores
        // the defaults in its down.
        (20251119112639000, Outcome::Differs),
        (20251119112639002, Outcome::Differs),
    ];
    // The down of 0002 renames the table but not its unique index, then
    // creates an index of the same name (the up drops it first; the down
    // does not): it fails right after its own up.
    authelia_postgres_stops_at_webauthn_down: sqlx::Postgres, Kind::Postgres, "authelia/postgres", [
        (2, Outcome::Failed),
    ];
    atuin_server_postgres_verify: sqlx::Postgres, Kind::Postgres, "atuin-server/postgres", [];
    crates_io_postgres_verify: sqlx::Postgres, Kind::Postgres, "crates-io/postgres", CRATES_IO_DIFFERS_UNTIL_2017;
    // As on SQLite and PostgreSQL: popx's split down scripts.
    ory_kratos_mysql_stops_at_its_first_split_down: sqlx::MySql, Kind::MySql, "ory-kratos/mysql", [
        (20191100000001002, Outcome::Failed),
    ];
    ory_hydra_mysql_verify: sqlx::MySql, Kind::MySql, "ory-hydra/mysql", [
        // `public` comes back with DEFAULT 0, which it never had.
        (20190100000005000, Outcome::Differs),
        // DROP FOREIGN KEY leaves the index InnoDB made for each key.
        (20190300000007000, Outcome::Differs),
        (20190300000010000, Outcome::Differs),
        // The same, and `request_id` comes back with DEFAULT ''.
        (20190400000009000, Outcome::Differs),
        // `DROP INDEX name` without `ON table`: PostgreSQL's syntax.
        (20201110104000000, Outcome::Failed),
    ];
    authelia_mysql_verify: sqlx::MySql, Kind::MySql, "authelia/mysql", [
        // The up drops the `_bkp_UP_V0002_*` backup tables 0002 left; the
        // down does not bring them back.
        (7, Outcome::Differs),
        // The down recreates `webauthn_devices` with its 0002 keys: two
        // unnamed unique keys 0007 had dropped, and the lookup key on
        // (rpid, username, description) where it was (username, description).
        (12, Outcome::Differs),
        // MODIFY value BLOB drops the NOT NULL the column had.
        (21, Outcome::Differs),
    ];
}

/// A copy of the set `set` in which the migrations `up_only` lost their
/// down scripts (their up scripts renamed to the up-only form), so that
/// verify goes past them.
fn without_downs(set: &str, up_only: &[&str]) -> Option<(tempfile::TempDir, Migrations)> {
    let source = crate::corpus_dir::corpus(set)?;
    let copy = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(&source).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let stem = name
            .trim_end_matches(".up.sql")
            .trim_end_matches(".down.sql");
        if up_only.contains(&stem) {
            if name.ends_with(".up.sql") {
                std::fs::copy(source.join(&name), copy.path().join(format!("{stem}.sql"))).unwrap();
            }
            continue;
        }
        std::fs::copy(source.join(&name), copy.path().join(&name)).unwrap();
    }
    let migrations = Migrations::from_dir(copy.path()).unwrap();
    Some((copy, migrations))
}

/// crates.io's two earlier broken down scripts (a missing `;`, and CREATE
/// INDEX CONCURRENTLY in a transaction) stop verify before the one the
/// corpus README names for a downgrade; without them, verify goes on and
/// stops exactly there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crates_io_postgres_verify_past_its_first_broken_downs() {
    let Some((_copy, migrations)) = without_downs(
        "crates-io/postgres",
        &[
            "20170318181441_downloads_need_no_id",
            "20240412144536_remove-downloads-column",
        ],
    ) else {
        return;
    };
    let Some(database) = Database::create(Kind::Postgres).await else {
        return;
    };
    let pool = sqlx::PgPool::connect(&database.url).await.unwrap();
    let verification = migrate::sqlx::verify(&pool, &migrations, &Default::default())
        .await
        .unwrap();
    pool.close().await;
    show("crates-io/postgres (copy)", &verification);
    let mut expected =
        CRATES_IO_DIFFERS_UNTIL_2017[..CRATES_IO_DIFFERS_UNTIL_2017.len() - 1].to_vec();
    expected.extend(CRATES_IO_DIFFERS_AFTER_2017);
    assert_eq!(findings(&verification), expected);
    let failed = verification.steps.last().unwrap();
    assert!(
        failed.error.as_deref().unwrap().starts_with(
            "migration 20241025112826 (20241025112826_make-unique-version-unique.down.sql) failed"
        ),
        "{failed:?}"
    );
}

/// crates.io's findings up to its first broken down script, where verify
/// stops: each down script below fails to restore what its up changed.
const CRATES_IO_DIFFERS_UNTIL_2017: [(i64, Outcome); 7] = [
    // `downloads` was NOT NULL already; the down makes it nullable.
    (20140926130046, Outcome::Differs),
    // The down recreates `version_dependencies` with one nullable column
    // of its two NOT NULL ones, and none of its two indexes.
    (20140930082104, Outcome::Differs),
    // `keywords` comes back as the last column (column order).
    (20160219125609, Outcome::Differs),
    // `user_id` comes back as the last column.
    (20160717174656, Outcome::Differs),
    // `id` comes back last, and the unique key's columns in another order.
    (20170308191449, Outcome::Differs),
    // `features` was varchar; the down makes it text.
    (20170315133901, Outcome::Differs),
    // A missing `;` between two statements (corpus README): a syntax error.
    (20170318181441, Outcome::Failed),
];

/// crates.io's further findings once its first two broken down scripts
/// are taken out (`crates_io_postgres_verify_past_its_first_broken_downs`),
/// up to 20241025112826, where verify stops as the corpus README says.
const CRATES_IO_DIFFERS_AFTER_2017: [(i64, Outcome); 14] = [
    // The index on `date(date)` comes back on `date`.
    (20170322130523, Outcome::Differs),
    // The up drops `schema_migrations` IF EXISTS (it did not); the down
    // creates it.
    (20170502181306, Outcome::Differs),
    // `tokens.token` was varchar; the down makes it text.
    (20170923182408, Outcome::Differs),
    // `readme_rendering`: `rendered_at` comes back NOT NULL, the foreign
    // key under another name.
    (20170923210614, Outcome::Differs),
    // `max_version` loses its default '0.0.0'; `api_token` comes back last.
    (20171016200404, Outcome::Differs),
    // `features` was varchar; the down makes it text.
    (20180118172821, Outcome::Differs),
    // `crate_downloads`' foreign key comes back without ON DELETE CASCADE
    // and under another name.
    (20190322170700, Outcome::Differs),
    // `id` comes back last.
    (20190322174825, Outcome::Differs),
    // `license` comes back last.
    (20190828224353, Outcome::Differs),
    // The function comes back without its `SET search_path`.
    (20190918233204, Outcome::Differs),
    // `user_id` comes back without its foreign key.
    (20200214183929, Outcome::Differs),
    // The up creates the pgcrypto extension, the down leaves it; `token`
    // was varchar, the down makes it text.
    (20200714113112, Outcome::Differs),
    // `semver_no_prerelease` comes back last, without its index.
    (20240614084455, Outcome::Differs),
    // Drops a constraint the up never made (corpus README).
    (20241025112826, Outcome::Failed),
];
