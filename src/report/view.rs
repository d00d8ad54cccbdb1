//! A run as people read it, folded from its events: where it is, each check's latest canary
//! and baseline values with a sparkline, gates, and how it ended with what fired. The GitHub
//! job summary and the pull-request comment render this through handlebars templates.

use crate::analysis::threshold::{explain, show};
use crate::event::{Event, Outcome, Stamped, Verdict};
use crate::plan::check::Unit;
use crate::plan::Plan;
use serde::Serialize;

#[derive(Debug, Default, Serialize)]
pub struct RunView {
    pub plan: String,
    pub dry_run: bool,
    /// The fixture a rehearsal replayed.
    pub fixture: String,
    /// `promoted`, `rolled-back`, ...; empty while the run goes on.
    pub outcome: String,
    /// An emoji-free word for headings: "Promoted", "Rolled back", "In progress".
    pub status: String,
    pub finished: bool,
    pub rolled_back: bool,
    /// The step in progress, or the last one.
    pub step: String,
    /// Each router's canary weight now.
    pub routers: Vec<RouterView>,
    /// The largest canary weight now, 0 when none: the Action's `final-weight`.
    pub final_weight: u8,
    pub elapsed: String,
    pub shifts: Vec<ShiftView>,
    pub checks: Vec<CheckView>,
    pub gates: Vec<GateView>,
    /// What ended the run, when something did.
    pub fired: Option<FiredView>,
    /// While the run holds: where, why, and how to decide.
    pub paused: Option<PausedView>,
    /// After a rollback with verification: "passed" or "failed".
    pub verification: String,
    /// Notifications that could not be delivered: "slack (rolled-back): HTTP 400".
    pub undelivered: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct RouterView {
    pub name: String,
    pub weight: String,
}

#[derive(Debug, Serialize)]
pub struct ShiftView {
    pub at: String,
    pub router: String,
    pub from: u8,
    pub to: String,
}

#[derive(Debug, Serialize)]
pub struct CheckView {
    pub name: String,
    pub canary: String,
    pub baseline: String,
    pub verdict: String,
    pub why: String,
    pub method: String,
    pub threshold: String,
    pub sparkline: String,
    pub failed: usize,
}

#[derive(Debug, Serialize)]
pub struct GateView {
    pub step: String,
    pub state: String,
    pub by: String,
    /// Whether it still waits.
    pub waiting: bool,
    pub approvers: String,
    /// True when decisions come from pull-request comments (`via` a `github` provider).
    pub from_pr: bool,
}

#[derive(Debug, Serialize)]
pub struct PausedView {
    pub step: String,
    pub reason: String,
    /// How to decide, where the run's decisions come from.
    pub how: String,
    /// "rolls back" or "continues", and after how long, when nobody decides.
    pub after: String,
}

#[derive(Debug, Serialize)]
pub struct FiredView {
    pub message: String,
    pub check: String,
    pub canary: String,
    pub baseline: String,
    pub threshold: String,
    pub evidence: String,
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

fn word(o: Outcome) -> (&'static str, &'static str) {
    match o {
        Outcome::Promoted => ("promoted", "Promoted"),
        Outcome::RolledBack => ("rolled-back", "Rolled back"),
        Outcome::Aborted => ("aborted", "Aborted"),
        Outcome::Failed => ("failed", "Failed"),
        Outcome::RouterFailed => ("router-failed", "Router failed"),
    }
}

impl RunView {
    /// Folds `events` of a run of `plan` (whose checks give the values' units).
    pub fn of(plan: &Plan, events: &[Stamped]) -> RunView {
        let unit = |check: &str| {
            plan.checks
                .get(check)
                .map(|c| c.unit())
                .unwrap_or(Unit::Number)
        };
        let fmt = |check: &str, v: Option<f64>| {
            v.map(|v| show(v, unit(check)))
                .unwrap_or_else(|| "–".into())
        };
        let mut view = RunView {
            plan: plan.name.clone(),
            status: "In progress".into(),
            ..RunView::default()
        };
        let mut series: Vec<(String, Vec<Option<f64>>)> = Vec::new();
        let mut weights: Vec<(String, String, u8)> = Vec::new();
        for e in events {
            view.elapsed = super::terminal::clock(e.t);
            match &e.event {
                Event::RunStarted { mode, fixture, .. } => {
                    view.dry_run = *mode == crate::event::Mode::DryRun;
                    view.fixture = fixture.clone().unwrap_or_default();
                }
                Event::StepStarted { step, .. } => view.step = step.clone(),
                Event::WeightShifted { router, from, to } => {
                    view.shifts.push(ShiftView {
                        at: super::terminal::clock(e.t),
                        router: router.clone(),
                        from: *from,
                        to: to.to_string(),
                    });
                    let percent = match to {
                        crate::event::Route::Weight { percent } => *percent,
                        _ => *from,
                    };
                    match weights.iter_mut().find(|w| &w.0 == router) {
                        Some(w) => (w.1, w.2) = (to.to_string(), percent),
                        None => weights.push((router.clone(), to.to_string(), percent)),
                    }
                }
                // Verification after a rollback reads stable; the table is about the canary.
                Event::CheckEvaluated(ev) if ev.step.starts_with("rollback.") => {}
                Event::CheckEvaluated(ev) => {
                    let view_check = CheckView {
                        name: ev.check.clone(),
                        canary: fmt(&ev.check, ev.value),
                        baseline: fmt(&ev.check, ev.baseline),
                        verdict: format!("{:?}", ev.verdict).to_lowercase(),
                        why: ev.why.clone().unwrap_or_default(),
                        method: ev.method.to_string(),
                        threshold: ev.threshold.clone(),
                        sparkline: String::new(),
                        failed: 0,
                    };
                    let failed = matches!(ev.verdict, Verdict::Fail | Verdict::Critical) as usize;
                    match view.checks.iter_mut().find(|c| c.name == ev.check) {
                        Some(c) => {
                            let before = c.failed;
                            *c = CheckView {
                                failed: before + failed,
                                ..view_check
                            };
                        }
                        None => view.checks.push(CheckView {
                            failed,
                            ..view_check
                        }),
                    }
                    match series.iter_mut().find(|s| s.0 == ev.check) {
                        Some(s) => s.1.push(ev.value),
                        None => series.push((ev.check.clone(), vec![ev.value])),
                    }
                }
                Event::GateWaiting {
                    step,
                    approvers,
                    via,
                    ..
                } => view.gates.push(GateView {
                    step: step.clone(),
                    state: "waiting".into(),
                    by: String::new(),
                    waiting: true,
                    approvers: approvers.join(", "),
                    from_pr: via != crate::plan::gate::CLI_APPROVALS,
                }),
                Event::GateDecided { step, decision, by } => {
                    if let Some(g) = view.gates.iter_mut().rev().find(|g| &g.step == step) {
                        g.state = super::terminal::decision_words(*decision).into();
                        g.by = by.clone().unwrap_or_default();
                        g.waiting = false;
                    }
                }
                Event::Paused {
                    step,
                    reason,
                    timeout,
                    on_timeout,
                    via,
                    can_continue,
                    ..
                } => {
                    let w = super::pause::words(via, *can_continue, *on_timeout, *timeout);
                    view.status = "Paused".into();
                    view.paused = Some(PausedView {
                        step: step.clone(),
                        reason: reason.message.clone(),
                        how: w.how.into(),
                        after: w.after,
                    });
                }
                Event::PauseDecided { .. } => {
                    view.status = "In progress".into();
                    view.paused = None;
                }
                Event::NotificationSent {
                    to,
                    about,
                    error: Some(error),
                    ..
                } => view.undelivered.push(format!("{to} ({about}): {error}")),
                Event::RollbackStarted { reason, .. } => {
                    view.rolled_back = true;
                    let check = reason.check.clone().unwrap_or_default();
                    view.fired = Some(FiredView {
                        message: reason.message.clone(),
                        canary: fmt(&check, reason.value),
                        baseline: fmt(&check, reason.baseline),
                        threshold: reason.threshold.clone().unwrap_or_default(),
                        evidence: reason
                            .evidence
                            .as_ref()
                            .map(|ev| explain(ev, unit(&check)))
                            .unwrap_or_default(),
                        check,
                    });
                }
                Event::RollbackFinished { verified: Some(v) } => {
                    view.verification = if *v { "passed" } else { "failed" }.into();
                }
                Event::RunFinished { outcome, reason } => {
                    view.paused = None;
                    let (o, s) = word(*outcome);
                    view.outcome = o.into();
                    view.status = s.into();
                    view.finished = true;
                    if let (None, Some(r)) = (&view.fired, reason) {
                        view.fired = Some(FiredView {
                            message: r.message.clone(),
                            check: r.check.clone().unwrap_or_default(),
                            canary: String::new(),
                            baseline: String::new(),
                            threshold: r.threshold.clone().unwrap_or_default(),
                            evidence: String::new(),
                        });
                    }
                }
                _ => {}
            }
        }
        for c in &mut view.checks {
            if let Some((_, values)) = series.iter().find(|s| s.0 == c.name) {
                c.sparkline = sparkline(values, 30);
            }
        }
        view.final_weight = weights.iter().map(|w| w.2).max().unwrap_or(0);
        view.routers = weights
            .into_iter()
            .map(|(name, weight, _)| RouterView { name, weight })
            .collect();
        view
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparkline_scales_and_shows_gaps() {
        assert_eq!(
            sparkline(&[Some(0.0), Some(1.0), None, Some(0.5)], 4),
            "▁█ ▅"
        );
        assert_eq!(sparkline(&[Some(2.0); 100], 10), "▁".repeat(10));
    }
}
