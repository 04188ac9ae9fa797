//! Where the real-world corpus is: `../shared/corpus`, beside the
//! repository, which a clone of the repository alone does not have.
//!
//! Without it, a corpus test prints one line saying it was skipped and why,
//! and passes; with `MIGRATE_REQUIRE_CORPUS=1` (as `.ci/run` sets) a missing
//! corpus fails the test instead, as `MIGRATE_REQUIRE_SERVERS=1` does for
//! the servers. migrate-macros' tests compile this file too (`#[path]`):
//! both crates sit one level below the workspace root.

use std::path::{Path, PathBuf};

/// The corpus folder, or `None` (after saying why) when it is missing and
/// not required.
pub fn corpus_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus");
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(
        !std::env::var("MIGRATE_REQUIRE_CORPUS").is_ok_and(|v| v == "1"),
        "{} is missing but MIGRATE_REQUIRE_CORPUS=1: clone the repository with ../shared beside it",
        dir.display()
    );
    crate::skip::skipped(
        "../shared/corpus is not beside the repository (see README.md, \"The corpus\")",
    );
    None
}

/// A set of the corpus (`ory-kratos/sqlite`), or `None` (after saying why)
/// when the corpus is missing and not required. A corpus without that set
/// is a failure: the corpus is there, but not the one the tests know.
pub fn corpus(set: &str) -> Option<PathBuf> {
    let dir = corpus_dir()?.join(set);
    assert!(
        dir.is_dir(),
        "the corpus set {} is missing from ../shared/corpus",
        dir.display()
    );
    Some(dir)
}
