//! One large migration: a generated seed script of multi-row `INSERT`s
//! (customers and their orders), run by the `sqlite3` shell inside one
//! transaction and by migrate as one migration (rusqlite), on a fresh file
//! each time. Sizes 8, 16, 24 and 50 MB show that the time is linear in
//! the script's size; the 50 MB row is the goal (migrate within 1.5× of
//! `sqlite3`).
//!
//! ```text
//! cargo run -p benches --release --bin seed_script              # prints, rewrites benches/README.md
//! cargo run -p benches --release --bin seed_script -- --quick   # 1 and 2 MB, README untouched
//! cargo run -p benches --release --bin seed_script -- --before  # adds how migrate ran scripts before (quadratic)
//! ```
//!
//! Each round runs both tools once, in an order rotated by the round, and
//! checks every table's row count afterwards. migrate's set is loaded
//! (read and checksummed) before its clock starts, as an embedded set
//! would be; its clock covers opening the file and `upgrade` to head, the
//! shell's covers the whole `sqlite3 file.db < script.sql` process.

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use benches::{report, stats};
use migrate::{Migrations, Target};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

const MB: usize = 1_000_000;

const SCHEMA: &str = "\
CREATE TABLE customers (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    email TEXT NOT NULL UNIQUE,
    country TEXT NOT NULL,
    created_at TEXT NOT NULL,
    balance_cents INTEGER NOT NULL
);
CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers (id),
    placed_at TEXT NOT NULL,
    status TEXT NOT NULL,
    total_cents INTEGER NOT NULL,
    note TEXT
);
CREATE INDEX orders_by_customer ON orders (customer_id);
";

const FIRST: [&str; 12] = [
    "Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Margaret", "Ken", "Frances", "Dennis",
    "Radia", "Seán",
];
const LAST: [&str; 10] = [
    "Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Hamilton", "Thompson",
    "O''Brien", "Ritchie",
];
const COUNTRIES: [&str; 8] = ["FR", "DE", "US", "JP", "BR", "IN", "NG", "IE"];
const STATUS: [&str; 4] = ["pending", "paid", "shipped", "refunded"];
const NOTES: [&str; 5] = [
    "NULL",
    "'leave at the door'",
    "'gift; wrap it'",
    "'call before delivery -- twice'",
    "NULL",
];

/// A small deterministic generator (xorshift), so every run gets one script.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A seed script of about `size` bytes: the schema, then alternating
/// `INSERT`s of 7 customers and of 9 orders. Returns the script, its
/// statement count and the rows of each table.
fn generate(size: usize) -> (String, usize, i64, i64) {
    let mut random = Random(0x2545_f491_4f6c_dd1d);
    let mut script = String::with_capacity(size + 4096);
    script.push_str(SCHEMA);
    let mut statements = 3;
    let (mut customers, mut orders) = (0_i64, 0_i64);
    while script.len() < size {
        script.push_str(
            "INSERT INTO customers (id, name, email, country, created_at, balance_cents) VALUES\n",
        );
        for row in 0..7 {
            customers += 1;
            let (first, last) = (FIRST[random.below(12)], LAST[random.below(10)]);
            let _ = writeln!(
                script,
                "  ({customers}, '{first} {last}', 'customer{customers}@example.com', '{}', '2026-{:02}-{:02}T{:02}:{:02}:00Z', {}){}",
                COUNTRIES[random.below(8)],
                1 + random.below(12),
                1 + random.below(28),
                random.below(24),
                random.below(60),
                random.below(1_000_000),
                if row == 6 { ";" } else { "," },
            );
        }
        script.push_str(
            "INSERT INTO orders (id, customer_id, placed_at, status, total_cents, note) VALUES\n",
        );
        for row in 0..9 {
            orders += 1;
            let _ = writeln!(
                script,
                "  ({orders}, {}, '2026-{:02}-{:02}T{:02}:{:02}:{:02}Z', '{}', {}, {}){}",
                1 + random.below(customers as usize),
                1 + random.below(12),
                1 + random.below(28),
                random.below(24),
                random.below(60),
                random.below(60),
                STATUS[random.below(4)],
                random.below(50_000),
                NOTES[random.below(5)],
                if row == 8 { ";" } else { "," },
            );
        }
        statements += 2;
    }
    (script, statements, customers, orders)
}

