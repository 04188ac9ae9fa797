//! One integration-test binary for migrate-core: a module per area.

mod attribute;
mod clusters;
mod common;
mod concurrency;
mod conformance;
mod corpus;
mod corpus_dir;
#[cfg(feature = "lint")]
mod corpus_lint;
mod corpus_servers;
mod corpus_verify;
mod errors;
mod foreign_keys;
mod inputs;
mod journal;
mod lease;
mod lifecycle;
mod macros;
mod mysql;
mod observability;
mod operations;
mod planner;
mod postgres;
mod privileges;
mod races;
mod round_trips;
mod schema;
mod scripts;
mod servers;
mod skip;
mod skipping;
mod summary;
