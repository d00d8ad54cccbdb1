//! Latency judged over whole histograms: is any quantile of the canary's latency, from a named
//! one up, more than `tolerance` slower than the baseline's? Anytime-valid, like the rate test
//! it is built from, and without a bucket bound in the plan.
//!
//! "No quantile from p-q up is more than (1 + τ) times the baseline's" is the same statement
//! as "for every latency x above the baseline's p-q, the canary's share slower than (1 + τ)x is
//! at most the baseline's share slower than x". So each bucket bound b of the canary's
//! histogram gives a comparison of two rates: canary requests slower than b against baseline
//! requests slower than b / (1 + τ), which the null hypothesis says is at least as large. Each
//! such pair is [`RateRatioTest`] at null ratio 1, whose conditioning makes incidents, traffic
//! swings and weight changes cancel; the evidence is the pairs' average, an average of
//! e-processes with weights fixed in advance, so still one.
//!
//! b / (1 + τ) is seldom a bound of the baseline's histogram. Its count is then read between the
//! two bounds around it as (1 - θ)·(slower than the lower) + θ·(slower than the upper), with θ
//! fixed before the test from the baseline's history (its counters at the first reading) by
//! taking latency to be locally log-normal between the two bounds: the normal quantile of the
//! share below is interpolated linearly in log latency. That is exact for log-normal latency and
//! on the safe side for tails heavier than log-normal; Prometheus' `histogram_quantile` makes a
//! stronger assumption (linear within a bucket). Finer buckets make it matter less.
//!
//! The pairs judged are chosen once, from that history: those whose baseline latency
//! b / (1 + τ) lies at or above the baseline's p-q and where the baseline has at least a
//! hundredth of the share above p-q (pairs with nothing above them can never decide). Until
//! the history holds enough requests to place p-q, the test waits.

use super::histogram::{self, Buckets};
use super::sequential::{Counts, RateRatioTest};
use crate::event::{Evidence, Slower};
use statrs::distribution::{ContinuousCDF, Normal};

/// Requests the baseline's history needs above the judged quantile before pairs are chosen.
const HISTORY_ABOVE: f64 = 20.0;
/// A pair is judged only if the baseline has at least this fraction of the share above the
/// judged quantile slower than its latency.
const SHARE_FLOOR: f64 = 0.01;

/// Why a histogram check cannot be judged yet.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Waiting {
    /// The baseline's counters hold too few requests to place the judged quantile:
    /// (requests counted, requests needed).
    Baseline(f64, f64),
    /// No bound of the canary's histogram lies where the test can use it.
    NoBounds,
}

/// One comparison: canary requests slower than `bound`, baseline's slower than `point`.
#[derive(Clone, Debug)]
struct Pair {
    bound: f64,
    point: f64,
    /// The baseline's bounds around `point`, and how far between them it lies.
    lower: f64,
    upper: f64,
    theta: f64,
    test: RateRatioTest,
    evidence: Option<Evidence>,
}

/// The test's state over a run.
#[derive(Clone, Debug)]
pub struct LatencyTest {
    tolerance: f64,
    alpha: f64,
    quantile: f64,
    /// `None` until chosen from the baseline's history.
    pairs: Option<Vec<Pair>>,
}

/// The count above `le` (an exact bound of `b`); `None` if `le` is not a bound.
fn above(le: f64, b: &Buckets) -> Option<f64> {
    histogram::above(le, b).map(|(above, _)| above)
}

/// Where `x` lies between the bounds of `history` around it: (lower, upper, θ), θ from the
/// locally log-normal reading; `None` when `x` is not between two finite positive bounds.
fn between(x: f64, history: &Buckets) -> Option<(f64, f64, f64)> {
    let total = history.last()?.1;
    let finite: Vec<(f64, f64)> = history
        .iter()
        .copied()
        .filter(|(le, _)| le.is_finite() && *le > 0.0)
        .collect();
    if let Some(&(le, _)) = finite.iter().find(|(le, _)| *le == x) {
        return Some((le, le, 0.0));
    }
    let i = finite.iter().position(|(le, _)| *le > x)?;
    let ((lower, below_lower), (upper, below_upper)) = (*finite.get(i.checked_sub(1)?)?, finite[i]);
    let (f_lower, f_upper) = (below_lower / total, below_upper / total);
    let linear = (x - lower) / (upper - lower);
    let inside = |f: f64| f > 0.0 && f < 1.0;
    if !(inside(f_lower) && inside(f_upper) && f_upper > f_lower) {
        // Nothing to shape the interpolation by; nothing to weigh it either when the bucket is
        // empty.
        return Some((lower, upper, linear));
    }
    let normal = Normal::standard();
    let (z_lower, z_upper) = (normal.inverse_cdf(f_lower), normal.inverse_cdf(f_upper));
    let z = z_lower + (z_upper - z_lower) * (x / lower).ln() / (upper / lower).ln();
    let theta = (normal.cdf(z) - f_lower) / (f_upper - f_lower);
    Some((lower, upper, theta.clamp(0.0, 1.0)))
}

