//! The embedded corpus equals the run-time loaded one: Ory Kratos's 694
//! SQLite migrations and Ory Hydra's, whose CRLF files must keep their
//! bytes. The case embeds `../shared/corpus`, which a clone of the
//! repository alone does not have, so it is compiled (trybuild) only when
//! the corpus is there; without it the test says it was skipped.

use crate::corpus_dir::corpus;

#[test]
fn the_embedded_corpus_equals_the_runtime_loaded_corpus() {
    let sets = ["ory-kratos/sqlite", "ory-hydra/sqlite"];
    if sets.into_iter().any(|set| corpus(set).is_none()) {
        return;
    }
    trybuild::TestCases::new().pass("tests/corpus/embed_equals_loaded.rs");
}
