//! A start's fast path through sqlx: whether an upgrade to head has
//! nothing to do, told from the summary beside the history table in one
//! unprepared statement (one round trip after connecting, no lock), or
//! else from one aggregated value where the dialect has one.

use super::backend::Backend;
use crate::dialect::summary;
use crate::dialect::{HistorySql, Literal, with_literals};
use crate::plan::UpToDate;
use crate::{Migrations, Options};

/// A start's first fast path: the summary's one row (see
/// `dialect::summary`), read with one statement sent unprepared. False
/// when checksums are ignored (the summary holds them) and on any failure
/// (no summary yet): the other checks follow.
pub(super) async fn summary_up_to_date<DB: Backend>(
    conn: &mut DB::Connection,
    sql: &HistorySql,
    migrations: &Migrations,
    options: &Options,
) -> bool {
    let Some(head) = summary::start_version(migrations, options) else {
        return false;
    };
    let cookie = match &sql.summary.cookie {
        Some(cookie) => match DB::schema_cookie(conn, cookie).await {
            Ok(Some(cookie)) => Some(cookie),
            _ => return false,
        },
        None => None,
    };
    let mut values = vec![Literal::Integer(head)];
    values.extend(cookie.map(Literal::Integer));
    let statement = with_literals(DB::DIALECT, &sql.summary.start, &values);
    match DB::text_once(conn, &statement).await {
        Ok(Some(row)) => summary::up_to_date(&row, migrations),
        _ => false,
    }
}

/// A start's fast path: true when the history holds every known migration,
/// clean and with the build's checksum, told from one aggregated value
/// where the dialect has one ([`digest_up_to_date`]). Any failure (no
/// table yet, an older format) answers false, and the full read that
/// follows explains it.
pub(super) async fn up_to_date<DB: Backend>(
    conn: &mut DB::Connection,
    sql: &HistorySql,
    known: &[crate::Migration],
    options: &Options,
) -> bool {
    let Some(statement) = &sql.digest else {
        return false;
    };
    match DB::texts(conn, statement, &[]).await {
        Ok(texts) => texts
            .first()
            .and_then(Option::as_deref)
            .is_some_and(|digest| digest_up_to_date(known, options, digest)),
        Err(_) => false,
    }
}

/// A start's fast path: whether the history's digest (see
/// `HistorySql::digest`) says that an upgrade to head has nothing to do, as
/// [`UpToDate`] decides it row by row. Anything unexpected in the text
/// answers false: the full read and the planner then decide and explain.
pub(crate) fn digest_up_to_date(
    known: &[crate::Migration],
    options: &Options,
    digest: &str,
) -> bool {
    let mut check = UpToDate::new(known, options);
    let mut parts = digest.splitn(3, '|');
    let (Some(head), Some(versions), Some(checksums)) = (parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let Some((Ok(count), "1")) = head
        .split_once(' ')
        .map(|(count, clean)| (count.parse::<usize>(), clean))
    else {
        return false;
    };
    let mut rows = 0;
    if count > 0 {
        let mut checksums = checksums.split(' ');
        for version in versions.split(' ') {
            let (Ok(version), Some(checksum)) = (version.parse(), checksums.next()) else {
                return false;
            };
            if !check.row(version, checksum, true) {
                return false;
            }
            rows += 1;
        }
        if checksums.next().is_some() {
            return false;
        }
    }
    // A checksum holding a space would have made more items than rows.
    rows == count && check.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Migration, Script};

    fn set() -> Vec<Migration> {
        [(1, "aa"), (2, "bb"), (10, "cc")]
            .into_iter()
            .map(|(version, checksum)| {
                let up = Script::__embedded("up.sql", "SELECT 1;", false);
                Migration::__embedded(version, "m", checksum, up, None)
            })
            .collect()
    }

    #[test]
    fn the_digest_is_read_as_the_planner_would() {
        let known = set();
        let options = Options::default();
        let says = |digest: &str| digest_up_to_date(&known, &options, digest);
        assert!(says("3 1|1 2 10|aa bb cc"));
        assert!(says("3 1|10 1 2|cc aa bb"), "any row order");
        assert!(!says("2 1|1 2|aa bb"), "10 is pending");
        assert!(!says("3 0|1 2 10|aa bb cc"), "a dirty mark");
        assert!(!says("3 1|1 2 10|aa bb cd"), "an edit");
        assert!(!says("4 1|1 2 10 11|aa bb cc dd"), "an unknown version");
        assert!(!says("3 1|1 2 10|aa b b"), "a checksum with a space");
        assert!(
            !says("3 1|1 2 10|aa bb cc dd"),
            "more checksums than versions"
        );
        assert!(!says("4 1|1 2 10|aa bb cc"), "a count that disagrees");
        assert!(!says("3 1|1 2 x|aa bb cc"));
        assert!(!says("0 1||"), "nothing applied");
        assert!(!says(""));
        assert!(digest_up_to_date(&[], &options, "0 1||"));
        assert!(digest_up_to_date(
            &known,
            &Options::default().ignore_checksums(true),
            "3 1|1 2 10|xx yy zz"
        ));
    }
}
