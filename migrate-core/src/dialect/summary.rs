//! The summary kept beside the history table, for a start with nothing to
//! do in constant time: its SQL, per dialect.
//!
//! A companion table `<history>_summary` (same schema) holds one row:
//! `digest` (the history's row count and an order-independent sum of one
//! term per row, see `migrate_files::HistoryDigest`), `changes` (a counter
//! that triggers on the history table bump on every row inserted, updated
//! or deleted, whoever writes it, and on PostgreSQL on every `TRUNCATE`),
//! and `recorded` (the counter's value when the runner wrote the digest).
//!
//! The runner writes the digest in the same transaction as its history
//! writes, and only on the condition that the counter stands at the value
//! its own writes left (`changes = ?base + writes`): then the digest says
//! exactly what the table holds, and `recorded = changes`. Any other writer
//! (a hand edit, an older release of `migrate`, SQL printed by `--sql` and
//! run later) bumps the counter past `recorded`, and every start after it
//! reads the full history, as before this table existed, until a run with
//! work writes the digest again.
//!
//! A start reads one row: the digest, whether `changes = recorded`, and the
//! newest known version's checksum where it is clean (which also catches a
//! MySQL `TRUNCATE`, which fires no trigger, and a history table dropped
//! and made again by hand, whose triggers are then gone). A history edited
//! so is read in full.
//!
//! Without its triggers the counter says nothing (a hand edit moves it no
//! more), so the counter is read, and a start trusts the row, only while
//! every trigger is there: PostgreSQL and MySQL look them up in their
//! catalogues; SQLite, where that walks the whole schema table, keeps in a
//! second row (`id = 2`) the schema cookie of the runner's last write, and
//! a start compares it with the current one (any schema change since, a
//! trigger dropped among them, sends it the long way). A run that finds a
//! trigger missing makes it again, and the summary with it.
//!
//! Creating the table and its triggers never fails a run: without the
//! privilege (MySQL's `TRIGGER`, say) there is no summary row, and every
//! start reads the full history. The row is inserted only after its
//! triggers exist, so a row always has them.

use super::Dialect;
use crate::options::TableName;
use crate::{Migration, Migrations, Options};

/// The statements about one history table's summary.
#[derive(Debug, Clone)]
#[doc(hidden)]
pub struct SummarySql {
    /// The summary table's own name, unquoted, without its schema.
    #[cfg_attr(not(feature = "sqlx-mysql"), allow(dead_code))]
    pub bare: String,
    /// The names of its triggers, unquoted (a MySQL template's copy
    /// leaves them out).
    #[cfg_attr(not(feature = "sqlx-mysql"), allow(dead_code))]
    pub triggers: Vec<String>,
    /// Creates the table, its triggers and its row (as not valid), where
    /// missing, in order; a failure that is not "already exists" stops
    /// there, and the run goes on without a summary. PostgreSQL: one `DO`
    /// block.
    pub ensure: Vec<String>,
    /// The counter as text.
    pub changes: String,
    /// The runner's write: digest, counter value its writes left.
    pub update: String,
    /// A start's one statement: `{digest}|{1 if changes = recorded else
    /// 0}|{the newest known version's checksum if clean, or empty}`, with
    /// `?1` the newest known version (and `?2` the schema cookie, where
    /// `cookie` reads it).
    pub start: String,
    /// SQLite, a history table in `main`: reads the schema cookie, which a
    /// start binds to `start` as `?2`.
    pub cookie: Option<String>,
}

