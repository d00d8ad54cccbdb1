//! Triggers: conditions watched for the whole run, between and during steps, that fire a
//! rollback (or a pause) once they have held for their `for:` window.

use super::observe::{health_score, show};
use super::RunContext;
use crate::analysis::threshold::{baseline_limit, in_unit, judge, show_apart};
use crate::event::{Event, Reason, Verdict};
use crate::plan::check::Unit;
use crate::plan::rollback::RollbackMode;
use crate::plan::trigger::{Trigger, TriggerAction, HEALTH_SCORE};
use crate::plan::Quantity;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// A trigger that fired: what to do and why.
pub struct Fired {
    pub action: TriggerAction,
    pub mode: Option<RollbackMode>,
    pub reason: Reason,
}

/// Whether `t` is breached now, with the canary's and the baseline's values it saw.
async fn breached(
    shared: &RunContext,
    t: &Trigger,
    failures: &mut u32,
) -> (bool, Option<f64>, Option<f64>) {
    if t.check == HEALTH_SCORE {
        let mut verdicts = BTreeMap::new();
        for (name, check) in &shared.plan.checks {
            verdicts.insert(
                name.clone(),
                judge(check, check.unit(), shared.look(name).await),
            );
        }
        let score = health_score(&verdicts, |n| shared.plan.checks[n].weight.unwrap_or(1.0));
        let hit = match (score, t.above, t.below) {
            (Some(s), Some(a), _) => s > a.value(),
            (Some(s), _, Some(b)) => s < b.value(),
            _ => false,
        };
        return (hit, score, None);
    }
    let seen = shared.look(&t.check).await;
    if let Some(n) = t.failures {
        let check = &shared.plan.checks[&t.check];
        let verdict = judge(check, check.unit(), seen).verdict;
        *failures = if matches!(verdict, Verdict::Fail | Verdict::Critical) {
            *failures + 1
        } else {
            0
        };
        return (*failures >= n, seen.canary, seen.baseline);
    }
    let Some(v) = seen.canary else {
        return (false, None, seen.baseline);
    };
    let unit = shared
        .plan
        .checks
        .get(&t.check)
        .map(|c| c.unit())
        .unwrap_or(Unit::Ratio);
    let q = |x: Quantity| in_unit(x, unit);
    let relative = |tol: Quantity, b: f64, up: bool| baseline_limit(tol, b, unit, up);
    let hit = t.above.is_some_and(|a| v > q(a))
        || t.below.is_some_and(|b| v < q(b))
        || matches!((t.above_baseline, seen.baseline), (Some(tol), Some(b)) if v > relative(tol, b, true))
        || matches!((t.below_baseline, seen.baseline), (Some(tol), Some(b)) if v < relative(tol, b, false));
    (hit, Some(v), seen.baseline)
}

fn condition(t: &Trigger) -> String {
    let c = [
        ("above", t.above),
        ("below", t.below),
        ("above baseline by", t.above_baseline),
        ("below baseline by", t.below_baseline),
    ]
    .into_iter()
    .find_map(|(k, q)| q.map(|q| format!("{k} {q}")))
    .or_else(|| {
        t.failures
            .map(|n| format!("{n} failed evaluations in a row"))
    })
    .unwrap_or_default();
    match t.for_ {
        Some(d) => format!("{c} for {d}"),
        None => c,
    }
}

/// Watches every trigger each `interval` until the receiver is gone or a rollback fires.
/// Fired ones are sent boxed: a channel keeps room for 32 of what it carries, for every run.
pub async fn watch(shared: Arc<RunContext>, interval: Duration, fired: mpsc::Sender<Box<Fired>>) {
    let triggers = &shared.plan.triggers;
    let mut since: Vec<Option<Duration>> = vec![None; triggers.len()];
    let mut failures = vec![0u32; triggers.len()];
    loop {
        shared.clock.sleep(interval).await;
        let now = shared.clock.elapsed();
        for (i, t) in triggers.iter().enumerate() {
            // A pause trigger does not fire again while the run holds; the others watch on.
            if t.then == TriggerAction::Pause && *shared.hold.borrow() {
                since[i] = None;
                continue;
            }
            let (hit, value, baseline) = breached(&shared, t, &mut failures[i]).await;
            if !hit {
                since[i] = None;
                continue;
            }
            let start = *since[i].get_or_insert(now);
            let held = now - start;
            if held < t.for_.map(|d| d.0).unwrap_or_default() {
                continue;
            }
            shared.emit(Event::TriggerFired {
                check: t.check.clone(),
                condition: condition(t),
                value,
                held_for: held.as_secs_f64(),
            });
            let seen = value
                .map(|v| {
                    if t.check == HEALTH_SCORE {
                        format!("{v:.2}")
                    } else {
                        // Against an absolute bound, with the digits that tell them apart.
                        let unit = shared.plan.checks[&t.check].unit();
                        match t.above.or(t.below) {
                            Some(b) => show_apart(v, in_unit(b, unit), unit),
                            None => show(&shared, &t.check, v),
                        }
                    }
                })
                .unwrap_or_else(|| "no data".into());
            let reason = Reason {
                check: Some(t.check.clone()),
                value,
                baseline,
                threshold: Some(condition(t)),
                window: t.for_.map(|d| d.0.as_secs_f64()),
                ..Reason::says(format!("trigger: {} {seen}, {}", t.check, condition(t)))
            };
            let _ = fired
                .send(Box::new(Fired {
                    action: t.then,
                    mode: t.mode,
                    reason,
                }))
                .await;
            // A rollback ends the run; after a pause the watch goes on, and the trigger must
            // hold for its whole `for` again before it fires again.
            if t.then == TriggerAction::Rollback {
                return;
            }
            since[i] = None;
        }
    }
}
