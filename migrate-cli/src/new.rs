//! `migrate new`: the next migration of a directory, its version and file
//! names in the directory's own style, and the files themselves.
//!
//! The rule lives apart from the command line so that it is testable
//! without one. A directory numbered `0001`, `0002`, … gets `0003`; one
//! numbered with UTC timestamps (`20261121093000`) gets the current time;
//! an empty one gets a timestamp too, since timestamps never clash between
//! branches. The directory is read and the file names are checked by the
//! one parser (`migrate_files`: [`load_dir`], [`parse_file_name`]), so a
//! name that `new` accepts always loads.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Datelike, Timelike, Utc};
use migrate_files::{LoadError, LoadedMigration, NameProblem, load_dir, parse_file_name};

/// How a directory numbers its migrations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionStyle {
    /// Sequential numbers, zero-padded to `width` digits (`0001`, `0002`, …).
    Sequential {
        /// How many digits the newest file's version is written with.
        width: usize,
    },
    /// UTC timestamps, `YYYYMMDDHHMMSS`.
    Timestamp,
}

/// Which file-name form a directory's migrations take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileForm {
    /// `{version}_{name}.sql`, or `.up.sql` + `.down.sql`.
    Plain,
    /// Flyway's `V{version}__{name}.sql`, with `U{version}__{name}.sql` to undo.
    Flyway,
}

/// A directory's style, read from its newest migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// How versions are numbered.
    pub style: VersionStyle,
    /// How files are named.
    pub form: FileForm,
}

/// The version and file names of a migration to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextMigration {
    /// The version.
    pub version: i64,
    /// The up file's name (the only file of an irreversible migration).
    pub up: String,
    /// The down file's name, for a reversible migration.
    pub down: Option<String>,
}

/// Why the next migration cannot be created. Every message names the
/// directory, file or name involved and says what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NewError {
    /// The directory's existing migrations do not load.
    #[error("{0}")]
    Load(#[from] LoadError),
    /// The directory does not exist and cannot be created.
    #[error(
        "cannot create the migration directory {}: {source}; check the path (--dir or MIGRATE_DIR)",
        dir.display()
    )]
    CreateDirectory {
        /// The directory.
        dir: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The name cannot be part of a migration file name.
    #[error(
        "`{name}` cannot name a migration because {}; use a name such as `add_email`",
        NameOnly(problem)
    )]
    BadName {
        /// The name as given.
        name: String,
        /// Why.
        problem: NameProblem,
    },
    /// The newest version is already the largest possible one.
    #[error(
        "the newest migration's version {newest} is the largest allowed, so no version is left after it"
    )]
    NoVersionLeft {
        /// The newest version.
        newest: i64,
    },
    /// A file of the new migration cannot be written (or already exists).
    #[error(
        "cannot create migration file {}: {source}; nothing else was written",
        file.display()
    )]
    Write {
        /// The file.
        file: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
}

/// A [`NameProblem`] said of a name alone, not of a file name.
struct NameOnly<'p>(&'p NameProblem);

impl std::fmt::Display for NameOnly<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            NameProblem::EmptyName => f.write_str("it is empty"),
            NameProblem::BadCharacter(c) => {
                write!(
                    f,
                    "it contains {c:?}, but {}",
                    migrate_files::NAME_CHARACTERS
                )
            }
            other => other.fmt(f),
        }
    }
}

/// The number of digits a file name writes its version with.
fn version_width(file: &str) -> usize {
    file.trim_start_matches(['V', 'U'])
        .bytes()
        .take_while(u8::is_ascii_digit)
        .count()
}

/// True for a 14-digit version that reads as a plausible `YYYYMMDDHHMMSS`.
fn is_timestamp(version: i64, width: usize) -> bool {
    let part = |at: u32, digits: u32| (version / 10_i64.pow(at)) % 10_i64.pow(digits);
    width == 14
        && part(10, 4) >= 1970
        && (1..=12).contains(&part(8, 2))
        && (1..=31).contains(&part(6, 2))
        && part(4, 2) < 24
        && part(2, 2) < 60
        && part(0, 2) < 61
}

