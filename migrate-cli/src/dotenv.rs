//! `.env`: on a developer's machine the database URL and the migration
//! directory usually live in a `.env` file at the project's root, as they
//! do for sqlx-cli and diesel. The nearest `.env` (in the current directory
//! or a parent) supplies `DATABASE_URL` and `MIGRATE_DIR` where neither
//! the command line nor the environment gives them (`--no-dotenv` turns
//! this off).
//!
//! Only those two keys are read, through dotenvy's iterator: nothing is
//! exported into this process's environment, so the rest of the file (the
//! application's settings and secrets) reaches no driver and no log. A
//! value is used as if it were set in the environment: a relative path is
//! from the current directory, not from the file's.
//!
//! A line dotenvy cannot read is named by its file and line number, never
//! by its text, which may hold a password. dotenvy reports the failing
//! line's text but not its number, so the file is handed to it one line at
//! a time ([`Lines`]), counting; its buffered reader then never holds more
//! than the line it parses.

use std::io::Read;
use std::path::{Path, PathBuf};

/// The file's name.
pub(crate) const FILE: &str = ".env";

/// What a `.env` supplies.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Settings {
    /// `DATABASE_URL`.
    pub(crate) database_url: Option<String>,
    /// `MIGRATE_DIR`.
    pub(crate) dir: Option<String>,
}

/// Why a `.env` cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum DotenvError {
    /// A line dotenvy cannot read (a usage error, exit 2). The line's
    /// text is not shown: it may hold a password.
    #[error(
        "{}, line {line} {why}, so DATABASE_URL and MIGRATE_DIR cannot be read from it; fix the line, or pass --no-dotenv to ignore the file",
        file.display()
    )]
    Malformed {
        /// The file.
        file: PathBuf,
        /// The line, from 1 (the first line of a quoted value that spans
        /// several).
        line: usize,
        /// What is wrong with it, as the rest of the sentence.
        why: &'static str,
    },

    /// The file exists but cannot be read.
    #[error(
        "cannot read {}: {message}; make it readable, or pass --no-dotenv to ignore it",
        file.display()
    )]
    Unreadable {
        /// The file.
        file: PathBuf,
        /// Why.
        message: String,
    },
}

/// The `.env` of `start` or of its nearest parent that has one.
pub(crate) fn find(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .map(|dir| dir.join(FILE))
        .find(|file| file.is_file())
}

/// `DATABASE_URL` and `MIGRATE_DIR` as `file` sets them (the first of
/// each, as dotenvy's own loader takes it).
///
/// # Errors
///
/// [`DotenvError::Malformed`] naming the first line dotenvy cannot read
/// (the whole file is read: a broken line is reported even when both keys
/// come before it); [`DotenvError::Unreadable`] when the file cannot be
/// read.
pub(crate) fn read(file: &Path) -> Result<Settings, DotenvError> {
    let bytes = std::fs::read(file).map_err(|err| DotenvError::Unreadable {
        file: file.to_owned(),
        message: err.to_string(),
    })?;
    // dotenvy's iterator (unlike its loader) does not drop a byte-order mark.
    let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    let mut lines = Lines::new(text);
    let mut settings = Settings::default();
    let failure = dotenvy::from_read_iter(&mut lines).find_map(|item| match item {
        Ok((key, value)) => {
            let slot = match key.as_str() {
                "DATABASE_URL" => &mut settings.database_url,
                "MIGRATE_DIR" => &mut settings.dir,
                _ => return None,
            };
            slot.get_or_insert(value);
            None
        }
        Err(err) => Some(err),
    });
    let Some(err) = failure else {
        return Ok(settings);
    };
    let malformed = |line, why| DotenvError::Malformed {
        file: file.to_owned(),
        line,
        why,
    };
    Err(match err {
        // The line's text is the whole logical line, its end of line
        // dropped (all that was left of the file, for an unclosed quote).
        dotenvy::Error::LineParse(text, _) => {
            let spans = text.trim_end_matches(['\n', '\r']).matches('\n').count();
            malformed(lines.started.saturating_sub(spans).max(1), NOT_A_SETTING)
        }
        dotenvy::Error::Io(err) if err.kind() == std::io::ErrorKind::InvalidData => {
            malformed(lines.started.max(1), "is not UTF-8 text")
        }
        other => DotenvError::Unreadable {
            file: file.to_owned(),
            message: other.to_string(),
        },
    })
}

