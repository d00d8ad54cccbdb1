//! Thresholds: each in a unit its check measures, consistent with each other, and comparisons
//! with the baseline only where there is a baseline. Triggers state exactly one condition.

use super::{path, Ctx};
use crate::diagnostics::{Code, Diagnostic};
use crate::event::Method;
use crate::plan::check::{Check, Series, Unit};
use crate::plan::trigger::{TriggerAction, HEALTH_SCORE};
use crate::plan::Quantity;

/// Why `q` cannot be an absolute bound for a check measuring `unit`, if it cannot.
fn absolute_problem(q: Quantity, unit: Unit) -> Option<String> {
    match (q, unit) {
        (Quantity::Points(_), _) => Some("percentage points compare with the baseline; an absolute bound is a percentage like `1%`".into()),
        (Quantity::Factor(_), _) => Some("a factor like `2x` is only meaningful for `critical`".into()),
        (Quantity::Number(n), Unit::Ratio) if !(0.0..=1.0).contains(&n) => {
            Some(format!("a ratio lies between 0 and 1; did you mean `{n}%`?"))
        }
        (Quantity::Percent(_), Unit::Seconds | Unit::Milliseconds) => {
            Some(format!("this check measures {}; write a duration like `500ms`, or `{}`", unit.name(), "unit: ratio"))
        }
        (Quantity::Seconds(_), Unit::Ratio | Unit::Number) => Some(format!(
            "this check measures {}; a duration only fits a latency check (`unit: seconds` or `milliseconds`)",
            unit.name()
        )),
        (Quantity::Percent(_), Unit::Number) => Some("this check measures a plain number; set `unit: ratio` if its query returns a fraction".into()),
        _ => None,
    }
}

/// Why `q` cannot be a tolerance versus the baseline for a check measuring `unit`.
fn relative_problem(q: Quantity, unit: Unit) -> Option<String> {
    match (q, unit) {
        (Quantity::Percent(_), _) => None,
        (Quantity::Points(_), Unit::Ratio) => None,
        (Quantity::Points(_), _) => Some(format!("percentage points only apply to ratios; this check measures {}; write a relative change like `10%`", unit.name())),
        (Quantity::Seconds(_), Unit::Seconds | Unit::Milliseconds) => None,
        (Quantity::Number(_), Unit::Number) => None,
        _ => Some("write a relative change (`10%`) or, for ratios, percentage points (`0.5pp`)".into()),
    }
}

fn wrong_unit(ctx: &Ctx<'_>, at: Vec<String>, q: Quantity, what: &str, why: String) -> Diagnostic {
    Diagnostic::error(
        Code::WrongUnit,
        format!("{what} `{q}` is {}, which does not fit here", q.kind()),
    )
    .at(ctx.span(&at))
    .help(why)
}

/// What a group's data is, in words.
fn kind(s: &Series) -> &'static str {
    match s {
        Series::Value(_) => "a value query",
        Series::Counts(_) => "counters",
        Series::Histogram(_) => "a histogram",
    }
}

