//! The runners' second fast path: whether an upgrade to head has nothing
//! to do, told one history row at a time, where the summary beside the
//! table (`dialect::summary`) could not answer (no summary yet, a hand edit
//! since the runner last wrote, checksums ignored).

use crate::Migration;
use crate::Target;
use crate::options::Options;
use crate::report::Direction;

/// Tells, one history row at a time, whether an upgrade to head has nothing
/// to do: the runners' fast path for a start with nothing pending, which
/// compares each row where it lies instead of building [`AppliedRow`](super::AppliedRow)s.
///
/// It says "up to date" only when every row is a known version, clean, with
/// the build's checksum (unless checksums are ignored), and every known
/// migration has a row: exactly the histories for which
/// [`plan`](super::plan)`(.., Direction::Up, Target::Head, ..)` returns no steps and no
/// error without allowing unknown versions. Anything else (a pending step,
/// an edit, a dirty mark, an unknown version) answers "not known to be up to
/// date", and the runner reads the whole history and asks [`plan`](super::plan), which
/// decides and explains.
///
/// # Examples
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # std::fs::write(dir.path().join("1_a.sql"), "CREATE TABLE a (id INT);").unwrap();
/// # std::fs::write(dir.path().join("2_b.sql"), "CREATE TABLE b (id INT);").unwrap();
/// let set = migrate::Migrations::from_dir(dir.path())?;
/// let options = migrate::Options::default();
/// let mut check = migrate::plan::UpToDate::new(set.as_slice(), &options);
/// assert!(check.row(1, set.get(1).unwrap().checksum(), true));
/// assert!(!check.finish(), "2 is pending");
///
/// let mut check = migrate::plan::UpToDate::new(set.as_slice(), &options);
/// assert!(check.row(2, set.get(2).unwrap().checksum(), true));
/// assert!(check.row(1, set.get(1).unwrap().checksum(), true));
/// assert!(check.finish());
///
/// let mut check = migrate::plan::UpToDate::new(set.as_slice(), &options);
/// assert!(!check.row(1, "edited", true), "a checksum differs: stop reading");
/// # Ok::<(), migrate::Error>(())
/// ```
#[derive(Debug)]
pub struct UpToDate<'m> {
    known: &'m [Migration],
    compare_checksums: bool,
    rows: usize,
    /// Where the next row is looked for first: rows usually come in
    /// version order, so most lookups are one comparison.
    next: usize,
}

impl<'m> UpToDate<'m> {
    /// Starts a check of the history against `known` (sorted by version, as
    /// [`crate::Migrations`] keeps it).
    ///
    /// # Examples
    ///
    /// ```
    /// let check = migrate::plan::UpToDate::new(&[], &migrate::Options::default());
    /// assert!(check.finish(), "no migrations and no history: nothing to do");
    /// ```
    pub fn new(known: &'m [Migration], options: &Options) -> Self {
        UpToDate {
            known,
            compare_checksums: !options.ignore_checksums,
            rows: 0,
            next: 0,
        }
    }

    /// Whether the fast path may answer this request at all: an upgrade to
    /// head. Every other target and every downgrade is planned in full.
    ///
    /// # Examples
    ///
    /// ```
    /// use migrate::{Direction, Target, plan::UpToDate};
    /// assert!(UpToDate::answers(Direction::Up, Target::Head));
    /// assert!(!UpToDate::answers(Direction::Up, Target::Version(3)));
    /// assert!(!UpToDate::answers(Direction::Down, Target::Head));
    /// ```
    pub fn answers(direction: Direction, target: Target) -> bool {
        direction == Direction::Up && target == Target::Head
    }

    /// Takes one row (the checksum as text or as its bytes); false means
    /// the history is not known to be up to date, and reading can stop.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut check = migrate::plan::UpToDate::new(&[], &migrate::Options::default());
    /// assert!(!check.row(7, "abc", true), "7 is not a known version");
    /// ```
    pub fn row(&mut self, version: i64, checksum: impl AsRef<[u8]>, success: bool) -> bool {
        let at = match self.known.get(self.next) {
            Some(m) if m.version() == version => self.next,
            _ => match self
                .known
                .binary_search_by_key(&version, Migration::version)
            {
                Ok(at) => at,
                Err(_) => return false,
            },
        };
        self.next = at + 1;
        self.rows += 1;
        success
            && (!self.compare_checksums
                || self.known[at].checksum().as_bytes() == checksum.as_ref())
    }

    /// After the last row: true when the history holds every known
    /// migration, and so an upgrade to head has nothing to do. Versions are
    /// unique in the history table, so the count says it.
    ///
    /// # Examples
    ///
    /// ```
    /// let check = migrate::plan::UpToDate::new(&[], &migrate::Options::default());
    /// assert!(check.finish());
    /// ```
    pub fn finish(self) -> bool {
        self.rows == self.known.len()
    }
}
