//! Loading a whole migration directory into validated migrations.
//!
//! Both `embed_migrations!` (at compile time) and `Migrations::from_dir` (at
//! run time) call [`load_dir`], so the two can never disagree about what a
//! directory holds.

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::{FileKind, LoadError};
use crate::name::{FileName, NameProblem, Role, parse_file_name};
use crate::script::{digest, directives, is_blank, strip_bom};

/// One script file of a migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedScript {
    /// The file name, e.g. `0003_add_email.up.sql`.
    pub file: String,
    /// The SQL text, a leading byte-order mark dropped.
    pub sql: String,
    /// `-- migrate:no-transaction` was given.
    pub no_transaction: bool,
}

/// One validated migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedMigration {
    /// The version.
    pub version: i64,
    /// The name, as written in the file name.
    pub name: String,
    /// The up script.
    pub up: LoadedScript,
    /// The down script, for a reversible migration.
    pub down: Option<LoadedScript>,
    /// The up script's checksum (see [`crate::checksum`]).
    pub checksum: String,
}

/// The files found for one version, before they are paired.
#[derive(Default)]
struct Group {
    up: Option<(FileName, String)>,
    down: Option<(FileName, String)>,
}

/// Reads every migration in `dir` (not its subdirectories), validates names,
/// pairs up and down files, reads directives and computes checksums.
/// Migrations come back in ascending version order. A directory or special
/// file (FIFO, socket, device) named like a migration is refused by its
/// type, without being opened.
///
/// # Examples
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// std::fs::write(dir.path().join("0001_users.up.sql"), "CREATE TABLE users (id INTEGER);\n").unwrap();
/// std::fs::write(dir.path().join("0001_users.down.sql"), "DROP TABLE users;\n").unwrap();
/// std::fs::write(dir.path().join("README.md"), "notes").unwrap();
/// let loaded = migrate_files::load_dir(dir.path()).unwrap();
/// assert_eq!(loaded.len(), 1);
/// assert_eq!(loaded[0].down.as_ref().unwrap().sql, "DROP TABLE users;\n");
/// ```
///
/// # Errors
///
/// A [`LoadError`] naming the first offending file (in name order).
pub fn load_dir(dir: &Path) -> Result<Vec<LoadedMigration>, LoadError> {
    let directory_error = |source| LoadError::Directory {
        dir: dir.to_path_buf(),
        source,
    };
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(directory_error)? {
        let entry = entry.map_err(directory_error)?;
        let file_type = entry.file_type().map_err(directory_error)?;
        // A name that is not UTF-8 is refused where it ends in `.sql`,
        // but for stray bytes after it, never skipped; any other is
        // skipped as its UTF-8 likes would be.
        match entry.file_name().into_string() {
            Ok(name) => names.push((name, file_type)),
            Err(raw) if crate::name::ends_in_sql_but_for_bytes(&raw.to_string_lossy()) => {
                return Err(LoadError::BadName {
                    file: entry.path(),
                    problem: NameProblem::NotUtf8,
                });
            }
            Err(_) => {}
        }
    }
    names.sort_by(|(a, _), (b, _)| a.cmp(b));

    let mut groups: BTreeMap<i64, Group> = BTreeMap::new();
    for (file_name, file_type) in names {
        let path = dir.join(&file_name);
        let parsed = match parse_file_name(&file_name) {
            Ok(Some(parsed)) => parsed,
            Ok(None) => continue,
            Err(problem) => {
                return Err(LoadError::BadName {
                    file: path,
                    problem,
                });
            }
        };
        // Decided from the directory entry (and `stat` for a symbolic link),
        // never by opening the file: opening a FIFO blocks.
        let file_type = if file_type.is_symlink() {
            std::fs::metadata(&path)
                .map_err(|source| LoadError::Unreadable {
                    file: path.clone(),
                    source,
                })?
                .file_type()
        } else {
            file_type
        };
        if let Some(kind) = FileKind::of(file_type) {
            return Err(LoadError::NotAFile { file: path, kind });
        }
        let group = groups.entry(parsed.version).or_default();
        let (same, other) = if parsed.role.is_up() {
            (&group.up, &group.down)
        } else {
            (&group.down, &group.up)
        };
        let clash = same.as_ref().or(other.as_ref().filter(|(other, _)| {
            // An up file and a down file of one version must agree on form and name.
            let (up, down) = if parsed.role.is_up() {
                (&parsed, other)
            } else {
                (other, &parsed)
            };
            !pairs_with(up, down)
        }));
        if let Some((_, first)) = clash {
            return Err(LoadError::DuplicateVersion {
                version: parsed.version,
                first: dir.join(first),
                second: path,
            });
        }
        let slot = if parsed.role.is_up() {
            &mut group.up
        } else {
            &mut group.down
        };
        *slot = Some((parsed, file_name));
    }

    groups.into_values().map(|group| pair(dir, group)).collect()
}

