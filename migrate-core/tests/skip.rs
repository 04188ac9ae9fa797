//! A test that cannot run here (no corpus, no server) says so on the
//! terminal and passes. The line goes straight to stderr, past the test
//! harness's capture of `println!`, so that a passing run shows which
//! tests were skipped and why. migrate-cli's and migrate-macros' tests
//! compile this file too (`#[path]`).

use std::io::Write as _;

/// Prints `skipped <test>: <why>` (the test is the harness's thread name).
pub fn skipped(why: &str) {
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("a test");
    let _ = writeln!(std::io::stderr(), "skipped {test}: {why}");
}
