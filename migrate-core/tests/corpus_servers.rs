//! Every PostgreSQL and MySQL set of ../shared/corpus on a real server,
//! each in a fresh database, reaching the outcome the corpus README states
//! (or, for the MySQL sets it could not validate, the outcome found here and
//! explained in the test). Without the corpus, each test says it was
//! skipped (`corpus_dir.rs`) before it looks for a server.

use migrate::{Error, Migrations, Options, Target};

use crate::corpus::load;
use crate::servers::{Database, Kind};

fn all_versions(set: &Migrations) -> Vec<i64> {
    set.iter().map(|m| m.version()).collect()
}

/// What a schema holds: columns and indexes, as the server describes them.
trait Schema: migrate::sqlx::Backend {
    const COLUMNS: &'static str;
    const INDEXES: &'static str;
}

impl Schema for sqlx::Postgres {
    const COLUMNS: &'static str = "SELECT table_name::text || '.' || column_name::text || ' ' || data_type::text \
         FROM information_schema.columns WHERE table_schema = current_schema() AND table_name <> '_migrate_history' ORDER BY 1";
    const INDEXES: &'static str = "SELECT indexdef::text FROM pg_indexes WHERE schemaname = current_schema() \
         AND tablename <> '_migrate_history' ORDER BY 1";
}

impl Schema for sqlx::MySql {
    const COLUMNS: &'static str = "SELECT CAST(CONCAT(table_name, '.', column_name, ' ', column_type) AS CHAR) \
         FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name <> '_migrate_history' ORDER BY 1";
    const INDEXES: &'static str = "SELECT CAST(CONCAT(table_name, '.', index_name, '.', column_name, '.', seq_in_index) AS CHAR) \
         FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name <> '_migrate_history' ORDER BY 1";
}

struct Corpus<DB: Schema> {
    pool: sqlx::Pool<DB>,
    _database: Database,
}

macro_rules! corpus_database {
    ($db:ty, $kind:expr) => {
impl Corpus<$db> {
    async fn new() -> Option<Self> {
        let database = Database::create($kind).await?;
        let pool = sqlx::pool::PoolOptions::<$db>::new().max_connections(2).connect(&database.url).await.unwrap();
        Some(Corpus { pool, _database: database })
    }

    async fn schema(&self) -> (Vec<String>, Vec<String>) {
        let columns = sqlx::query_scalar(<$db as Schema>::COLUMNS).fetch_all(&self.pool).await.unwrap();
        let indexes = sqlx::query_scalar(<$db as Schema>::INDEXES).fetch_all(&self.pool).await.unwrap();
        (columns, indexes)
    }

    /// Version and success of every history row.
    async fn rows(&self) -> Vec<(i64, bool)> {
        sqlx::query_as("SELECT version, success FROM _migrate_history ORDER BY version")
            .fetch_all(&self.pool)
            .await
            .unwrap()
    }

    async fn versions(&self) -> Vec<i64> {
        self.rows().await.into_iter().map(|(v, _)| v).collect()
    }

    /// Up to head, then down as far as the set allows (to its newest up-only
    /// step), then one step further must be refused naming that file.
    async fn up_and_down(&self, set: &Migrations) {
        let report = migrate::sqlx::run(&self.pool, set).await.unwrap();
        assert_eq!(report.steps.len(), set.len());
        assert_eq!(self.versions().await, all_versions(set));
        assert!(self.rows().await.iter().all(|(_, ok)| *ok));

        let floor = set.iter().rfind(|m| m.down().is_none());
        let target = floor.map_or(Target::Base, |m| Target::Version(m.version()));
        let report = migrate::sqlx::downgrade(&self.pool, set, target, &Options::default()).await.unwrap();
        let above = set.iter().filter(|m| floor.is_none_or(|f| m.version() > f.version())).count();
        assert_eq!(report.steps.len(), above);
        let expected: Vec<i64> = all_versions(set)
            .into_iter()
            .filter(|v| floor.is_some_and(|f| *v <= f.version()))
            .collect();
        assert_eq!(self.versions().await, expected);
        if let Some(floor) = floor {
            let before = (self.schema().await, self.rows().await);
            let err = migrate::sqlx::downgrade(&self.pool, set, "-1".parse().unwrap(), &Options::default())
                .await
                .unwrap_err();
            assert!(
                matches!(&err, Error::Irreversible { version, file } if *version == floor.version() && file == floor.up().file()),
                "{err}"
            );
            assert_eq!((self.schema().await, self.rows().await), before);
        } else {
            assert_eq!(self.schema().await, (vec![], vec![]), "a full downgrade leaves nothing behind");
        }
    }
}
    };
}

