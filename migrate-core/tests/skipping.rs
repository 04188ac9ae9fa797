//! A skipped test says so where a passing run shows it: its line reaches
//! stderr past the harness's capture, naming the test and the reason.

use crate::servers::Kind;

/// Looks for the PostgreSQL server; run by
/// `a_skipped_test_names_itself_and_why_on_stderr` without one.
#[test]
#[ignore = "run by a_skipped_test_names_itself_and_why_on_stderr"]
fn looks_for_a_server() {
    assert_eq!(crate::servers::url(Kind::Postgres), None);
}

#[test]
fn a_skipped_test_names_itself_and_why_on_stderr() {
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "skipping::looks_for_a_server"])
        .env_remove("MIGRATE_TEST_POSTGRES_URL")
        .env_remove("MIGRATE_REQUIRE_SERVERS")
        .output()
        .unwrap();
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "skipped skipping::looks_for_a_server: MIGRATE_TEST_POSTGRES_URL is not set \
             (see README.md, \"Server tests\")\n"
        ),
        "{stderr}"
    );
}
