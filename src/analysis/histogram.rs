//! Latency histograms as Prometheus keeps them: cumulative bucket counts by upper bound `le`.
//! Quantiles and "share slower than L" come from the distribution itself, never from averaged
//! percentiles.

/// Cumulative counts by upper bound, sorted by bound; the last bound may be +Inf.
pub type Buckets = [(f64, f64)];

/// The `q` quantile as Prometheus' `histogram_quantile` computes it: linear interpolation in
/// the bucket that holds it, from 0 for the first bucket; in the +Inf bucket, the largest
/// finite bound. `None` without observations.
pub fn quantile(q: f64, buckets: &Buckets) -> Option<f64> {
    let total = buckets.last()?.1;
    if total <= 0.0 || !(0.0..=1.0).contains(&q) {
        return None;
    }
    let rank = q * total;
    let i = buckets.iter().position(|(_, c)| *c >= rank)?;
    let (le, count) = buckets[i];
    if le.is_infinite() {
        return buckets[..i].last().map(|b| b.0);
    }
    let (lower, below) = if i == 0 {
        (0.0f64.min(le), 0.0)
    } else {
        buckets[i - 1]
    };
    let inside = count - below;
    if inside <= 0.0 {
        return Some(le);
    }
    Some(lower + (le - lower) * (rank - below) / inside)
}

/// Observations above `le` (which must be a bucket bound) and in all, or `None` if `le` is not
/// one of the bounds.
pub fn above(le: f64, buckets: &Buckets) -> Option<(f64, f64)> {
    let total = buckets.last()?.1;
    let at = buckets.iter().find(|(b, _)| *b == le)?.1;
    Some((total - at, total))
}

/// The smallest bound at or above which at most `1 - q` of the observations lie: the bucket
/// bound a "slower than the baseline's p-q" comparison counts against.
pub fn bound_for(q: f64, buckets: &Buckets) -> Option<f64> {
    let total = buckets.last()?.1;
    (total > 0.0)
        .then(|| {
            buckets
                .iter()
                .find(|(le, c)| le.is_finite() && *c >= q * total)
        })
        .flatten()
        .map(|b| b.0)
}

/// Per-bucket differences of two cumulative readings (the interval between them); a counter
/// reset (a smaller reading) counts the new reading whole.
pub fn delta(now: &Buckets, before: &Buckets) -> Vec<(f64, f64)> {
    now.iter()
        .map(|(le, c)| {
            let prev = before
                .iter()
                .find(|(b, _)| b == le)
                .map(|b| b.1)
                .unwrap_or(0.0);
            (*le, if *c >= prev { c - prev } else { *c })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: [(f64, f64); 5] = [
        (0.1, 50.0),
        (0.25, 80.0),
        (0.5, 95.0),
        (1.0, 99.0),
        (f64::INFINITY, 100.0),
    ];

    #[test]
    fn quantiles_interpolate_as_prometheus_does() {
        // p50: rank 50 ends the first bucket: 0.1. p90: rank 90 in (0.25, 0.5], 10 of 15 in.
        assert_eq!(quantile(0.5, &B), Some(0.1));
        assert!((quantile(0.9, &B).unwrap() - (0.25 + 0.25 * 10.0 / 15.0)).abs() < 1e-12);
        // p25: in the first bucket, from 0.
        assert!((quantile(0.25, &B).unwrap() - 0.05).abs() < 1e-12);
        // p99.5 is in the +Inf bucket: the largest finite bound.
        assert_eq!(quantile(0.995, &B), Some(1.0));
        assert_eq!(quantile(0.5, &[(0.1, 0.0), (f64::INFINITY, 0.0)]), None);
    }

    #[test]
    fn shares_bounds_and_deltas() {
        assert_eq!(above(0.25, &B), Some((20.0, 100.0)));
        assert_eq!(above(0.3, &B), None);
        assert_eq!(bound_for(0.95, &B), Some(0.5));
        assert_eq!(bound_for(0.99, &B), Some(1.0));
        let before = [
            (0.1, 40.0),
            (0.25, 60.0),
            (0.5, 70.0),
            (1.0, 70.0),
            (f64::INFINITY, 71.0),
        ];
        assert_eq!(
            delta(&B, &before),
            vec![
                (0.1, 10.0),
                (0.25, 20.0),
                (0.5, 25.0),
                (1.0, 29.0),
                (f64::INFINITY, 29.0)
            ]
        );
        // A reset: the new reading counts whole.
        let after_reset = [
            (0.1, 5.0),
            (0.25, 6.0),
            (0.5, 6.0),
            (1.0, 6.0),
            (f64::INFINITY, 6.0),
        ];
        assert_eq!(delta(&after_reset, &B)[0], (0.1, 5.0));
    }
}
