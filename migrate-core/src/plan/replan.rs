//! Planning again under the lock, after another runner moved the history.

use super::*;

/// Re-checks a plan's remaining steps against history that another runner
/// changed since it was planned: the same safety rules, and only the steps
/// that are still to do (a step someone else already did is dropped). The
/// target is not re-resolved, so `-1` still means the step chosen at first.
///
/// # Examples
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # std::fs::write(dir.path().join("1_a.up.sql"), "CREATE TABLE a (id INT);").unwrap();
/// # std::fs::write(dir.path().join("1_a.down.sql"), "DROP TABLE a;").unwrap();
/// # std::fs::write(dir.path().join("2_b.sql"), "CREATE TABLE b (id INT);").unwrap();
/// let set = migrate::Migrations::from_dir(dir.path())?;
/// let applied = vec![migrate::plan::AppliedRow {
///     version: 1, name: "a".into(), checksum: set.get(1).unwrap().checksum().into(),
///     applied_at: "2026-01-01T00:00:00.000000Z".into(), execution_ms: 3, success: true, has_down_sql: true,
/// }];
/// let first = migrate::plan::plan(set.as_slice(), &[], migrate::Direction::Up, migrate::Target::Head, &Default::default())?;
/// // Another runner applied 1 meanwhile: only 2 is left to do.
/// let left = migrate::plan::replan(set.as_slice(), &applied, &first.steps, migrate::Direction::Up, &Default::default())?;
/// assert_eq!(left.iter().map(|s| s.version).collect::<Vec<_>>(), [2]);
/// # Ok::<(), migrate::Error>(())
/// ```
///
/// # Errors
///
/// As [`plan`]: a dirty mark, an edited file, an unknown or out-of-order version.
pub fn replan<'m>(
    known: &'m [Migration],
    applied: &[AppliedRow],
    remaining: &[Step<'m>],
    direction: Direction,
    options: &Options,
) -> Result<Vec<Step<'m>>, Error> {
    check_history(known, applied, options)?;
    let versions = sorted_versions(applied);
    let is_applied = |version: i64| versions.binary_search(&version).is_ok();
    let steps: Vec<Step<'m>> = remaining
        .iter()
        .filter(|step| is_applied(step.version) == (direction == Direction::Down))
        .cloned()
        .collect();
    if direction == Direction::Up {
        check_unknown(known, applied, options)?;
        let migrations = steps.iter().filter_map(|step| match step.action {
            Action::Apply(m) => Some(m),
            _ => None,
        });
        check_order(migrations, newest(applied), options)?;
    }
    Ok(steps)
}