impl SummarySql {
    /// The statements for the summary of `history` in `dialect`.
    pub(crate) fn new(dialect: Dialect, history: &TableName) -> Self {
        let quote = dialect.quote();
        let name = history.with_suffix("_summary");
        let summary = name.quoted(quote);
        let table = history.quoted(quote);
        let bare = name.table().to_owned();
        // SQLite and MySQL: a trigger lives in its table's schema.
        let trigger = |event: &str| {
            let trigger = format!("{bare}_{event}");
            match history.schema() {
                Some(schema) => format!("{quote}{schema}{quote}.{quote}{trigger}{quote}"),
                None => format!("{quote}{trigger}{quote}"),
            }
        };
        let ensure = match dialect {
            Dialect::Sqlite => {
                // A trigger's body names tables of its own schema, unqualified.
                let on = format!("\"{}\"", history.table());
                let body = format!("\"{bare}\"");
                let mut ensure = vec![format!(
                    "CREATE TABLE IF NOT EXISTS {summary} (id INTEGER PRIMARY KEY, digest TEXT NOT NULL, \
                     changes BIGINT NOT NULL, recorded BIGINT NOT NULL)"
                )];
                for event in ["INSERT", "UPDATE", "DELETE"] {
                    ensure.push(format!(
                        "CREATE TRIGGER IF NOT EXISTS {} AFTER {event} ON {on} \
                         BEGIN UPDATE {body} SET changes = changes + 1 WHERE id = 1; END",
                        trigger(&event.to_ascii_lowercase())
                    ));
                }
                ensure.push(format!(
                    "INSERT OR IGNORE INTO {summary} (id, digest, changes, recorded) VALUES (1, '', 0, -1)"
                ));
                // Row 2: the schema cookie when the digest was written.
                ensure.push(format!(
                    "INSERT OR IGNORE INTO {summary} (id, digest, changes, recorded) VALUES (2, 'schema_version', 0, -1)"
                ));
                ensure
            }
            Dialect::MySql => {
                let mut ensure = vec![format!(
                    "CREATE TABLE IF NOT EXISTS {summary} (id INT PRIMARY KEY, digest VARCHAR(64) NOT NULL, \
                     changes BIGINT NOT NULL, recorded BIGINT NOT NULL)"
                )];
                for event in ["INSERT", "UPDATE", "DELETE"] {
                    ensure.push(format!(
                        "CREATE TRIGGER {} AFTER {event} ON {table} FOR EACH ROW \
                         UPDATE {summary} SET changes = changes + 1 WHERE id = 1",
                        trigger(&event.to_ascii_lowercase())
                    ));
                }
                ensure.push(format!(
                    "INSERT IGNORE INTO {summary} (id, digest, changes, recorded) VALUES (1, '', 0, -1)"
                ));
                ensure
            }
            // Everything named in the history table's own schema, as its
            // name resolves now; the function names its table with that
            // schema, so a writer with another search path bumps the same
            // counter.
            Dialect::Postgres => vec![format!(
                "DO $migrate$ DECLARE s name; BEGIN \
                 SELECT n.nspname INTO s FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE c.oid = '{table}'::regclass; \
                 EXECUTE format('CREATE TABLE IF NOT EXISTS %I.%I (id INTEGER PRIMARY KEY, digest TEXT NOT NULL, \
                 changes BIGINT NOT NULL, recorded BIGINT NOT NULL)', s, '{bare}'); \
                 IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = '{table}'::regclass AND tgname = '{bare}_rows') \
                 OR NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = '{table}'::regclass AND tgname = '{bare}_truncate') THEN \
                 EXECUTE format('CREATE OR REPLACE FUNCTION %I.%I() RETURNS trigger LANGUAGE plpgsql AS \
                 $f$ BEGIN UPDATE %I.%I SET changes = changes + 1 WHERE id = 1; RETURN NULL; END $f$', \
                 s, '{bare}_bump', s, '{bare}'); \
                 END IF; \
                 IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = '{table}'::regclass AND tgname = '{bare}_rows') THEN \
                 EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE ON %I.%I \
                 FOR EACH ROW EXECUTE PROCEDURE %I.%I()', '{bare}_rows', s, '{history_bare}', s, '{bare}_bump'); \
                 END IF; \
                 IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = '{table}'::regclass AND tgname = '{bare}_truncate') THEN \
                 EXECUTE format('CREATE TRIGGER %I AFTER TRUNCATE ON %I.%I \
                 FOR EACH STATEMENT EXECUTE PROCEDURE %I.%I()', '{bare}_truncate', s, '{history_bare}', s, '{bare}_bump'); \
                 END IF; \
                 EXECUTE format('INSERT INTO %I.%I (id, digest, changes, recorded) VALUES (1, '''', 0, -1) \
                 ON CONFLICT (id) DO NOTHING', s, '{bare}'); \
                 END $migrate$",
                history_bare = history.table(),
            )],
        };
        // Whether the triggers are all there (and, on PostgreSQL, enabled):
        // without them a hand edit moves no counter, so the counter says
        // nothing. The counter is read only where they are (a run then
        // makes what is missing), and a start trusts the row only where
        // they are.
        let history_bare = history.table();
        let armed = match dialect {
            Dialect::Sqlite => format!(
                "(SELECT count(*) FROM {schema}sqlite_schema WHERE type = 'trigger' AND tbl_name = '{history_bare}' \
                 AND name IN ('{bare}_insert', '{bare}_update', '{bare}_delete')) = 3",
                schema = history
                    .schema()
                    .map_or_else(String::new, |schema| format!("\"{schema}\".")),
            ),
            Dialect::Postgres => format!(
                "(SELECT count(*) FROM pg_trigger WHERE tgrelid = '{table}'::regclass \
                 AND tgname IN ('{bare}_rows', '{bare}_truncate') AND tgenabled <> 'D') = 2"
            ),
            Dialect::MySql => format!(
                "(SELECT count(*) FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_SCHEMA = {schema} \
                 AND EVENT_OBJECT_TABLE = '{history_bare}' \
                 AND TRIGGER_NAME IN ('{bare}_insert', '{bare}_update', '{bare}_delete')) = 3",
                schema = history
                    .schema()
                    .map_or_else(|| "DATABASE()".to_owned(), |schema| format!("'{schema}'")),
            ),
        };
        // SQLite: looking the triggers up walks the whole schema table (2 ms
        // with 10,000 tables), so a start instead compares the schema
        // cookie (read by `cookie`, bound as ?2) with the one row 2 kept
        // when the digest was written with the triggers there: no schema
        // change since, no trigger gone. (`pragma_schema_version` in the
        // query itself costs more than the pragma alone, and more with a
        // larger schema.) The record reads only `main`'s cookie: for a
        // table in another schema the triggers are looked up instead.
        let sqlite_valid = match history.schema() {
            None => format!(
                "coalesce(changes = recorded AND (SELECT recorded FROM {summary} WHERE id = 2) = ?2, 0)"
            ),
            Some(_) => format!("coalesce(changes = recorded AND {armed}, 0)"),
        };
        let (changes, start) = match dialect {
            Dialect::Sqlite => (
                format!(
                    "SELECT CAST(changes AS TEXT) FROM {summary} WHERE id = 1 AND {armed} \
                     AND EXISTS (SELECT 1 FROM {summary} WHERE id = 2)"
                ),
                format!(
                    "SELECT digest || '|' || {sqlite_valid} || '|' || \
                     coalesce((SELECT checksum FROM {table} WHERE version = ?1 AND success), '') \
                     FROM {summary} WHERE id = 1"
                ),
            ),
            Dialect::Postgres => (
                format!("SELECT changes::text FROM {summary} WHERE id = 1 AND {armed}"),
                format!(
                    "SELECT digest || '|' || CASE WHEN changes = recorded AND {armed} THEN '1' ELSE '0' END || '|' || \
                     coalesce((SELECT checksum FROM {table} WHERE version = $1 AND success), '') \
                     FROM {summary} WHERE id = 1"
                ),
            ),
            Dialect::MySql => (
                format!("SELECT CAST(changes AS CHAR) FROM {summary} WHERE id = 1 AND {armed}"),
                format!(
                    "SELECT CONCAT(digest, '|', IF(changes = recorded AND {armed}, '1', '0'), '|', \
                     coalesce((SELECT checksum FROM {table} WHERE version = ? AND success), '')) \
                     FROM {summary} WHERE id = 1"
                ),
            ),
        };
        SummarySql {
            triggers: match dialect {
                Dialect::Postgres => vec![format!("{bare}_rows"), format!("{bare}_truncate")],
                Dialect::Sqlite | Dialect::MySql => ["insert", "update", "delete"]
                    .iter()
                    .map(|event| format!("{bare}_{event}"))
                    .collect(),
            },
            cookie: (dialect == Dialect::Sqlite && history.schema().is_none())
                .then(|| "PRAGMA main.schema_version".to_owned()),
            bare,
            ensure,
            changes,
            update: match dialect {
                // Row 2 takes the schema cookie after the run's last DDL.
                // (Had a script of the run dropped a trigger, a write after
                // it moved no counter, and row 1 is not recorded.)
                Dialect::Sqlite => format!(
                    "UPDATE {summary} SET digest = CASE id WHEN 1 THEN ?1 ELSE digest END, \
                     recorded = CASE id WHEN 1 THEN changes ELSE (SELECT schema_version FROM pragma_schema_version) END \
                     WHERE id = 1 AND changes = ?2 OR id = 2"
                ),
                _ => dialect.placeholders(format!(
                    "UPDATE {summary} SET digest = ?1, recorded = changes WHERE id = 1 AND changes = ?2"
                )),
            },
            start,
        }
    }
}

