//! The `migrate` binary: see the `migrate_cli` library.

fn main() -> std::process::ExitCode {
    migrate_cli::main()
}
