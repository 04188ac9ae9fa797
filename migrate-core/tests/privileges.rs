//! A role that may not read the history table is told so: not "nothing
//! applied". (Regression: the catalog hides the columns of a table the role
//! may not read, so the history looked missing: `status` said base and
//! `check` exited 3.)

use migrate::{Error, Migrations};

use crate::common::migration_dir;
use crate::servers::{Database, Kind};

fn set() -> (tempfile::TempDir, Migrations) {
    let dir = migration_dir(&[("0001_a.sql", "CREATE TABLE a (id INT);\n")]);
    let set = Migrations::from_dir(dir.path()).unwrap();
    (dir, set)
}

/// A new MySQL user `user` given `grants` (each with `{database}` for the
/// pool's database and `{user}` for the user), and a pool connected as it.
async fn mysql_user(
    pool: &sqlx::MySqlPool,
    url: &str,
    user: &str,
    grants: &[&str],
) -> (String, sqlx::MySqlPool) {
    let database: String = sqlx::query_scalar("SELECT DATABASE()")
        .fetch_one(pool)
        .await
        .unwrap();
    let mut statements = vec![
        format!("DROP USER IF EXISTS '{user}'@'%'"),
        format!("CREATE USER '{user}'@'%'"),
    ];
    statements.extend(grants.iter().map(|grant| {
        grant
            .replace("{database}", &database)
            .replace("{user}", &format!("'{user}'@'%'"))
    }));
    for statement in statements {
        sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
            .execute(pool)
            .await
            .unwrap();
    }
    let as_it = sqlx::MySqlPool::connect(&as_user(url, user)).await.unwrap();
    (database, as_it)
}

/// `url` with its user (and password) replaced by `user`.
fn as_user(url: &str, user: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    format!("{scheme}://{user}@{host}")
}

#[tokio::test]
async fn postgres_names_the_table_a_role_may_not_read() {
    let Some(db) = Database::create(Kind::Postgres).await else {
        return;
    };
    let (_dir, set) = set();
    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    migrate::sqlx::run(&pool, &set).await.unwrap();
    let role = format!("reader_{}", std::process::id());
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP ROLE IF EXISTS {role}; CREATE ROLE {role} LOGIN"
    )))
    .execute(&pool)
    .await
    .unwrap();
    let reader = sqlx::PgPool::connect(&as_user(&db.url, &role))
        .await
        .unwrap();
    let err = migrate::sqlx::status(&reader, &set, &Default::default())
        .await
        .unwrap_err();
    reader.close().await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP ROLE {role}")))
        .execute(&pool)
        .await
        .unwrap();
    assert!(matches!(err, Error::Database { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "could not read the history table \"_migrate_history\": permission denied for table _migrate_history"
    );
}

#[tokio::test]
async fn mysql_names_the_table_a_user_may_not_read() {
    let Some(db) = Database::create(Kind::MySql).await else {
        return;
    };
    let (_dir, set) = set();
    let pool = sqlx::MySqlPool::connect(&db.url).await.unwrap();
    migrate::sqlx::run(&pool, &set).await.unwrap();
    let user = format!("reader_{}", std::process::id());
    // May use the database (one other table), not the history.
    let (database, reader) = mysql_user(
        &pool,
        &db.url,
        &user,
        &["GRANT SELECT ON {database}.a TO {user}"],
    )
    .await;
    let err = migrate::sqlx::status(&reader, &set, &Default::default())
        .await
        .unwrap_err();
    reader.close().await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP USER '{user}'@'%'")))
        .execute(&pool)
        .await
        .unwrap();
    assert!(matches!(err, Error::Database { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.starts_with(&format!(
            "could not read the history table `_migrate_history`: SELECT command denied to user '{user}'@"
        )) && message.ends_with(&format!("for table `{database}`.`_migrate_history`")),
        "{message}"
    );
}

/// Regression: through the library, a MySQL connection with no database
/// selected read "no history" and then gave up "waiting for the database
/// lock" (its name is made from the database's). It says so instead.
#[tokio::test]
async fn mysql_without_a_database_says_so() {
    let Some(db) = Database::create(Kind::MySql).await else {
        return;
    };
    let (_dir, set) = set();
    let (server, _) = db.url.rsplit_once('/').unwrap();
    let pool = sqlx::MySqlPool::connect(server).await.unwrap();
    let err = migrate::sqlx::run(&pool, &set).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "could not read the history table `_migrate_history`: the connection has no database selected; name the \
         database in the URL, as in mysql://user@host:3306/app"
    );
}

/// A user who may not create triggers still migrates: there is no summary
/// (its row is written only once its triggers exist), and every start
/// reads the full history.
#[tokio::test]
async fn mysql_without_the_trigger_privilege_runs_without_a_summary() {
    let Some(db) = Database::create(Kind::MySql).await else {
        return;
    };
    let (_dir, set) = set();
    let pool = sqlx::MySqlPool::connect(&db.url).await.unwrap();
    let user = format!("no_trigger_{}", std::process::id());
    let (_, runner) = mysql_user(
        &pool,
        &db.url,
        &user,
        &[
            "GRANT ALL PRIVILEGES ON {database}.* TO {user}",
            "REVOKE TRIGGER ON {database}.* FROM {user}",
        ],
    )
    .await;
    let first = migrate::sqlx::run(&runner, &set).await;
    let again = migrate::sqlx::run(&runner, &set).await;
    runner.close().await;
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM _migrate_history_summary")
        .fetch_one(&pool)
        .await
        .unwrap_or(-1);
    let triggers: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.triggers WHERE trigger_schema = DATABASE()",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP USER '{user}'@'%'")))
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(first.unwrap().steps.len(), 1);
    assert!(again.unwrap().steps.is_empty());
    assert_eq!((rows, triggers), (0, 0), "no summary row, no trigger");
}
