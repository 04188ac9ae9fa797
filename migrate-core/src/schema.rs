//! A database's schema as canonical text: the same bytes for the same
//! schema, whichever database it was read from and however it got there.
//!
//! The catalog queries (`dialect/schema.rs`) return one line per fact:
//! a column with its type, nullability and default; a key, constraint or
//! index; a view's, trigger's or function's definition. Here the lines are
//! sorted into blocks, one per object, the blocks by name, and the SQL text
//! a database keeps as written (SQLite's views, triggers and CHECK
//! constraints) has its layout normalised, so that two databases migrated
//! alike give byte-identical text and any real difference shows up as a
//! line of a unified diff ([`diff`]). The history table is left out, and
//! no row is read.

use std::collections::BTreeMap;
use std::fmt;

use crate::dialect::schema::CREATE_KEY;

/// A database's schema: every table with its columns, keys, constraints,
/// indexes and triggers, every view, and on PostgreSQL functions,
/// sequences, types, extensions and schemas; not the history table.
///
/// Its text ([`Schema::text`], or `Display`) is canonical: one block per
/// object, blocks sorted by name, each fact an indented line.
///
/// # Examples
///
/// ```
/// let conn = rusqlite::Connection::open_in_memory()?;
/// conn.execute_batch("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE);")?;
/// let schema = migrate::schema::read(&conn, &migrate::Options::default())?;
/// assert_eq!(
///     schema.text(),
///     "table users\n  column id integer\n  column email text not null\n  primary key (id)\n  unique (email)\n"
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Schema {
    /// Each object's lines by (sort key, line), by the object's heading.
    blocks: BTreeMap<String, Vec<(String, String)>>,
}

impl Schema {
    /// The schema from the catalog queries' rows (`block`, `key` and `line`
    /// joined by U+001F).
    pub(crate) fn from_rows(rows: impl IntoIterator<Item = String>) -> Schema {
        let mut blocks: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        let mut column_extras = Vec::new();
        for row in rows {
            let mut fields = row.splitn(3, '\u{1f}');
            let (Some(block), Some(key), Some(line)) =
                (fields.next(), fields.next(), fields.next())
            else {
                continue;
            };
            let lines = blocks.entry(block.to_owned()).or_default();
            let verbatim = block.starts_with("function ") || block.starts_with("procedure ");
            if key == CREATE_KEY {
                lines.extend(
                    checks(line)
                        .into_iter()
                        .map(|check| (format!("4 {check}"), check)),
                );
                column_extras.extend(
                    columns(line)
                        .into_iter()
                        .map(|(column, extra)| (block.to_owned(), column, extra)),
                );
            } else if verbatim {
                // A body's indentation is its author's layout, not schema.
                let body: Vec<&str> = line
                    .lines()
                    .map(str::trim)
                    .filter(|line| !line.is_empty())
                    .collect();
                lines.push((key.to_owned(), body.join("\n")));
            } else {
                lines.push((key.to_owned(), normalize(line)));
            }
        }
        // A SQLite column's line, from the catalog, gets what only its
        // `CREATE TABLE` text says.
        for (block, column, extra) in column_extras {
            let heading = format!("column {column}");
            let line = blocks.get_mut(&block).and_then(|lines| {
                lines.iter_mut().find(|(_, line)| {
                    line.strip_prefix(&heading)
                        .is_some_and(|rest| rest.is_empty() || rest.starts_with(' '))
                })
            });
            if let Some((_, line)) = line {
                line.push_str(&extra);
            }
        }
        for lines in blocks.values_mut() {
            lines.retain(|(_, line)| !line.is_empty());
            lines.sort();
            lines.dedup();
        }
        Schema { blocks }
    }

    /// True when the database holds nothing but (perhaps) the history table.
    ///
    /// # Examples
    ///
    /// ```
    /// let conn = rusqlite::Connection::open_in_memory()?;
    /// assert!(migrate::schema::read(&conn, &migrate::Options::default())?.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    /// The canonical text: each object's heading (`table users`), then its
    /// facts indented by two spaces, a blank line between objects; empty
    /// for an empty schema.
    ///
    /// # Examples
    ///
    /// ```
    /// let conn = rusqlite::Connection::open_in_memory()?;
    /// conn.execute_batch("CREATE TABLE t (a INT); CREATE VIEW v AS SELECT   a FROM t;")?;
    /// let text = migrate::schema::read(&conn, &migrate::Options::default())?.text();
    /// assert_eq!(text, "table t\n  column a int\n\nview v\n  CREATE VIEW v AS SELECT a FROM t\n");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn text(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Schema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (at, (heading, lines)) in self.blocks.iter().enumerate() {
            if at > 0 {
                f.write_str("\n")?;
            }
            writeln!(f, "{heading}")?;
            for (_, line) in lines {
                writeln!(f, "  {}", line.replace('\n', "\n  "))?;
            }
        }
        Ok(())
    }
}

