//! The command line's definition and its help: clap's own consistency
//! checks, and an example for every verb.

use clap::CommandFactory;
use migrate_cli::Cli;

use crate::common::migrate;

const VERBS: [&str; 12] = [
    "current",
    "history",
    "status",
    "upgrade",
    "downgrade",
    "stamp",
    "check",
    "new",
    "lint",
    "database",
    "wait",
    "completions",
];

#[test]
fn the_command_line_is_consistent() {
    Cli::command().debug_assert();
}

#[test]
fn help_documents_every_verb_with_an_example() {
    let run = migrate(&["--help"]);
    let help = run.ok();
    let examples = help
        .split_once("Examples, one per command:\n")
        .expect("an examples section")
        .1;
    for verb in VERBS {
        assert!(
            help.contains(&format!("\n  {verb:<10} ")),
            "{verb} is not listed among the commands"
        );
        let example = examples
            .lines()
            .find(|line| line.starts_with(&format!("  {verb:<10} ")))
            .unwrap_or_else(|| panic!("no example for {verb}"));
        assert!(
            example.contains(&format!(" {verb}")) && example.contains("migrate "),
            "{example}"
        );
        let verb_help = migrate(&[verb, "--help"]);
        assert!(
            verb_help.ok().contains("\nExample"),
            "`migrate {verb} --help` has no example"
        );
    }
}

#[test]
fn version_and_help_exit_0() {
    let version = migrate(&["--version"]);
    assert_eq!(
        version.ok(),
        format!("migrate {}\n", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(migrate(&["help", "upgrade"]).code, 0);
}
