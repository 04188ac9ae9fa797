//! Inputs that used to be accepted in silence or hang: misspelt and special
//! migration files, a temporary history table, a backup directory open to
//! everyone, and lock timeouts too large for a backend's own type.

use migrate::Migrations;

use crate::common::fixture;

/// The message of loading `fixtures/broken/{set}`, the path as written there.
fn load_error(set: &str) -> String {
    let dir = fixture(&format!("broken/{set}"));
    let message = Migrations::from_dir(&dir).unwrap_err().to_string();
    message.replace(&format!("{}/", dir.display()), "")
}

#[test]
fn misspelt_and_non_file_migrations_are_errors_naming_the_file() {
    // Each was skipped in silence, so a typo dropped a migration.
    assert_eq!(
        load_error("upper_case_extension"),
        "migration file 0002_x.SQL matches no migration file form because its name ends in \".SQL\" \
         rather than exactly \".sql\"; rename it to `<version>_<name>.sql`, `<version>_<name>.up.sql` + \
         `.down.sql`, or `V<version>__<name>.sql`"
    );
    assert_eq!(
        load_error("trailing_space"),
        "migration file 0002_x.sql  matches no migration file form because its name ends in \".sql \" \
         rather than exactly \".sql\"; rename it to `<version>_<name>.sql`, `<version>_<name>.up.sql` + \
         `.down.sql`, or `V<version>__<name>.sql`"
    );
    assert_eq!(
        load_error("directory_named_sql"),
        "migration file 0002_x.sql is a directory, not a regular file; replace it with a file, or rename \
         it so that its name does not end in `.sql`"
    );
}

#[test]
fn a_history_table_in_a_temporary_schema_is_refused() {
    // `temp.h` was accepted: the history lived in the connection's temporary
    // schema and vanished with it, so every run re-applied every migration.
    for name in [
        "temp.h",
        "TEMP.h",
        "Temp._migrate_history",
        "pg_temp.h",
        "PG_TEMP_3.h",
    ] {
        let err = migrate::Options::default().table(name).unwrap_err();
        assert!(
            matches!(err, migrate::Error::TemporaryTable { .. }),
            "{name}: {err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!(
                "`{name}` would keep the history table in the connection's temporary schema, which vanishes \
                 when the connection closes so that every run applies every migration again; use a permanent \
                 schema, or none"
            )
        );
    }
    // Quoting is no way around it: quotes are refused in a name.
    assert!(matches!(
        migrate::Options::default().table("\"temp\".h"),
        Err(migrate::Error::BadTableName { .. })
    ));
    // A table merely named like the schema is an ordinary table.
    for name in [
        "temp",
        "temporary.h",
        "main.temp",
        "pg_temporal.h",
        "pg_temp_x.h",
    ] {
        assert!(migrate::Options::default().table(name).is_ok(), "{name}");
    }
}

#[cfg(unix)]
#[test]
fn a_backup_directory_is_created_private() {
    // `--backup=DIR` created DIR (and its parents) by the umask, typically
    // 0755, while the copies in it are 0600: others could list them.
    use std::os::unix::fs::PermissionsExt;
    let db = crate::common::TempDb::new();
    let set = Migrations::from_dir(fixture("app")).unwrap();
    let backups = tempfile::tempdir().unwrap();
    let dir = backups.path().join("outer/inner");
    let migrator =
        set.with_options(migrate::Options::default().backup(migrate::Backup::Into(dir.clone())));
    let report = migrator.upgrade(&db.open(), migrate::Target::Head).unwrap();
    assert!(report.backup.unwrap().starts_with(&dir));
    for created in [backups.path().join("outer"), dir] {
        let mode = std::fs::metadata(&created).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{}: {mode:o}", created.display());
    }
}

/// Lock timeouts beyond what a backend's own type holds: rusqlite's busy
/// timeout panicked ("too big") past about 24 days, SQLite's
/// `PRAGMA busy_timeout` read an overflowing value as 0, and `GET_LOCK` gave
/// up at once on a huge value. A huge timeout means "wait a long time".
mod huge_lock_timeouts {
    use std::sync::mpsc::RecvTimeoutError;
    use std::time::Duration;

    use migrate::{Error, Migrations, Options, Target};

    use crate::common::{TempDb, migration_dir};
    use crate::servers::{Database, Kind};

