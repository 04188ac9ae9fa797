// trybuild compiles and runs this crate under
// target/tests/trybuild/migrate-macros, so the corpus beside the repository
// (../shared/corpus) is five levels up. tests/corpus.rs adds this case only
// when the corpus is there.
use migrate::Migrations;

const KRATOS: Migrations = migrate::embed_migrations!("../../../../../shared/corpus/ory-kratos/sqlite");
const HYDRA: Migrations = migrate::embed_migrations!("../../../../../shared/corpus/ory-hydra/sqlite");

fn main() {
    let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../../../shared/corpus");
    for (embedded, set) in [(&KRATOS, "ory-kratos/sqlite"), (&HYDRA, "ory-hydra/sqlite")] {
        let loaded = Migrations::from_dir(corpus.join(set)).unwrap();
        assert_eq!(embedded, &loaded, "{set}");
    }
    assert_eq!(KRATOS.len(), 694);
    // The CRLF files of Hydra keep their bytes; only the checksum normalises.
    assert!(HYDRA.iter().any(|m| m.up().sql().contains("\r\n")));
}