/// A unified diff from `old` to `new`, headed `--- {old_label}` and
/// `+++ {new_label}`, with three lines of context; `None` when the texts
/// are the same.
///
/// # Examples
///
/// ```
/// let diff = migrate::schema::diff("table t\n  column a int\n", "table t\n  column a text\n", "committed", "database");
/// assert_eq!(
///     diff.as_deref(),
///     Some("--- committed\n+++ database\n@@ -1,2 +1,2 @@\n table t\n-  column a int\n+  column a text\n")
/// );
/// assert_eq!(migrate::schema::diff("x\n", "x\n", "a", "b"), None);
/// ```
pub fn diff(old: &str, new: &str, old_label: &str, new_label: &str) -> Option<String> {
    if old == new {
        return None;
    }
    Some(
        similar::TextDiff::from_lines(old, new)
            .unified_diff()
            .context_radius(3)
            .header(old_label, new_label)
            .to_string(),
    )
}

/// SQL text as a database keeps it, laid out one way: runs of whitespace
/// outside quotes become one space, none after `(` or before `)` and `,`,
/// none at the ends, and no `;` at the end.
pub(crate) fn normalize(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quote: Option<char> = None;
    let mut space = false;
    for c in sql.chars() {
        if let Some(q) = quote {
            out.push(c);
            if c == q {
                quote = None;
            }
            continue;
        }
        if c.is_whitespace() {
            space = true;
            continue;
        }
        if space && !out.is_empty() && !out.ends_with('(') && c != ')' && c != ',' {
            out.push(' ');
        }
        space = c == ',';
        if matches!(c, '\'' | '"' | '`') {
            quote = Some(c);
        } else if c == '[' {
            quote = Some(']');
        }
        out.push(c);
    }
    while out.ends_with(';') {
        out.pop();
        out.truncate(out.trim_end().len());
    }
    out
}

/// The CHECK constraints in a SQLite `CREATE TABLE` text, each as
/// `check (expression)`, the expression normalised. Quoted text and
/// comments are skipped, so a column named "check" is not taken for one.
fn checks(sql: &str) -> Vec<String> {
    let bytes = sql.as_bytes();
    let mut found = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let c = bytes[at];
        match c {
            b'\'' | b'"' | b'`' | b'[' => {
                let close = if c == b'[' { b']' } else { c };
                at += 1;
                while at < bytes.len() && bytes[at] != close {
                    at += 1;
                }
                at += 1;
            }
            b'-' if bytes.get(at + 1) == Some(&b'-') => {
                while at < bytes.len() && bytes[at] != b'\n' {
                    at += 1;
                }
            }
            b'/' if bytes.get(at + 1) == Some(&b'*') => {
                at = sql[at + 2..]
                    .find("*/")
                    .map_or(bytes.len(), |end| at + 2 + end + 2);
            }
            _ if c.is_ascii_alphabetic() || c == b'_' => {
                let start = at;
                while at < bytes.len() && (bytes[at].is_ascii_alphanumeric() || bytes[at] == b'_') {
                    at += 1;
                }
                if sql[start..at].eq_ignore_ascii_case("check")
                    && let Some((expression, end)) = parenthesised(sql, at)
                {
                    found.push(format!("check ({})", normalize(expression)));
                    at = end;
                }
            }
            _ => at += 1,
        }
    }
    found
}