impl LatencyTest {
    /// A test of "no quantile from `quantile` up is more than `1 + tolerance` times the
    /// baseline's", at level `alpha` over the whole run.
    pub fn new(quantile: f64, tolerance: f64, alpha: f64) -> LatencyTest {
        assert!((0.0..1.0).contains(&quantile) && tolerance >= 0.0);
        LatencyTest {
            tolerance,
            alpha,
            quantile,
            pairs: None,
        }
    }

    /// Baseline requests its history needs before the pairs can be chosen.
    pub fn history_needed(&self) -> f64 {
        // Less a hair: 20 / 0.1 is 200, not 200.000…1.
        (HISTORY_ABOVE / (1.0 - self.quantile) - 1e-9).ceil()
    }

    /// Whether the pairs are chosen.
    pub fn ready(&self) -> bool {
        self.pairs.is_some()
    }

    /// The pairs judged, as (canary's bound, baseline's latency), once chosen.
    pub fn pairs(&self) -> Vec<(f64, f64)> {
        self.pairs
            .iter()
            .flatten()
            .map(|p| (p.bound, p.point))
            .collect()
    }

    /// Chooses the pairs from the baseline's history (cumulative counts before the intervals
    /// the test will weigh) and the canary's bucket bounds; `false` while the history is too
    /// thin to place the judged quantile. Chosen once.
    pub fn choose(&mut self, history: &Buckets, canary: &Buckets) -> bool {
        if self.pairs.is_some() {
            return true;
        }
        let Some(&(_, total)) = history.last() else {
            return false;
        };
        if total < self.history_needed() {
            return false;
        }
        let tail = 1.0 - self.quantile;
        let mut pairs = Vec::new();
        for &(bound, _) in canary.iter().filter(|(le, _)| le.is_finite()) {
            let point = bound / (1.0 + self.tolerance);
            let Some((lower, upper, theta)) = between(point, history) else {
                continue;
            };
            let (Some(a), Some(b)) = (above(lower, history), above(upper, history)) else {
                continue;
            };
            let share = ((1.0 - theta) * a + theta * b) / total;
            if share <= tail && share >= tail * SHARE_FLOOR {
                pairs.push(Pair {
                    bound,
                    point,
                    lower,
                    upper,
                    theta,
                    test: RateRatioTest::new(1.0, self.alpha),
                    evidence: None,
                });
            }
        }
        self.pairs = Some(pairs);
        true
    }

