//! Durations on the command line (`--lock-timeout 500ms`): one parser, the
//! value parser of every option that takes one, so that they all read the
//! same forms and refuse the same way (clap's usage error, exit 2).
//!
//! The forms are a number and a unit, `ms`, `s`, `m` or `h` (`500ms`, `2s`,
//! `1.5s`, `1m`, `1h`), or a bare `0`. The number is read as decimal text,
//! not as a float, so that `0.1s` is exactly 100 ms; digits finer than a
//! nanosecond are dropped. Nothing else is guessed at: a number without a
//! unit (`5`: seconds or milliseconds?), a sign, a space or another unit is
//! refused, naming the forms.

use std::time::Duration;

/// The units, with their length in nanoseconds; `ms` before `s`, so that
/// `500ms` is not read as `500m` and an `s`.
const UNITS: [(&str, u128); 4] = [
    ("ms", 1_000_000),
    ("h", 3_600_000_000_000),
    ("m", 60_000_000_000),
    ("s", 1_000_000_000),
];

/// What every refusal says to do.
const FORMS: &str = "use a number with ms, s, m or h, as in 500ms, 2s or 1m";

/// Reads a duration as the command line writes it: `500ms`, `2s`, `1.5s`,
/// `1m`, `1h`, or `0`.
///
/// # Errors
///
/// One sentence naming the input and the forms: for anything else, and for
/// a duration too long for [`Duration`].
pub(crate) fn parse_duration(input: &str) -> Result<Duration, String> {
    if input == "0" {
        return Ok(Duration::ZERO);
    }
    let not_a_duration = || {
        if input.is_empty() {
            format!("an empty value is not a duration; {FORMS}")
        } else {
            format!("`{input}` is not a duration; {FORMS}")
        }
    };
    let (number, unit) = UNITS
        .iter()
        .find_map(|&(unit, nanos)| Some((input.strip_suffix(unit)?, nanos)))
        .ok_or_else(not_a_duration)?;
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let digits = |text: &str| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || (number.contains('.') && !digits(fraction)) {
        return Err(not_a_duration());
    }
    let too_long = || format!("`{input}` is too long a duration; {FORMS}");
    let mut nanos = whole
        .bytes()
        .try_fold(0u128, |total, digit| {
            total.checked_mul(10)?.checked_add(u128::from(digit - b'0'))
        })
        .and_then(|count| count.checked_mul(unit))
        .ok_or_else(too_long)?;
    // Each digit after the point is worth a tenth of the one before it.
    let mut place = unit;
    for digit in fraction.bytes() {
        place /= 10;
        nanos = nanos.saturating_add(u128::from(digit - b'0') * place);
    }
    let seconds = u64::try_from(nanos / 1_000_000_000).map_err(|_| too_long())?;
    let rest = u32::try_from(nanos % 1_000_000_000).expect("below a second");
    Ok(Duration::new(seconds, rest))
}

/// A duration as the command line writes it, for messages: whole hours,
/// minutes or seconds in that unit (`1m`, `90s`), otherwise milliseconds
/// (`1500ms`), with a decimal point below one (`0.25ms`), or `0`. It reads back as
/// the same duration, to the nanosecond.
pub(crate) fn shown(duration: Duration) -> String {
    let nanos = duration.as_nanos();
    if nanos == 0 {
        return "0".to_owned();
    }
    UNITS
        .iter()
        .filter(|&&(_, unit)| nanos.is_multiple_of(unit))
        .max_by_key(|&&(_, unit)| unit)
        .map_or_else(
            || format!("{}ms", decimal(nanos, 1_000_000)),
            |&(name, unit)| format!("{}{name}", nanos / unit),
        )
}