corpus_database!(sqlx::Postgres, Kind::Postgres);
corpus_database!(sqlx::MySql, Kind::MySql);

macro_rules! postgres {
    ($($name:ident: $set:literal),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let Some(set) = load($set) else { return };
                let Some(db) = Corpus::<sqlx::Postgres>::new().await else { return };
                db.up_and_down(&set).await;
            }
        )*
    };
}

postgres! {
    ory_kratos_postgres: "ory-kratos/postgres",
    ory_hydra_postgres: "ory-hydra/postgres",
    authelia_postgres: "authelia/postgres",
    atuin_server_postgres: "atuin-server/postgres",
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crates_io_postgres_stops_at_its_buggy_down_script() {
    let Some(set) = load("crates-io/postgres") else {
        return;
    };
    let Some(db) = Corpus::<sqlx::Postgres>::new().await else {
        return;
    };
    assert_eq!(set.len(), 285);
    migrate::sqlx::run(&db.pool, &set).await.unwrap();
    assert_eq!(db.versions().await, all_versions(&set));

    // Down from head: every step above the buggy one reverts, then its down
    // script (a no-transaction one) fails on its first statement.
    let failing = 20241025112826;
    let above: Vec<i64> = all_versions(&set)
        .into_iter()
        .filter(|v| *v > failing)
        .collect();
    let reversible_above = set
        .iter()
        .filter(|m| m.version() > failing)
        .all(|m| m.down().is_some());
    assert!(reversible_above);
    migrate::sqlx::downgrade(
        &db.pool,
        &set,
        Target::Version(failing),
        &Options::default(),
    )
    .await
    .unwrap();
    let before = db.schema().await;
    // As far as the set allows: its newest up-only step, far below.
    let floor = set.iter().rfind(|m| m.down().is_none()).unwrap().version();
    assert!(floor < failing);
    let err = migrate::sqlx::downgrade(&db.pool, &set, Target::Version(floor), &Options::default())
        .await
        .unwrap_err();
    let Error::Step {
        version,
        file,
        dirty,
        message,
        completed,
        ..
    } = &err
    else {
        panic!("{err}")
    };
    assert_eq!(
        (*version, file.as_str()),
        (
            failing,
            "20241025112826_make-unique-version-unique.down.sql"
        )
    );
    assert_eq!(
        message,
        "constraint \"versions_crate_id_num_no_build_uindex\" of relation \"versions\" does not exist"
    );
    assert!(
        *dirty,
        "it ran outside a transaction, so it is marked dirty"
    );
    assert!(completed.is_empty());
    // Consistent: nothing changed but the dirty mark, which names the step.
    assert_eq!(db.schema().await, before);
    let rows = db.rows().await;
    assert_eq!(rows.len(), set.len() - above.len());
    assert_eq!(rows.last(), Some(&(failing, false)));
    let blocked = migrate::sqlx::run(&db.pool, &set).await.unwrap_err();
    assert!(
        blocked
            .to_string()
            .starts_with("migration 20241025112826 (20241025112826_make-unique-version-unique.up.sql) is marked dirty")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_that_cannot_run_in_a_transaction_names_the_file_and_the_fix() {
    // crates.io's `20240412144536_remove-downloads-column.down.sql` runs
    // CREATE INDEX CONCURRENTLY without being marked no-transaction.
    let Some(set) = load("crates-io/postgres") else {
        return;
    };
    let Some(db) = Corpus::<sqlx::Postgres>::new().await else {
        return;
    };
    let version = 20240412144536;
    migrate::sqlx::upgrade(
        &db.pool,
        &set,
        Target::Version(version),
        &Options::default(),
    )
    .await
    .unwrap();
    let before = (db.schema().await, db.rows().await);
    let err = migrate::sqlx::downgrade(&db.pool, &set, "-1".parse().unwrap(), &Options::default())
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "migration 20240412144536 (20240412144536_remove-downloads-column.down.sql) failed at statement 2 \
         (`create index concurrently index_crate_downloads`): CREATE INDEX CONCURRENTLY cannot run inside a transaction block (add `-- migrate:no-transaction` as the first line of \
         20240412144536_remove-downloads-column.down.sql so it runs outside a transaction); it was rolled back, so \
         the database is as it was before this migration: fix the script and run again"
    );
    assert_eq!((db.schema().await, db.rows().await), before);
}

macro_rules! mysql {
    ($($name:ident: $set:literal),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let Some(set) = load($set) else { return };
                let Some(db) = Corpus::<sqlx::MySql>::new().await else { return };
                db.up_and_down(&set).await;
            }
        )*
    };
}

