//! The read-only views of a history: `history`, `status` and `current`.

use super::*;

/// The state of every known or applied migration, in version order.
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
/// let states: Vec<_> = migrate::plan::history(set.as_slice(), &applied).iter().map(|e| e.state).collect();
/// assert_eq!(states, [migrate::State::Applied, migrate::State::Pending]);
/// # Ok::<(), migrate::Error>(())
/// ```
pub fn history(known: &[Migration], applied: &[AppliedRow]) -> Vec<HistoryEntry> {
    let mut rows: Vec<&AppliedRow> = applied.iter().collect();
    rows.sort_by_key(|row| row.version);
    let mut entries = Vec::with_capacity(known.len().max(rows.len()));
    let (mut k, mut a) = (0, 0);
    while k < known.len() || a < rows.len() {
        let next_known = known.get(k);
        let next_row = rows.get(a).copied();
        let order = match (next_known, next_row) {
            (Some(m), Some(row)) => m.version().cmp(&row.version),
            (Some(_), None) => Ordering::Less,
            (None, _) => Ordering::Greater,
        };
        let entry = match order {
            Ordering::Less => {
                let m = &known[k];
                k += 1;
                HistoryEntry {
                    version: m.version(),
                    name: m.name().to_owned(),
                    state: State::Pending,
                    checksum: m.checksum().to_owned(),
                    applied_at: None,
                    execution_ms: None,
                }
            }
            Ordering::Greater | Ordering::Equal => {
                let row = rows[a];
                a += 1;
                let migration = if order == Ordering::Equal {
                    k += 1;
                    next_known
                } else {
                    None
                };
                let state = match migration {
                    _ if !row.success => State::Dirty,
                    None => State::Unknown,
                    Some(m) if m.checksum() != row.checksum => State::Modified,
                    Some(_) => State::Applied,
                };
                HistoryEntry {
                    version: row.version,
                    name: row.name.clone(),
                    state,
                    checksum: row.checksum.clone(),
                    applied_at: Some(row.applied_at.clone()),
                    execution_ms: Some(row.execution_ms),
                }
            }
        };
        entries.push(entry);
    }
    entries
}

/// The summary a health check or `migrate status` shows. `drift` follows the
/// options: what an upgrade with them would refuse.
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
/// let status = migrate::plan::status(set.as_slice(), &applied, &Default::default());
/// assert_eq!((status.current, status.head, status.pending), (Some(1), Some(2), 1));
/// # Ok::<(), migrate::Error>(())
/// ```
pub fn status(known: &[Migration], applied: &[AppliedRow], options: &Options) -> Status {
    let current = newest(applied);
    let applied_versions = sorted_versions(applied);
    let pending: Vec<i64> = known
        .iter()
        .map(Migration::version)
        .filter(|v| applied_versions.binary_search(v).is_err())
        .collect();
    let modified = !options.ignore_checksums
        && applied
            .iter()
            .any(|row| find(known, row.version).is_some_and(|m| m.checksum() != row.checksum));
    let unknown =
        !options.allow_unknown && applied.iter().any(|row| find(known, row.version).is_none());
    let out_of_order = !options.allow_out_of_order
        && current.is_some_and(|current| pending.iter().any(|v| *v < current));
    Status {
        current,
        head: known.last().map(Migration::version),
        pending: pending.len(),
        dirty: applied.iter().any(|row| !row.success),
        drift: modified || unknown || out_of_order,
        in_progress: false,
    }
}

/// The migration that makes `status` dirty or drift, as `migrate check`
/// names it: the first dirty one; otherwise the first one an upgrade with
/// `options` would refuse, as [`status`] decides drift (an edited file, a
/// version unknown to this build, a pending version below the newest
/// applied one, each unless `options` allows it). `None` when `history`
/// shows none (read after `status`, it may have changed).
///
/// # Examples
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # std::fs::write(dir.path().join("1_a.sql"), "CREATE TABLE a (id INT);").unwrap();
/// let set = migrate::Migrations::from_dir(dir.path())?;
/// let applied = vec![migrate::plan::AppliedRow {
///     version: 1, name: "a".into(), checksum: "edited".into(),
///     applied_at: "2026-01-01T00:00:00.000000Z".into(), execution_ms: 3, success: true, has_down_sql: false,
/// }];
/// let options = migrate::Options::default();
/// let status = migrate::plan::status(set.as_slice(), &applied, &options);
/// let history = migrate::plan::history(set.as_slice(), &applied);
/// let culprit = migrate::plan::culprit(&history, &status, &options).unwrap();
/// assert_eq!((culprit.version, culprit.state), (1, migrate::State::Modified));
/// # Ok::<(), migrate::Error>(())
/// ```
pub fn culprit<'h>(
    history: &'h [HistoryEntry],
    status: &Status,
    options: &Options,
) -> Option<&'h HistoryEntry> {
    if status.dirty {
        return history.iter().find(|entry| entry.state == State::Dirty);
    }
    if !status.drift {
        return None;
    }
    history.iter().find(|entry| match entry.state {
        State::Modified => !options.ignore_checksums,
        State::Unknown => !options.allow_unknown,
        State::Pending => {
            !options.allow_out_of_order
                && status
                    .current
                    .is_some_and(|current| entry.version < current)
        }
        _ => false,
    })
}

/// The newest applied migration.
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
/// assert_eq!(migrate::plan::current(set.as_slice(), &applied).version, Some(1));
/// # Ok::<(), migrate::Error>(())
/// ```
pub fn current(known: &[Migration], applied: &[AppliedRow]) -> Current {
    let row = applied.iter().max_by_key(|row| row.version);
    let head = known.last().map(Migration::version);
    Current {
        version: row.map(|row| row.version),
        name: row.map(|row| row.name.clone()),
        head: row.is_some_and(|row| Some(row.version) == head),
    }
}
