//! Mann-Whitney U on per-interval values of a scalar series (CPU, memory, a business KPI), the
//! judge Kayenta uses: do the canary's values sit higher (or lower) than the baseline's, by
//! more than the check's tolerance? A fixed-horizon test: it judges a phase's observations
//! once, at the phase's end, not every interval.

use statrs::distribution::{ContinuousCDF, Normal};

/// The test's result, as scipy's `mannwhitneyu(canary, baseline, method="asymptotic")` gives
/// it: U of the canary, and the two-sided p-value from the normal approximation with tie
/// correction and continuity correction.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Result {
    pub u: f64,
    pub p_two_sided: f64,
    /// Whether the canary's values rank above the baseline's (U above its mean).
    pub canary_higher: bool,
}

/// Kayenta's classes for one metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    Pass,
    High,
    Low,
    NoData,
}

/// Fewest values per side to judge.
pub const MIN_VALUES: usize = 3;

pub fn test(canary: &[f64], baseline: &[f64]) -> Option<Result> {
    let (n1, n2) = (canary.len(), baseline.len());
    if n1 == 0 || n2 == 0 {
        return None;
    }
    let mut all: Vec<(f64, bool)> = canary
        .iter()
        .map(|v| (*v, true))
        .chain(baseline.iter().map(|v| (*v, false)))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Midranks for ties, and the tie term of the variance.
    let (mut rank_sum, mut ties, mut i) = (0.0, 0.0, 0);
    while i < all.len() {
        let j = i + all[i..].iter().take_while(|v| v.0 == all[i].0).count();
        let midrank = (i + 1 + j) as f64 / 2.0;
        rank_sum += midrank * all[i..j].iter().filter(|v| v.1).count() as f64;
        let t = (j - i) as f64;
        ties += t * t * t - t;
        i = j;
    }
    let (a, b) = (n1 as f64, n2 as f64);
    let n = a + b;
    let u = rank_sum - a * (a + 1.0) / 2.0;
    let mean = a * b / 2.0;
    let var = a * b / 12.0 * ((n + 1.0) - ties / (n * (n - 1.0)));
    let p_two_sided = if var <= 0.0 {
        1.0
    } else {
        let z = ((u.max(a * b - u)) - mean - 0.5) / var.sqrt();
        let normal = Normal::standard();
        (2.0 * normal.sf(z)).min(1.0)
    };
    Some(Result {
        u,
        p_two_sided,
        canary_higher: u > mean,
    })
}

/// Classifies the canary against the baseline: High (or Low) when the difference is
/// significant at `alpha` and the canary's median is beyond `tolerance` (relative: 0.1 is 10%)
/// of the baseline's; NoData with fewer than [`MIN_VALUES`] per side.
pub fn classify(
    canary: &[f64],
    baseline: &[f64],
    tolerance: f64,
    alpha: f64,
) -> (Class, Option<Result>) {
    if canary.len() < MIN_VALUES || baseline.len() < MIN_VALUES {
        return (Class::NoData, None);
    }
    let Some(r) = test(canary, baseline) else {
        return (Class::NoData, None);
    };
    let (mc, mb) = (median(canary), median(baseline));
    let beyond_up = mc > mb + tolerance * mb.abs();
    let beyond_down = mc < mb - tolerance * mb.abs();
    let class = match (r.p_two_sided < alpha, r.canary_higher) {
        (true, true) if beyond_up => Class::High,
        (true, false) if beyond_down => Class::Low,
        _ => Class::Pass,
    };
    (class, Some(r))
}

pub fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let k = s.len();
    if k % 2 == 1 {
        s[k / 2]
    } else {
        (s[k / 2 - 1] + s[k / 2]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Reference values from scipy 1.17.1:
    // `mannwhitneyu(x, y, alternative="two-sided", method="asymptotic")`. statrs' normal tail
    // agrees with scipy's to about 1e-11, hence the tolerance.

    // Hollander & Wolfe's data, as in scipy's examples; 3.14 is a measurement, not π.
    #[allow(clippy::approx_constant)]
    #[test]
    fn matches_scipy_without_ties() {
        let x = [1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30];
        let y = [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29];
        let r = test(&x, &y).unwrap();
        assert_eq!(r.u, 58.0);
        assert!(
            (r.p_two_sided - 0.132_919_458_185_318_92).abs() < 1e-10,
            "{r:?}"
        );
        assert!(r.canary_higher);
    }

    #[test]
    fn matches_scipy_with_ties() {
        let x = [1.0, 2.0, 2.0, 3.0, 3.0, 3.0, 4.0, 5.0];
        let y = [3.0, 4.0, 4.0, 5.0, 5.0, 6.0, 7.0, 7.0, 8.0];
        let r = test(&x, &y).unwrap();
        assert_eq!(r.u, 7.5);
        assert!(
            (r.p_two_sided - 0.006_373_133_838_085_873).abs() < 1e-10,
            "{r:?}"
        );
        assert!(!r.canary_higher);
        // Swapped, the canary ranks higher with U = 72 - 7.5.
        let s = test(&y, &x).unwrap();
        assert_eq!(s.u, 64.5);
        assert!(s.canary_higher);
        assert!((s.p_two_sided - r.p_two_sided).abs() < 1e-15);
    }

    #[test]
    fn kayenta_classes() {
        let base = [50.0, 52.0, 49.0, 51.0, 50.0, 48.0, 50.0, 53.0];
        let high = [70.0, 72.0, 69.0, 71.0, 73.0, 70.0, 68.0, 71.0];
        let near = [51.0, 53.0, 50.0, 52.0, 51.0, 49.0, 51.0, 54.0];
        assert_eq!(classify(&high, &base, 0.1, 0.05).0, Class::High);
        assert_eq!(classify(&base, &high, 0.1, 0.05).0, Class::Low);
        // Within 10%: a pass even if it ranks a little higher.
        assert_eq!(classify(&near, &base, 0.1, 0.05).0, Class::Pass);
        assert_eq!(classify(&high[..2], &base, 0.1, 0.05).0, Class::NoData);
    }
}
