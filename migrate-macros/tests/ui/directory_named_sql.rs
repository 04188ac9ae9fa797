// trybuild compiles this crate under target/tests/trybuild/migrate-macros, so
// the workspace's fixtures are four levels up.
const MIGRATIONS: migrate::Migrations = migrate::embed_migrations!("../../../../fixtures/broken/directory_named_sql");

fn main() {
    let _ = MIGRATIONS;
}