fn count(conn: &rusqlite::Connection, table: &str) -> rusqlite::Result<i64> {
    conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
}

fn check(path: &Path, customers: i64, orders: i64) -> Result<()> {
    let conn = rusqlite::Connection::open(path)?;
    let found = (count(&conn, "customers")?, count(&conn, "orders")?);
    if found != (customers, orders) {
        return Err(format!(
            "{}: {found:?} rows, expected {:?}",
            path.display(),
            (customers, orders)
        )
        .into());
    }
    Ok(())
}

/// `sqlite3 file.db < wrapped.sql`, the script inside `BEGIN` … `COMMIT`.
fn run_shell(path: &Path, wrapped: &Path) -> Result<Duration> {
    let input = std::fs::File::open(wrapped)?;
    let started = Instant::now();
    let output = Command::new("sqlite3")
        .arg("-bail")
        .arg(path)
        .stdin(input)
        .stdout(Stdio::null())
        .output()?;
    let elapsed = started.elapsed();
    if !output.status.success() || !output.stderr.is_empty() {
        return Err(format!("sqlite3: {}", String::from_utf8_lossy(&output.stderr)).into());
    }
    Ok(elapsed)
}

/// migrate: open the file and upgrade to head (one migration).
fn run_migrate(path: &Path, set: &Migrations) -> Result<Duration> {
    let started = Instant::now();
    let conn = rusqlite::Connection::open(path)?;
    let report = set.upgrade(&conn, Target::Head)?;
    let elapsed = started.elapsed();
    if report.steps.len() != 1 {
        return Err(format!("{} steps applied", report.steps.len()).into());
    }
    Ok(elapsed)
}

/// How migrate ran a script before: `rusqlite::Batch` over the script as
/// it is, without the NUL, so SQLite copies the rest of the script at
/// every statement; one transaction, each statement stepped once.
fn run_before(path: &Path, script: &str) -> Result<Duration> {
    use rusqlite::fallible_iterator::FallibleIterator;
    let started = Instant::now();
    let conn = rusqlite::Connection::open(path)?;
    conn.execute_batch("BEGIN")?;
    let mut batch = rusqlite::Batch::new(&conn, script);
    while let Some(mut statement) = batch.next()? {
        statement.raw_query().next()?;
    }
    conn.execute_batch("COMMIT")?;
    Ok(started.elapsed())
}

struct Size {
    megabytes: usize,
    statements: usize,
    shell: Vec<Duration>,
    migrate: Vec<Duration>,
    before: Option<Duration>,
}

fn measure(work: &Path, megabytes: usize, rounds: usize, before: bool) -> Result<Size> {
    let (script, statements, customers, orders) = generate(megabytes * MB);
    let dir = work.join(format!("{megabytes}mb"));
    std::fs::create_dir_all(dir.join("migrations"))?;
    std::fs::write(dir.join("migrations/0001_seed.sql"), &script)?;
    let wrapped = dir.join("wrapped.sql");
    std::fs::write(&wrapped, format!("BEGIN;\n{script}\nCOMMIT;\n"))?;
    let set = Migrations::from_dir(dir.join("migrations"))?;
    let mut size = Size {
        megabytes,
        statements,
        shell: Vec::new(),
        migrate: Vec::new(),
        before: None,
    };
    for round in 0..rounds {
        for tool in 0..2 {
            let path = dir.join(format!("round-{round}-tool-{tool}.db"));
            let elapsed = if (round + tool) % 2 == 0 {
                let elapsed = run_shell(&path, &wrapped)?;
                size.shell.push(elapsed);
                elapsed
            } else {
                let elapsed = run_migrate(&path, &set)?;
                size.migrate.push(elapsed);
                elapsed
            };
            check(&path, customers, orders)?;
            std::fs::remove_file(&path)?;
            eprintln!(
                "{megabytes} MB, round {round}: {} {}",
                if (round + tool) % 2 == 0 {
                    "sqlite3"
                } else {
                    "migrate"
                },
                stats::format(elapsed)
            );
        }
    }
    if before {
        let path = dir.join("before.db");
        let elapsed = run_before(&path, &script)?;
        check(&path, customers, orders)?;
        eprintln!("{megabytes} MB: before {}", stats::format(elapsed));
        size.before = Some(elapsed);
    }
    std::fs::remove_dir_all(&dir)?;
    Ok(size)
}

