//! Judging an observation window as a whole, at its end: Mann-Whitney U on the window's
//! per-interval values (`method: mann-whitney`) and the two-proportion z-test on its summed
//! counts (`method: z-test`). Pure: the window's numbers in, a verdict with its numbers and
//! its words out; the runner asks and emits.

use super::mann_whitney::{self, Class};
use super::sequential::Counts;
use super::threshold::show;
use crate::event::{Method, Verdict};
use crate::plan::check::{Check, OnNoData, Unit};
use crate::plan::Quantity;

/// What an observation window gathered for one check.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WindowSamples {
    /// Per evaluation with both values: the canary's and the baseline's.
    pub canary: Vec<f64>,
    pub baseline: Vec<f64>,
    /// The window's counts, summed.
    pub counts: Counts,
}

impl WindowSamples {
    /// Adds one evaluation's values (when both groups had one) and counts.
    pub fn add(&mut self, canary: Option<f64>, baseline: Option<f64>, counts: Option<Counts>) {
        if let (Some(c), Some(b)) = (canary, baseline) {
            self.canary.push(c);
            self.baseline.push(b);
        }
        if let Some(n) = counts {
            self.counts += n;
        }
    }
}

/// A window's verdict, with the numbers behind it.
#[derive(Clone, Debug, PartialEq)]
pub struct WindowVerdict {
    pub method: Method,
    pub verdict: Verdict,
    /// "Mann-Whitney: High, median 340ms vs baseline 210ms (U = 3, p = 0.002 < 0.01)".
    pub why: String,
    /// U or z.
    pub statistic: Option<f64>,
    pub p_value: Option<f64>,
    /// The canary's and the baseline's value over the window: medians, or rates.
    pub canary: Option<f64>,
    pub baseline: Option<f64>,
}

/// The verdict on `window` of a check whose method judges windows; `None` for other methods.
pub fn judge_window(check: &Check, window: &WindowSamples) -> Option<WindowVerdict> {
    match check.method? {
        Method::MannWhitney => Some(mann_whitney_verdict(check, window)),
        Method::ZTest => Some(z_test_verdict(check, window.counts)),
        Method::Threshold | Method::Sequential => None,
    }
}

/// A relative tolerance's fraction; 0 for none.
fn relative(q: Option<Quantity>) -> f64 {
    match q {
        Some(Quantity::Percent(p)) => p,
        _ => 0.0,
    }
}

fn mann_whitney_verdict(check: &Check, window: &WindowSamples) -> WindowVerdict {
    let unit = check.unit();
    let alpha = check.level();
    let tolerance = relative(check.max_increase.or(check.max_decrease));
    let (class, result) =
        mann_whitney::classify(&window.canary, &window.baseline, tolerance, alpha);
    let median = |v: &[f64]| (!v.is_empty()).then(|| mann_whitney::median(v));
    let (canary, baseline) = (median(&window.canary), median(&window.baseline));
    // Which side is bad: the one a tolerance is stated for; with none, either.
    let bad_high = check.max_increase.is_some() || check.max_decrease.is_none();
    let bad_low = check.max_decrease.is_some() || check.max_increase.is_none();
    let medians = match (canary, baseline) {
        (Some(c), Some(b)) => format!("median {} vs baseline {}", show(c, unit), show(b, unit)),
        _ => String::new(),
    };
    let stats = result
        .map(|r| format!("U = {}, p = {}", r.u, show(r.p_two_sided, Unit::Number)))
        .unwrap_or_default();
    let (verdict, why) = match class {
        Class::High if bad_high => (
            Verdict::Fail,
            format!("Mann-Whitney: High, {medians} ({stats} < {alpha})"),
        ),
        Class::Low if bad_low => (
            Verdict::Fail,
            format!("Mann-Whitney: Low, {medians} ({stats} < {alpha})"),
        ),
        Class::NoData => (
            match check.on_no_data {
                OnNoData::Pass => Verdict::Pass,
                OnNoData::Fail => Verdict::Fail,
                OnNoData::Inconclusive | OnNoData::Hold => Verdict::Inconclusive,
            },
            format!(
                "Mann-Whitney: fewer than {} values per group in the window",
                mann_whitney::MIN_VALUES
            ),
        ),
        _ => (
            Verdict::Pass,
            format!("Mann-Whitney: Pass, {medians} ({stats})"),
        ),
    };
    WindowVerdict {
        method: Method::MannWhitney,
        verdict,
        why,
        statistic: result.map(|r| r.u),
        p_value: result.map(|r| r.p_two_sided),
        canary,
        baseline,
    }
}

