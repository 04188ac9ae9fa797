//! One integration-test binary for migrate-macros: a module per area. Both
//! build small crates with trybuild (under `target/tests/trybuild`).

mod compile_fail;
mod corpus;
#[path = "../../migrate-core/tests/corpus_dir.rs"]
mod corpus_dir;
#[path = "../../migrate-core/tests/skip.rs"]
mod skip;