/// The style of a directory whose migrations are `migrations` (in version
/// order, as [`load_dir`] returns them): that of its newest migration, or
/// timestamps in the plain form for an empty directory.
pub fn layout(migrations: &[LoadedMigration]) -> Layout {
    let Some(newest) = migrations.last() else {
        return Layout {
            style: VersionStyle::Timestamp,
            form: FileForm::Plain,
        };
    };
    let width = version_width(&newest.up.file);
    Layout {
        style: if is_timestamp(newest.version, width) {
            VersionStyle::Timestamp
        } else {
            VersionStyle::Sequential { width }
        },
        form: if newest.up.file.starts_with('V') {
            FileForm::Flyway
        } else {
            FileForm::Plain
        },
    }
}

/// `now` as the UTC timestamp version `YYYYMMDDHHMMSS` (times before 1970
/// count as 1970-01-01T00:00:00).
pub fn utc_timestamp(now: SystemTime) -> i64 {
    let time = DateTime::<Utc>::from(now.max(UNIX_EPOCH));
    let date =
        (i64::from(time.year()) * 100 + i64::from(time.month())) * 100 + i64::from(time.day());
    let clock =
        (i64::from(time.hour()) * 100 + i64::from(time.minute())) * 100 + i64::from(time.second());
    date * 1_000_000 + clock
}

/// The next migration after `migrations` (in version order, as
/// [`load_dir`] returns them), named `name`, in the directory's style: the
/// newest version plus one, padded like the newest file, or the UTC time
/// `now` (at least the newest version plus one) for a directory of
/// timestamps or an empty one.
///
/// # Errors
///
/// [`NewError::BadName`] when `name` is empty or holds anything but
/// letters, digits, `_` and `-`; [`NewError::NoVersionLeft`] after version
/// `i64::MAX`.
pub fn next_migration(
    migrations: &[LoadedMigration],
    name: &str,
    reversible: bool,
    now: SystemTime,
) -> Result<NextMigration, NewError> {
    let Layout { style, form } = layout(migrations);
    let after_newest = migrations
        .last()
        .map(|newest| {
            let newest = newest.version;
            newest
                .checked_add(1)
                .ok_or(NewError::NoVersionLeft { newest })
        })
        .transpose()?;
    let (version, width) = match style {
        VersionStyle::Sequential { width } => (after_newest.unwrap_or(1), width),
        VersionStyle::Timestamp => (utc_timestamp(now).max(after_newest.unwrap_or(0)), 14),
    };
    let (up, down) = match (form, reversible) {
        (FileForm::Plain, false) => (format!("{version:0width$}_{name}.sql"), None),
        (FileForm::Plain, true) => (
            format!("{version:0width$}_{name}.up.sql"),
            Some(format!("{version:0width$}_{name}.down.sql")),
        ),
        (FileForm::Flyway, reversible) => (
            format!("V{version:0width$}__{name}.sql"),
            reversible.then(|| format!("U{version:0width$}__{name}.sql")),
        ),
    };
    // The one parser decides whether the name is acceptable.
    for file in std::iter::once(&up).chain(&down) {
        let problem = match parse_file_name(file) {
            Ok(Some(parsed)) if parsed.name == name => continue,
            // Only a `.` makes the parser read another name (`a.up` + `.sql`).
            Ok(_) => NameProblem::BadCharacter('.'),
            Err(problem) => problem,
        };
        return Err(NewError::BadName {
            name: name.to_owned(),
            problem,
        });
    }
    Ok(NextMigration { version, up, down })
}

/// The files [`create_migration`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedMigration {
    /// The version.
    pub version: i64,
    /// The files, up first.
    pub files: Vec<PathBuf>,
}

