const MIGRATIONS: migrate::Migrations = migrate::embed_migrations!("no/such/dir");

fn main() {
    let _ = MIGRATIONS;
}
