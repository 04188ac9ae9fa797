//! Upgrade day, as operators run it: a backup first, rolling back from an
//! older build, every tenant at once.

use std::os::unix::fs::PermissionsExt;

use migrate::{Backup, Error, Migrations, Options, State, Target};

use crate::common::{TempDb, fixture, migration_dir, schema, versions};

fn backups_in(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "bak"))
        .collect();
    found.sort();
    found
}

#[test]
fn a_backup_is_made_only_when_there_is_something_to_apply() {
    let db = TempDb::new();
    let set = Migrations::from_dir(fixture("app")).unwrap();
    let conn = db.open();
    set.upgrade(&conn, Target::Version(3)).unwrap();
    let at_three = schema(&conn);
    let backups = tempfile::tempdir().unwrap();
    let migrator =
        set.with_options(Options::default().backup(Backup::Into(backups.path().join("nested"))));

    let report = migrator.upgrade(&conn, Target::Head).unwrap();
    let path = report.backup.clone().expect("named in the report");
    assert_eq!(
        backups_in(&backups.path().join("nested")),
        std::slice::from_ref(&path)
    );
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let parts: Vec<&str> = name.split('.').collect();
    assert_eq!(
        (parts[0], parts[parts.len() - 2], parts[parts.len() - 1]),
        ("app", "3", "bak"),
        "{name}"
    );
    assert!(
        chrono::NaiveDateTime::parse_from_str(
            &format!("{}.{}", parts[1], parts[2]),
            "%Y%m%dT%H%M%S%.fZ"
        )
        .is_ok(),
        "{name}"
    );
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let copy = rusqlite::Connection::open(&path).unwrap();
    assert_eq!(
        schema(&copy),
        at_three,
        "the backup holds the schema before the upgrade"
    );
    assert_eq!(versions(&copy), [1, 2, 3]);
    assert_eq!(
        serde_json::to_value(&report).unwrap()["backup"],
        serde_json::json!(path.display().to_string())
    );

    // Nothing to do: no backup.
    let again = migrator.upgrade(&conn, Target::Head).unwrap();
    assert_eq!(again.backup, None);
    assert_eq!(backups_in(&backups.path().join("nested")).len(), 1);

    // Beside the database by default.
    set.downgrade(&conn, "-1".parse().unwrap()).unwrap();
    let beside = set
        .with_options(Options::default().backup(Backup::Beside))
        .upgrade(&conn, Target::Head)
        .unwrap();
    assert_eq!(beside.backup.unwrap().parent(), db.path.parent());
}

#[test]
fn a_failed_upgrade_names_the_backup_that_restores_it() {
    let db = TempDb::new();
    let set = Migrations::from_dir(fixture("failing")).unwrap();
    let conn = db.open();
    let err = set
        .with_options(Options::default().backup(Backup::Beside))
        .upgrade(&conn, Target::Head)
        .unwrap_err();
    let Error::AfterBackup { backup, source } = &err else {
        panic!("{err}")
    };
    assert!(matches!(**source, Error::Step { version: 2, .. }));
    assert_eq!(
        err.completed()
            .iter()
            .map(|s| s.version)
            .collect::<Vec<_>>(),
        [1]
    );
    assert!(
        err.to_string().ends_with(&format!(
            "fix the script and run again; the backup made before this upgrade, {}, holds the database as it was",
            backup.display()
        )),
        "{err}"
    );
    let copy = rusqlite::Connection::open(backup).unwrap();
    assert_eq!(schema(&copy), [], "taken before migration 1 ran");
}

#[test]
fn an_in_memory_database_cannot_be_backed_up() {
    let set = Migrations::from_dir(fixture("app")).unwrap();
    let conn = rusqlite::Connection::open_in_memory().unwrap();
    let err = set
        .with_options(Options::default().backup(Backup::Beside))
        .upgrade(&conn, Target::Head)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "could not back up the database to (in memory): an in-memory database has no file to copy; nothing was changed"
    );
    assert_eq!(set.status(&conn).unwrap().pending, 6);
}

