// The attribute's one argument is `migrations = "dir"`.
#[migrate::test(dir = "migrations")]
fn t(conn: u8) {
    let _ = conn;
}

fn main() {}