fn z_test_verdict(check: &Check, counts: Counts) -> WindowVerdict {
    let unit = check.unit();
    let alpha = check.level();
    let Counts {
        canary_events: x,
        canary_total: n,
        baseline_events: y,
        baseline_total: m,
    } = counts;
    // An absolute margin as written, or a relative one of the baseline's rate.
    let margin = match check.max_increase {
        Some(Quantity::Points(pp)) => pp,
        q if m > 0.0 => relative(q) * y / m,
        _ => 0.0,
    };
    let rate = |e: f64, t: f64| (t > 0.0).then(|| e / t);
    let Some((z, p)) = super::z_test::test(x, n, y, m, margin) else {
        return WindowVerdict {
            method: Method::ZTest,
            verdict: Verdict::Inconclusive,
            why: "z-test: no traffic in the window".into(),
            statistic: None,
            p_value: None,
            canary: None,
            baseline: None,
        };
    };
    let show_rate = |r: Option<f64>| r.map(|r| show(r, unit)).unwrap_or_default();
    let what = format!(
        "z-test over the window: {} vs baseline {} (z = {z:.2}, p = {})",
        show_rate(rate(x, n)),
        show_rate(rate(y, m)),
        show(p, Unit::Number)
    );
    let (verdict, why) = if p < alpha {
        (Verdict::Fail, format!("{what} < {alpha}"))
    } else {
        (Verdict::Pass, what)
    };
    WindowVerdict {
        method: Method::ZTest,
        verdict,
        why,
        statistic: Some(z),
        p_value: Some(p),
        canary: rate(x, n),
        baseline: rate(y, m),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(yaml: &str) -> Check {
        let v = crate::plan::load::load("c.yaml", yaml).unwrap().value;
        serde_json::from_value(v).unwrap()
    }

    fn values(canary: &[f64], baseline: &[f64]) -> WindowSamples {
        WindowSamples {
            canary: canary.to_vec(),
            baseline: baseline.to_vec(),
            counts: Counts::default(),
        }
    }

    #[test]
    fn other_methods_are_not_judged_by_window() {
        let c = check("{ source: p, canary: q, baseline: b, max-increase: 10% }");
        assert_eq!(judge_window(&c, &values(&[1.0; 5], &[1.0; 5])), None);
    }

    #[test]
    fn mann_whitney_names_the_side_and_the_medians() {
        let c = check(
            "{ source: p, canary: q, baseline: b, method: mann-whitney, max-increase: 10%, unit: milliseconds }",
        );
        let slow = values(
            &[
                300.0, 305.0, 310.0, 315.0, 320.0, 325.0, 330.0, 335.0, 340.0,
            ],
            &[
                200.0, 202.0, 205.0, 208.0, 210.0, 212.0, 215.0, 218.0, 220.0,
            ],
        );
        let v = judge_window(&c, &slow).unwrap();
        assert_eq!(v.verdict, Verdict::Fail);
        assert!(
            v.why
                .starts_with("Mann-Whitney: High, median 320ms vs baseline 210ms (U = "),
            "{}",
            v.why
        );
        assert_eq!((v.canary, v.baseline), (Some(320.0), Some(210.0)));
        // Faster is not worse when only an increase is bounded.
        let v = judge_window(&c, &values(&slow.baseline, &slow.canary)).unwrap();
        assert_eq!(v.verdict, Verdict::Pass);
        let v = judge_window(&c, &values(&[1.0], &[1.0])).unwrap();
        assert_eq!(
            (v.verdict, v.why.as_str()),
            (
                Verdict::Inconclusive,
                "Mann-Whitney: fewer than 3 values per group in the window"
            )
        );
    }

    #[test]
    fn z_test_compares_the_window_rates() {
        let c = check(
            "{ source: p, canary: { events: e, total: t }, baseline: { events: f, total: u }, method: z-test, max-increase: 10% }",
        );
        let window = |x, n, y, m| WindowSamples {
            counts: Counts {
                canary_events: x,
                canary_total: n,
                baseline_events: y,
                baseline_total: m,
            },
            ..WindowSamples::default()
        };
        let v = judge_window(&c, &window(60.0, 2000.0, 100.0, 18000.0)).unwrap();
        assert_eq!(v.verdict, Verdict::Fail);
        assert_eq!((v.canary, v.baseline), (Some(0.03), Some(100.0 / 18000.0)));
        assert!(
            v.why
                .starts_with("z-test over the window: 3% vs baseline 0.556% (z = "),
            "{}",
            v.why
        );
        assert!(v.why.ends_with(" < 0.01"), "{}", v.why);
        let v = judge_window(&c, &window(10.0, 2000.0, 100.0, 18000.0)).unwrap();
        assert_eq!(v.verdict, Verdict::Pass);
        let v = judge_window(&c, &window(0.0, 0.0, 0.0, 0.0)).unwrap();
        assert_eq!(
            (v.verdict, v.why.as_str()),
            (Verdict::Inconclusive, "z-test: no traffic in the window")
        );
    }
}
