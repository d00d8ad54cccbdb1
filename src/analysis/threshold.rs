//! Threshold verdicts: one evaluation of one check, explained.

use crate::analysis::burn_rate::Burning;
use crate::analysis::latency::Waiting;
use crate::analysis::sequential::Counts;
use crate::event::Evidence;
use crate::event::Method;
use crate::event::Verdict;
use crate::plan::check::{Check, OnNoData, Unit};
use crate::plan::Quantity;

/// What one evaluation saw.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Observed {
    pub canary: Option<f64>,
    pub baseline: Option<f64>,
    /// Requests behind the canary's value (its `samples` query), or data points seen so far.
    pub samples: Option<f64>,
    /// Whether the metric source failed rather than answering "no data".
    pub source_down: bool,
    /// For a check on counts with a baseline: the sequential test's evidence so far.
    pub evidence: Option<Evidence>,
    /// For a check on counts: this was the counters' first reading, with no interval before it.
    pub first_reading: bool,
    /// For a check on counts with an `slo`: the burn-rate rule that fires, if one does.
    pub burning: Option<Burning>,
    /// For a check on counts: this interval's, for methods that judge a window's sums.
    pub counts: Option<Counts>,
    /// For a histogram check: why its test cannot judge yet.
    pub waiting: Option<Waiting>,
}

/// A verdict with its explanation.
#[derive(Clone, Debug, PartialEq)]
pub struct Judged {
    pub verdict: Verdict,
    pub why: Option<String>,
}

/// A threshold in the unit the check's query returns.
pub fn in_unit(q: Quantity, unit: Unit) -> f64 {
    match (q, unit) {
        (Quantity::Seconds(s), Unit::Milliseconds) => s * 1000.0,
        (q, _) => q.value(),
    }
}

/// A value for people, in the check's unit: `1.2%`, `340ms`, `0.93`.
pub fn show(v: f64, unit: Unit) -> String {
    // Measured values to 3 significant digits (15.6%, not 15.555556%); the exact value is in
    // the events.
    show_to(v, unit, 3)
}

/// `v` as it is held against `bound`: with the digits that tell them apart, so a value just
/// past a bound never reads as the bound itself ("10.04% > critical 10%", not "10% > critical
/// 10%").
pub fn show_apart(v: f64, bound: f64, unit: Unit) -> String {
    let bound = show(bound, unit);
    (3..=12)
        .map(|digits| show_to(v, unit, digits))
        .find(|shown| *shown != bound)
        .unwrap_or_else(|| show_to(v, unit, 15))
}

fn show_to(v: f64, unit: Unit, digits: i32) -> String {
    let q = match unit {
        Unit::Ratio => Quantity::Percent(significant(v * 100.0, digits) / 100.0),
        Unit::Seconds => Quantity::Seconds(significant(v, digits)),
        Unit::Milliseconds => Quantity::Seconds(significant(v, digits) / 1000.0),
        Unit::Number => Quantity::Number(significant(v, digits)),
    };
    q.to_string()
}

fn significant(v: f64, digits: i32) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    let scale = 10f64.powi(digits - 1 - v.abs().log10().floor() as i32);
    (v * scale).round() / scale
}

/// The check's thresholds as the plan wrote them: "max 1%, critical 2x, +0.5pp vs baseline".
pub fn describe(c: &Check) -> String {
    let mut parts = Vec::new();
    if let Some(m) = c.max {
        parts.push(format!("max {m}"));
    }
    if let Some(m) = c.min {
        parts.push(format!("min {m}"));
    }
    if let Some(q) = c.critical {
        parts.push(format!("critical {q}"));
    }
    if c.sequential() {
        let level = c
            .false_rollbacks
            .map(|q| q.to_string())
            .unwrap_or_else(|| "1%".into());
        let tolerance = c.max_increase.map(|q| format!(" +{q}")).unwrap_or_default();
        let what = if c.histogram() {
            format!("{} and above", crate::plan::units::Quantile(c.quantile()))
        } else {
            "rate".into()
        };
        parts.push(format!(
            "sequential: {what} ≤ baseline's{tolerance}, false rollbacks ≤ {level}"
        ));
    } else {
        match c.method {
            Some(Method::MannWhitney) => parts.push("Mann-Whitney per window".into()),
            Some(Method::ZTest) => parts.push("z-test per window".into()),
            _ => {}
        }
        if let Some(q) = c.max_increase {
            parts.push(format!("+{q} vs baseline"));
        }
        if let Some(q) = c.max_decrease {
            parts.push(format!("-{q} vs baseline"));
        }
    }
    if let Some(slo) = &c.slo {
        parts.push(format!("SLO {}", slo.objective));
    }
    parts.join(", ")
}