/// What a SQLite `CREATE TABLE` text says of its columns that no pragma
/// does: each column's collation (` collate nocase`) and generated
/// expression (` as (expression)`), as (column, text to add to its line).
fn columns(sql: &str) -> Vec<(String, String)> {
    let Some(open) = top_level(sql, 0)
        .find(|&(_, b)| b == b'(')
        .map(|(at, _)| at)
    else {
        return Vec::new();
    };
    let Some((body, _)) = parenthesised(sql, open) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    let mut start = 0;
    let commas = top_level(body, 0)
        .filter(|&(_, b)| b == b',')
        .map(|(at, _)| at)
        .chain([body.len()]);
    for end in commas {
        let part = body[start..end].trim();
        start = end + 1;
        let (name, rest) = first_word(part);
        let keyword = ["constraint", "primary", "unique", "check", "foreign"]
            .iter()
            .any(|k| name.eq_ignore_ascii_case(k));
        if name.is_empty() || keyword {
            continue;
        }
        let mut extra = String::new();
        let words: Vec<(usize, &str)> = words(rest);
        for (i, &(at, word)) in words.iter().enumerate() {
            if word.eq_ignore_ascii_case("collate")
                && let Some(&(_, collation)) = words.get(i + 1)
            {
                extra.push_str(&format!(" collate {}", collation.to_ascii_lowercase()));
            }
            if word.eq_ignore_ascii_case("as")
                && let Some((expression, _)) = parenthesised(rest, at + word.len())
            {
                extra.push_str(&format!(" as ({})", normalize(expression)));
            }
        }
        if !extra.is_empty() {
            found.push((unquoted(name), extra));
        }
    }
    found
}

/// The bytes of `sql` from `from` on that are outside quotes, with their
/// offsets, at parenthesis depth 0 (parentheses themselves included).
fn top_level(sql: &str, from: usize) -> impl Iterator<Item = (usize, u8)> + '_ {
    let mut quote: Option<u8> = None;
    let mut depth = 0usize;
    sql.bytes().enumerate().skip(from).filter(move |&(_, b)| {
        if let Some(q) = quote {
            if b == q {
                quote = None;
            }
            return false;
        }
        match b {
            b'\'' | b'"' | b'`' => quote = Some(b),
            b'[' => quote = Some(b']'),
            b'(' => {
                depth += 1;
                return depth == 1;
            }
            b')' => {
                depth = depth.saturating_sub(1);
                return depth == 0;
            }
            _ => {}
        }
        depth == 0
    })
}

/// The first word of a column definition (its name, perhaps quoted) and
/// the rest.
fn first_word(part: &str) -> (&str, &str) {
    let close = match part.as_bytes().first() {
        Some(b'"') => Some('"'),
        Some(b'`') => Some('`'),
        Some(b'[') => Some(']'),
        _ => None,
    };
    let end = match close {
        Some(close) => part[1..].find(close).map_or(part.len(), |at| at + 2),
        None => part
            .find(|c: char| c.is_whitespace() || c == '(')
            .unwrap_or(part.len()),
    };
    (&part[..end], &part[end..])
}

/// A name without its quotes.
fn unquoted(name: &str) -> String {
    [('"', '"'), ('`', '`'), ('[', ']')]
        .iter()
        .find_map(|&(open, close)| name.strip_prefix(open)?.strip_suffix(close))
        .unwrap_or(name)
        .to_owned()
}

/// The bare words of `text` outside quotes and parentheses, with their
/// offsets.
fn words(text: &str) -> Vec<(usize, &str)> {
    let mut found = Vec::new();
    let mut start: Option<usize> = None;
    let bytes = text.as_bytes();
    let mut quote: Option<u8> = None;
    let mut depth = 0usize;
    for (at, &b) in bytes.iter().enumerate() {
        if let Some(q) = quote {
            if b == q {
                quote = None;
            }
            continue;
        }
        let word = b.is_ascii_alphanumeric() || b == b'_';
        match (word && depth == 0, start) {
            (true, None) => start = Some(at),
            (false, Some(from)) => {
                found.push((from, &text[from..at]));
                start = None;
            }
            _ => {}
        }
        match b {
            b'\'' | b'"' | b'`' => quote = Some(b),
            b'(' => depth += 1,
            b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    if let Some(from) = start {
        found.push((from, &text[from..]));
    }
    found
}

/// The text inside the parentheses that open after `from` (whitespace
/// before them allowed), and where they close.
fn parenthesised(sql: &str, from: usize) -> Option<(&str, usize)> {
    let open = from + sql[from..].len() - sql[from..].trim_start().len();
    if sql.as_bytes().get(open) != Some(&b'(') {
        return None;
    }
    let mut depth = 0usize;
    let mut quote: Option<u8> = None;
    for (offset, &b) in sql.as_bytes()[open..].iter().enumerate() {
        if let Some(q) = quote {
            if b == q {
                quote = None;
            }
            continue;
        }
        match b {
            b'\'' | b'"' | b'`' => quote = Some(b),
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return Some((&sql[open + 1..open + offset], open + offset + 1));
                }
            }
            _ => {}
        }
    }
    None
}

