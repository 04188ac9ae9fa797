//! One integration-test binary for the `migrate` command: a module per area.
//! Every test but those of `clusters` runs the built binary, on temporary
//! SQLite files and, where `servers` finds them configured, on fresh
//! PostgreSQL and MySQL/MariaDB databases; `clusters` checks, without the
//! binary, the helpers that give tests a Galera cluster and PgBouncer.

mod backends;
mod backup;
mod catalogue;
mod clusters;
mod common;
mod completions;
mod concurrency;
mod database;
mod dialects;
mod dotenv;
mod errors;
mod help;
mod json;
mod lifecycle;
mod lint;
mod logging;
mod new;
mod operations_doc;
mod passwords;
mod preview;
mod schema;
mod servers;
#[path = "../../migrate-core/tests/skip.rs"]
mod skip;
mod tenants;
mod urls;
mod wait;