/// How far from the baseline `b` the canary may go, upwards (`up`) or downwards, for a
/// tolerance written relative (`10%`) or absolute (`0.5pp`, `50ms`, a number).
pub fn baseline_limit(tol: Quantity, b: f64, unit: Unit, up: bool) -> f64 {
    let delta = match tol {
        Quantity::Percent(p) => b * p,
        q => in_unit(q, unit),
    };
    if up {
        b + delta
    } else {
        b - delta
    }
}

/// The check's fixed bounds in the query's unit, named as a person reads them ("max 1%",
/// "critical 2%"); bounds relative to the baseline move with it and are not among them.
pub fn fixed_bounds(c: &Check, unit: Unit) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    if let Some(m) = c.max {
        let v = in_unit(m, unit);
        out.push((format!("max {}", show(v, unit)), v));
    }
    if let Some(m) = c.min {
        let v = in_unit(m, unit);
        out.push((format!("min {}", show(v, unit)), v));
    }
    if let Some((v, _)) = critical(c, unit) {
        out.push((format!("critical {}", show(v, unit)), v));
    }
    out
}

/// The critical bound in the query's unit, if the check has one.
fn critical(c: &Check, unit: Unit) -> Option<(f64, bool)> {
    let crit = c.critical?;
    let upper = c.max.is_some();
    let bound = match (crit, c.max, c.min) {
        (Quantity::Factor(f), Some(m), _) => in_unit(m, unit) * f,
        (Quantity::Factor(f), None, Some(m)) => in_unit(m, unit) / f,
        (q, _, _) => in_unit(q, unit),
    };
    Some((bound, upper))
}

/// What the sequential test saw, over every interval it weighed (the run so far, not only the
/// last interval): "1.02% vs baseline 0.5% over the run so far (2.04×, tolerance 1.1×):
/// e-value 143 ≥ 100".
pub fn explain(e: &Evidence, unit: Unit) -> String {
    if let Some(slower) = e.slower {
        return explain_latency(e, slower, unit);
    }
    let rate = |r: Option<f64>| r.map(|r| show(r, unit)).unwrap_or_else(|| "no data".into());
    let (ratio, op) = ratio_and_verdict(e);
    format!(
        "{} vs baseline {} over the run so far ({ratio}, tolerance {}×): e-value {} {op} {}",
        rate(e.canary_rate),
        rate(e.baseline_rate),
        e.null_ratio,
        show(e.e_value, Unit::Number),
        e.bound
    )
}

/// The evidence's ratio as shown ("2.04×"), and how its e-value stands to the bound.
fn ratio_and_verdict(e: &Evidence) -> (String, &'static str) {
    let ratio = e
        .ratio
        .map(|r| format!("{r:.2}×"))
        .unwrap_or_else(|| "no ratio".into());
    (ratio, if e.regressed() { "≥" } else { "<" })
}

/// What the latency test saw, for its leading comparison: "7.1% of canary requests slower than
/// 250ms vs 5.05% of baseline's slower than 227ms (= 250ms / 1.1) over the run so far (1.41×):
/// e-value 143 ≥ 100".
fn explain_latency(e: &Evidence, slower: crate::event::Slower, unit: Unit) -> String {
    let share = |r: Option<f64>| {
        r.map(|r| show(r, Unit::Ratio))
            .unwrap_or_else(|| "no data".into())
    };
    let (ratio, op) = ratio_and_verdict(e);
    format!(
        "{} of canary requests slower than {} vs {} of baseline's slower than {} (= {} / {}) over the run so far ({ratio}): e-value {} {op} {}",
        share(e.canary_rate),
        show(slower.canary_than, unit),
        share(e.baseline_rate),
        show(slower.baseline_than, unit),
        show(slower.canary_than, unit),
        1.0 + slower.tolerance,
        show(e.e_value, Unit::Number),
        e.bound
    )
}

