//! What an application does at start-up: open its SQLite file and apply any
//! pending migrations before serving traffic.
//!
//! ```text
//! cargo run -p migrate-core --example startup -- demo.db fixtures/app
//! ```

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let database = args.next().unwrap_or_else(|| "demo.db".to_owned());
    let directory = args.next().unwrap_or_else(|| "fixtures/app".to_owned());

    let migrations = migrate::Migrations::from_dir(&directory)?;
    let conn = rusqlite::Connection::open(&database)?;
    let report = migrate::run(&conn, &migrations)?;

    match (report.from, report.to, report.steps.len()) {
        (from, to, 0) if from == to => println!("{database}: at {}, nothing to do", show(to)),
        (from, to, n) => println!("{database}: {} -> {} ({n} applied)", show(from), show(to)),
    }
    for step in &report.steps {
        println!(
            "  applied {:>4} {:<28} {} ms",
            step.version, step.name, step.duration_ms
        );
    }
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

fn show(version: Option<i64>) -> String {
    version.map_or_else(|| "(empty)".to_owned(), |v| v.to_string())
}
