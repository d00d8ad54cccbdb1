//! The end of a dry-run: outcome, virtual duration, what fired, the weights over time, and a
//! small chart per check of the canary's values.

use super::terminal::clock;
use crate::analysis::threshold::show;
use crate::event::{Event, Stamped, Verdict};
use crate::plan::Plan;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// A rehearsal as a person reads it: a line per event that matters, then the summary.
pub fn rehearsal(plan: &Plan, events: &[Stamped]) -> String {
    let mut lines = super::terminal::Lines::default();
    let mut out: String = events
        .iter()
        .filter_map(|e| lines.line(e))
        .map(|l| l + "\n")
        .collect();
    out += &render(plan, events);
    out
}

/// A check's evaluations, for its line in the summary.
struct Seen {
    values: Vec<Option<f64>>,
    threshold: String,
    failed: usize,
    /// When it was first and last evaluated.
    from: f64,
    to: f64,
}

/// The summary after a run's lines: each check's values, the weights, the outcome and why.
pub fn render(plan: &Plan, events: &[Stamped]) -> String {
    let mut out = String::from("\n── summary ──\n");
    let end = events.last().map(|e| e.t).unwrap_or_default();
    let mut checks: BTreeMap<&str, Seen> = BTreeMap::new();
    for e in events {
        match &e.event {
            Event::CheckEvaluated(ev) => {
                let seen = checks.entry(ev.check.as_str()).or_insert_with(|| Seen {
                    values: Vec::new(),
                    threshold: ev.threshold.clone(),
                    failed: 0,
                    from: e.t,
                    to: e.t,
                });
                seen.values.push(ev.value);
                seen.to = e.t;
                if matches!(ev.verdict, Verdict::Fail | Verdict::Critical) {
                    seen.failed += 1;
                }
            }
            Event::WeightShifted {
                router, from, to, ..
            } => {
                let _ = writeln!(out, "{:>9}  {router} {from}% → {}", clock(e.t), to);
            }
            Event::TriggerFired {
                check,
                condition,
                value,
                ..
            } => {
                let _ = writeln!(
                    out,
                    "{:>9}  trigger {check} ({condition}) fired at {}",
                    clock(e.t),
                    value
                        .map(|v| crate::analysis::threshold::show(
                            v,
                            crate::plan::check::Unit::Number
                        ))
                        .unwrap_or_else(|| "no data".into())
                );
            }
            Event::RollbackStarted { reason, .. } => {
                let _ = writeln!(out, "{:>9}  rollback: {}", clock(e.t), reason.message);
                let unit = |check: &str| plan.unit_of(check);
                if let (Some(check), Some(ev)) = (&reason.check, &reason.evidence) {
                    let _ = writeln!(
                        out,
                        "           what fired: {check}, sequential test: {}",
                        crate::analysis::threshold::explain(ev, unit(check))
                    );
                } else if let Some(check) = &reason.check {
                    let num = |v: Option<f64>| {
                        v.map(|v| show(v, unit(check)))
                            .unwrap_or_else(|| "none".into())
                    };
                    let _ = writeln!(
                        out,
                        "           what fired: {check}, this interval: canary {}, baseline {}, against {}{}",
                        num(reason.value),
                        num(reason.baseline),
                        reason.threshold.as_deref().unwrap_or("its threshold"),
                        reason
                            .window
                            .map(|w| format!(", window {}", clock(w)))
                            .unwrap_or_default()
                    );
                }
            }
            Event::RunFinished { outcome, reason } => {
                let _ = writeln!(
                    out,
                    "\noutcome: {} after {} of virtual time{}",
                    super::terminal::outcome_words(*outcome),
                    clock(end),
                    reason
                        .as_ref()
                        .map(|r| format!(" — {}", r.message))
                        .unwrap_or_default()
                );
            }
            _ => {}
        }
    }
    if !checks.is_empty() {
        out.push_str("\nchecks (canary values over the run, lowest to highest):\n");
        for (name, seen) in checks {
            let Seen {
                values,
                threshold,
                failed,
                from,
                to,
            } = seen;
            let unit = plan.unit_of(name);
            let present = values.iter().flatten();
            let (lo, hi) = present.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
                (l.min(*v), h.max(*v))
            });
            let range = if lo.is_finite() {
                format!("{} to {}", show(lo, unit), show(hi, unit))
            } else {
                "no data".into()
            };
            let _ = writeln!(
                out,
                "  {name:<18} {}  {range}, {} to {} ({} evaluations)\n  {:<18} {threshold}; {failed} failed evaluation(s)",
                sparkline(&values, 48),
                clock(from),
                clock(to),
                values.len(),
                ""
            );
        }
    }
    out
}

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// A sparkline of at most `width` columns; gaps (no data) are spaces.
pub fn sparkline(values: &[Option<f64>], width: usize) -> String {
    let present: Vec<f64> = values.iter().flatten().copied().collect();
    let (lo, hi) = present
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
            (l.min(*v), h.max(*v))
        });
    let per = values.len().div_ceil(width.max(1)).max(1);
    values
        .chunks(per)
        .map(|chunk| {
            let vals: Vec<f64> = chunk.iter().flatten().copied().collect();
            if vals.is_empty() {
                return ' ';
            }
            let v = vals.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let i = if hi > lo {
                ((v - lo) / (hi - lo) * 7.0).round() as usize
            } else {
                0
            };
            BARS[i.min(7)]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample_runs;

    #[test]
    fn a_rollback_by_the_sequential_test() {
        insta::assert_snapshot!(render(
            &sample_runs::plan(),
            &sample_runs::rolled_back_by_the_sequential_test()
        ));
    }

    #[test]
    fn a_gate_that_timed_out() {
        insta::assert_snapshot!(render(&sample_runs::plan(), &sample_runs::gate_timed_out()));
    }

    #[test]
    fn sparkline_scales_and_shows_gaps() {
        assert_eq!(
            sparkline(&[Some(0.0), Some(1.0), None, Some(0.5)], 4),
            "▁█ ▅"
        );
        assert_eq!(sparkline(&[Some(2.0); 100], 10), "▁".repeat(10));
    }
}
