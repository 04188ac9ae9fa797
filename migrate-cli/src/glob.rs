//! `--sqlite-glob`: the SQLite files of one directory whose names match a
//! pattern.
//!
//! Wildcards stand in the file name only (`tenants/*.db`, not
//! `tenants/*/app.db`): `*` matches any run of characters, `?` one
//! character, and neither matches the leading `.` of a hidden file, as in a
//! shell. That is all a directory of tenant files needs, so it is done here
//! in a few lines of std rather than with a glob crate. Matches are sorted,
//! so that runs, tables and `--json` arrays list them in one order.

use std::path::{Path, PathBuf};

/// Why a pattern gave no files.
#[derive(Debug, thiserror::Error)]
pub enum GlobError {
    /// A wildcard outside the file name (a usage error).
    #[error(
        "--sqlite-glob '{pattern}': `*` and `?` may stand only in the file name, not in a directory; use a pattern such as 'tenants/*.db'"
    )]
    WildDirectory {
        /// The pattern as given.
        pattern: String,
    },

    /// The directory could not be read.
    #[error("--sqlite-glob '{pattern}': cannot read the directory {}: {message}", dir.display())]
    ReadDir {
        /// The pattern as given.
        pattern: String,
        /// The directory.
        dir: PathBuf,
        /// What went wrong.
        message: String,
    },

    /// Nothing matched.
    #[error(
        "--sqlite-glob '{pattern}' matches no file; check the pattern (relative paths start in the current directory)"
    )]
    NoMatch {
        /// The pattern as given.
        pattern: String,
    },
}

/// The files `pattern` matches, sorted by path.
///
/// # Errors
///
/// [`GlobError::WildDirectory`] for a wildcard outside the file name,
/// [`GlobError::ReadDir`] when the directory cannot be listed,
/// [`GlobError::NoMatch`] when no file matches.
pub fn expand(pattern: &str) -> Result<Vec<PathBuf>, GlobError> {
    let path = Path::new(pattern);
    let name = path
        .file_name()
        .and_then(|name| name.to_str())
        .unwrap_or_default();
    let dir = path.parent().unwrap_or(Path::new(""));
    if dir.to_string_lossy().contains(['*', '?']) {
        return Err(GlobError::WildDirectory {
            pattern: pattern.to_owned(),
        });
    }
    let listed = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let entries = std::fs::read_dir(listed).map_err(|err| GlobError::ReadDir {
        pattern: pattern.to_owned(),
        dir: listed.to_path_buf(),
        message: err.to_string(),
    })?;
    let mut found: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|entry| {
            entry
                .file_name()
                .to_str()
                .is_some_and(|file| matches(name, file))
        })
        .map(|entry| dir.join(entry.file_name()))
        // Files only (following links): a directory is no database.
        .filter(|path| path.is_file())
        .collect();
    if found.is_empty() {
        return Err(GlobError::NoMatch {
            pattern: pattern.to_owned(),
        });
    }
    found.sort();
    Ok(found)
}

/// Whether the file name `name` matches `pattern` (`*`, `?`, the rest
/// literally). A leading `.` must be matched by a literal `.`.
fn matches(pattern: &str, name: &str) -> bool {
    if name.starts_with('.') && !pattern.starts_with('.') {
        return false;
    }
    let pattern: Vec<char> = pattern.chars().collect();
    let name: Vec<char> = name.chars().collect();
    // The classic two-pointer match: on a mismatch, let the last `*`
    // swallow one more character and try again from there.
    let (mut p, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p, n));
                p += 1;
            }
            Some('?') => {
                p += 1;
                n += 1;
            }
            Some(&c) if c == name[n] => {
                p += 1;
                n += 1;
            }
            _ => match star {
                Some((star_p, star_n)) => {
                    p = star_p + 1;
                    n = star_n + 1;
                    star = Some((star_p, star_n + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stars_and_question_marks_match_as_in_a_shell() {
        for (pattern, name, expected) in [
            ("*.db", "a.db", true),
            ("*.db", ".db", false),
            ("*.db", "a.db-wal", false),
            ("*.db", "a.20261121T093000.000000Z.3.bak", false),
            ("*", "anything", true),
            ("*", ".hidden", false),
            (".*", ".hidden", true),
            ("t??.db", "t01.db", true),
            ("t??.db", "t1.db", false),
            ("t*1*.db", "t_1_x.db", true),
            ("t*1*.db", "t_2_x.db", false),
            ("*a*a*a", "aaa", true),
            ("*a*a*a", "aa", false),
            ("exact.db", "exact.db", true),
            ("exact.db", "exact.dbx", false),
            ("ü?.db", "üx.db", true),
            ("", "", true),
            ("**", "x", true),
        ] {
            assert_eq!(matches(pattern, name), expected, "{pattern} {name}");
        }
    }

    #[test]
    fn files_of_one_directory_sorted_and_nothing_else() {
        let tmp = tempfile::tempdir().unwrap();
        for name in ["b.db", "a.db", "c.txt", ".h.db", "a.db-wal"] {
            std::fs::write(tmp.path().join(name), "").unwrap();
        }
        std::fs::create_dir(tmp.path().join("d.db")).unwrap();
        let pattern = format!("{}/*.db", tmp.path().display());
        assert_eq!(
            expand(&pattern).unwrap(),
            [tmp.path().join("a.db"), tmp.path().join("b.db")]
        );
        let none = format!("{}/*.sqlite", tmp.path().display());
        assert_eq!(
            expand(&none).unwrap_err().to_string(),
            format!(
                "--sqlite-glob '{none}' matches no file; check the pattern (relative paths start in the current directory)"
            )
        );
        assert_eq!(
            expand("tenants/*/app.db").unwrap_err().to_string(),
            "--sqlite-glob 'tenants/*/app.db': `*` and `?` may stand only in the file name, not in a directory; use a pattern such as 'tenants/*.db'"
        );
        assert!(matches!(
            expand(&format!("{}/missing/*.db", tmp.path().display())),
            Err(GlobError::ReadDir { .. })
        ));
    }
}
