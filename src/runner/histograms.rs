//! Checks on latency histograms, over the whole run: the bucket counters read at each
//! evaluation become per-interval distributions (a bucket that went down was reset, and counts
//! whole), which give the check's value (the interval's quantile, canary and baseline) and feed
//! the latency test. The first reading is the zero point, and the baseline's counters then are
//! its history, which places the quantiles the test judges.

use crate::analysis::histogram::{delta, quantile};
use crate::analysis::latency::{LatencyTest, Waiting};
use crate::event::Evidence;
use crate::providers::metrics::Buckets;
use std::time::Duration;

/// One reading of a histogram check: the canary's buckets and the baseline's.
#[derive(Clone, Debug, PartialEq)]
pub struct Reading {
    pub canary: Buckets,
    pub baseline: Option<Buckets>,
}

/// What one interval added, per bucket.
#[derive(Clone, Debug, PartialEq)]
pub struct Interval {
    pub canary: Buckets,
    pub baseline: Option<Buckets>,
}

/// A histogram check's state in a run.
#[derive(Debug)]
pub struct Histograms {
    quantile: f64,
    last: Option<(Duration, Reading)>,
    latest: Option<Interval>,
    /// Canary requests since the first reading.
    pub canary_total: f64,
    test: Option<LatencyTest>,
    pub evidence: Option<Evidence>,
}

impl Interval {
    /// The interval's `q` quantile: the canary's, and the baseline's.
    pub fn quantiles(&self, q: f64) -> (Option<f64>, Option<f64>) {
        (
            quantile(q, &self.canary),
            self.baseline.as_ref().and_then(|b| quantile(q, b)),
        )
    }
}

impl Histograms {
    /// `quantile`: the one shown as the check's value. `test`: the latency test to feed, for
    /// the canary compared with its baseline.
    pub fn new(quantile: f64, test: Option<LatencyTest>) -> Histograms {
        Histograms {
            quantile,
            last: None,
            latest: None,
            canary_total: 0.0,
            test,
            evidence: None,
        }
    }

    pub fn quantile(&self) -> f64 {
        self.quantile
    }

    /// Why the test cannot judge yet, if it cannot.
    pub fn waiting(&self) -> Option<Waiting> {
        let test = self.test.as_ref()?;
        if !test.ready() {
            let baseline = self.last.as_ref().and_then(|(_, r)| r.baseline.as_ref());
            let have = baseline.and_then(|b| b.last()).map_or(0.0, |b| b.1);
            return Some(Waiting::Baseline(have, test.history_needed()));
        }
        test.pairs().is_empty().then_some(Waiting::NoBounds)
    }

    /// Takes a reading made at `at`; returns the interval since the previous one (`None` for
    /// the first reading). Readings closer together than `same` are one reading.
    pub fn read(&mut self, at: Duration, r: Reading, same: Duration) -> Option<Interval> {
        let Some((then, before)) = self.last.take() else {
            self.choose(&r);
            self.last = Some((at, r));
            return None;
        };
        if at.saturating_sub(then) < same {
            self.last = Some((then, before));
            return self.latest.clone();
        }
        let interval = Interval {
            canary: delta(&r.canary, &before.canary),
            baseline: match (&r.baseline, &before.baseline) {
                (Some(now), Some(b)) => Some(delta(now, b)),
                _ => None,
            },
        };
        self.canary_total += interval.canary.last().map_or(0.0, |b| b.1);
        if let (Some(test), Some(baseline)) = (&mut self.test, &interval.baseline) {
            if test.ready() {
                if let Some(e) = test.update(&interval.canary, baseline) {
                    self.evidence = Some(e);
                }
            }
        }
        // The counters up to now are the history the next intervals are judged against.
        self.choose(&r);
        self.last = Some((at, r));
        self.latest = Some(interval.clone());
        Some(interval)
    }

