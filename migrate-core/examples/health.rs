//! A health check: what an application's `/health` endpoint returns about
//! its schema, from one history query (no hashing, no lock).
//!
//! ```text
//! cargo run -p migrate-core --example health -- demo.db fixtures/app
//! {"current":6,"head":6,"pending":0,"dirty":false,"drift":false,"healthy":true}
//! ```
//!
//! It exits 0 when the schema is at head and consistent, 1 otherwise, so it
//! also serves as a container health command.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let database = args.next().unwrap_or_else(|| "demo.db".to_owned());
    let directory = args.next().unwrap_or_else(|| "fixtures/app".to_owned());

    let migrations = migrate::Migrations::from_dir(&directory)?;
    let flags =
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = rusqlite::Connection::open_with_flags(&database, flags)?;
    let status = migrate::Migrations::status(&migrations, &conn)?;

    let healthy = status.pending == 0 && !status.dirty && !status.drift;
    let mut body = serde_json::to_value(&status)?;
    body["healthy"] = serde_json::Value::Bool(healthy);
    println!("{body}");
    std::process::exit(if healthy { 0 } else { 1 });
}