/// What a start binds to `SummarySql::start`: the newest known version
/// (-1, which no row holds, for an empty set), or `None` when the summary
/// may not answer: checksums are ignored, and it holds them.
pub(crate) fn start_version(migrations: &Migrations, options: &Options) -> Option<i64> {
    (!options.ignore_checksums).then(|| migrations.head().unwrap_or(-1))
}

/// Whether a start's summary row says that `migrations` are all applied,
/// clean, and nothing else is (see [`says_up_to_date`]).
pub(crate) fn up_to_date(row: &str, migrations: &Migrations) -> bool {
    says_up_to_date(
        row,
        migrations.digest(),
        migrations.as_slice().last().map(Migration::checksum),
    )
}

/// Whether a start's summary row (`SummarySql::start`'s text) says that
/// the history holds exactly every migration of the build, clean: the
/// digest equals the build's, no one but the runner wrote since it wrote
/// the digest, and the newest known version's row is there, clean, with
/// its checksum. Anything else (or nothing read) answers false, and the
/// runner reads the full history.
fn says_up_to_date(row: &str, build_digest: &str, newest_checksum: Option<&str>) -> bool {
    let mut parts = row.splitn(3, '|');
    let (Some(digest), Some(valid), Some(checksum)) = (parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    digest == build_digest && valid == "1" && newest_checksum.is_none_or(|c| c == checksum)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_start_row_is_read_strictly() {
        assert!(says_up_to_date("2:ab|1|cc", "2:ab", Some("cc")));
        assert!(says_up_to_date("0:00|1|", "0:00", None));
        assert!(
            !says_up_to_date("2:ab|0|cc", "2:ab", Some("cc")),
            "a hand edit"
        );
        assert!(
            !says_up_to_date("2:ab|1|", "2:ab", Some("cc")),
            "newest row gone"
        );
        assert!(!says_up_to_date("2:ab|1|cd", "2:ab", Some("cc")));
        assert!(!says_up_to_date("2:ac|1|cc", "2:ab", Some("cc")));
        assert!(!says_up_to_date("", "", None));
    }

    #[test]
    fn names_follow_the_history_table() {
        let sql = SummarySql::new(Dialect::MySql, &TableName::new("app.h").unwrap());
        assert!(sql.ensure[0].starts_with("CREATE TABLE IF NOT EXISTS `app`.`h_summary`"));
        assert!(
            sql.ensure[1]
                .starts_with("CREATE TRIGGER `app`.`h_summary_insert` AFTER INSERT ON `app`.`h`")
        );
        assert_eq!(
            sql.update,
            "UPDATE `app`.`h_summary` SET digest = ?, recorded = changes WHERE id = 1 AND changes = ?"
        );
        let sqlite = SummarySql::new(Dialect::Sqlite, &TableName::new("app.h").unwrap());
        assert!(sqlite.ensure[1].starts_with(
            "CREATE TRIGGER IF NOT EXISTS \"app\".\"h_summary_insert\" AFTER INSERT ON \"h\" BEGIN UPDATE \"h_summary\""
        ));
    }
}
