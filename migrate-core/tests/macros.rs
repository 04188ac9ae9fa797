//! `embed_migrations!`: the embedded set equals the run-time loaded one.
//! (Its compile errors are tested in migrate-macros/tests, with trybuild,
//! and so is the embedded corpus, which a clone alone does not have: a
//! missing directory here would stop this whole binary from compiling.)

use migrate::Migrations;

const APP: Migrations = migrate::embed_migrations!("../fixtures/app");
const FLYWAY: Migrations = migrate::embed_migrations!("../fixtures/flyway");
/// No argument: `migrations/` beside this crate's Cargo.toml (a link to
/// `fixtures/app`).
const DEFAULT: Migrations = migrate::embed_migrations!();

#[test]
fn the_embedded_set_equals_the_runtime_loaded_set() {
    for (embedded, dir) in [
        (&APP, crate::common::fixture("app")),
        (&FLYWAY, crate::common::fixture("flyway")),
    ] {
        let loaded = Migrations::from_dir(&dir).unwrap();
        assert_eq!(embedded, &loaded, "{}", dir.display());
    }
    assert_eq!(APP.len(), 6);
}

#[test]
fn with_no_argument_it_embeds_migrations_beside_cargo_toml() {
    let beside = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    assert_eq!(DEFAULT, Migrations::from_dir(&beside).unwrap());
    assert_eq!(DEFAULT, migrate::embed_migrations!("migrations"));
    assert_eq!(DEFAULT.len(), 6);
}

#[test]
fn embedded_migrations_run() {
    let db = crate::common::TempDb::new();
    let conn = db.open();
    let report = migrate::run(&conn, &APP).unwrap();
    assert_eq!(report.steps.len(), 6);
    assert_eq!(crate::common::versions(&conn), [1, 2, 3, 4, 5, 6]);
}
