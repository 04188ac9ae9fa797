//! Every SQLite set of ../shared/corpus (Ory Kratos and Hydra, Authelia,
//! atuin), each on a fresh SQLite file, reaching exactly the outcome the
//! corpus README states: up to head, then down as far as the set allows.
//! Without the corpus, each test says it was skipped (`corpus_dir.rs`).

use migrate::{Error, Migrations, Target};
use rusqlite::Connection;
use rusqlite::functions::FunctionFlags;

use crate::common::{TempDb, history_rows, schema, versions};
use crate::corpus_dir::corpus;

/// The set, or `None` (after saying why) without the corpus.
pub fn load(set: &str) -> Option<Migrations> {
    corpus(set).map(|dir| Migrations::from_dir(dir).unwrap())
}

/// The newest migration without a down script: a downgrade stops above it.
fn newest_up_only(set: &Migrations) -> Option<&migrate::Migration> {
    set.iter().rfind(|m| m.down().is_none())
}

fn all_versions(set: &Migrations) -> Vec<i64> {
    set.iter().map(|m| m.version()).collect()
}

/// Up to head, then down as far as the set allows, then one step further
/// must be refused naming the up-only file.
fn up_and_down(set: &Migrations, conn: &Connection) {
    let report = migrate::run(conn, set).unwrap();
    assert_eq!(report.steps.len(), set.len());
    assert_eq!(versions(conn), all_versions(set));
    assert!(history_rows(conn).iter().all(|row| row.success));

    let floor = newest_up_only(set);
    let target = floor.map_or(Target::Base, |m| Target::Version(m.version()));
    let report = set.downgrade(conn, target).unwrap();
    let reversible_above = set
        .iter()
        .filter(|m| floor.is_none_or(|f| m.version() > f.version()))
        .count();
    assert_eq!(report.steps.len(), reversible_above);
    let expected: Vec<i64> = all_versions(set)
        .into_iter()
        .filter(|v| floor.is_some_and(|f| *v <= f.version()))
        .collect();
    assert_eq!(versions(conn), expected);
    if floor.is_none() {
        assert_eq!(schema(conn), [], "a full downgrade leaves nothing behind");
    }

    if let Some(floor) = floor {
        let before = (schema(conn), history_rows(conn));
        let err = set.downgrade(conn, "-1".parse().unwrap()).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "cannot downgrade past migration {} ({}): it has no down script, neither in this build nor recorded \
                 when it was applied; nothing was changed",
                floor.version(),
                floor.up().file()
            )
        );
        assert_eq!((schema(conn), history_rows(conn)), before);
    }
}

/// Upgrades to just below `failing`, then to head, which must fail at
/// `failing` with `message`, leaving schema and history as they were.
fn fails_at(
    set: &Migrations,
    conn: &Connection,
    failing: &str,
    direction_up: bool,
    message: &str,
) -> Error {
    let err = if direction_up {
        let version = set
            .iter()
            .find(|m| m.up().file() == failing)
            .unwrap()
            .version();
        let below = set
            .iter()
            .map(|m| m.version())
            .filter(|v| *v < version)
            .max();
        if let Some(below) = below {
            set.upgrade(conn, Target::Version(below)).unwrap();
        }
        let before = (schema(conn), history_rows(conn));
        let err = migrate::run(conn, set).unwrap_err();
        assert_eq!(
            (schema(conn), history_rows(conn)),
            before,
            "the database is as before {failing}"
        );
        err
    } else {
        let before = (schema(conn), history_rows(conn));
        let err = set.downgrade(conn, Target::Base).unwrap_err();
        assert_eq!(
            (schema(conn), history_rows(conn)),
            before,
            "the database is as before {failing}"
        );
        err
    };
    let text = err.to_string();
    assert!(text.contains(&format!("({failing}) failed")), "{text}");
    assert!(text.contains(message), "{text}");
    assert!(
        text.contains("it was rolled back, so the database is as it was before this migration"),
        "{text}"
    );
    err
}

#[test]
fn atuin_sets_apply_and_revert() {
    for set in [
        "atuin-client/sqlite",
        "atuin-client-records/sqlite",
        "atuin-client-meta/sqlite",
        "atuin-kv/sqlite",
        "atuin-ai/sqlite",
        "atuin-server/sqlite",
    ] {
        let Some(set) = load(set) else { return };
        let db = TempDb::new();
        up_and_down(&set, &db.open());
    }
}

