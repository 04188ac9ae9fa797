//! The one parser of migration directories, shared by `embed_migrations!`
//! (compile time) and `Migrations::from_dir` (run time).
//!
//! It lives in its own small crate because a proc-macro crate cannot export
//! ordinary items and Cargo refuses dependency cycles: both `migrate-macros`
//! and `migrate-core` depend on it, so there is never a second parser.
//!
//! ```
//! let dir = tempfile::tempdir().unwrap();
//! std::fs::write(dir.path().join("0001_init.sql"), "CREATE TABLE t (id INT);").unwrap();
//! let migrations = migrate_files::load_dir(dir.path()).unwrap();
//! assert_eq!((migrations[0].version, migrations[0].name.as_str()), (1, "init"));
//! ```

mod digest;
mod dir;
mod error;
mod name;
mod script;

pub use digest::HistoryDigest;
pub use dir::{LoadedMigration, LoadedScript, load_dir};
pub use error::{FileKind, LoadError};
pub use name::{FileName, NAME_CHARACTERS, NameProblem, Role, parse_file_name};
pub use script::{Directives, LintIgnore, checksum, directives, is_blank, strip_bom};