/// Reads the schema of the database `conn` is open on (its `main`
/// database), leaving out `options`' history table. Reads only: nothing is
/// created, not even the history table.
///
/// # Examples
///
/// ```
/// let conn = rusqlite::Connection::open_in_memory()?;
/// conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY); CREATE INDEX t_id ON t (id DESC);")?;
/// let schema = migrate::schema::read(&conn, &migrate::Options::default())?;
/// assert_eq!(schema.text(), "table t\n  column id integer\n  primary key (id)\n  index t_id (id desc)\n");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// [`crate::Error::Database`] when the catalog cannot be read.
#[cfg(feature = "rusqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "rusqlite")))]
pub fn read(conn: &rusqlite::Connection, options: &crate::Options) -> Result<Schema, crate::Error> {
    let fail = |err| crate::rusqlite::database_error("read the database's schema")(err);
    let mut rows = Vec::new();
    for query in crate::dialect::schema::queries(crate::Dialect::Sqlite, &options.table, false) {
        let mut statement = conn.prepare(&query).map_err(fail)?;
        let texts = statement
            .query_map([], |row| row.get::<_, Option<String>>(0))
            .map_err(fail)?;
        for text in texts {
            rows.extend(text.map_err(fail)?);
        }
    }
    Ok(Schema::from_rows(rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_normalised_outside_quotes() {
        assert_eq!(
            normalize("CREATE VIEW v AS\n  SELECT  a ,b FROM t WHERE x = 'a  b'  ;"),
            "CREATE VIEW v AS SELECT a, b FROM t WHERE x = 'a  b'"
        );
        assert_eq!(normalize("f( a )"), "f(a)");
    }

    #[test]
    fn checks_are_found_outside_quotes_and_comments() {
        let sql = "CREATE TABLE t (\"check\" INT CHECK (\"check\" > 0), -- check (no)\n \
                   b TEXT, 'check' , CONSTRAINT c CHECK(length(b) < 10 AND b <> ')'))";
        assert_eq!(
            checks(sql),
            [
                "check (\"check\" > 0)",
                "check (length(b) < 10 AND b <> ')')"
            ]
        );
    }

    #[test]
    fn collations_and_generated_expressions_are_found_per_column() {
        let sql = "CREATE TABLE \"a(b\" (id INTEGER PRIMARY KEY, \"e mail\" TEXT NOT NULL COLLATE NOCASE, \
                   d TEXT GENERATED ALWAYS AS (substr(\"e mail\", 1, 2)) VIRTUAL, \
                   n TEXT DEFAULT ('as (x)'), CONSTRAINT c UNIQUE (d COLLATE RTRIM))";
        assert_eq!(
            columns(sql),
            [
                ("e mail".to_owned(), " collate nocase".to_owned()),
                ("d".to_owned(), " as (substr(\"e mail\", 1, 2))".to_owned()),
            ]
        );
        // Unfinished text (SQLite stores none) is no reason to panic.
        assert_eq!(columns("CREATE TABLE t (\"é COLLATE x"), []);
        assert_eq!(checks("CREATE TABLE t (a CHECK (é"), Vec::<String>::new());
    }

    proptest::proptest! {
        /// The text comes from the database, which stored what the user
        /// wrote: whatever it is, reading it never panics.
        #[test]
        fn any_create_text_is_read_without_panic(sql in "(CREATE TABLE t \\(|[a-z\"'`\\[\\]()é, ]|CHECK|COLLATE|AS|--|/\\*)*") {
            let _ = (checks(&sql), columns(&sql), normalize(&sql));
        }
    }

    #[test]
    fn rows_become_sorted_blocks() {
        let schema = Schema::from_rows([
            "table b\u{1f}00002\u{1f}column y int".to_owned(),
            "table a\u{1f}00001\u{1f}column x  int".to_owned(),
            "table b\u{1f}00001\u{1f}column x int".to_owned(),
            "schema s\u{1f}0\u{1f}".to_owned(),
        ]);
        assert_eq!(
            schema.text(),
            "schema s\n\ntable a\n  column x int\n\ntable b\n  column x int\n  column y int\n"
        );
    }
}
