//! `migrate completions SHELL`: every shell's script names every verb, the
//! bash script is valid bash and completes as bash would, and an unknown
//! shell is a usage error.

use std::path::Path;
use std::process::Command;

use clap::CommandFactory;
use migrate_cli::Cli;

use crate::common::migrate;

/// Every verb, as the command line defines them (so that a new verb is
/// checked without touching this test).
fn verbs() -> Vec<String> {
    let verbs: Vec<String> = Cli::command()
        .get_subcommands()
        .map(|verb| verb.get_name().to_owned())
        .collect();
    assert!(verbs.len() >= 9, "{verbs:?}");
    verbs
}

/// How each shell's script offers `verb` as a completion.
fn offered(shell: &str, verb: &str) -> String {
    match shell {
        "zsh" => format!("'{verb}:"),
        "fish" => format!("-a \"{verb}\""),
        "powershell" => format!("[CompletionResult]::new('{verb}', "),
        "elvish" => format!("cand {verb} '"),
        _ => unreachable!("{shell}"),
    }
}

#[test]
fn every_shell_gets_a_script_offering_every_verb() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let run = migrate(&["completions", shell]);
        let script = run.ok();
        assert!(script.len() > 1000, "{shell}: {script}");
        assert!(script.contains("database-url"), "{shell}");
        for verb in verbs() {
            assert!(script.contains(&verb), "{shell}: no `{verb}` in the script");
            if shell != "bash" {
                // (bash's is run below instead.)
                assert!(
                    script.contains(&offered(shell, &verb)),
                    "{shell} does not offer `{verb}`"
                );
            }
        }
    }
}

/// Sources the bash script and asks its function for the completions of
/// the words of `line` (the last one being completed).
fn bash_completes(script: &Path, line: &[&str]) -> Vec<String> {
    let words = line
        .iter()
        .map(|word| format!("'{word}'"))
        .collect::<Vec<_>>()
        .join(" ");
    let program = format!(
        "source '{}'; COMP_WORDS=({words}); COMP_CWORD={}; _migrate migrate '{}' '{}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display(),
        line.len() - 1,
        line[line.len() - 1],
        line[line.len() - 2],
    );
    let output = Command::new("bash")
        .arg("-c")
        .arg(program)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_bash_script_is_valid_bash_and_completes_verbs_and_options() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("migrate.bash");
    std::fs::write(&script, migrate(&["completions", "bash"]).ok()).unwrap();
    let syntax = Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .unwrap();
    assert!(syntax.status.success(), "bash -n: {syntax:?}");

    let offered = bash_completes(&script, &["migrate", ""]);
    for verb in verbs() {
        assert!(
            offered.contains(&verb),
            "bash does not offer `{verb}`: {offered:?}"
        );
    }
    assert_eq!(bash_completes(&script, &["migrate", "up"]), ["upgrade"]);
    assert_eq!(
        bash_completes(&script, &["migrate", "upgrade", "--dr"]),
        ["--dry-run"]
    );
    assert_eq!(
        bash_completes(&script, &["migrate", "completions", "p"]),
        ["powershell"]
    );
}

#[test]
fn an_unknown_or_missing_shell_is_a_usage_error() {
    let unknown = migrate(&["completions", "nushell"]);
    assert_eq!(unknown.code, 2, "{unknown:?}");
    assert!(unknown.stdout.is_empty());
    assert!(
        unknown
            .stderr
            .contains("invalid value 'nushell' for '<SHELL>'")
            && unknown
                .stderr
                .contains("bash, elvish, fish, powershell, zsh"),
        "{}",
        unknown.stderr
    );
    let missing = migrate(&["completions"]);
    assert_eq!(missing.code, 2, "{missing:?}");
}

#[test]
fn json_holds_the_script() {
    let run = migrate(&["completions", "fish", "--json"]);
    let document = run.json();
    assert_eq!(document["shell"], "fish");
    assert_eq!(
        document["script"].as_str().unwrap().trim_end(),
        migrate(&["completions", "fish"]).ok().trim_end()
    );
}
