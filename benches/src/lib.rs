//! Benchmarks of `migrate`: the criterion suite (`cargo bench -p benches`),
//! the side-by-side comparison with refinery, sqlx and rusqlite_migration
//! (`--bin compare`), the tenant upgrade (`--bin tenants`), the compile
//! time of `embed_migrations!` (`--bin embed_cost`) and the lock modes on
//! servers (`--bin locks`). See `README.md`.
//!
//! This library holds what they share: the fixture generator, SQLite file
//! helpers, order statistics and the machine description.

pub mod fixtures;
pub mod report;
pub mod sqlite;
pub mod stats;