#[test]
fn atuin_scripts_down_fails_at_its_mysql_syntax_script() {
    let Some(set) = load("atuin-scripts/sqlite") else {
        return;
    };
    let db = TempDb::new();
    let conn = db.open();
    migrate::run(&conn, &set).unwrap();
    assert_eq!(versions(&conn), all_versions(&set));
    fails_at(
        &set,
        &conn,
        "20250402170430_unique_names.down.sql",
        false,
        "near \"index\": syntax error",
    );
    assert_eq!(versions(&conn), all_versions(&set));
}

#[test]
fn ory_kratos_applies_and_reverts_to_its_newest_up_only_step() {
    let Some(set) = load("ory-kratos/sqlite") else {
        return;
    };
    assert_eq!(set.len(), 694);
    let db = TempDb::new();
    up_and_down(&set, &db.open());
}

pub fn foreign_keys(conn: &Connection, on: bool) {
    conn.pragma_update(None, "foreign_keys", on).unwrap();
}

#[test]
fn ory_hydra_applies_with_foreign_keys_off_and_reverts_its_chain() {
    let Some(set) = load("ory-hydra/sqlite") else {
        return;
    };
    assert_eq!(set.len(), 227);
    let db = TempDb::new();
    let conn = db.open();
    foreign_keys(&conn, false);
    if rusqlite::version_number() >= 3_048_000 {
        up_and_down(&set, &conn);
    } else {
        // `if()` became an alias of `iif()` in SQLite 3.48.
        fails_at(
            &set,
            &conn,
            "20251119112639000_flow_drop_defaults.up.sql",
            true,
            "no such function: if",
        );
    }
}

/// The corpus's README records that run as-is with foreign keys on,
/// `20220210000001000_nid` (a table rebuild) fails with "foreign key
/// mismatch", as popx's set needs enforcement off. migrate now runs each
/// step with enforcement off when the connection has it on (checking the
/// keys before each commit), so the set applies on such a connection too,
/// and the connection has it on again afterwards.
#[test]
fn ory_hydra_with_foreign_keys_on_applies_as_popx_runs_it() {
    let Some(set) = load("ory-hydra/sqlite") else {
        return;
    };
    let db = TempDb::new();
    let conn = db.open();
    foreign_keys(&conn, true);
    if rusqlite::version_number() < 3_048_000 {
        return;
    }
    up_and_down(&set, &conn);
    let on: bool = conn
        .pragma_query_value(None, "foreign_keys", |row| row.get(0))
        .unwrap();
    assert!(on);
}

/// Authelia's SQLite driver registers these two application functions.
pub fn register_base64(conn: &Connection) {
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    conn.create_scalar_function("BIN2B64", 1, flags, |ctx| {
        let bytes: Option<Vec<u8>> = ctx.get(0)?;
        Ok(bytes.map(|b| base64_encode(&b)))
    })
    .unwrap();
    conn.create_scalar_function("B642BIN", 1, flags, |ctx| {
        let text: Option<String> = ctx.get(0)?;
        Ok(text.map(|t| base64_decode(&t)))
    })
    .unwrap();
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn base64_decode(text: &str) -> Vec<u8> {
    let values: Vec<u32> = text
        .bytes()
        .filter_map(|c| ALPHABET.iter().position(|a| *a == c).map(|p| p as u32))
        .collect();
    let mut out = Vec::new();
    for chunk in values.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, v)| n | v << (18 - 6 * i));
        for i in 0..chunk.len().saturating_sub(1) {
            out.push((n >> (16 - 8 * i) & 0xff) as u8);
        }
    }
    out
}

#[test]
fn base64_helpers_round_trip() {
    assert_eq!(base64_encode(b"hello!?"), "aGVsbG8hPw==");
    assert_eq!(base64_decode("aGVsbG8hPw=="), b"hello!?");
}

#[test]
fn authelia_applies_with_its_functions_and_stops_at_its_placeholders() {
    let Some(set) = load("authelia/sqlite") else {
        return;
    };
    assert_eq!(set.len(), 26);
    let db = TempDb::new();
    let conn = db.open();
    register_base64(&conn);
    up_and_down(&set, &conn);
    // The top two versions are up-only placeholders: not even one step back.
    assert_eq!(versions(&conn), all_versions(&set));
}

#[test]
fn authelia_without_its_functions_fails_at_webauthn_naming_the_function() {
    let Some(set) = load("authelia/sqlite") else {
        return;
    };
    let db = TempDb::new();
    let conn = db.open();
    let err = fails_at(
        &set,
        &conn,
        "0002_WebAuthn.up.sql",
        true,
        "no such function: BIN2B64",
    );
    assert!(matches!(err, Error::Step { version: 2, .. }));
    assert_eq!(versions(&conn), [1]);
}
