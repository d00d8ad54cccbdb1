//! The end of a dry-run: outcome, virtual duration, what fired, the weights over time, and a
//! small chart per check of the canary's values.

use super::terminal::clock;
use super::view::sparkline;
use crate::event::{Event, Stamped, Verdict};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// A rehearsal as a person reads it: a line per event that matters, then the summary.
pub fn rehearsal(events: &[Stamped]) -> String {
    let mut lines = super::terminal::Lines::default();
    let mut out: String = events
        .iter()
        .filter_map(|e| lines.line(e))
        .map(|l| l + "\n")
        .collect();
    out += &render(events);
    out
}

/// The summary after a run's lines: each check's values, the weights, the outcome and why.
pub fn render(events: &[Stamped]) -> String {
    let mut out = String::from("\n── summary ──\n");
    let end = events.last().map(|e| e.t).unwrap_or_default();
    let mut checks: BTreeMap<&str, (Vec<Option<f64>>, String, usize)> = BTreeMap::new();
    for e in events {
        match &e.event {
            Event::CheckEvaluated(ev) => {
                let entry = checks
                    .entry(ev.check.as_str())
                    .or_insert_with(|| (Vec::new(), ev.threshold.clone(), 0));
                entry.0.push(ev.value);
                if matches!(ev.verdict, Verdict::Fail | Verdict::Critical) {
                    entry.2 += 1;
                }
            }
            Event::WeightShifted { router, from, to } => {
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
                if let (Some(check), Some(ev)) = (&reason.check, &reason.evidence) {
                    let _ = writeln!(
                        out,
                        "           what fired: {check}, sequential test over the run: {}",
                        crate::analysis::threshold::explain(ev, crate::plan::check::Unit::Ratio)
                    );
                } else if let Some(check) = &reason.check {
                    let num = |v: Option<f64>| {
                        v.map(|v| {
                            crate::analysis::threshold::show(v, crate::plan::check::Unit::Number)
                        })
                        .unwrap_or_else(|| "none".into())
                    };
                    let _ = writeln!(
                        out,
                        "           what fired: {check}, canary {}, baseline {}, against {}{}",
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
        out.push_str("\nchecks (canary values over the run):\n");
        for (name, (values, threshold, failed)) in checks {
            let _ = writeln!(
                out,
                "  {name:<18} {}  {threshold}; {failed} failed evaluation(s)",
                sparkline(&values, 48)
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample_runs;

    #[test]
    fn a_rollback_by_the_sequential_test() {
        insta::assert_snapshot!(render(&sample_runs::rolled_back_by_the_sequential_test()));
    }

    #[test]
    fn a_gate_that_timed_out() {
        insta::assert_snapshot!(render(&sample_runs::gate_timed_out()));
    }
}