    /// Weighs one interval's histograms (per-bucket counts in the interval, cumulative by
    /// bound); the evidence so far, `None` before the pairs are chosen or if none could be.
    pub fn update(&mut self, canary: &Buckets, baseline: &Buckets) -> Option<Evidence> {
        let pairs = self.pairs.as_mut().filter(|p| !p.is_empty())?;
        let (canary_total, baseline_total) = (canary.last()?.1, baseline.last()?.1);
        for p in pairs.iter_mut() {
            let counts = match (
                above(p.bound, canary),
                above(p.lower, baseline),
                above(p.upper, baseline),
            ) {
                (Some(x), Some(a), Some(b)) => Counts {
                    canary_events: x,
                    canary_total,
                    baseline_events: (1.0 - p.theta) * a + p.theta * b,
                    baseline_total,
                },
                // A bound missing this interval (a layout changed): this pair weighs nothing.
                _ => Counts::default(),
            };
            p.evidence = Some(p.test.update(counts));
        }
        let e_value = pairs
            .iter()
            .flat_map(|p| p.evidence)
            .map(|e| e.e_value)
            .sum::<f64>()
            / pairs.len() as f64;
        let leading = pairs
            .iter()
            .filter_map(|p| Some((p, p.evidence?)))
            .max_by(|a, b| a.1.e_value.total_cmp(&b.1.e_value))?;
        let (pair, e) = leading;
        Some(Evidence {
            e_value,
            slower: Some(Slower {
                canary_than: pair.bound,
                baseline_than: pair.point,
                tolerance: self.tolerance,
            }),
            ..e
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use statrs::distribution::LogNormal;

    const LAYOUT: [f64; 11] = [
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ];

    /// Expected cumulative counts of `n` log-normal latencies (median `median`, σ 0.5).
    fn histogram(n: f64, median: f64) -> Vec<(f64, f64)> {
        let d = LogNormal::new(median.ln(), 0.5).unwrap();
        LAYOUT
            .iter()
            .map(|le| (*le, (n * d.cdf(*le)).round()))
            .chain([(f64::INFINITY, n)])
            .collect()
    }

    #[test]
    fn the_interpolation_is_exact_for_log_normal_latency() {
        // Between 0.1 and 0.25 of a log-normal with median 0.1 and σ 0.5, at 0.25/1.1: the share
        // below, by statrs' log-normal CDF, against the reading from the two bounds alone.
        let d = LogNormal::new(0.1f64.ln(), 0.5).unwrap();
        let h: Vec<(f64, f64)> = LAYOUT
            .iter()
            .map(|le| (*le, d.cdf(*le)))
            .chain([(f64::INFINITY, 1.0)])
            .collect();
        let x = 0.25 / 1.1;
        let (lower, upper, theta) = between(x, &h).unwrap();
        assert_eq!((lower, upper), (0.1, 0.25));
        let read = d.cdf(0.1) + theta * (d.cdf(0.25) - d.cdf(0.1));
        assert!((read - d.cdf(x)).abs() < 1e-9, "{read} vs {}", d.cdf(x));
        // Linear interpolation (histogram_quantile's) would say 0.896; the truth is 0.950.
        assert!((d.cdf(x) - 0.949_70).abs() < 1e-5, "{}", d.cdf(x));
        // A bound itself: exact, and outside the finite bounds: nothing.
        assert_eq!(between(0.25, &h), Some((0.25, 0.25, 0.0)));
        assert_eq!(between(0.001, &h), None);
        assert_eq!(between(20.0, &h), None);
    }

    #[test]
    fn pairs_lie_above_the_judged_quantile_where_the_baseline_has_requests() {
        let history = histogram(100_000.0, 0.1);
        let mut t = LatencyTest::new(0.9, 0.1, 0.01);
        assert!(!t.choose(&histogram(150.0, 0.1), &history), "too thin");
        assert!(t.choose(&history, &history));
        // p90 is 0.19 s: 0.25 (vs 0.227) and 0.5 (vs 0.455, 0.12% slower, above 0.1% of
        // 10%); 1 s (vs 0.909, about 1 in a million) is never reached.
        let pairs = t.pairs();
        assert_eq!(pairs.len(), 2, "{pairs:?}");
        assert_eq!(pairs[0].0, 0.25);
        assert!((pairs[0].1 - 0.25 / 1.1).abs() < 1e-12);
        assert_eq!(pairs[1].0, 0.5);
    }

    #[test]
    fn one_interval_is_the_average_of_the_pairs_rate_tests() {
        let history = histogram(100_000.0, 0.1);
        let mut t = LatencyTest::new(0.9, 0.1, 0.01);
        t.choose(&history, &history);
        let canary = histogram(1000.0, 0.13);
        let baseline = histogram(9000.0, 0.1);
        let e = t.update(&canary, &baseline).unwrap();
        // By hand: each pair's own rate test on (canary above b, baseline read at b/1.1).
        let mut sum = 0.0;
        let mut best = (0.0, 0.0);
        for (bound, point) in t.pairs() {
            let (lower, upper, theta) = between(point, &history).unwrap();
            let mut r = RateRatioTest::new(1.0, 0.01);
            let x = above(bound, &canary).unwrap();
            let y = (1.0 - theta) * above(lower, &baseline).unwrap()
                + theta * above(upper, &baseline).unwrap();
            let one = r.update(Counts {
                canary_events: x,
                canary_total: 1000.0,
                baseline_events: y,
                baseline_total: 9000.0,
            });
            sum += one.e_value;
            if one.e_value > best.0 {
                best = (one.e_value, bound);
            }
        }
        assert!((e.e_value - sum / 2.0).abs() < 1e-12);
        assert_eq!(e.slower.unwrap().canary_than, best.1);
        assert_eq!(e.bound, 100.0);
    }

    #[test]
    fn a_slower_canary_is_caught_and_a_tolerated_one_is_not() {
        let history = histogram(100_000.0, 0.1);
        let run = |median: f64| {
            let mut t = LatencyTest::new(0.5, 0.1, 0.01);
            t.choose(&history, &history);
            (1..=120).find(|_| {
                t.update(&histogram(100.0, median), &histogram(900.0, 0.1))
                    .unwrap()
                    .regressed()
            })
        };
        // Expected counts, every minute: 25% slower is caught within the hour; 5% never.
        let caught = run(0.125).expect("25% slower is caught");
        assert!((3..60).contains(&caught), "{caught}");
        assert_eq!(run(0.105), None);
    }
}