/// The median of the per-round ratios `a[i] / b[i]`.
fn median_ratio(a: &[Duration], b: &[Duration]) -> f64 {
    let mut ratios: Vec<f64> = a
        .iter()
        .zip(b)
        .map(|(a, b)| a.as_secs_f64() / b.as_secs_f64())
        .collect();
    ratios.sort_by(f64::total_cmp);
    ratios.get(ratios.len() / 2).copied().unwrap_or(f64::NAN)
}

fn sqlite3_version() -> String {
    Command::new("sqlite3")
        .arg("--version")
        .output()
        .ok()
        .and_then(|out| {
            String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .next()
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let before = args.iter().any(|a| a == "--before");
    let plan: &[(usize, usize)] = if quick {
        &[(1, 1), (2, 1)]
    } else {
        &[(8, 5), (16, 5), (24, 5), (50, 5)]
    };
    let run = report::Run::start();
    let work = tempfile::Builder::new().prefix("migrate-seed-").tempdir()?;
    let mut sizes = Vec::new();
    for &(megabytes, rounds) in plan {
        // The old way takes minutes at 50 MB: measured up to 24 MB.
        sizes.push(measure(
            work.path(),
            megabytes,
            rounds,
            before && megabytes <= 24,
        )?);
    }

    let mut section = run.header(
        &format!(
            "cargo run -p benches --release --bin seed_script{}",
            match (quick, before) {
                (true, true) => " -- --quick --before",
                (true, false) => " -- --quick",
                (false, true) => " -- --before",
                (false, false) => "",
            }
        ),
        &format!(
            "a generated seed script (7-row `INSERT`s into `customers` alternating with 9-row \
             `INSERT`s into `orders`), run by `sqlite3 -bail file.db < script.sql` (SQLite {}, \
             the script wrapped in `BEGIN;` … `COMMIT;`) and by migrate as one migration \
             (rusqlite, bundled SQLite {}, `upgrade` on a fresh connection), a fresh file each \
             run, default durability; medians of {} round(s), tools alternating.",
            sqlite3_version(),
            rusqlite::version(),
            plan.first().map_or(0, |p| p.1),
        ),
    );
    section.push('\n');
    section.push_str(
        "| script | statements | sqlite3 | migrate | migrate × sqlite3 | migrate per MB | before this change |\n\
         |---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for size in &sizes {
        let migrate = stats::median(&size.migrate);
        let _ = writeln!(
            section,
            "| {} MB | {} | {} | {} | {:.2}× | {} | {} |",
            size.megabytes,
            size.statements,
            stats::format(stats::median(&size.shell)),
            stats::format(migrate),
            median_ratio(&size.migrate, &size.shell),
            stats::format(migrate / size.megabytes as u32),
            size.before.map_or_else(|| "—".to_owned(), stats::format),
        );
    }
    println!("{section}");
    if !quick {
        report::replace_section("seed", &section)?;
        eprintln!("wrote benches/README.md");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::generate;

    #[test]
    fn the_generated_script_runs_and_has_the_size_asked() {
        let (script, statements, customers, orders) = generate(200_000);
        assert!((200_000..205_000).contains(&script.len()));
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(&script).unwrap();
        assert_eq!(
            (
                super::count(&conn, "customers").unwrap(),
                super::count(&conn, "orders").unwrap()
            ),
            (customers, orders)
        );
        assert_eq!(statements, 3 + 2 * usize::try_from(orders / 9).unwrap());
    }
}