    const A_YEAR: Duration = Duration::from_secs(60 * 60 * 24 * 365);
    const HUGE: [Duration; 2] = [A_YEAR, Duration::MAX];

    fn one_migration() -> (tempfile::TempDir, Migrations) {
        let dir = migration_dir(&[("0001_t.sql", "CREATE TABLE t (id INT);\n")]);
        let set = Migrations::from_dir(dir.path()).unwrap();
        (dir, set)
    }

    /// Starts `runner` on a thread of its own while the caller holds the
    /// lock, checks that two seconds later it is still waiting, then calls
    /// `release` and expects the runner to apply the one migration.
    fn keeps_waiting(
        runner: impl FnOnce() -> Result<usize, Error> + Send + 'static,
        release: impl FnOnce(),
    ) {
        let (send, receive) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = send.send(runner().map_err(|err| err.to_string()));
        });
        match receive.recv_timeout(Duration::from_secs(2)) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(result) => panic!("the runner did not wait for the lock: {result:?}"),
            Err(RecvTimeoutError::Disconnected) => panic!("the runner panicked"),
        }
        release();
        let applied = receive
            .recv_timeout(Duration::from_secs(30))
            .expect("the runner finishes once the lock is free");
        assert_eq!(applied, Ok(1));
    }

    /// A current-thread runtime for one blocking call.
    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(future)
    }

    /// What a runner does: upgrade the database at a URL or path to head.
    type Runner = fn(String, Migrations, Options) -> Result<usize, Error>;

    fn sqlx_upgrade<DB: migrate::sqlx::Backend>(
        url: String,
        set: Migrations,
        options: Options,
    ) -> Result<usize, Error> {
        block_on(async {
            let pool = sqlx::Pool::<DB>::connect(&url).await.unwrap();
            let report = migrate::sqlx::upgrade(&pool, &set, Target::Head, &options).await?;
            Ok(report.steps.len())
        })
    }

    /// `runner` on a SQLite file whose write lock another connection holds.
    fn sqlite_keeps_waiting(runner: Runner, url: fn(&std::path::Path) -> String) {
        for timeout in HUGE {
            let (_dir, set) = one_migration();
            let db = TempDb::new();
            let holder = db.open();
            holder.execute_batch("BEGIN IMMEDIATE").unwrap();
            let (url, options) = (url(&db.path), Options::default().lock_timeout(timeout));
            keeps_waiting(
                move || runner(url, set, options),
                || holder.execute_batch("ROLLBACK").unwrap(),
            );
        }
    }

    #[test]
    fn rusqlite_waits() {
        sqlite_keeps_waiting(
            |path, set, options| {
                let conn = rusqlite::Connection::open(path).unwrap();
                Ok(set
                    .with_options(options)
                    .upgrade(&conn, Target::Head)?
                    .steps
                    .len())
            },
            |path| path.display().to_string(),
        );
    }

    #[test]
    fn sqlx_sqlite_waits() {
        sqlite_keeps_waiting(sqlx_upgrade::<sqlx::Sqlite>, |path| {
            format!("sqlite://{}?mode=rwc", path.display())
        });
    }

    #[test]
    fn mysql_waits() {
        for timeout in HUGE {
            let Some(database) = block_on(Database::create(Kind::MySql)) else {
                return;
            };
            let (_dir, set) = one_migration();
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            // The runner's named lock, as `dialect::lock::MYSQL_GET` names it.
            let mut holder = runtime.block_on(async {
                let mut conn =
                    <sqlx::MySqlConnection as sqlx::Connection>::connect(&database.url).await?;
                sqlx::query(
                    "SELECT GET_LOCK(SHA1(CONCAT('migrate:', DATABASE(), '.', '`_migrate_history`')), 0)",
                )
                .execute(&mut conn)
                .await?;
                Ok::<_, sqlx::Error>(conn)
            });
            let (url, options) = (
                database.url.clone(),
                Options::default().lock_timeout(timeout),
            );
            keeps_waiting(
                move || sqlx_upgrade::<sqlx::MySql>(url, set, options),
                || {
                    let conn = holder.as_mut().unwrap();
                    runtime
                        .block_on(sqlx::query("SELECT RELEASE_ALL_LOCKS()").execute(conn))
                        .unwrap();
                },
            );
        }
    }
}
