//! Every failure of `embed_migrations!` is a compile error naming the file
//! (trybuild). The cases embed the shared `fixtures/broken/*` folders; the
//! run-time loader's tests use the same folders. A FIFO cannot be committed,
//! so its set is made here, in Cargo's `target/tmp`.

use std::path::Path;

#[test]
fn compile_errors_name_the_file() {
    special_file_set(&Path::new(env!("CARGO_TARGET_TMPDIR")).join("special_file"));
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}

/// `0001_init.sql` and a FIFO named `0002_pipe.sql`, which the loader must
/// refuse by its type: opening it would block the compiler forever.
fn special_file_set(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("0001_init.sql"), "SELECT 1;\n").unwrap();
    let fifo = dir.join("0002_pipe.sql");
    if std::fs::symlink_metadata(&fifo).is_err() {
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success(), "mkfifo {} failed", fifo.display());
    }
}
