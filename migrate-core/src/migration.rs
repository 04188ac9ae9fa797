//! The migrations a program knows: embedded at compile time or loaded from a
//! directory at run time.
//!
//! Both paths go through `migrate_files::load_dir`, and the embedded form
//! keeps versions, names, directives and checksums as constants, so a start
//! with nothing to do neither parses file names nor hashes scripts.

use std::borrow::Cow;
use std::path::Path;

use crate::Error;

/// One script (up or down) of a migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    file: Cow<'static, str>,
    sql: Cow<'static, str>,
    no_transaction: bool,
}

impl Script {
    /// Builds a script; used by `embed_migrations!`.
    #[doc(hidden)]
    pub const fn __embedded(file: &'static str, sql: &'static str, no_transaction: bool) -> Self {
        Script {
            file: Cow::Borrowed(file),
            sql: Cow::Borrowed(sql),
            no_transaction,
        }
    }

    /// The file name, e.g. `0003_add_email.up.sql`.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # std::fs::write(dir.path().join("0001_init.sql"), "CREATE TABLE t (id INT);").unwrap();
    /// let set = migrate::Migrations::from_dir(dir.path())?;
    /// assert_eq!(set.iter().next().unwrap().up().file(), "0001_init.sql");
    /// # Ok::<(), migrate::Error>(())
    /// ```
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The SQL text as it runs (a leading byte-order mark dropped).
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # std::fs::write(dir.path().join("0001_init.sql"), "\u{feff}CREATE TABLE t (id INT);").unwrap();
    /// let set = migrate::Migrations::from_dir(dir.path())?;
    /// assert_eq!(set.iter().next().unwrap().up().sql(), "CREATE TABLE t (id INT);");
    /// # Ok::<(), migrate::Error>(())
    /// ```
    pub fn sql(&self) -> &str {
        // The loader (and the macro, through it) dropped the one leading
        // BOM already: a second one is content, as in the checksum.
        &self.sql
    }

    /// True when the script carries `-- migrate:no-transaction`.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # std::fs::write(dir.path().join("0001_idx.sql"), "-- migrate:no-transaction\nCREATE INDEX i ON t (c);").unwrap();
    /// let set = migrate::Migrations::from_dir(dir.path())?;
    /// assert!(set.iter().next().unwrap().up().no_transaction());
    /// # Ok::<(), migrate::Error>(())
    /// ```
    pub fn no_transaction(&self) -> bool {
        self.no_transaction
    }
}

/// One migration: a version, a name, an up script, an optional down script
/// and the up script's checksum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    version: i64,
    name: Cow<'static, str>,
    checksum: Cow<'static, str>,
    up: Script,
    down: Option<Script>,
}

impl Migration {
    /// Builds a migration; used by `embed_migrations!`.
    #[doc(hidden)]
    pub const fn __embedded(
        version: i64,
        name: &'static str,
        checksum: &'static str,
        up: Script,
        down: Option<Script>,
    ) -> Self {
        Migration {
            version,
            name: Cow::Borrowed(name),
            checksum: Cow::Borrowed(checksum),
            up,
            down,
        }
    }

    /// The version.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # std::fs::write(dir.path().join("0007_init.sql"), "").unwrap();
    /// let set = migrate::Migrations::from_dir(dir.path())?;
    /// assert_eq!(set.iter().next().unwrap().version(), 7);
    /// # Ok::<(), migrate::Error>(())
    /// ```
    pub fn version(&self) -> i64 {
        self.version
    }

    /// The name, as written in the file name.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # std::fs::write(dir.path().join("0007_add_email.sql"), "").unwrap();
    /// let set = migrate::Migrations::from_dir(dir.path())?;
    /// assert_eq!(set.iter().next().unwrap().name(), "add_email");
    /// # Ok::<(), migrate::Error>(())
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// SHA-256 (lowercase hex) of the up script, BOM dropped and CRLF as LF.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # std::fs::write(dir.path().join("0001_init.sql"), "").unwrap();
    /// let set = migrate::Migrations::from_dir(dir.path())?;
    /// assert_eq!(set.iter().next().unwrap().checksum(), migrate_files::checksum(b""));
    /// # Ok::<(), migrate::Error>(())
    /// ```
    pub fn checksum(&self) -> &str {
        &self.checksum
    }

    /// The up script.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # std::fs::write(dir.path().join("0001_init.sql"), "SELECT 1;").unwrap();
    /// let set = migrate::Migrations::from_dir(dir.path())?;
    /// assert_eq!(set.iter().next().unwrap().up().sql(), "SELECT 1;");
    /// # Ok::<(), migrate::Error>(())
    /// ```
    pub fn up(&self) -> &Script {
        &self.up
    }

    /// The down script, for a reversible migration.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # std::fs::write(dir.path().join("0001_init.sql"), "SELECT 1;").unwrap();
    /// let set = migrate::Migrations::from_dir(dir.path())?;
    /// assert!(set.iter().next().unwrap().down().is_none());
    /// # Ok::<(), migrate::Error>(())
    /// ```
    pub fn down(&self) -> Option<&Script> {
        self.down.as_ref()
    }
}

/// An ordered set of migrations, ascending by version.
///
/// Made by `embed_migrations!` (usable in a `const`) or by
/// [`Migrations::from_dir`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migrations {
    list: Cow<'static, [Migration]>,
    /// The history digest of every migration applied, clean (see
    /// [`Migrations::digest`]).
    digest: Cow<'static, str>,
}