/// A histogram check judges latency against the baseline's by `max-increase` from its
/// `quantile` up, and nothing else applies to it.
fn histograms(ctx: &Ctx<'_>, name: &str, c: &Check, out: &mut Vec<Diagnostic>) {
    let here = |k: &str| path(&["checks", name, k]);
    if c.baseline.is_none() {
        out.push(
            Diagnostic::error(Code::MissingBaseline, format!("check `{name}` judges the canary's latency against the baseline's, and has no `baseline`"))
                .at(ctx.key_span(&path(&["checks", name])))
                .help("add `baseline: { buckets: 'sum by (le) (<histogram>_bucket{version=\"stable\"})' }`"),
        );
    }
    match c.max_increase {
        Some(Quantity::Percent(p)) if p >= 0.0 => {}
        Some(q) => out.push(
            Diagnostic::error(Code::WrongUnit, format!("a histogram check's tolerance says how much slower each quantile may be, relative to the baseline's, and `max-increase: {q}` is not a percentage"))
                .at(ctx.span(&here("max-increase")))
                .help("e.g. `max-increase: 10%`"),
        ),
        None => out.push(
            Diagnostic::error(Code::MissingKey, format!("check `{name}` reads histograms and has no `max-increase`"))
                .at(ctx.key_span(&path(&["checks", name])))
                .help("add e.g. `max-increase: 10%`: how much slower than the baseline's each quantile from `quantile` up may be"),
        ),
    }
    let present = [
        ("max", c.max.is_some()),
        ("min", c.min.is_some()),
        ("critical", c.critical.is_some()),
        ("max-decrease", c.max_decrease.is_some()),
        ("samples", c.samples.is_some()),
        ("min-samples", c.min_samples.is_some()),
        ("slo", c.slo.is_some()),
    ];
    for (key, _) in present.iter().filter(|p| p.1) {
        out.push(
            Diagnostic::error(Code::MethodMismatch, format!("check `{name}` judges latency histograms against the baseline's by `max-increase`; `{key}` does not apply to it"))
                .at(ctx.key_span(&here(key)))
                .help("remove it; to bound the canary's latency itself, add a check with a value query, e.g. `histogram_quantile(0.99, sum by (le) (rate(<histogram>_bucket[1m])))` with `max: 500ms`"),
        );
    }
    if let Some(m) = c.method.filter(|m| *m != Method::Sequential) {
        out.push(
            Diagnostic::error(
                Code::MethodMismatch,
                format!("`method: {m}` does not weigh histograms; check `{name}` reads them"),
            )
            .at(ctx.span(&here("method")))
            .help("remove `method`: histograms are judged by the sequential test"),
        );
    }
    if let Some(u @ (Unit::Ratio | Unit::Number)) = c.unit {
        out.push(
            Diagnostic::error(
                Code::WrongUnit,
                format!(
                    "a histogram's bucket bounds are latencies, and check `{name}` says `unit: {}`",
                    serde_json::to_value(u)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default()
                ),
            )
            .at(ctx.span(&here("unit")))
            .help("`unit: seconds` (Prometheus' convention, the default) or `unit: milliseconds`"),
        );
    }
}

