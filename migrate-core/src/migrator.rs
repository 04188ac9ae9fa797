//! [`Migrator`]: a migration set with options, and the operations on a
//! database. The methods on [`Migrations`] are the same with default options.

// The operations below are rusqlite's; without it, only the type remains.
#[cfg_attr(not(feature = "rusqlite"), allow(unused_imports))]
use crate::plan::{self, Plan};
#[cfg_attr(not(feature = "rusqlite"), allow(unused_imports))]
use crate::report::{Current, Direction, HistoryEntry, Report, Status};
#[cfg_attr(not(feature = "rusqlite"), allow(unused_imports))]
use crate::{Error, Migrations, Options, Target};

/// A migration set with [`Options`].
///
/// # Examples
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # std::fs::write(dir.path().join("0001_init.sql"), "CREATE TABLE t (id INT);").unwrap();
/// let set = migrate::Migrations::from_dir(dir.path())?;
/// let conn = rusqlite::Connection::open_in_memory()?;
/// let migrator = set.with_options(migrate::Options::default().table("schema_history")?);
/// migrator.upgrade(&conn, migrate::Target::Head)?;
/// assert_eq!(migrator.current(&conn)?.version, Some(1));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Migrator<'a> {
    migrations: &'a Migrations,
    options: Options,
}

impl Migrations {
    /// This set with non-default options.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let set = migrate::Migrations::from_dir(dir.path())?;
    /// let migrator = set.with_options(migrate::Options::default().allow_unknown(true));
    /// assert_eq!(migrator.options().table_name(), "_migrate_history");
    /// # Ok::<(), migrate::Error>(())
    /// ```
    pub fn with_options(&self, options: Options) -> Migrator<'_> {
        Migrator {
            migrations: self,
            options,
        }
    }
}

impl<'a> Migrator<'a> {
    /// The options.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let set = migrate::Migrations::from_dir(dir.path())?;
    /// assert_eq!(set.with_options(Default::default()).options(), &migrate::Options::default());
    /// # Ok::<(), migrate::Error>(())
    /// ```
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// The migrations.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let set = migrate::Migrations::from_dir(dir.path())?;
    /// assert!(set.with_options(Default::default()).migrations().is_empty());
    /// # Ok::<(), migrate::Error>(())
    /// ```
    pub fn migrations(&self) -> &'a Migrations {
        self.migrations
    }
}

#[cfg(feature = "rusqlite")]
mod sync {
    use super::*;
    use crate::rusqlite as backend;
    use rusqlite::Connection;

    #[cfg_attr(docsrs, doc(cfg(feature = "rusqlite")))]
    impl<'a> Migrator<'a> {
        /// Applies pending migrations up to `target` (`head`, `+N` or a version).
        ///
        /// # Examples
        ///
        /// ```
        /// # let dir = tempfile::tempdir().unwrap();
        /// # for v in 1..=3 { std::fs::write(dir.path().join(format!("{v}_t{v}.sql")), format!("CREATE TABLE t{v} (id INT);")).unwrap(); }
        /// let set = migrate::Migrations::from_dir(dir.path())?;
        /// let conn = rusqlite::Connection::open_in_memory()?;
        /// let report = set.upgrade(&conn, "+2".parse()?)?;
        /// assert_eq!((report.from, report.to), (None, Some(2)));
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        ///
        /// # Errors
        ///
        /// What the planner refuses (edited, unknown, out-of-order or dirty
        /// migrations, an unreachable target), a failing script
        /// ([`Error::Step`], naming the file), a lock timeout, a database error.
        pub fn upgrade(&self, conn: &Connection, target: Target) -> Result<Report, Error> {
            backend::execute(conn, self.migrations, Direction::Up, target, &self.options)
        }

