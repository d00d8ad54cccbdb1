//! The two-proportion z-test: a fixed-horizon option only. It judges a phase's counts once,
//! at the phase's end; run every interval it would inflate false rollbacks far beyond its
//! level, which is what the sequential test is for.

use statrs::distribution::{ContinuousCDF, Normal};

/// z and the one-sided p-value for "the canary's rate exceeds the baseline's by more than
/// `margin` (absolute)", with the pooled standard error (statsmodels' `proportions_ztest`
/// with `alternative="larger"`, when `margin` is 0). `None` without traffic or events.
pub fn test(
    canary_events: f64,
    canary_total: f64,
    baseline_events: f64,
    baseline_total: f64,
    margin: f64,
) -> Option<(f64, f64)> {
    if canary_total <= 0.0 || baseline_total <= 0.0 {
        return None;
    }
    let (p1, p2) = (
        canary_events / canary_total,
        baseline_events / baseline_total,
    );
    let pooled = (canary_events + baseline_events) / (canary_total + baseline_total);
    let se = (pooled * (1.0 - pooled) * (1.0 / canary_total + 1.0 / baseline_total)).sqrt();
    if se <= 0.0 {
        return None;
    }
    let z = (p1 - p2 - margin) / se;
    Some((z, Normal::standard().sf(z)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn matches_statsmodels() {
        // statsmodels 0.14: proportions_ztest([30, 18], [1000, 1000], alternative="larger").
        let (z, p) = super::test(30.0, 1000.0, 18.0, 1000.0, 0.0).unwrap();
        assert!((z - 1.753_217_183_295_691_5).abs() < 1e-12, "{z}");
        // statrs' normal tail agrees with scipy's to about 1e-11.
        assert!((p - 0.039_782_367_296_595_25).abs() < 1e-10, "{p}");
        // With a 10% relative margin on a 5% baseline (scipy's norm.sf for the same z).
        let (z, p) = super::test(12.0, 100.0, 45.0, 900.0, 0.1 * 0.05).unwrap();
        assert!((z - 2.659_753_182_159_857).abs() < 1e-12, "{z}");
        assert!((p - 0.003_909_896_635_193_532).abs() < 1e-10, "{p}");
        assert_eq!(super::test(0.0, 0.0, 1.0, 10.0, 0.0), None);
    }
}
