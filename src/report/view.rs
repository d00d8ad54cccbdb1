//! A run as people read it, folded from its events: where it is, each check's latest canary
//! and baseline values with a chart, gates, and how it ended with what fired. The GitHub
//! job summary and the pull-request comment render this through handlebars templates.

use super::chart::{chart, Point};
use crate::analysis::threshold::{explain, show};
use crate::event::{Event, Outcome, Stamped, Verdict};
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
    pub failed: usize,
    /// Canary against baseline over the run, with the check's fixed bounds.
    pub chart: Option<super::chart::Chart>,
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
    /// Why, in plain words (for the sequential test: how much worse, for how long, how rare).
    pub plain: String,
    pub message: String,
    /// The step it happened at.
    pub step: String,
    pub check: String,
    pub canary: String,
    pub baseline: String,
    pub threshold: String,
    pub evidence: String,
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
        let unit = |check: &str| plan.unit_of(check);
        let fmt = |check: &str, v: Option<f64>| {
            v.map(|v| show(v, unit(check)))
                .unwrap_or_else(|| "–".into())
        };
        let mut view = RunView {
            plan: plan.name.clone(),
            status: "In progress".into(),
            ..RunView::default()
        };
        let mut weights: Vec<(String, String, u8)> = Vec::new();
        let mut points: Vec<(String, Vec<Point>)> = Vec::new();
        let mut shifts: Vec<(f64, String)> = Vec::new();
        for e in events {
            view.elapsed = super::terminal::clock(e.t);
            match &e.event {
                Event::RunStarted { mode, fixture, .. } => {
                    view.dry_run = *mode == crate::event::Mode::DryRun;
                    view.fixture = fixture.clone().unwrap_or_default();
                }
                Event::StepStarted { step, .. } => view.step = step.clone(),
                Event::WeightShifted {
                    router, from, to, ..
                } => {
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
                    shifts.push((e.t, to.to_string()));
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
                        failed: 0,
                        chart: None,
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
                    let point = Point {
                        t: e.t,
                        canary: ev.value,
                        baseline: ev.baseline,
                    };
                    match points.iter_mut().find(|p| p.0 == ev.check) {
                        Some(p) => p.1.push(point),
                        None => points.push((ev.check.clone(), vec![point])),
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
                    let first = points
                        .iter()
                        .find(|p| p.0 == check)
                        .and_then(|p| p.1.first())
                        .map_or(e.t, |p| p.t);
                    view.fired = Some(FiredView {
                        plain: super::why::rollback_in_words(reason, unit(&check), e.t - first),
                        step: reason.step.clone().unwrap_or_default(),
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
                            plain: r.message.clone(),
                            step: r.step.clone().unwrap_or_default(),
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
            if let (Some((_, seen)), Some(check)) = (
                points.iter().find(|p| p.0 == c.name),
                plan.checks.get(&c.name),
            ) {
                let u = unit(&c.name);
                let bounds = crate::analysis::threshold::fixed_bounds(check, u);
                c.chart = chart(&c.name, u, seen, &bounds, &shifts);
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