#[tokio::test]
async fn sqlx_sqlite_backs_up_and_servers_refuse() {
    let db = TempDb::new();
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}?mode=rwc", db.path.display()))
        .await
        .unwrap();
    let set = Migrations::from_dir(fixture("app")).unwrap();
    migrate::sqlx::upgrade(&pool, &set, Target::Version(2), &Options::default())
        .await
        .unwrap();
    let options = Options::default().backup(Backup::Beside);
    let report = migrate::sqlx::upgrade(&pool, &set, Target::Head, &options)
        .await
        .unwrap();
    let path = report.backup.unwrap();
    assert_eq!(
        versions(&rusqlite::Connection::open(&path).unwrap()),
        [1, 2]
    );
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );

    let Some(server) = crate::servers::Database::create(crate::servers::Kind::Postgres).await
    else {
        return;
    };
    let pg = sqlx::PgPool::connect(&server.url).await.unwrap();
    let err = migrate::sqlx::upgrade(&pg, &set, Target::Head, &options)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "migrate backs up SQLite files only; back up this PostgreSQL database with pg_dump before you upgrade, and \
         run without the backup option"
    );
    pg.close().await;
}

#[test]
fn an_older_build_sees_newer_versions_as_unknown_and_rolls_them_back() {
    let mut files: Vec<(String, String)> = Vec::new();
    for v in 1..=6 {
        files.push((
            format!("{v:04}_t{v}.up.sql"),
            format!("CREATE TABLE t{v} (id INT);\nCREATE INDEX t{v}_id ON t{v} (id);\n"),
        ));
        files.push((
            format!("{v:04}_t{v}.down.sql"),
            format!("DROP TABLE t{v};\n"),
        ));
    }
    let all: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let new_build = Migrations::from_dir(migration_dir(&all).path()).unwrap();
    let old_build = Migrations::from_dir(migration_dir(&all[..8]).path()).unwrap();
    let fresh = TempDb::new();
    old_build
        .upgrade(&fresh.open(), Target::Version(4))
        .unwrap();

    for target in [Target::Version(4), Target::Head] {
        let db = TempDb::new();
        let conn = db.open();
        migrate::run(&conn, &new_build).unwrap();
        let states: Vec<(i64, State)> = old_build
            .history(&conn)
            .unwrap()
            .iter()
            .map(|e| (e.version, e.state))
            .collect();
        assert_eq!(
            states,
            [
                (1, State::Applied),
                (2, State::Applied),
                (3, State::Applied),
                (4, State::Applied),
                (5, State::Unknown),
                (6, State::Unknown)
            ]
        );
        let err = migrate::run(&conn, &old_build).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the database is at version 6, newer than this build's head 4: run `migrate downgrade 4` to roll back, \
             or allow unknown versions (`--allow-unknown`) to start anyway"
        );
        let report = old_build.downgrade(&conn, target).unwrap();
        assert_eq!(
            report.steps.iter().map(|s| s.version).collect::<Vec<_>>(),
            [6, 5],
            "{target}"
        );
        assert_eq!(schema(&conn), schema(&fresh.open()), "{target}");
        assert_eq!(versions(&conn), [1, 2, 3, 4]);
    }
}

#[test]
fn two_hundred_tenants_with_one_broken() {
    let set = Migrations::from_dir(fixture("app")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<_> = (0..200)
        .map(|n| dir.path().join(format!("tenant{n:03}.db")))
        .collect();
    // Tenant 57 already has a table the first migration creates.
    rusqlite::Connection::open(&files[57])
        .unwrap()
        .execute_batch("CREATE TABLE users (id INT);")
        .unwrap();
    let outcomes = migrate::tenants::upgrade_sqlite_files(
        files.clone(),
        &set,
        Target::Head,
        &Options::default(),
        4,
        false,
    );
    assert_eq!(outcomes.len(), 200);
    for (n, outcome) in outcomes.iter().enumerate() {
        assert_eq!(outcome.database, files[n].display().to_string());
        if n == 57 {
            let err = outcome.result.as_ref().unwrap_err();
            assert!(
                err.to_string()
                    .starts_with("migration 1 (0001_create_users.up.sql) failed at statement 1"),
                "{err}"
            );
        } else {
            assert_eq!(
                outcome.result.as_ref().unwrap().steps.len(),
                6,
                "tenant {n}"
            );
            assert_eq!(
                versions(&rusqlite::Connection::open(&files[n]).unwrap()),
                [1, 2, 3, 4, 5, 6]
            );
        }
    }
    // Fail fast: nothing new starts after the first failure.
    let more: Vec<_> = (0..20)
        .map(|n| dir.path().join(format!("more{n:02}.db")))
        .collect();
    rusqlite::Connection::open(&more[0])
        .unwrap()
        .execute_batch("CREATE TABLE users (id INT);")
        .unwrap();
    let outcomes = migrate::tenants::upgrade_sqlite_files(
        more,
        &set,
        Target::Head,
        &Options::default(),
        1,
        true,
    );
    assert!(outcomes[0].result.is_err());
    assert!(
        outcomes[1..]
            .iter()
            .all(|o| matches!(o.result, Err(Error::Skipped)))
    );
}