impl Migrations {
    /// Wraps migrations that the macro already validated and sorted.
    #[doc(hidden)]
    pub const fn __embedded(list: &'static [Migration], digest: &'static str) -> Self {
        Migrations {
            list: Cow::Borrowed(list),
            digest: Cow::Borrowed(digest),
        }
    }

    /// Loads every migration in a directory, with the same rules (and the
    /// same code) as `embed_migrations!`.
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// std::fs::write(dir.path().join("0001_users.up.sql"), "CREATE TABLE users (id INTEGER);").unwrap();
    /// std::fs::write(dir.path().join("0001_users.down.sql"), "DROP TABLE users;").unwrap();
    /// let set = migrate::Migrations::from_dir(dir.path())?;
    /// assert_eq!(set.len(), 1);
    /// # Ok::<(), migrate::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Load`] naming the directory or file: a missing directory, a
    /// `.sql` file matching no form, two files for one version, an up file
    /// without its down file, an unreadable or non-UTF-8 file, an unknown
    /// directive.
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Self, Error> {
        let loaded = migrate_files::load_dir(dir.as_ref())?;
        let list = loaded
            .into_iter()
            .map(|m| Migration {
                version: m.version,
                name: Cow::Owned(m.name),
                checksum: Cow::Owned(m.checksum),
                up: owned_script(m.up),
                down: m.down.map(owned_script),
            })
            .collect::<Vec<_>>();
        let digest = digest_of(&list);
        Ok(Migrations {
            list: Cow::Owned(list),
            digest: Cow::Owned(digest),
        })
    }

    /// The migrations, ascending by version.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # std::fs::write(dir.path().join("2_b.sql"), "").unwrap();
    /// # std::fs::write(dir.path().join("10_c.sql"), "").unwrap();
    /// let set = migrate::Migrations::from_dir(dir.path())?;
    /// let versions: Vec<i64> = set.iter().map(|m| m.version()).collect();
    /// assert_eq!(versions, [2, 10]);
    /// # Ok::<(), migrate::Error>(())
    /// ```
    pub fn iter(&self) -> std::slice::Iter<'_, Migration> {
        self.list.iter()
    }

    /// The migrations as a slice, ascending by version.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let set = migrate::Migrations::from_dir(dir.path())?;
    /// assert!(set.as_slice().is_empty());
    /// # Ok::<(), migrate::Error>(())
    /// ```
    pub fn as_slice(&self) -> &[Migration] {
        &self.list
    }

    /// How many migrations there are.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// assert_eq!(migrate::Migrations::from_dir(dir.path())?.len(), 0);
    /// # Ok::<(), migrate::Error>(())
    /// ```
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// True when there are none.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// assert!(migrate::Migrations::from_dir(dir.path())?.is_empty());
    /// # Ok::<(), migrate::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The newest version, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # std::fs::write(dir.path().join("2_b.sql"), "").unwrap();
    /// # std::fs::write(dir.path().join("10_c.sql"), "").unwrap();
    /// assert_eq!(migrate::Migrations::from_dir(dir.path())?.head(), Some(10));
    /// # Ok::<(), migrate::Error>(())
    /// ```
    pub fn head(&self) -> Option<i64> {
        self.list.last().map(Migration::version)
    }

    /// The digest of a history holding every migration of the set, clean,
    /// with its checksum: `{count}:{sum}` (see
    /// [`migrate_files::HistoryDigest`]). `embed_migrations!` computes it at
    /// compile time; a start compares it with the summary kept beside the
    /// history table, reading one row instead of every row.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # std::fs::write(dir.path().join("2_b.sql"), "").unwrap();
    /// let set = migrate::Migrations::from_dir(dir.path())?;
    /// assert!(set.digest().starts_with("1:"));
    /// # Ok::<(), migrate::Error>(())
    /// ```
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// The migration with this version, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # std::fs::write(dir.path().join("2_b.sql"), "").unwrap();
    /// let set = migrate::Migrations::from_dir(dir.path())?;
    /// assert_eq!(set.get(2).map(|m| m.name()), Some("b"));
    /// assert!(set.get(3).is_none());
    /// # Ok::<(), migrate::Error>(())
    /// ```
    pub fn get(&self, version: i64) -> Option<&Migration> {
        self.list
            .binary_search_by_key(&version, Migration::version)
            .ok()
            .map(|at| &self.list[at])
    }
}

impl<'a> IntoIterator for &'a Migrations {
    type Item = &'a Migration;
    type IntoIter = std::slice::Iter<'a, Migration>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// The empty set.
///
/// # Examples
///
/// ```
/// let none = migrate::Migrations::default();
/// assert!(none.is_empty());
/// assert_eq!(none.head(), None);
/// ```
impl Default for Migrations {
    fn default() -> Self {
        Migrations {
            list: Cow::Borrowed(&[]),
            digest: Cow::Owned(digest_of(&[])),
        }
    }
}

/// The digest of a history holding every migration in `list`, clean.
fn digest_of(list: &[Migration]) -> String {
    let mut digest = migrate_files::HistoryDigest::default();
    for migration in list {
        digest.add(migrate_files::HistoryDigest::term(
            migration.version(),
            migration.checksum().as_bytes(),
            true,
        ));
    }
    digest.to_string()
}

fn owned_script(script: migrate_files::LoadedScript) -> Script {
    Script {
        file: Cow::Owned(script.file),
        sql: Cow::Owned(script.sql),
        no_transaction: script.no_transaction,
    }
}
