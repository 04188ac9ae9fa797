// trybuild compiles this crate under target/tests/trybuild/migrate-macros, so
// the workspace's fixtures are four levels up.
const MIGRATIONS: migrate::Migrations = migrate::embed_migrations!("../../../../fixtures/broken/trailing_space");

fn main() {
    let _ = MIGRATIONS;
}
