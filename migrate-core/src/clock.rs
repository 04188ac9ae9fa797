//! `applied_at` timestamps: UTC, RFC 3339 with microseconds, fixed width, so
//! that text order is time order, and strictly increasing within a history
//! so that "the order steps were applied" is never ambiguous.

use chrono::{DateTime, SecondsFormat, SubsecRound, TimeDelta, Utc};

fn format(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// `now`, or one microsecond after `newest` when `now` is not past it
/// (fast steps, a clock stepped back, another machine's clock ahead).
pub(crate) fn after_at(newest: Option<&str>, now: DateTime<Utc>) -> String {
    let Some(newest) = newest.and_then(|text| DateTime::parse_from_rfc3339(text).ok()) else {
        return format(now);
    };
    let newest = newest.with_timezone(&Utc);
    // Truncate to what is stored, then compare.
    if now.trunc_subsecs(6) > newest {
        format(now)
    } else {
        format(newest + TimeDelta::microseconds(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_increase_strictly_and_sort_as_text() {
        let future = "2999-01-01T00:00:00.999999Z";
        let after = |newest| after_at(newest, Utc::now());
        assert_eq!(after(Some(future)), "2999-01-01T00:00:01.000000Z");
        let first = after(None);
        let second = after(Some(&first));
        assert!(second > first, "{second} > {first}");
        assert_eq!(first.len(), "2026-11-21T10:00:00.000000Z".len());
    }
}
