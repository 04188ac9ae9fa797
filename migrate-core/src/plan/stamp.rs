//! `stamp`: the history recorded as if at a target, no script run.

use super::*;

/// What `stamp` writes: rows to insert (as applied by this build), rows to
/// mark clean, rows to delete.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StampPlan<'m> {
    /// Known migrations at or below the target that are not recorded.
    pub insert: Vec<&'m Migration>,
    /// Dirty rows at or below the target, with the checksum to record.
    pub mark_clean: Vec<(i64, String)>,
    /// Recorded versions above the target.
    pub delete: Vec<i64>,
}

impl StampPlan<'_> {
    /// True when the history already is as stamped.
    ///
    /// # Examples
    ///
    /// ```
    /// let set = migrate::Migrations::from_dir(tempfile::tempdir().unwrap().path())?;
    /// assert!(migrate::plan::plan_stamp(set.as_slice(), &[], migrate::Target::Base)?.is_empty());
    /// # Ok::<(), migrate::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.insert.is_empty() && self.mark_clean.is_empty() && self.delete.is_empty()
    }
}

/// Plans `stamp`: the history as if the database were at `target`, without
/// running any script. It checks nothing else, since it is how a dirty mark
/// or a baseline is recorded.
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
/// let stamp = migrate::plan::plan_stamp(set.as_slice(), &applied, migrate::Target::Head)?;
/// assert_eq!(stamp.insert.iter().map(|m| m.version()).collect::<Vec<_>>(), [2]);
/// assert!(stamp.delete.is_empty() && stamp.mark_clean.is_empty());
/// # Ok::<(), migrate::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::StampTarget`] for `+N`/`-N`, [`Error::UnknownTarget`] for a
/// version neither known nor applied.
pub fn plan_stamp<'m>(
    known: &'m [Migration],
    applied: &[AppliedRow],
    target: Target,
) -> Result<StampPlan<'m>, Error> {
    let limit = match target {
        Target::Head => known.last().map(Migration::version).or(newest(applied)),
        Target::Base => None,
        Target::Version(version) => {
            if find(known, version).is_none() && !applied.iter().any(|row| row.version == version) {
                return Err(Error::UnknownTarget { version });
            }
            Some(version)
        }
        Target::Forward(_) | Target::Back(_) => {
            return Err(Error::StampTarget {
                target: target.to_string(),
            });
        }
    };
    let below = |version: i64| limit.is_some_and(|limit| version <= limit);
    let applied_versions = sorted_versions(applied);
    Ok(StampPlan {
        insert: known
            .iter()
            .filter(|m| below(m.version()) && applied_versions.binary_search(&m.version()).is_err())
            .collect(),
        mark_clean: applied
            .iter()
            .filter(|row| !row.success && below(row.version))
            .map(|row| {
                let checksum = find(known, row.version).map_or(&*row.checksum, Migration::checksum);
                (row.version, checksum.to_owned())
            })
            .collect(),
        delete: applied_versions
            .into_iter()
            .filter(|v| !below(*v))
            .collect(),
    })
}
