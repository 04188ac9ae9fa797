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
