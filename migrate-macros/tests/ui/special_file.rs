// A FIFO cannot be committed, so compile_fail.rs makes this set in Cargo's
// target/tmp: three levels up from target/tests/trybuild/migrate-macros.
const MIGRATIONS: migrate::Migrations = migrate::embed_migrations!("../../../tmp/special_file");

fn main() {
    let _ = MIGRATIONS;
}