        /// Reverts applied migrations down to `target` (`-N`, a version,
        /// `base`, or `head`: every applied version newer than this build's).
        /// Every step's down script is checked before anything changes.
        ///
        /// # Examples
        ///
        /// ```
        /// # let dir = tempfile::tempdir().unwrap();
        /// # std::fs::write(dir.path().join("1_t.up.sql"), "CREATE TABLE t (id INT);").unwrap();
        /// # std::fs::write(dir.path().join("1_t.down.sql"), "DROP TABLE t;").unwrap();
        /// let set = migrate::Migrations::from_dir(dir.path())?;
        /// let conn = rusqlite::Connection::open_in_memory()?;
        /// migrate::run(&conn, &set)?;
        /// let report = set.downgrade(&conn, "-1".parse()?)?;
        /// assert_eq!((report.from, report.to), (Some(1), None));
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        ///
        /// # Errors
        ///
        /// As [`Migrator::upgrade`], and [`Error::Irreversible`] when a step
        /// has no down script.
        pub fn downgrade(&self, conn: &Connection, target: Target) -> Result<Report, Error> {
            backend::execute(
                conn,
                self.migrations,
                Direction::Down,
                target,
                &self.options,
            )
        }

        /// What an upgrade or downgrade would do, changing nothing.
        ///
        /// # Examples
        ///
        /// ```
        /// # let dir = tempfile::tempdir().unwrap();
        /// # std::fs::write(dir.path().join("1_t.sql"), "CREATE TABLE t (id INT);").unwrap();
        /// let set = migrate::Migrations::from_dir(dir.path())?;
        /// let conn = rusqlite::Connection::open_in_memory()?;
        /// let plan = set.plan(&conn, migrate::Direction::Up, migrate::Target::Head)?;
        /// assert_eq!(plan.steps.len(), 1);
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        ///
        /// # Errors
        ///
        /// What [`Migrator::upgrade`] or [`Migrator::downgrade`] would refuse.
        pub fn plan(
            &self,
            conn: &Connection,
            direction: Direction,
            target: Target,
        ) -> Result<Plan<'a>, Error> {
            let rows = backend::read_rows(conn, &self.options)?;
            plan::plan(
                self.migrations.as_slice(),
                &rows,
                direction,
                target,
                &self.options,
            )
        }

        /// The database's state in one history query: current, head, pending,
        /// dirty, drift. Cheap enough for a health endpoint.
        ///
        /// # Examples
        ///
        /// ```
        /// # let dir = tempfile::tempdir().unwrap();
        /// # std::fs::write(dir.path().join("1_t.sql"), "CREATE TABLE t (id INT);").unwrap();
        /// let set = migrate::Migrations::from_dir(dir.path())?;
        /// let conn = rusqlite::Connection::open_in_memory()?;
        /// assert_eq!(set.status(&conn)?.pending, 1);
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        ///
        /// # Errors
        ///
        /// A database error reading the history.
        pub fn status(&self, conn: &Connection) -> Result<Status, Error> {
            let rows = backend::read_rows(conn, &self.options)?;
            let status = plan::status(self.migrations.as_slice(), &rows, &self.options);
            let held = status.dirty && crate::run_file::held_elsewhere(conn.path().unwrap_or(""));
            Ok(status.in_flight_if(held))
        }

        /// Every known or applied migration with its state, by version.
        ///
        /// # Examples
        ///
        /// ```
        /// # let dir = tempfile::tempdir().unwrap();
        /// # std::fs::write(dir.path().join("1_t.sql"), "CREATE TABLE t (id INT);").unwrap();
        /// let set = migrate::Migrations::from_dir(dir.path())?;
        /// let conn = rusqlite::Connection::open_in_memory()?;
        /// assert_eq!(set.history(&conn)?[0].state, migrate::State::Pending);
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        ///
        /// # Errors
        ///
        /// A database error reading the history.
        pub fn history(&self, conn: &Connection) -> Result<Vec<HistoryEntry>, Error> {
            let rows = backend::read_rows(conn, &self.options)?;
            let entries = plan::history(self.migrations.as_slice(), &rows);
            let held = entries
                .iter()
                .any(|entry| entry.state == crate::State::Dirty)
                && crate::run_file::held_elsewhere(conn.path().unwrap_or(""));
            Ok(crate::report::history_in_flight_if(entries, held))
        }

        /// The newest applied migration.
        ///
        /// # Examples
        ///
        /// ```
        /// # let dir = tempfile::tempdir().unwrap();
        /// let set = migrate::Migrations::from_dir(dir.path())?;
        /// let conn = rusqlite::Connection::open_in_memory()?;
        /// assert_eq!(set.current(&conn)?.version, None);
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        ///
        /// # Errors
        ///
        /// A database error reading the history.
        pub fn current(&self, conn: &Connection) -> Result<Current, Error> {
            let rows = backend::read_rows(conn, &self.options)?;
            Ok(plan::current(self.migrations.as_slice(), &rows))
        }