/// Judges one evaluation of `c`, whose query returns `unit`.
pub fn judge(c: &Check, unit: Unit, seen: Observed) -> Judged {
    if seen.first_reading {
        return Judged {
            verdict: Verdict::Inconclusive,
            why: Some("first reading of the counters".into()),
        };
    }
    let Some(v) = seen.canary else {
        let why = if seen.source_down {
            "metric source down"
        } else {
            "no data"
        };
        let verdict = match c.on_no_data {
            OnNoData::Pass => Verdict::Pass,
            OnNoData::Fail => Verdict::Fail,
            OnNoData::Inconclusive | OnNoData::Hold => Verdict::Inconclusive,
        };
        return Judged {
            verdict,
            why: Some(why.into()),
        };
    };
    let s = |x: f64| show(x, unit);
    let apart = |x: f64, bound: f64| show_apart(x, bound, unit);
    match seen.waiting {
        Some(Waiting::Baseline(have, need)) => {
            return Judged {
                verdict: Verdict::Inconclusive,
                why: Some(format!(
                    "the baseline's histogram holds {have:.0} requests; {need:.0} are needed to place {}",
                    crate::plan::units::Quantile(c.quantile())
                )),
            }
        }
        Some(Waiting::NoBounds) => {
            return Judged {
                verdict: Verdict::Inconclusive,
                why: Some(format!(
                    "no bucket bound of the histogram can judge {} +{}: each needs the baseline's bounds on both sides of it less the tolerance, above {}, with requests slower",
                    crate::plan::units::Quantile(c.quantile()),
                    c.max_increase.unwrap_or(Quantity::Percent(0.0)),
                    crate::plan::units::Quantile(c.quantile())
                )),
            }
        }
        None => {}
    }
    // Too few requests say nothing yet, not even about a critical bound: one error in three
    // requests at 1% traffic is no reason to roll back.
    if let (Some(min), Some(n)) = (c.min_samples, seen.samples) {
        if n < min as f64 {
            return Judged {
                verdict: Verdict::Inconclusive,
                why: Some(format!("{n:.0} samples < {min}")),
            };
        }
    }
    if let Some(b) = seen.burning {
        return Judged {
            verdict: Verdict::Fail,
            why: Some(b.explain()),
        };
    }
    // The sequential test decides the comparison with the baseline, over the whole rollout.
    if let Some(e) = seen.evidence {
        if e.regressed() {
            return Judged {
                verdict: Verdict::Fail,
                why: Some(explain(&e, unit)),
            };
        }
    }
    if let Some((bound, upper)) = critical(c, unit) {
        if (upper && v > bound) || (!upper && v < bound) {
            let op = if upper { ">" } else { "<" };
            return Judged {
                verdict: Verdict::Critical,
                why: Some(format!("{} {op} critical {}", apart(v, bound), s(bound))),
            };
        }
    }
    if let Some(m) = c.max.map(|m| in_unit(m, unit)) {
        if v > m {
            return Judged {
                verdict: Verdict::Fail,
                why: Some(format!("{} > max {}", apart(v, m), s(m))),
            };
        }
    }
    if let Some(m) = c.min.map(|m| in_unit(m, unit)) {
        if v < m {
            return Judged {
                verdict: Verdict::Fail,
                why: Some(format!("{} < min {}", apart(v, m), s(m))),
            };
        }
    }
    if let (Some(b), true) = (seen.baseline, c.compares_each_value()) {
        for (tol, up) in [(c.max_increase, true), (c.max_decrease, false)] {
            let Some(tol) = tol else { continue };
            // A relative tolerance needs a baseline to be relative to.
            if matches!(tol, Quantity::Percent(_)) && b == 0.0 {
                continue;
            }
            let limit = baseline_limit(tol, b, unit, up);
            if (up && v > limit) || (!up && v < limit) {
                let dir = if up { "above" } else { "below" };
                return Judged {
                    verdict: Verdict::Fail,
                    why: Some(format!(
                        "{} is {dir} baseline {} by more than {tol}",
                        s(v),
                        s(b)
                    )),
                };
            }
        }
    }
    Judged {
        verdict: Verdict::Pass,
        why: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(yaml: &str) -> Check {
        let v = crate::plan::load::load("c.yaml", yaml).unwrap().value;
        serde_json::from_value(v).unwrap()
    }

    fn seen(canary: f64, baseline: Option<f64>) -> Observed {
        Observed {
            canary: Some(canary),
            baseline,
            ..Observed::default()
        }
    }

    #[test]
    fn absolute_and_critical_bounds() {
        let c = check("{ source: p, canary: q, max: 1%, critical: 2x }");
        assert_eq!(
            judge(&c, Unit::Ratio, seen(0.005, None)).verdict,
            Verdict::Pass
        );
        let j = judge(&c, Unit::Ratio, seen(0.015, None));
        assert_eq!(
            (j.verdict, j.why.as_deref()),
            (Verdict::Fail, Some("1.5% > max 1%"))
        );
        let j = judge(&c, Unit::Ratio, seen(0.03, None));
        assert_eq!(
            (j.verdict, j.why.as_deref()),
            (Verdict::Critical, Some("3% > critical 2%"))
        );
    }

    #[test]
    fn a_value_just_past_its_bound_shows_the_digits_that_make_it_so() {
        let c = check("{ source: p, canary: q, max: 5%, critical: 10% }");
        let j = judge(&c, Unit::Ratio, seen(0.10036, None));
        assert_eq!(j.why.as_deref(), Some("10.04% > critical 10%"));
        let j = judge(&c, Unit::Ratio, seen(0.0500001, None));
        assert_eq!(j.why.as_deref(), Some("5.00001% > max 5%"));
        assert_eq!(show_apart(0.25, 0.1, Unit::Ratio), "25%");
    }

    #[test]
    fn baseline_comparisons() {
        let c = check("{ source: p, canary: q, baseline: b, max: 5%, max-increase: 0.5pp }");
        assert_eq!(
            judge(&c, Unit::Ratio, seen(0.012, Some(0.01))).verdict,
            Verdict::Pass
        );
        let j = judge(&c, Unit::Ratio, seen(0.02, Some(0.01)));
        assert_eq!(
            j.why.as_deref(),
            Some("2% is above baseline 1% by more than 0.5pp")
        );
        let lat = check(
            "{ source: p, canary: q, baseline: b, unit: milliseconds, max: 1s, max-increase: 10% }",
        );
        assert_eq!(
            judge(&lat, Unit::Milliseconds, seen(120.0, Some(100.0))).verdict,
            Verdict::Fail
        );
        assert_eq!(
            judge(&lat, Unit::Milliseconds, seen(105.0, Some(100.0))).verdict,
            Verdict::Pass
        );
        assert_eq!(
            judge(&lat, Unit::Milliseconds, seen(1500.0, Some(1400.0)))
                .why
                .as_deref(),
            Some("1.5s > max 1s")
        );
    }

    #[test]
    fn no_data_and_low_samples() {
        let c = check("{ source: p, canary: q, max: 1%, min-samples: 200, on-no-data: fail }");
        let none = Observed {
            canary: None,
            baseline: None,
            source_down: true,
            ..Observed::default()
        };
        assert_eq!(
            judge(&c, Unit::Ratio, none),
            Judged {
                verdict: Verdict::Fail,
                why: Some("metric source down".into())
            }
        );
        let few = Observed {
            canary: Some(0.5),
            baseline: None,
            samples: Some(50.0),
            ..Observed::default()
        };
        assert_eq!(
            judge(&c, Unit::Ratio, few).why.as_deref(),
            Some("50 samples < 200")
        );
        let c = check("{ source: p, canary: q, min: 99%, critical: 95% }");
        assert_eq!(
            judge(&c, Unit::Ratio, seen(0.9, None)).verdict,
            Verdict::Critical
        );
    }
}