mysql! {
    authelia_mysql: "authelia/mysql",
}

/// The Ory MySQL sets target MySQL 8; on MariaDB (what this machine runs)
/// they stop where MariaDB differs, naming the step. Both failing steps
/// hold only DML, so each is rolled back whole, its in-flight mark
/// included: not dirty, and the next run stops at the same step again.
async fn stops_on_mariadb_at(set: &str, failing: i64, file: &str, message: &str) {
    let Some(set) = load(set) else {
        return;
    };
    let Some(db) = Corpus::<sqlx::MySql>::new().await else {
        return;
    };
    let err = migrate::sqlx::run(&db.pool, &set).await.unwrap_err();
    let Error::Step {
        version,
        file: named,
        message: said,
        dirty,
        ..
    } = &err
    else {
        panic!("{err}")
    };
    assert_eq!((*version, named.as_str(), *dirty), (failing, file, false));
    assert!(said.starts_with(message), "{said}");
    let expected: Vec<(i64, bool)> = all_versions(&set)
        .into_iter()
        .filter(|v| *v < failing)
        .map(|v| (v, true))
        .collect();
    assert_eq!(db.rows().await, expected);
    let again = migrate::sqlx::run(&db.pool, &set).await.unwrap_err();
    assert!(
        matches!(again, Error::Step { version, dirty: false, .. } if version == failing),
        "{again}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ory_kratos_mysql_stops_where_mariadb_strict_mode_differs() {
    // MariaDB's strict mode rejects an INSERT … SELECT that omits a NOT NULL
    // column without a default even when it selects no rows; MySQL 8 only
    // rejects rows. (With strict mode off, MariaDB gets as far as
    // 20260408000000000, whose generated column uses a CASE MariaDB does not
    // allow there.)
    stops_on_mariadb_at(
        "ory-kratos/mysql",
        20200317160354002,
        "20200317160354002_create_profile_request_forms.up.sql",
        "Field 'created_at' doesn't have a default value",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ory_hydra_mysql_stops_where_mariadb_lacks_cast_as_json() {
    // `CAST(… AS JSON)` is MySQL's; MariaDB has no JSON type to cast to.
    stops_on_mariadb_at(
        "ory-hydra/mysql",
        20220513000001001,
        "20220513000001001_string_slice_json.sql",
        "You have an error in your SQL syntax; check the manual that corresponds to your MariaDB server version for the right syntax to use near 'json)",
    )
    .await;
}
