//! Order statistics of timings: medians and quartiles, which a stray slow
//! sample (another build starting on this 2-core machine) cannot move.

use std::time::Duration;

/// The `q`-quantile (0.0..=1.0) of `samples`, by linear interpolation.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let ms = |n| Duration::from_millis(n);
/// assert_eq!(benches::stats::quantile(&[ms(3), ms(1), ms(2)], 0.5), ms(2));
/// ```
pub fn quantile(samples: &[Duration], q: f64) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    let position = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let (low, high) = (position.floor() as usize, position.ceil() as usize);
    let fraction = position - low as f64;
    let low_s = sorted[low].as_secs_f64();
    let high_s = sorted[high].as_secs_f64();
    Duration::from_secs_f64(low_s + (high_s - low_s) * fraction)
}

/// The median of `samples`.
pub fn median(samples: &[Duration]) -> Duration {
    quantile(samples, 0.5)
}

/// The median of the paired differences `a[i] - b[i]` in seconds (negative
/// when `a` is faster): the overhead of `a` over `b` measured in the same
/// rounds, so that drift between rounds cancels.
pub fn median_difference(a: &[Duration], b: &[Duration]) -> f64 {
    let mut differences: Vec<f64> = a
        .iter()
        .zip(b)
        .map(|(a, b)| a.as_secs_f64() - b.as_secs_f64())
        .collect();
    if differences.is_empty() {
        return 0.0;
    }
    differences.sort_by(f64::total_cmp);
    let middle = differences.len() / 2;
    if differences.len() % 2 == 1 {
        differences[middle]
    } else {
        (differences[middle - 1] + differences[middle]) / 2.0
    }
}

/// A duration for a table: µs below 1 ms, ms below 1 s, s above.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// assert_eq!(benches::stats::format(Duration::from_micros(250)), "250 µs");
/// assert_eq!(benches::stats::format(Duration::from_micros(2_500)), "2.50 ms");
/// ```
pub fn format(duration: Duration) -> String {
    format_seconds(duration.as_secs_f64())
}

/// As [`format`], for a signed number of seconds.
pub fn format_seconds(seconds: f64) -> String {
    let magnitude = seconds.abs();
    if magnitude < 1e-3 {
        format!("{:.0} µs", seconds * 1e6)
    } else if magnitude < 1.0 {
        format!("{:.2} ms", seconds * 1e3)
    } else {
        format!("{seconds:.2} s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paired_differences_ignore_a_common_drift() {
        let ms = |n: u64| Duration::from_millis(n);
        let a = [ms(11), ms(21), ms(31)];
        let b = [ms(10), ms(20), ms(30)];
        assert!((median_difference(&a, &b) - 0.001).abs() < 1e-9);
        assert_eq!(quantile(&[ms(1), ms(3)], 0.5), ms(2));
    }
}
