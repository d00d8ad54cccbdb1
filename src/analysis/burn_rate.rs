//! SLO error-budget burn rate, with several windows (the SRE workbook's multiwindow alerts):
//! roll back when, for some pair, both the long and the short window burn the budget at least
//! `factor` times as fast as the SLO allows. The short window makes it stop firing soon after
//! a problem ends; the long one keeps a blip from firing.

use std::time::Duration;

/// One rule: e.g. 1 h and 5 min at 14.4× (2% of a 30-day budget in an hour).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Window {
    pub long: Duration,
    pub short: Duration,
    pub factor: f64,
}

/// The workbook's page-worthy pair for a 30-day SLO.
pub const DEFAULT_WINDOWS: [Window; 2] = [
    Window {
        long: Duration::from_secs(3600),
        short: Duration::from_secs(300),
        factor: 14.4,
    },
    Window {
        long: Duration::from_secs(6 * 3600),
        short: Duration::from_secs(1800),
        factor: 6.0,
    },
];

/// Per-interval counts with their end times, kept for the longest window.
#[derive(Clone, Debug, Default)]
pub struct BurnRate {
    /// (end, events, total), oldest first.
    intervals: Vec<(Duration, f64, f64)>,
}

/// A rule that fired, with what it saw.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Burning {
    pub window: Window,
    pub long_burn: f64,
    pub short_burn: f64,
}

impl Burning {
    /// "burn rate 15× over 1h and 20.2× over 5m, at least 14.4× (SLO budget)".
    pub fn explain(&self) -> String {
        let d = |d: Duration| crate::plan::Duration(d).to_string();
        format!(
            "burns the SLO's error budget {:.1}× too fast over {} and {:.1}× over {} (limit {}×)",
            self.long_burn,
            d(self.window.long),
            self.short_burn,
            d(self.window.short),
            self.window.factor
        )
    }
}

impl BurnRate {
    pub fn push(&mut self, end: Duration, events: f64, total: f64) {
        self.intervals.push((end, events.max(0.0), total.max(0.0)));
    }

    /// The burn rate over the last `window` before `now` (as much of it as there is data for:
    /// in a rollout shorter than the window, the whole rollout), for an SLO of `objective`
    /// (0.999 for 99.9%).
    pub fn burn(&self, now: Duration, window: Duration, objective: f64) -> Option<f64> {
        let from = now.saturating_sub(window);
        let (e, t) = self
            .intervals
            .iter()
            .filter(|(end, _, _)| *end > from && *end <= now)
            .fold((0.0, 0.0), |(e, t), (_, ie, it)| (e + ie, t + it));
        (t > 0.0).then(|| (e / t) / (1.0 - objective))
    }

    /// The first rule both of whose windows burn at or above its factor.
    pub fn firing(&self, now: Duration, objective: f64, windows: &[Window]) -> Option<Burning> {
        windows.iter().find_map(|w| {
            let long = self.burn(now, w.long, objective)?;
            let short = self.burn(now, w.short, objective)?;
            (long >= w.factor && short >= w.factor).then_some(Burning {
                window: *w,
                long_burn: long,
                short_burn: short,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn min(m: u64) -> Duration {
        Duration::from_secs(60 * m)
    }

    #[test]
    fn the_workbooks_numbers() {
        // 99.9%: a 0.1% budget. 1.44% errors burn it 14.4 times too fast.
        let mut b = BurnRate::default();
        for m in 1..=60 {
            b.push(min(m), 144.0, 10_000.0);
        }
        let burn = b.burn(min(60), min(60), 0.999).unwrap();
        assert!((burn - 14.4).abs() < 1e-9, "{burn}");
        let mut over = BurnRate::default();
        for m in 1..=60 {
            over.push(min(m), 150.0, 10_000.0);
        }
        let fired = over.firing(min(60), 0.999, &DEFAULT_WINDOWS).unwrap();
        assert_eq!(fired.window, DEFAULT_WINDOWS[0]);
        assert!((fired.long_burn - 15.0).abs() < 1e-9);
    }

    #[test]
    fn a_blip_fires_neither_window_pair_and_a_recovery_stops_the_short_one() {
        let mut b = BurnRate::default();
        for m in 1..=60 {
            // Five bad minutes (20% errors) in an hour at 0.05% otherwise.
            let events = if (30..35).contains(&m) { 2000.0 } else { 5.0 };
            b.push(min(m), events, 10_000.0);
        }
        // The hour burns 1.7% / 0.1% = 17× but the last 5 minutes only 0.5×.
        assert!(b.burn(min(60), min(60), 0.999).unwrap() > 14.4);
        assert!(b.burn(min(60), min(5), 0.999).unwrap() < 1.0);
        let hourly = &DEFAULT_WINDOWS[..1];
        assert_eq!(b.firing(min(60), 0.999, hourly), None);
        // At minute 34, both windows burn.
        assert!(b.firing(min(34), 0.999, hourly).is_some());
        assert_eq!(BurnRate::default().burn(min(1), min(5), 0.999), None);
    }
}