/// What a line dotenvy cannot parse is.
const NOT_A_SETTING: &str = "is not a `NAME=value` line (or opens a quote it never closes)";

/// Text handed out at most one line per read, counting the lines started.
struct Lines<'a> {
    rest: &'a [u8],
    /// The lines of which at least one byte was handed out.
    started: usize,
    at_line_start: bool,
}

impl<'a> Lines<'a> {
    fn new(text: &'a [u8]) -> Self {
        Lines {
            rest: text,
            started: 0,
            at_line_start: true,
        }
    }
}

impl Read for Lines<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.rest.is_empty() || buf.is_empty() {
            return Ok(0);
        }
        let line_end = self
            .rest
            .iter()
            .position(|&byte| byte == b'\n')
            .map_or(self.rest.len(), |at| at + 1);
        let (out, rest) = self.rest.split_at(line_end.min(buf.len()));
        if self.at_line_start {
            self.started += 1;
        }
        buf[..out.len()].copy_from_slice(out);
        self.at_line_start = out.last() == Some(&b'\n');
        self.rest = rest;
        Ok(out.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_text(text: &[u8]) -> Result<Settings, String> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(FILE);
        std::fs::write(&file, text).unwrap();
        read(&file).map_err(|err| {
            err.to_string()
                .replace(&file.display().to_string(), "[.env]")
        })
    }

    fn settings(url: Option<&str>, dir: Option<&str>) -> Result<Settings, String> {
        Ok(Settings {
            database_url: url.map(str::to_owned),
            dir: dir.map(str::to_owned),
        })
    }

    #[test]
    fn only_the_two_keys_are_read_the_first_of_each() {
        assert_eq!(
            read_text(
                b"\xEF\xBB\xBF# a comment\n\nSECRET=x\nexport DATABASE_URL='postgres://u:p@h/db'\n\
                  MIGRATE_DIR=\"db/migrations\" # where\nDATABASE_URL=sqlite://other.db\n"
            ),
            settings(Some("postgres://u:p@h/db"), Some("db/migrations"))
        );
        assert_eq!(read_text(b""), settings(None, None));
        assert_eq!(
            read_text(b"MIGRATE_DIR=m\r\nOTHER=1"),
            settings(None, Some("m"))
        );
        // Nothing reaches the environment.
        assert!(std::env::var_os("SECRET").is_none());
    }

    #[test]
    fn a_broken_line_is_named_by_number_never_by_its_text() {
        let sentence = |line: usize, why: &str| {
            Err(format!(
                "[.env], line {line} {why}, so DATABASE_URL and MIGRATE_DIR cannot be read from it; fix the line, or pass --no-dotenv to ignore the file"
            ))
        };
        let (not_a_line, unclosed) = (NOT_A_SETTING, NOT_A_SETTING);
        for (text, expected) in [
            (
                &b"DATABASE_URL postgres://u:hunter2@h/db\n"[..],
                sentence(1, not_a_line),
            ),
            (
                b"# c\n\nA=1\nB=\"two\nlines\"\n\n 3=x\nC=1\n",
                sentence(7, not_a_line),
            ),
            (b"A=1\nB='never\nclosed\nC=3\n", sentence(2, unclosed)),
            (b"A=1\nB='never closed", sentence(2, unclosed)),
            (b"A=1\nB=\"a\nb\" c=\"\nD=1\n", sentence(2, unclosed)),
            (b"A=1\n\nB=\xFF\xFE\n", sentence(3, "is not UTF-8 text")),
            (b"\xEF\xBB\xBF-A=1", sentence(1, not_a_line)),
        ] {
            let found = read_text(text);
            assert_eq!(found, expected, "{:?}", String::from_utf8_lossy(text));
            assert!(!found.unwrap_err().contains("hunter2"));
        }
    }

    #[test]
    fn the_nearest_file_is_found() {
        let root = tempfile::tempdir().unwrap();
        let deep = root.path().join("a/b");
        std::fs::create_dir_all(&deep).unwrap();
        std::fs::write(root.path().join(FILE), "").unwrap();
        assert_eq!(find(&deep), Some(root.path().join(FILE)));
        std::fs::write(root.path().join("a").join(FILE), "").unwrap();
        assert_eq!(find(&deep), Some(root.path().join("a").join(FILE)));
        // A directory named `.env` is not the file.
        std::fs::create_dir(deep.join(FILE)).unwrap();
        assert_eq!(find(&deep), Some(root.path().join("a").join(FILE)));
    }
}
