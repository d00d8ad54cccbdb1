//! Whether a dry-run did what its fixture says it should: a fixture with `expect` is a
//! regression test of the plan.

use crate::fixture::Expect;
use crate::runner::events::{Event, Outcome, Stamped};

/// `Ok(what happened)` when it matches the expectation, `Err(what differs)` when not.
pub fn verify(expect: &Expect, events: &[Stamped]) -> Result<String, String> {
    let outcome = events.iter().find_map(|e| match &e.event {
        Event::RunFinished { outcome, .. } => Some(*outcome),
        _ => None,
    });
    let outcome = match outcome {
        Some(Outcome::Promoted) => "promoted",
        Some(Outcome::RolledBack) => "rolled-back",
        Some(Outcome::Aborted) => "aborted",
        Some(Outcome::RouterFailed) => "router-failed",
        Some(Outcome::Failed) | None => "failed",
    };
    // Where: the step whose failure turned the run, or else (a trigger, a deadline) the last
    // forward step started before it.
    let turning = events
        .iter()
        .position(|e| {
            matches!(
                e.event,
                Event::RollbackStarted { .. } | Event::RunFinished { .. }
            )
        })
        .unwrap_or(events.len());
    let failed_step = events.get(turning).and_then(|e| match &e.event {
        Event::RollbackStarted { reason, .. }
        | Event::RunFinished {
            reason: Some(reason),
            ..
        } => reason.step.clone(),
        _ => None,
    });
    let at = failed_step.or_else(|| {
        events[..turning].iter().rev().find_map(|e| match &e.event {
            Event::StepStarted { step, .. } => Some(step.clone()),
            _ => None,
        })
    });
    let check = events.iter().find_map(|e| match &e.event {
        Event::RollbackStarted { reason, .. } => reason.check.clone(),
        Event::RunFinished {
            reason: Some(r), ..
        } => r.check.clone(),
        _ => None,
    });
    let got = format!(
        "{outcome}{}{}",
        at.as_deref()
            .filter(|_| outcome != "promoted")
            .map(|a| format!(" at {a}"))
            .unwrap_or_default(),
        check
            .as_deref()
            .map(|c| format!(" by {c}"))
            .unwrap_or_default()
    );
    let at_matches = match (&expect.at, &at) {
        (None, _) => true,
        (Some(want), Some(step)) => {
            step == want
                || step.starts_with(&format!("{want}."))
                || step.contains(&format!(".{want}."))
        }
        (Some(_), None) => false,
    };
    let check_matches = expect.check.is_none() || expect.check == check;
    if expect.outcome == outcome && at_matches && check_matches {
        Ok(got)
    } else {
        let want = format!(
            "{}{}{}",
            expect.outcome,
            expect
                .at
                .as_deref()
                .map(|a| format!(" at {a}"))
                .unwrap_or_default(),
            expect
                .check
                .as_deref()
                .map(|c| format!(" by {c}"))
                .unwrap_or_default()
        );
        Err(format!("expected {want}, got {got}"))
    }
}