    /// Chooses the test's comparisons from the baseline's counters so far, once they hold
    /// enough; only intervals after them are weighed.
    fn choose(&mut self, r: &Reading) {
        if let (Some(test), Some(baseline)) = (&mut self.test, &r.baseline) {
            test.choose(baseline, &r.canary);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn h(counts: [f64; 3]) -> Buckets {
        vec![
            (0.1, counts[0]),
            (0.25, counts[1]),
            (f64::INFINITY, counts[2]),
        ]
    }

    #[test]
    fn buckets_become_intervals_and_their_quantiles() {
        let same = Duration::from_millis(100);
        let mut c = Histograms::new(0.5, None);
        let first = Reading {
            canary: h([0.0, 0.0, 0.0]),
            baseline: Some(h([500.0, 900.0, 1000.0])),
        };
        assert_eq!(c.read(at(0), first, same), None);
        let next = Reading {
            canary: h([60.0, 90.0, 100.0]),
            baseline: Some(h([950.0, 1710.0, 1900.0])),
        };
        let i = c.read(at(60), next.clone(), same).unwrap();
        assert_eq!(i.canary, h([60.0, 90.0, 100.0]));
        assert_eq!(i.baseline, Some(h([450.0, 810.0, 900.0])));
        // Canary p50: rank 50 of 60 in the first bucket, from 0: 0.1 × 50/60. Baseline p50:
        // rank 450 ends the first bucket: 0.1.
        let (canary, baseline) = i.quantiles(0.5);
        assert!((canary.unwrap() - 0.1 * 50.0 / 60.0).abs() < 1e-12);
        assert_eq!(baseline, Some(0.1));
        assert_eq!(
            c.read(at(60), next, same),
            Some(i),
            "the same moment: one interval"
        );
        assert_eq!(c.canary_total, 100.0);
    }

    #[test]
    fn the_baseline_history_is_awaited_then_judged_against() {
        let same = Duration::from_millis(100);
        let mut c = Histograms::new(0.9, Some(LatencyTest::new(0.9, 0.1, 0.01)));
        // 100 baseline requests cannot place p90 with 20 above it: 200 are needed.
        let thin = Reading {
            canary: h([0.0, 0.0, 0.0]),
            baseline: Some(h([50.0, 95.0, 100.0])),
        };
        c.read(at(0), thin, same);
        assert_eq!(c.waiting(), Some(Waiting::Baseline(100.0, 200.0)));
        let more = Reading {
            canary: h([50.0, 95.0, 100.0]),
            baseline: Some(h([500.0, 950.0, 1000.0])),
        };
        c.read(at(60), more, same);
        // Placed now: 0.25 s against the baseline's 0.227 s (7% slower than it, above p90).
        assert_eq!(c.waiting(), None);
        assert!(
            c.evidence.is_none(),
            "the interval before the choice is not weighed"
        );
        let after = Reading {
            canary: h([90.0, 170.0, 200.0]),
            baseline: Some(h([950.0, 1805.0, 1900.0])),
        };
        c.read(at(120), after, same);
        let e = c.evidence.expect("weighed");
        assert_eq!(e.slower.unwrap().canary_than, 0.25);
        // The canary's share slower than 0.25 s in the interval it weighed: 25 of 100.
        assert_eq!(e.canary_rate, Some(0.25));
    }

    #[test]
    fn without_usable_bounds_it_says_so() {
        let same = Duration::from_millis(100);
        let mut c = Histograms::new(0.9, Some(LatencyTest::new(0.9, 0.1, 0.01)));
        // Only one finite bound: nothing lies between two bounds.
        let one = |n: f64| vec![(0.1, n / 2.0), (f64::INFINITY, n)];
        c.read(
            at(0),
            Reading {
                canary: one(0.0),
                baseline: Some(one(10_000.0)),
            },
            same,
        );
        assert_eq!(c.waiting(), Some(Waiting::NoBounds));
    }
}
