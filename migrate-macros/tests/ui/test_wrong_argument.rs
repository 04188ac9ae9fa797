// `#[migrate::test]` hands a test a database of a type it knows: anything
// else is a compile error that says which types it accepts.
#[migrate::test(migrations = "../../../../fixtures/portable")]
fn takes_a_string(name: String) {
    let _ = name;
}

fn main() {}
