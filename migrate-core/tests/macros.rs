//! `embed_migrations!`: the embedded set equals the run-time loaded one.
//! (Its compile errors are tested in migrate-macros/tests, with trybuild.)

use migrate::Migrations;

const APP: Migrations = migrate::embed_migrations!("../fixtures/app");
const FLYWAY: Migrations = migrate::embed_migrations!("../fixtures/flyway");
const KRATOS: Migrations = migrate::embed_migrations!("../../shared/corpus/ory-kratos/sqlite");
const HYDRA: Migrations = migrate::embed_migrations!("../../shared/corpus/ory-hydra/sqlite");

#[test]
fn the_embedded_set_equals_the_runtime_loaded_set() {
    for (embedded, dir) in [
        (&APP, crate::common::fixture("app")),
        (&FLYWAY, crate::common::fixture("flyway")),
        (&KRATOS, crate::common::corpus("ory-kratos/sqlite")),
        (&HYDRA, crate::common::corpus("ory-hydra/sqlite")),
    ] {
        let loaded = Migrations::from_dir(&dir).unwrap();
        assert_eq!(embedded, &loaded, "{}", dir.display());
    }
    assert_eq!(APP.len(), 6);
    assert_eq!(KRATOS.len(), 694);
    // The CRLF files of Hydra keep their bytes; only the checksum normalises.
    assert!(HYDRA.iter().any(|m| m.up().sql().contains("\r\n")));
}

#[test]
fn embedded_migrations_run() {
    let db = crate::common::TempDb::new();
    let conn = db.open();
    let report = migrate::run(&conn, &APP).unwrap();
    assert_eq!(report.steps.len(), 6);
    assert_eq!(crate::common::versions(&conn), [1, 2, 3, 4, 5, 6]);
}
