// No argument embeds `migrations/` beside Cargo.toml; trybuild's crate
// (under target/tests/trybuild/migrate-macros) has none.
const MIGRATIONS: migrate::Migrations = migrate::embed_migrations!();

fn main() {
    let _ = MIGRATIONS;
}
