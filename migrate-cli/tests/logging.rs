//! Logs: on stderr only, raised by `-v` and lowered by `-q`; never the
//! database password.

use crate::common::Project;

#[test]
fn verbose_logs_each_step_on_stderr() {
    let project = Project::fixture("app");
    let run = project.run(&["-v", "upgrade", "+2"]);
    assert_eq!(run.code, 0);
    assert_eq!(
        crate::common::stable(&run.stdout),
        "applied 1 create_users (N ms)\napplied 2 create_tokens (N ms)\nupgraded from base to 2\n"
    );
    let applied: Vec<&str> = run
        .stderr
        .lines()
        .filter(|line| line.contains("applied"))
        .collect();
    assert_eq!(applied.len(), 2, "{}", run.stderr);
    assert!(applied[0].contains("version=1"), "{}", applied[0]);
    assert!(
        !run.stderr.contains('\x1b'),
        "no colour when stderr is a pipe"
    );
}

#[test]
fn the_default_is_quiet_and_quiet_still_prints_errors() {
    let project = Project::fixture("app");
    assert_eq!(project.run(&["upgrade", "+1"]).stderr, "");
    let failed = project.run(&["-qq", "downgrade", "-5"]);
    assert_eq!(
        (failed.code, failed.stderr.as_str()),
        (
            1,
            "`-5` asks for 5 step(s) but only 1 is applied; nothing was changed\n"
        )
    );
}
