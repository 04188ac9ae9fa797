//! One integration-test binary for migrate-core: a module per area.

mod attribute;
mod clusters;
mod common;
mod concurrency;
mod conformance;
mod corpus;
mod corpus_dir;
mod corpus_servers;
mod errors;
mod foreign_keys;
mod inputs;
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
mod scripts;
mod servers;
mod summary;
