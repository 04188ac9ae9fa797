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
