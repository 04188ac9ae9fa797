//! Why a migration directory cannot be loaded: one error type whose every
//! message names the file or directory and says what to do.

use std::fmt;
use std::path::PathBuf;

use crate::name::NameProblem;

/// Why a migration directory cannot be loaded. Every variant names the file
/// or directory involved and its message says what to do.
#[derive(Debug)]
pub enum LoadError {
    /// The directory does not exist or cannot be listed.
    Directory {
        /// The directory.
        dir: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// A file cannot be read.
    Unreadable {
        /// The file.
        file: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// A file is not valid UTF-8.
    NotUtf8 {
        /// The file.
        file: PathBuf,
    },
    /// A `.sql` file matches no migration form.
    BadName {
        /// The file.
        file: PathBuf,
        /// Why.
        problem: NameProblem,
    },
    /// Two files claim the same version.
    DuplicateVersion {
        /// The version.
        version: i64,
        /// The first file, in name order.
        first: PathBuf,
        /// The second file.
        second: PathBuf,
    },
    /// A down (or undo) file has no matching up file.
    MissingUp {
        /// The down file.
        file: PathBuf,
        /// The up file it needs.
        expected: String,
    },
    /// An `.up.sql` file has no matching `.down.sql` file.
    MissingDown {
        /// The up file.
        file: PathBuf,
        /// The down file it needs.
        expected: String,
    },
    /// A script's leading comments hold an unknown `-- migrate:` directive.
    UnknownDirective {
        /// The file.
        file: PathBuf,
        /// The directive as written.
        directive: String,
    },
    /// A down script is empty while its up script is not, so a downgrade
    /// would silently leave the up script's changes behind.
    EmptyDown {
        /// The down file.
        file: PathBuf,
    },
    /// A migration's name belongs to a directory or a special file (a FIFO,
    /// socket or device), refused without opening it: reading a FIFO would
    /// block until some writer came.
    NotAFile {
        /// The directory or special file.
        file: PathBuf,
        /// What it is.
        kind: FileKind,
    },
}

/// What a migration's name belongs to when it is not a regular file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A directory.
    Directory,
    /// A named pipe, made by `mkfifo`.
    Fifo,
    /// A Unix domain socket.
    Socket,
    /// A block or character device.
    Device,
    /// Anything else that is not a regular file.
    Other,
}

impl FileKind {
    /// `None` for a regular file, else what the file is.
    pub(crate) fn of(file_type: std::fs::FileType) -> Option<FileKind> {
        #[cfg(unix)]
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_file() {
            return None;
        }
        if file_type.is_dir() {
            return Some(FileKind::Directory);
        }
        #[cfg(unix)]
        {
            if file_type.is_fifo() {
                return Some(FileKind::Fifo);
            }
            if file_type.is_socket() {
                return Some(FileKind::Socket);
            }
            if file_type.is_block_device() || file_type.is_char_device() {
                return Some(FileKind::Device);
            }
        }
        Some(FileKind::Other)
    }
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileKind::Directory => "a directory",
            FileKind::Fifo => "a named pipe (FIFO)",
            FileKind::Socket => "a socket",
            FileKind::Device => "a device",
            FileKind::Other => "a special file",
        })
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Directory { dir, source } => write!(
                f,
                "cannot read the migration directory {}: {source}; check that the path is right",
                dir.display()
            ),
            LoadError::Unreadable { file, source } => write!(
                f,
                "cannot read migration file {}: {source}; check that it exists and is readable",
                file.display()
            ),
            LoadError::NotUtf8 { file } => write!(
                f,
                "migration file {} is not valid UTF-8; save it as UTF-8",
                file.display()
            ),
            LoadError::BadName { file, problem } => write!(
                f,
                "migration file {} matches no migration file form because {problem}; rename it to \
                 `<version>_<name>.sql`, `<version>_<name>.up.sql` + `.down.sql`, or `V<version>__<name>.sql`",
                file.display()
            ),
            LoadError::DuplicateVersion {
                version,
                first,
                second,
            } => write!(
                f,
                "migration version {version} is claimed by both {} and {}; give one of them another version",
                first.display(),
                second.display()
            ),
            LoadError::MissingUp { file, expected } => write!(
                f,
                "migration file {} has no up script; add {expected} beside it or delete it",
                file.display()
            ),
            LoadError::MissingDown { file, expected } => write!(
                f,
                "migration file {} has no down script; add {expected} beside it, or rename it to end in `.sql` \
                 (without `.up`) to make it irreversible",
                file.display()
            ),
            LoadError::UnknownDirective { file, directive } => write!(
                f,
                "migration file {} has the unknown directive `-- {directive}`; the directives are \
                 `-- migrate:no-transaction` and `-- migrate:lint-ignore RULE`",
                file.display()
            ),
            LoadError::EmptyDown { file } => write!(
                f,
                "migration file {} is empty although its up script is not, so a downgrade would undo nothing; \
                 write the down script, put a comment in it if there is truly nothing to undo, or delete it \
                 to make the migration irreversible",
                file.display()
            ),
            LoadError::NotAFile { file, kind } => write!(
                f,
                "migration file {} is {kind}, not a regular file; replace it with a file, or rename it so \
                 that its name does not end in `.sql`",
                file.display()
            ),
        }
    }
}

impl std::error::Error for LoadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LoadError::Directory { source, .. } | LoadError::Unreadable { source, .. } => {
                Some(source)
            }
            _ => None,
        }
    }
}