/// True when `down` is the counterpart of `up`.
fn pairs_with(up: &FileName, down: &FileName) -> bool {
    if down.role.is_up() {
        return false;
    }
    let roles_match = matches!(
        (up.role, down.role),
        (Role::Up, Role::Down) | (Role::Versioned, Role::Undo)
    );
    roles_match && up.name == down.name
}

fn counterpart(name: &FileName) -> String {
    match name.role {
        Role::Up => format!("{:04}_{}.down.sql", name.version, name.name),
        Role::Down => format!("{:04}_{}.up.sql", name.version, name.name),
        Role::Undo => format!("V{}__{}.sql", name.version, name.name),
        Role::UpOnly | Role::Versioned => String::new(),
    }
}

fn pair(dir: &Path, group: Group) -> Result<LoadedMigration, LoadError> {
    match group {
        Group {
            up: Some((up_name, up_file)),
            down,
        } => {
            if down.is_none() && up_name.role == Role::Up {
                return Err(LoadError::MissingDown {
                    expected: counterpart_like(&up_file, ".up.sql", ".down.sql"),
                    file: dir.join(up_file),
                });
            }
            let up = read_script(dir, up_file)?;
            let down = down.map(|(_, file)| read_script(dir, file)).transpose()?;
            if let Some(down) = &down
                && down.sql.trim().is_empty()
                && !is_blank(&up.sql)
            {
                return Err(LoadError::EmptyDown {
                    file: dir.join(&down.file),
                });
            }
            Ok(LoadedMigration {
                version: up_name.version,
                name: up_name.name,
                // `up.sql` has lost its one leading BOM already: a second
                // one is content.
                checksum: digest(up.sql.as_bytes()),
                up,
                down,
            })
        }
        Group {
            up: None,
            down: Some((down_name, down_file)),
        } => Err(LoadError::MissingUp {
            expected: match down_name.role {
                Role::Down => counterpart_like(&down_file, ".down.sql", ".up.sql"),
                _ => counterpart(&down_name),
            },
            file: dir.join(down_file),
        }),
        Group {
            up: None,
            down: None,
        } => unreachable!("a group is only made for a file"),
    }
}

/// The counterpart's file name, keeping the version's digits as written.
fn counterpart_like(file: &str, from: &str, to: &str) -> String {
    match file.strip_suffix(from) {
        Some(stem) => format!("{stem}{to}"),
        None => file.to_owned(),
    }
}

