//! Every failure of `embed_migrations!` is a compile error naming the file
//! (trybuild). The cases embed the shared `fixtures/broken/*` folders; the
//! run-time loader's tests use the same folders.

#[test]
fn compile_errors_name_the_file() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