/// What a new up script holds: a comment naming it (a script of comments
/// only is blank, so an untouched new migration changes nothing).
fn up_template(name: &str) -> String {
    format!("-- {name}\n")
}

/// Creates the next migration's files in `dir` (creating `dir` when it does
/// not exist): see [`next_migration`]. The down file starts empty, so that
/// forgetting to write it once the up script holds SQL is a load error
/// rather than a downgrade that silently undoes nothing.
///
/// # Errors
///
/// A [`NewError`]: the directory's migrations do not load, the directory
/// cannot be created, a bad name, a file that cannot be written or already
/// exists (nothing is left half-written).
pub fn create_migration(
    dir: &Path,
    name: &str,
    reversible: bool,
    now: SystemTime,
) -> Result<CreatedMigration, NewError> {
    if !dir.exists() {
        std::fs::create_dir_all(dir).map_err(|source| NewError::CreateDirectory {
            dir: dir.to_path_buf(),
            source,
        })?;
    }
    let next = next_migration(&load_dir(dir)?, name, reversible, now)?;
    let mut files: Vec<PathBuf> = Vec::new();
    let contents = [
        Some((next.up, up_template(name))),
        next.down.map(|down| (down, String::new())),
    ];
    for (file, text) in contents.into_iter().flatten() {
        let path = dir.join(file);
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .and_then(|mut out| out.write_all(text.as_bytes()));
        if let Err(source) = written {
            for done in &files {
                // Best effort: the error below is what matters.
                let _ = std::fs::remove_file(done);
            }
            return Err(NewError::Write { file: path, source });
        }
        files.push(path);
    }
    Ok(CreatedMigration {
        version: next.version,
        files,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// 2026-11-21T09:30:00Z.
    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_795_253_400)
    }

    fn loaded(files: &[&str]) -> Vec<LoadedMigration> {
        let dir = tempfile::tempdir().unwrap();
        for file in files {
            std::fs::write(dir.path().join(file), "").unwrap();
        }
        load_dir(dir.path()).unwrap()
    }

    fn next(files: &[&str], name: &str, reversible: bool) -> (i64, String, Option<String>) {
        let next = next_migration(&loaded(files), name, reversible, now()).unwrap();
        (next.version, next.up, next.down)
    }

    #[test]
    fn utc_timestamps_are_civil_dates() {
        assert_eq!(utc_timestamp(UNIX_EPOCH), 19700101000000);
        assert_eq!(utc_timestamp(now()), 20261121093000);
        // A leap day, and the last second of a leap year.
        assert_eq!(
            utc_timestamp(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            20000229000000
        );
        assert_eq!(
            utc_timestamp(UNIX_EPOCH + Duration::from_secs(1_735_689_599)),
            20241231235959
        );
        assert_eq!(
            utc_timestamp(UNIX_EPOCH - Duration::from_secs(1)),
            19700101000000
        );
    }

    #[test]
    fn the_newest_file_sets_the_layout() {
        assert_eq!(
            layout(&[]),
            Layout {
                style: VersionStyle::Timestamp,
                form: FileForm::Plain
            }
        );
        assert_eq!(
            layout(&loaded(&["V007__init.sql"])),
            Layout {
                style: VersionStyle::Sequential { width: 3 },
                form: FileForm::Flyway
            }
        );
    }

    #[test]
    fn sequential_directories_continue_with_their_padding() {
        assert_eq!(
            next(&["0001_a.sql", "0002_b.sql"], "c", false),
            (3, "0003_c.sql".into(), None)
        );
        assert_eq!(next(&["1_a.sql", "9_b.sql"], "c", false).1, "10_c.sql");
        assert_eq!(next(&["0999_a.sql"], "b", false).1, "1000_b.sql");
        assert_eq!(next(&["9999_a.sql"], "b", false).1, "10000_b.sql");
        assert_eq!(
            next(&["0001_a.up.sql", "0001_a.down.sql"], "add-email", true),
            (
                2,
                "0002_add-email.up.sql".into(),
                Some("0002_add-email.down.sql".into())
            )
        );
        // The newest file sets the width.
        assert_eq!(next(&["1_a.sql", "0002_b.sql"], "c", false).1, "0003_c.sql");
    }

    #[test]
    fn flyway_directories_get_flyway_names() {
        assert_eq!(
            next(&["V1__a.sql", "V2__b.sql", "U2__b.sql"], "c", true),
            (3, "V3__c.sql".into(), Some("U3__c.sql".into()))
        );
        assert_eq!(next(&["V01__a.sql"], "b", false).2, None);
    }

    #[test]
    fn timestamp_and_empty_directories_get_the_time() {
        assert_eq!(
            next(&[], "init", false),
            (20261121093000, "20261121093000_init.sql".into(), None)
        );
        assert_eq!(
            next(&["20250101120000_a.sql"], "b", false).1,
            "20261121093000_b.sql"
        );
        // A newest version in the future (another machine's clock): one after it.
        assert_eq!(
            next(&["20991231235959_a.sql"], "b", false).0,
            20991231235960
        );
        // 14 digits that are not a date are a sequence.
        assert_eq!(
            next(&["00000000000001_a.sql"], "b", false).1,
            "00000000000002_b.sql"
        );
    }

    #[test]
    fn bad_names_are_refused_by_the_file_name_parser() {
        let message = |name: &str| {
            next_migration(&loaded(&["0001_a.sql"]), name, true, now())
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            message("add email"),
            "`add email` cannot name a migration because it contains ' ', but names may only hold letters (of any script), digits, `_` and `-`; use a name such as `add_email`"
        );
        assert_eq!(
            message(""),
            "`` cannot name a migration because it is empty; use a name such as `add_email`"
        );
        assert_eq!(
            message("a.up"),
            "`a.up` cannot name a migration because it contains '.', but names may only hold letters (of any script), digits, `_` and `-`; use a name such as `add_email`"
        );
        assert_eq!(
            message("x/../../etc"),
            "`x/../../etc` cannot name a migration because it contains '/', but names may only hold letters (of any script), digits, `_` and `-`; use a name such as `add_email`"
        );
    }

    #[test]
    fn no_version_is_left_after_the_largest() {
        let err =
            next_migration(&loaded(&["9223372036854775807_a.sql"]), "b", false, now()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the newest migration's version 9223372036854775807 is the largest allowed, so no version is left after it"
        );
    }

    #[test]
    fn create_writes_the_files_and_they_load() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("migrations");
        let first = create_migration(&target, "init", true, now()).unwrap();
        assert_eq!(
            first.files,
            [
                target.join("20261121093000_init.up.sql"),
                target.join("20261121093000_init.down.sql")
            ]
        );
        assert_eq!(
            std::fs::read_to_string(&first.files[0]).unwrap(),
            "-- init\n"
        );
        assert_eq!(std::fs::read_to_string(&first.files[1]).unwrap(), "");
        // The same second again: one after the newest.
        let second = create_migration(&target, "more", false, now()).unwrap();
        assert_eq!(second.version, 20261121093001);
        let loaded = load_dir(&target).unwrap();
        assert_eq!(
            loaded.iter().map(|m| m.version).collect::<Vec<_>>(),
            [20261121093000, 20261121093001]
        );
    }

    #[test]
    fn create_leaves_nothing_behind_when_the_second_file_cannot_be_written() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("0001_a.sql"), "").unwrap();
        // A directory where the down file goes: the loader now refuses it
        // (a typo never silently skips a migration) before anything is
        // written.
        std::fs::create_dir(dir.path().join("0002_b.down.sql")).unwrap();
        let err = create_migration(dir.path(), "b", true, now()).unwrap_err();
        assert!(
            err.to_string()
                .contains("0002_b.down.sql is a directory, not a regular file"),
            "{err}"
        );
        assert!(!dir.path().join("0002_b.up.sql").exists());
    }
}