fn read_script(dir: &Path, file: String) -> Result<LoadedScript, LoadError> {
    let path = dir.join(&file);
    let bytes = std::fs::read(&path).map_err(|source| LoadError::Unreadable {
        file: path.clone(),
        source,
    })?;
    let text = String::from_utf8(bytes).map_err(|_| LoadError::NotUtf8 { file: path.clone() })?;
    let sql = strip_bom(&text).to_owned();
    let found = directives(&sql).map_err(|directive| LoadError::UnknownDirective {
        file: path.clone(),
        directive,
    })?;
    Ok(LoadedScript {
        file,
        sql,
        no_transaction: found.no_transaction,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::checksum;

    fn dir_with(files: &[(&str, &[u8])]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, content) in files {
            std::fs::write(dir.path().join(name), content).unwrap();
        }
        dir
    }

    fn error(files: &[(&str, &[u8])]) -> String {
        let dir = dir_with(files);
        let message = load_dir(dir.path()).unwrap_err().to_string();
        message.replace(&dir.path().display().to_string(), "DIR")
    }

    #[test]
    fn pairs_and_orders_numerically() {
        let dir = dir_with(&[
            ("10_ten.sql", b"SELECT 10;"),
            ("9_nine.up.sql", b"-- migrate:no-transaction\nSELECT 9;"),
            ("9_nine.down.sql", b"SELECT -9;"),
            ("V0011__eleven.sql", b"SELECT 11;"),
            ("U0011__eleven.sql", b"SELECT -11;"),
            ("V12__twelve.sql", b"SELECT 12;"),
        ]);
        let loaded = load_dir(dir.path()).unwrap();
        let summary: Vec<_> = loaded
            .iter()
            .map(|m| {
                (
                    m.version,
                    m.name.as_str(),
                    m.up.no_transaction,
                    m.down.as_ref().map(|d| d.file.as_str()),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                (9, "nine", true, Some("9_nine.down.sql")),
                (10, "ten", false, None),
                (11, "eleven", false, Some("U0011__eleven.sql")),
                (12, "twelve", false, None),
            ]
        );
        assert_eq!(loaded[1].checksum, checksum(b"SELECT 10;"));
    }

    #[test]
    fn every_broken_directory_names_its_file() {
        assert_eq!(
            error(&[("1_a.sql", b""), ("01_b.sql", b"")]),
            "migration version 1 is claimed by both DIR/01_b.sql and DIR/1_a.sql; give one of them another version"
        );
        assert_eq!(
            error(&[
                ("1_a.up.sql", b"x"),
                ("1_a.down.sql", b"y"),
                ("1_a.sql", b"z")
            ]),
            "migration version 1 is claimed by both DIR/1_a.down.sql and DIR/1_a.sql; give one of them another version"
        );
        assert_eq!(
            error(&[("1_a.up.sql", b"x"), ("1_b.down.sql", b"y")]),
            "migration version 1 is claimed by both DIR/1_a.up.sql and DIR/1_b.down.sql; give one of them another version"
        );
        assert_eq!(
            error(&[("0002_a.up.sql", b"x")]),
            "migration file DIR/0002_a.up.sql has no down script; add 0002_a.down.sql beside it, or rename it to end \
             in `.sql` (without `.up`) to make it irreversible"
        );
        assert_eq!(
            error(&[("0002_a.down.sql", b"x")]),
            "migration file DIR/0002_a.down.sql has no up script; add 0002_a.up.sql beside it or delete it"
        );
        assert_eq!(
            error(&[("U2__a.sql", b"x")]),
            "migration file DIR/U2__a.sql has no up script; add V2__a.sql beside it or delete it"
        );
        assert_eq!(
            error(&[("1_a.sql", b"\xff\xfe")]),
            "migration file DIR/1_a.sql is not valid UTF-8; save it as UTF-8"
        );
        assert_eq!(
            error(&[("1_a.sql", b"-- migrate:notx\nSELECT 1;")]),
            "migration file DIR/1_a.sql has the unknown directive `-- migrate:notx`; the directives are \
             `-- migrate:no-transaction` and `-- migrate:lint-ignore RULE`"
        );
        assert!(
            error(&[
                ("1_a.up.sql", b"CREATE TABLE t (id INT);"),
                ("1_a.down.sql", b"\n")
            ])
            .starts_with("migration file DIR/1_a.down.sql is empty although its up script is not")
        );
        assert!(
            error(&[("1 a.sql", b"")])
                .starts_with("migration file DIR/1 a.sql matches no migration file form")
        );
    }

    #[test]
    fn empty_scripts_are_placeholders() {
        // Real projects (Ory, Authelia) keep empty up scripts as placeholders,
        // and comment-only down scripts say "nothing to undo" on purpose.
        let dir = dir_with(&[
            ("1_placeholder.sql", b""),
            ("2_split.up.sql", b""),
            ("2_split.down.sql", b"DROP TABLE t;"),
            ("3_backfill.up.sql", b"UPDATE t SET c = 1;"),
            ("3_backfill.down.sql", b"-- nothing to undo\n"),
        ]);
        assert_eq!(load_dir(dir.path()).unwrap().len(), 3);
    }

    #[test]
    fn a_misspelt_extension_is_an_error_naming_the_file() {
        // `0002_x.SQL` and `0002_x.sql ` were skipped in silence, so a typo
        // dropped a migration.
        assert_eq!(
            error(&[("0001_a.sql", b""), ("0002_x.SQL", b"")]),
            "migration file DIR/0002_x.SQL matches no migration file form because its name ends in \".SQL\" \
             rather than exactly \".sql\"; rename it to `<version>_<name>.sql`, `<version>_<name>.up.sql` + \
             `.down.sql`, or `V<version>__<name>.sql`"
        );
        assert_eq!(
            error(&[("0001_a.sql", b""), ("0002_x.sql ", b"")]),
            "migration file DIR/0002_x.sql  matches no migration file form because its name ends in \".sql \" \
             rather than exactly \".sql\"; rename it to `<version>_<name>.sql`, `<version>_<name>.up.sql` + \
             `.down.sql`, or `V<version>__<name>.sql`"
        );
    }

    #[test]
    fn a_directory_named_like_a_migration_is_an_error() {
        // A directory `0002_x.sql` was skipped in silence.
        let dir = dir_with(&[("0001_a.sql", b"")]);
        std::fs::create_dir(dir.path().join("0002_x.sql")).unwrap();
        std::fs::create_dir(dir.path().join("archive")).unwrap();
        let message = load_dir(dir.path()).unwrap_err().to_string();
        assert_eq!(
            message.replace(&dir.path().display().to_string(), "DIR"),
            "migration file DIR/0002_x.sql is a directory, not a regular file; replace it with a file, \
             or rename it so that its name does not end in `.sql`"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_named_like_a_migration_is_refused_without_opening_it() {
        // Opening a FIFO for reading blocks until a writer comes: every verb
        // hung forever on `0003_x.sql` made by `mkfifo`.
        let dir = dir_with(&[("0001_a.sql", b"")]);
        let fifo = dir.path().join("0003_x.sql");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let path = dir.path().to_path_buf();
        let (send, receive) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = send.send(load_dir(&path).map(|_| ()).map_err(|e| e.to_string()));
        });
        let result = receive
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("load_dir blocked on the FIFO");
        assert_eq!(
            result
                .unwrap_err()
                .replace(&dir.path().display().to_string(), "DIR"),
            "migration file DIR/0003_x.sql is a named pipe (FIFO), not a regular file; replace it with a file, \
             or rename it so that its name does not end in `.sql`"
        );
    }

    #[test]
    fn only_one_leading_bom_is_dropped_from_the_checksum() {
        // The loader dropped a BOM and the checksum dropped another one.
        let dir = dir_with(&[("0001_a.sql", b"\xEF\xBB\xBF\xEF\xBB\xBFSELECT 1;")]);
        let loaded = load_dir(dir.path()).unwrap();
        assert_eq!(
            loaded[0].checksum,
            checksum(b"\xEF\xBB\xBF\xEF\xBB\xBFSELECT 1;")
        );
        assert_ne!(loaded[0].checksum, checksum(b"SELECT 1;"));
        let single = dir_with(&[("0001_a.sql", b"\xEF\xBB\xBFSELECT 1;")]);
        assert_eq!(
            load_dir(single.path()).unwrap()[0].checksum,
            checksum(b"SELECT 1;")
        );
    }

    #[test]
    fn a_missing_directory_is_named() {
        let err = load_dir(Path::new("/no/such/dir")).unwrap_err().to_string();
        assert!(
            err.starts_with("cannot read the migration directory /no/such/dir: "),
            "{err}"
        );
    }
}

#[cfg(all(test, unix))]
mod not_utf8 {
    use std::os::unix::ffi::OsStrExt;

    use super::load_dir;

    /// A file name that is not UTF-8 is refused wherever it says `.sql`
    /// (a stray byte after `.sql` too: it was skipped), and skipped
    /// otherwise, like any other file.
    #[test]
    fn a_name_that_is_not_utf8_is_refused_where_it_says_sql() {
        for (raw, refused) in [
            (&b"0002_caf\xe9.sql"[..], true),
            (b"0002_a.sql\xff", true),
            (b"0002_a.SQL\xff", true),
            (b"notes\xff.txt", false),
            (b".hidden\xff.sql", false),
            // As their UTF-8 likes (`dump.sql.gz`): not migrations.
            (b"caf\xe9.sqlite", false),
            (b"dump\xff.sql.gz", false),
            (b"0002_a.sql\xff.bak", false),
        ] {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("0001_a.sql"), "SELECT 1;").unwrap();
            let name = std::ffi::OsStr::from_bytes(raw);
            std::fs::write(dir.path().join(name), "SELECT 2;").unwrap();
            match load_dir(dir.path()) {
                Err(err) => {
                    assert!(refused, "{raw:?}: {err}");
                    assert!(
                        err.to_string().contains(
                            "because its name is not valid UTF-8 (a byte of another encoding); rename it to `<version>_<name>.sql`"
                        ),
                        "{err}"
                    );
                }
                Ok(loaded) => {
                    assert!(!refused, "{raw:?} was skipped");
                    assert_eq!(loaded.len(), 1);
                }
            }
        }
    }
}
