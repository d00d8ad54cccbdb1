//! Checks on counts, over the whole run: the `events` and `total` counters read at each
//! evaluation become per-interval increments (a counter that went down was reset, and counts
//! whole), which feed the check's value (events over total in the interval), its sample count
//! (requests since the first reading) and, with a baseline, the sequential test.

use crate::analysis::burn_rate::{BurnRate, Burning, Window};
use crate::analysis::sequential::{Counts, RateRatioTest};
use crate::event::Evidence;
use std::time::Duration;

/// One reading of a count check's counters: canary's (events, total) and the baseline's.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Reading {
    pub canary: (f64, f64),
    pub baseline: Option<(f64, f64)>,
}

/// What one interval added.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Interval {
    pub canary: (f64, f64),
    pub baseline: Option<(f64, f64)>,
}

impl Interval {
    /// As the statistics take it; a baseline without counters counts nothing.
    pub fn counts(&self) -> Counts {
        let (baseline_events, baseline_total) = self.baseline.unwrap_or((0.0, 0.0));
        Counts {
            canary_events: self.canary.0,
            canary_total: self.canary.1,
            baseline_events,
            baseline_total,
        }
    }

    /// Events over total: the canary's, and the baseline's.
    pub fn rates(&self) -> (Option<f64>, Option<f64>) {
        let rate = |(e, t): (f64, f64)| (t > 0.0).then(|| e / t);
        (rate(self.canary), self.baseline.and_then(rate))
    }
}

/// A count check's state in a run.
#[derive(Debug)]
pub struct Counting {
    last: Option<(Duration, Reading)>,
    latest: Option<Interval>,
    /// Canary requests since the first reading.
    pub canary_total: f64,
    test: Option<RateRatioTest>,
    pub evidence: Option<Evidence>,
    /// The canary's burn rates against an SLO: (history, objective, rules).
    burn: Option<(BurnRate, f64, Vec<Window>)>,
    pub burning: Option<Burning>,
}

fn increase(now: f64, before: f64) -> f64 {
    if now >= before {
        now - before
    } else {
        now
    }
}

impl Counting {
    /// `test`: the sequential test to feed, for a check compared with its baseline.
    /// `slo`: its objective (0.999) and burn-rate rules, for a check that has one.
    pub fn new(test: Option<RateRatioTest>, slo: Option<(f64, Vec<Window>)>) -> Counting {
        Counting {
            last: None,
            latest: None,
            canary_total: 0.0,
            test,
            evidence: None,
            burn: slo.map(|(o, w)| (BurnRate::default(), o, w)),
            burning: None,
        }
    }

    /// Takes a reading made at `at`; returns the interval since the previous one (`None` for
    /// the first reading). Readings closer together than `same` are one reading: a check and
    /// a trigger looking at the same moment see the same interval, counted once.
    pub fn read(&mut self, at: Duration, r: Reading, same: Duration) -> Option<Interval> {
        let Some((then, before)) = self.last else {
            self.last = Some((at, r));
            return None;
        };
        if at.saturating_sub(then) < same {
            return self.latest;
        }
        let pair = |now: (f64, f64), before: (f64, f64)| {
            (increase(now.0, before.0), increase(now.1, before.1))
        };
        let interval = Interval {
            canary: pair(r.canary, before.canary),
            baseline: match (r.baseline, before.baseline) {
                (Some(now), Some(b)) => Some(pair(now, b)),
                _ => None,
            },
        };
        self.last = Some((at, r));
        self.latest = Some(interval);
        self.canary_total += interval.canary.1;
        if let Some((rates, objective, rules)) = &mut self.burn {
            rates.push(at, interval.canary.0, interval.canary.1);
            self.burning = rates.firing(at, *objective, rules);
        }
        if let (Some(test), Some(_)) = (&mut self.test, interval.baseline) {
            self.evidence = Some(test.update(interval.counts()));
        }
        Some(interval)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn reading(ce: f64, ct: f64, be: f64, bt: f64) -> Reading {
        Reading {
            canary: (ce, ct),
            baseline: Some((be, bt)),
        }
    }

    #[test]
    fn counters_become_intervals_once_each() {
        let same = Duration::from_millis(100);
        let mut c = Counting::new(Some(RateRatioTest::new(1.0, 0.01)), None);
        assert_eq!(c.read(at(0), reading(0.0, 0.0, 10.0, 1000.0), same), None);
        let i = c
            .read(at(60), reading(1.0, 100.0, 14.0, 1900.0), same)
            .unwrap();
        assert_eq!(i.canary, (1.0, 100.0));
        assert_eq!(i.baseline, Some((4.0, 900.0)));
        assert_eq!(i.rates(), (Some(0.01), Some(4.0 / 900.0)));
        // The same moment again (a trigger): the same interval, not a second one.
        let again = c.read(at(60), reading(1.0, 100.0, 14.0, 1900.0), same);
        assert_eq!(again, Some(i));
        assert_eq!(c.canary_total, 100.0);
        // A canary restart resets its counters: the new reading counts whole.
        let i = c
            .read(at(120), reading(0.0, 40.0, 18.0, 2800.0), same)
            .unwrap();
        assert_eq!(i.canary, (0.0, 40.0));
        assert_eq!(c.canary_total, 140.0);
        let e = c.evidence.unwrap();
        assert_eq!(e.canary_rate, Some(1.0 / 140.0));
    }
}