/// A check on counters or values: its method fits its data.
fn counts_and_values(ctx: &Ctx<'_>, name: &str, c: &Check, out: &mut Vec<Diagnostic>) {
    let here = |k: &str| path(&["checks", name, k]);
    let counts = |s: &Series| matches!(s, Series::Counts(_));
    if c.quantile.is_some() {
        out.push(
            Diagnostic::error(Code::ConflictingKeys, format!("`quantile` picks the quantile of a histogram, and check `{name}` reads {}", kind(&c.canary)))
                .at(ctx.key_span(&here("quantile")))
                .help("give `canary` and `baseline` as histograms (`buckets: 'sum by (le) (<histogram>_bucket{...})'`), or remove `quantile`"),
        );
    }
    if let Some(m @ (Method::Sequential | Method::ZTest | Method::MannWhitney)) = c.method {
        let wants_counts = m != Method::MannWhitney;
        if counts(&c.canary) != wants_counts {
            let (weighs, has, fix) = if wants_counts {
                ("counts", "values", "give `canary` and `baseline` as counters: `{ events: <errors counter>, total: <requests counter> }`")
            } else {
                ("per-interval values", "counters", "give `canary` and `baseline` as value queries, or use `method: sequential` for counts")
            };
            out.push(
                Diagnostic::error(
                    Code::MethodMismatch,
                    format!(
                        "`method: {}` weighs {weighs}, and check `{name}` has {has}",
                        m
                    ),
                )
                .at(ctx.span(&here("method")))
                .help(fix),
            );
        } else if c.baseline.is_none() {
            out.push(
                Diagnostic::error(Code::MissingBaseline, format!("`method: {}` compares check `{name}` with its baseline, and it has no `baseline`", m))
                    .at(ctx.key_span(&here("method")))
                    .help("add `baseline:` with the stable version's data, in the same form as `canary`"),
            );
        }
        if m == Method::MannWhitney {
            for (key, q) in [
                ("max-increase", c.max_increase),
                ("max-decrease", c.max_decrease),
            ] {
                if let Some(q @ Quantity::Points(_)) = q {
                    out.push(
                        Diagnostic::error(Code::WrongUnit, format!("Mann-Whitney judges a relative difference of medians, and `{key}: {q}` is a difference"))
                            .at(ctx.span(&here(key)))
                            .help("write it as a percentage of the baseline's median, e.g. `10%`"),
                    );
                }
            }
        }
    }
    if let Some(slo) = &c.slo {
        if !counts(&c.canary) {
            out.push(
                Diagnostic::error(Code::MethodMismatch, format!("an `slo` burns an error budget of counted requests, and check `{name}` queries values"))
                    .at(ctx.key_span(&here("slo")))
                    .help("give `canary` as counters: `{ events: <bad requests counter>, total: <requests counter> }`"),
            );
        }
        if !matches!(slo.objective, Quantity::Percent(p) if p > 0.0 && p < 1.0) {
            out.push(
                Diagnostic::error(
                    Code::BadValue,
                    format!(
                        "`objective: {}` is not a share of good requests below 100%",
                        slo.objective
                    ),
                )
                .at(ctx.span(&path(&["checks", name, "slo", "objective"])))
                .help("e.g. `objective: 99.9%`"),
            );
        }
        for (i, w) in slo.windows.iter().enumerate() {
            if w.short.0 >= w.long.0 {
                out.push(
                    Diagnostic::error(Code::ContradictoryThresholds, format!("burn window {i}: `short: {}` is not shorter than `long: {}`", w.short, w.long))
                        .at(ctx.span(&path(&["checks", name, "slo", "windows", &i.to_string()])))
                        .help("the short window makes an alert stop soon after a problem ends: e.g. `{ long: 1h, short: 5m, burn: 14.4 }`"),
                );
            }
        }
    }
    if counts(&c.canary) && c.samples.is_some() {
        out.push(
            Diagnostic::error(Code::ConflictingKeys, format!("check `{name}` counts its requests in `total`; `samples` would count them twice"))
                .at(ctx.key_span(&here("samples")))
                .help("remove `samples`: `min-samples` counts the canary's `total`"),
        );
    }
    if c.sequential() {
        if let Some(q @ Quantity::Points(_)) = c.max_increase {
            out.push(
                Diagnostic::error(Code::WrongUnit, format!("the sequential test compares rates by their ratio, and `max-increase: {q}` is a difference"))
                    .at(ctx.span(&here("max-increase")))
                    .help("write the tolerance as a percentage of the baseline's rate, e.g. `max-increase: 10%`; or `method: threshold` to compare each interval's values"),
            );
        }
        if c.max_decrease.is_some() {
            out.push(
                Diagnostic::error(Code::MethodMismatch, format!("the sequential test looks for a higher event rate on the canary; check `{name}` also has `max-decrease`"))
                    .at(ctx.key_span(&here("max-decrease")))
                    .help("count the events that are bad (errors, slow requests) so that higher is worse, or use `method: threshold`"),
            );
        }
    }
}

/// A check's data and method fit together.
fn methods(ctx: &Ctx<'_>, name: &str, c: &Check, out: &mut Vec<Diagnostic>) {
    let here = |k: &str| path(&["checks", name, k]);
    if let Some(b) = &c.baseline {
        if kind(b) != kind(&c.canary) {
            out.push(
                Diagnostic::error(Code::MethodMismatch, format!("check `{name}` has {} for `canary` and {} for `baseline`", kind(&c.canary), kind(b)))
                    .at(ctx.span(&here("baseline")))
                    .help("give both groups the same kind of data: counters (`events`, `total`), histograms (`buckets`) or a value query for each"),
            );
            return;
        }
    }
    if c.histogram() {
        histograms(ctx, name, c, out);
    } else {
        counts_and_values(ctx, name, c, out);
    }
    if let Some(q) = c.false_rollbacks {
        let fits = matches!(q, Quantity::Percent(p) if p > 0.0 && p <= 0.5);
        if !fits {
            out.push(
                Diagnostic::error(Code::BadValue, format!("`false-rollbacks: {q}` is not a chance between 0% and 50%"))
                    .at(ctx.span(&here("false-rollbacks")))
                    .help("e.g. `false-rollbacks: 1%`: the chance of rolling back a canary within tolerance over the whole rollout"),
            );
        } else if c.compares_each_value() {
            out.push(
                Diagnostic::error(Code::MethodMismatch, format!("`false-rollbacks` sets a statistical method's level, and check `{name}` compares each value as is"))
                    .at(ctx.key_span(&here("false-rollbacks")))
                    .help("it applies to `sequential` (the default for counters on both sides), `z-test` and `mann-whitney`"),
            );
        }
    }
}