/// `nanos / unit` in decimal, without trailing zeros after the point.
fn decimal(nanos: u128, unit: u128) -> String {
    let fraction = format!("{:09}", nanos % unit * (1_000_000_000 / unit));
    format!("{}.{}", nanos / unit, fraction.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_duration_is_shown_as_written_and_reads_back() {
        for (duration, text) in [
            (Duration::ZERO, "0"),
            (Duration::from_secs(1), "1s"),
            (Duration::from_secs(90), "90s"),
            (Duration::from_secs(120), "2m"),
            (Duration::from_secs(7200), "2h"),
            (Duration::from_millis(1500), "1500ms"),
            (Duration::from_millis(30_000), "30s"),
            (Duration::from_micros(250), "0.25ms"),
            (Duration::new(1, 1), "1000.000001ms"),
        ] {
            assert_eq!(shown(duration), text);
            assert_eq!(parse_duration(text), Ok(duration), "{text}");
        }
    }

    #[test]
    fn the_documented_forms_read_as_written() {
        for (input, expected) in [
            ("0", Duration::ZERO),
            ("0ms", Duration::ZERO),
            ("0s", Duration::ZERO),
            ("500ms", Duration::from_millis(500)),
            ("2s", Duration::from_secs(2)),
            ("1.5s", Duration::from_millis(1500)),
            ("0.1s", Duration::from_millis(100)),
            ("1m", Duration::from_secs(60)),
            ("1.5m", Duration::from_secs(90)),
            ("1h", Duration::from_secs(3600)),
            ("0.25h", Duration::from_secs(900)),
            ("1.5ms", Duration::from_micros(1500)),
            ("007s", Duration::from_secs(7)),
            // Finer than a nanosecond: dropped.
            ("1.0000000019s", Duration::new(1, 1)),
            // The longest there is.
            ("18446744073709551615s", Duration::new(u64::MAX, 0)),
        ] {
            assert_eq!(parse_duration(input), Ok(expected), "{input}");
        }
    }

    #[test]
    fn anything_else_is_refused_naming_the_forms() {
        for input in [
            "5", "5x", "-1s", "+1s", "1 s", " 1s", "1s ", "1S", "1sec", "1.s", ".5s", "1..5s",
            "1.5.s", "s", "ms", "0x10s", "1e3ms", "1d", "1us", "0.0", "00", "1,5s", "½s",
        ] {
            assert_eq!(
                parse_duration(input),
                Err(format!(
                    "`{input}` is not a duration; use a number with ms, s, m or h, as in 500ms, 2s or 1m"
                )),
                "{input}"
            );
        }
        assert_eq!(
            parse_duration(""),
            Err(
                "an empty value is not a duration; use a number with ms, s, m or h, as in 500ms, 2s or 1m"
                    .to_owned()
            )
        );
    }

    #[test]
    fn a_duration_too_long_to_count_is_refused() {
        for input in [
            "18446744073709551616s",
            "5124095576030432h",
            "99999999999999999999999999999999999999999h",
        ] {
            assert_eq!(
                parse_duration(input),
                Err(format!(
                    "`{input}` is too long a duration; use a number with ms, s, m or h, as in 500ms, 2s or 1m"
                )),
                "{input}"
            );
        }
    }

    /// Every `u32` with every unit reads back as that many of the unit: a
    /// sweep of the whole range (its ends, each power of two and its
    /// neighbours, and a fixed pseudo-random sample), without a dependency
    /// on a property-testing crate.
    #[test]
    fn any_u32_with_each_unit_round_trips() {
        let mut samples: Vec<u32> = vec![0, 1, 9, 10, 99, 100, 999, 1000, u32::MAX];
        for power in 0..32 {
            let two = 1u32 << power;
            samples.extend([two - 1, two, two.saturating_add(1)]);
        }
        let mut state = 0x9E37_79B9_u32;
        for _ in 0..2_000 {
            // xorshift32: a fixed sequence, so a failure reproduces.
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            samples.push(state);
        }
        for n in samples {
            let n64 = u64::from(n);
            for (unit, expected) in [
                ("ms", Duration::from_millis(n64)),
                ("s", Duration::from_secs(n64)),
                ("m", Duration::from_secs(n64 * 60)),
                ("h", Duration::from_secs(n64 * 3600)),
            ] {
                assert_eq!(
                    parse_duration(&format!("{n}{unit}")),
                    Ok(expected),
                    "{n}{unit}"
                );
            }
        }
    }
}