        /// Records the history as if the database were at `target` (`head`,
        /// `base` or a version) without running any script: for baselining an
        /// existing database and for clearing a dirty mark.
        ///
        /// # Examples
        ///
        /// ```
        /// # let dir = tempfile::tempdir().unwrap();
        /// # std::fs::write(dir.path().join("1_t.sql"), "CREATE TABLE t (id INT);").unwrap();
        /// let set = migrate::Migrations::from_dir(dir.path())?;
        /// let conn = rusqlite::Connection::open_in_memory()?;
        /// set.stamp(&conn, migrate::Target::Head)?;
        /// assert_eq!(set.status(&conn)?.pending, 0);
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        ///
        /// # Errors
        ///
        /// [`Error::StampTarget`] for `+N`/`-N`, an unknown version, a
        /// database error.
        pub fn stamp(&self, conn: &Connection, target: Target) -> Result<crate::Stamped, Error> {
            backend::stamp(conn, self.migrations.as_slice(), target, &self.options)
        }
    }

    #[cfg_attr(docsrs, doc(cfg(feature = "rusqlite")))]
    impl Migrator<'_> {
        /// Applies, reverts and applies again each migration in turn on
        /// `conn`, an empty scratch database, reading the schema around
        /// each step: a down script that does not restore the schema before
        /// its up exactly, or an up that gives another schema the second
        /// time, is a step that [`Outcome::Differs`](crate::Outcome), with a
        /// diff naming the file. Up-only migrations are applied and noted.
        /// A failing script ends the verification with that step
        /// [`Outcome::Failed`](crate::Outcome), naming its file.
        ///
        /// # Examples
        ///
        /// ```
        /// # let dir = tempfile::tempdir().unwrap();
        /// # std::fs::write(dir.path().join("1_t.up.sql"), "CREATE TABLE t (id INT);").unwrap();
        /// # std::fs::write(dir.path().join("1_t.down.sql"), "DROP TABLE t; CREATE TABLE leftover (id INT);").unwrap();
        /// let set = migrate::Migrations::from_dir(dir.path())?;
        /// let verification = set.verify(&rusqlite::Connection::open_in_memory()?)?;
        /// assert_eq!(verification.steps[0].result, migrate::Outcome::Differs);
        /// let diff = verification.steps[0].diff.as_deref().unwrap();
        /// assert!(diff.starts_with("--- before 1_t.up.sql\n+++ after 1_t.down.sql\n"));
        /// assert!(diff.contains("+table leftover\n"));
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        ///
        /// # Errors
        ///
        /// [`Error::NotEmpty`] when the database holds any object or applied
        /// migration; a database error reading the schema. A failing step
        /// is not an error: it is in the result.
        pub fn verify(&self, conn: &Connection) -> Result<crate::Verification, Error> {
            let read = || crate::schema::read(conn, &self.options);
            crate::verify::refuse_unless_empty(&read()?, &self.history(conn)?)?;
            crate::verify::verify_steps!(
                self.migrations,
                up: self.upgrade(conn, Target::Forward(1)),
                down: self.downgrade(conn, Target::Back(1)),
                read: read(),
            )
        }
    }

    macro_rules! with_defaults {
        ($($(#[$doc:meta])* fn $name:ident($($arg:ident: $ty:ty),*) -> $out:ty;)*) => {
            #[cfg_attr(docsrs, doc(cfg(feature = "rusqlite")))]
            impl Migrations {
                $(
                    $(#[$doc])*
                    pub fn $name(&self, conn: &Connection $(, $arg: $ty)*) -> Result<$out, Error> {
                        Migrator { migrations: self, options: Options::default() }.$name(conn $(, $arg)*)
                    }
                )*
            }
        };
    }

    with_defaults! {
        /// [`Migrator::upgrade`] with default options.
        ///
        /// # Examples
        ///
        /// ```
        /// # let dir = tempfile::tempdir().unwrap();
        /// let set = migrate::Migrations::from_dir(dir.path())?;
        /// set.upgrade(&rusqlite::Connection::open_in_memory()?, migrate::Target::Head)?;
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        ///
        /// # Errors
        ///
        /// See [`Migrator::upgrade`].
        fn upgrade(target: Target) -> Report;
        /// [`Migrator::downgrade`] with default options.
        ///
        /// # Examples
        ///
        /// ```
        /// # let dir = tempfile::tempdir().unwrap();
        /// let set = migrate::Migrations::from_dir(dir.path())?;
        /// set.downgrade(&rusqlite::Connection::open_in_memory()?, migrate::Target::Base)?;
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        ///
        /// # Errors
        ///
        /// See [`Migrator::downgrade`].
        fn downgrade(target: Target) -> Report;
        /// [`Migrator::status`] with default options.
        ///
        /// # Examples
        ///
        /// ```
        /// # let dir = tempfile::tempdir().unwrap();
        /// let set = migrate::Migrations::from_dir(dir.path())?;
        /// assert!(!set.status(&rusqlite::Connection::open_in_memory()?)?.dirty);
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        ///
        /// # Errors
        ///
        /// See [`Migrator::status`].
        fn status() -> Status;
        /// [`Migrator::history`] with default options.
        ///
        /// # Examples
        ///
        /// ```
        /// # let dir = tempfile::tempdir().unwrap();
        /// let set = migrate::Migrations::from_dir(dir.path())?;
        /// assert!(set.history(&rusqlite::Connection::open_in_memory()?)?.is_empty());
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        ///
        /// # Errors
        ///
        /// See [`Migrator::history`].
        fn history() -> Vec<HistoryEntry>;
        /// [`Migrator::current`] with default options.
        ///
        /// # Examples
        ///
        /// ```
        /// # let dir = tempfile::tempdir().unwrap();
        /// let set = migrate::Migrations::from_dir(dir.path())?;
        /// assert!(!set.current(&rusqlite::Connection::open_in_memory()?)?.head);
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        ///
        /// # Errors
        ///
        /// See [`Migrator::current`].
        fn current() -> Current;
        /// [`Migrator::stamp`] with default options.
        ///
        /// # Examples
        ///
        /// ```
        /// # let dir = tempfile::tempdir().unwrap();
        /// let set = migrate::Migrations::from_dir(dir.path())?;
        /// set.stamp(&rusqlite::Connection::open_in_memory()?, migrate::Target::Base)?;
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        ///
        /// # Errors
        ///
        /// See [`Migrator::stamp`].
        fn stamp(target: Target) -> crate::Stamped;
        /// [`Migrator::plan`] with default options.
        ///
        /// # Examples
        ///
        /// ```
        /// # let dir = tempfile::tempdir().unwrap();
        /// let set = migrate::Migrations::from_dir(dir.path())?;
        /// let conn = rusqlite::Connection::open_in_memory()?;
        /// assert!(set.plan(&conn, migrate::Direction::Up, migrate::Target::Head)?.steps.is_empty());
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        ///
        /// # Errors
        ///
        /// See [`Migrator::plan`].
        fn plan(direction: Direction, target: Target) -> Plan<'_>;
        /// [`Migrator::verify`] with default options.
        ///
        /// # Examples
        ///
        /// ```
        /// # let dir = tempfile::tempdir().unwrap();
        /// let set = migrate::Migrations::from_dir(dir.path())?;
        /// assert!(set.verify(&rusqlite::Connection::open_in_memory()?)?.passed());
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        ///
        /// # Errors
        ///
        /// See [`Migrator::verify`].
        fn verify() -> crate::Verification;
    }
}

/// Upgrades to head with default options: the call an application makes at
/// start-up. Idempotent: with nothing pending it runs one history query and
/// changes nothing.
///
/// # Examples
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # std::fs::write(dir.path().join("0001_init.sql"), "CREATE TABLE t (id INT);").unwrap();
/// let set = migrate::Migrations::from_dir(dir.path())?;
/// let conn = rusqlite::Connection::open_in_memory()?;
/// assert_eq!(migrate::run(&conn, &set)?.steps.len(), 1);
/// assert_eq!(migrate::run(&conn, &set)?.steps.len(), 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// See [`Migrator::upgrade`].
#[cfg(feature = "rusqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "rusqlite")))]
pub fn run(conn: &rusqlite::Connection, migrations: &Migrations) -> Result<Report, Error> {
    migrations.upgrade(conn, Target::Head)
}