pub fn check(ctx: &Ctx<'_>, out: &mut Vec<Diagnostic>) {
    let plan = ctx.plan;
    for (name, c) in &plan.checks {
        let unit = c.unit();
        let here = |k: &str| path(&["checks", name, k]);
        for (key, q) in [("max", c.max), ("min", c.min)] {
            if let Some(q) = q {
                if let Some(why) = absolute_problem(q, unit) {
                    out.push(wrong_unit(ctx, here(key), q, &format!("`{key}`"), why));
                }
            }
        }
        for (key, q) in [
            ("max-increase", c.max_increase),
            ("max-decrease", c.max_decrease),
        ] {
            let Some(q) = q else { continue };
            if let Some(why) = relative_problem(q, unit) {
                out.push(wrong_unit(ctx, here(key), q, &format!("`{key}`"), why));
            }
            if c.baseline.is_none() {
                out.push(
                    Diagnostic::error(
                        Code::MissingBaseline,
                        format!(
                            "check `{name}` compares with the baseline but has no `baseline` query"
                        ),
                    )
                    .at(ctx.key_span(&here(key)))
                    .help("add `baseline:` with the same query for the stable version"),
                );
            }
        }
        if let (Some(max), Some(min)) = (c.max, c.min) {
            if absolute_problem(max, unit).is_none()
                && absolute_problem(min, unit).is_none()
                && min.value() > max.value()
            {
                out.push(
                    Diagnostic::error(Code::ContradictoryThresholds, format!("check `{name}` needs at least {min} and at most {max}: no value passes"))
                        .at(ctx.span(&here("min")))
                        .help("swap `min` and `max`, or fix one of them"),
                );
            }
        }
        if let Some(crit) = c.critical {
            match (crit, c.max, c.min) {
                (_, None, None) => out.push(
                    Diagnostic::error(Code::ContradictoryThresholds, format!("check `{name}` has a `critical` bound but no `max` or `min` it sharpens"))
                        .at(ctx.key_span(&here("critical")))
                        .help("add `max:` (or `min:`); `critical` is the bound past which a rollback happens at once"),
                ),
                (Quantity::Factor(f), _, _) if f <= 1.0 => out.push(
                    Diagnostic::error(Code::ContradictoryThresholds, format!("`critical: {crit}` would be at or inside the threshold itself"))
                        .at(ctx.span(&here("critical")))
                        .help("use a factor above 1, e.g. `2x`"),
                ),
                (Quantity::Factor(_), _, _) => {}
                (q, max, min) => {
                    if let Some(why) = absolute_problem(q, unit) {
                        out.push(wrong_unit(ctx, here("critical"), q, "`critical`", why));
                    } else if max.is_some_and(|m| q.value() <= m.value()) || (max.is_none() && min.is_some_and(|m| q.value() >= m.value())) {
                        let bound = max.map(|m| format!("`max: {m}`")).or_else(|| min.map(|m| format!("`min: {m}`"))).unwrap_or_default();
                        out.push(
                            Diagnostic::error(Code::ContradictoryThresholds, format!("`critical: {q}` is milder than {bound}: it could never fire first"))
                                .at(ctx.span(&here("critical")))
                                .help("a critical bound lies beyond the threshold, e.g. twice it: `critical: 2x`"),
                        );
                    }
                }
            }
        }
        methods(ctx, name, c, out);
        let judged = [c.max, c.min, c.max_increase, c.max_decrease]
            .iter()
            .any(Option::is_some)
            || c.sequential()
            || c.slo.is_some()
            || matches!(c.method, Some(Method::ZTest | Method::MannWhitney));
        if !judged && !plan.triggers.iter().any(|t| &t.check == name) {
            out.push(
                Diagnostic::error(Code::MissingKey, format!("check `{name}` has nothing to judge by"))
                    .at(ctx.key_span(&path(&["checks", name])))
                    .help("add `max`, `min`, `max-increase` or `max-decrease`, or watch it with a trigger"),
            );
        }
    }

    for (i, t) in plan.triggers.iter().enumerate() {
        let here = |k: &str| path(&["triggers", &i.to_string(), k]);
        let conditions: Vec<&str> = [
            ("above", t.above.is_some()),
            ("below", t.below.is_some()),
            ("above-baseline", t.above_baseline.is_some()),
            ("below-baseline", t.below_baseline.is_some()),
            ("failures", t.failures.is_some()),
        ]
        .into_iter()
        .filter_map(|(k, set)| set.then_some(k))
        .collect();
        match conditions.as_slice() {
            [] => out.push(
                Diagnostic::error(
                    Code::MissingKey,
                    format!("trigger on `{}` has no condition", t.check),
                )
                .at(ctx.span(&path(&["triggers", &i.to_string()])))
                .help(
                    "add one of `above`, `below`, `above-baseline`, `below-baseline` or `failures`",
                ),
            ),
            [_] => {}
            [_, second, ..] => out.push(
                Diagnostic::error(
                    Code::ConflictingKeys,
                    format!(
                        "trigger on `{}` has several conditions ({})",
                        t.check,
                        conditions.join(", ")
                    ),
                )
                .at(ctx.key_span(&here(second)))
                .help("write one trigger per condition"),
            ),
        }
        if t.mode.is_some() && t.then == TriggerAction::Pause {
            out.push(
                Diagnostic::error(
                    Code::ConflictingKeys,
                    "`mode` chooses how to roll back, but this trigger pauses",
                )
                .at(ctx.key_span(&here("mode")))
                .help("remove `mode`, or set `then: rollback`"),
            );
        }
        let unit = if t.check == HEALTH_SCORE {
            Some(Unit::Ratio)
        } else {
            plan.checks.get(&t.check).map(Check::unit)
        };
        let Some(unit) = unit else { continue };
        for (key, q) in [("above", t.above), ("below", t.below)] {
            if let Some(why) = q.and_then(|q| absolute_problem(q, unit)) {
                out.push(wrong_unit(
                    ctx,
                    here(key),
                    q.expect("checked"),
                    &format!("`{key}`"),
                    why,
                ));
            }
        }
        for (key, q) in [
            ("above-baseline", t.above_baseline),
            ("below-baseline", t.below_baseline),
        ] {
            let Some(q) = q else { continue };
            if let Some(why) = relative_problem(q, unit) {
                out.push(wrong_unit(ctx, here(key), q, &format!("`{key}`"), why));
            }
            let has_baseline = plan
                .checks
                .get(&t.check)
                .is_some_and(|c| c.baseline.is_some());
            if !has_baseline {
                out.push(
                    Diagnostic::error(
                        Code::MissingBaseline,
                        format!(
                            "trigger compares `{}` with the baseline, which it has no query for",
                            t.check
                        ),
                    )
                    .at(ctx.key_span(&here(key)))
                    .help(if t.check == HEALTH_SCORE {
                        "the health score has no baseline; use `below:`".to_string()
                    } else {
                        format!("add `baseline:` to check `{}`", t.check)
                    }),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_accept_their_own_quantities() {
        assert!(absolute_problem(Quantity::Percent(0.01), Unit::Ratio).is_none());
        assert!(absolute_problem(Quantity::Number(0.01), Unit::Ratio).is_none());
        assert!(absolute_problem(Quantity::Number(5.0), Unit::Ratio).is_some());
        assert!(absolute_problem(Quantity::Seconds(0.5), Unit::Seconds).is_none());
        assert!(absolute_problem(Quantity::Percent(0.01), Unit::Seconds).is_some());
        assert!(relative_problem(Quantity::Points(0.005), Unit::Ratio).is_none());
        assert!(relative_problem(Quantity::Points(0.005), Unit::Seconds).is_some());
        assert!(relative_problem(Quantity::Percent(0.1), Unit::Seconds).is_none());
    }
}
