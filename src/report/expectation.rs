//! Whether a dry-run did what its fixture says it should: a fixture with `expect` is a
//! regression test of the plan. What a run did is read from its events as JSON, so a live
//! run's journal (see `rollgate record`) and a dry-run are judged by the same words.

use crate::event::Stamped;
use crate::fixture::Expect;
use serde_json::Value;

/// How a run ended, where, and by which check, as an `expect` states it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Happened {
    /// `promoted`, `rolled-back`, `aborted`, `router-failed` or `failed`.
    pub outcome: String,
    /// The step whose failure turned the run, or else (a trigger, a deadline) the last forward
    /// step started before it; `None` for a promoted run.
    pub at: Option<String>,
    pub check: Option<String>,
}

impl Happened {
    /// From the events as JSON, in order; `None` if the run has not finished.
    pub fn of(events: &[Value]) -> Option<Happened> {
        let finished = events.iter().rev().find(|e| e["event"] == "run-finished")?;
        let outcome = finished["outcome"].as_str().unwrap_or("failed").to_string();
        let turning = events
            .iter()
            .position(|e| e["event"] == "rollback-started" || e["event"] == "run-finished")
            .unwrap_or(events.len());
        let reason = |e: &Value| {
            let r = &e["reason"];
            (!r.is_null()).then_some(r.clone())
        };
        let failed_step = events
            .get(turning)
            .and_then(reason)
            .and_then(|r| r["step"].as_str().map(str::to_string));
        let at = failed_step
            .or_else(|| {
                events[..turning]
                    .iter()
                    .rev()
                    .find(|e| e["event"] == "step-started")
                    .and_then(|e| e["step"].as_str().map(str::to_string))
            })
            .filter(|_| outcome != "promoted");
        let check = events
            .iter()
            .filter(|e| e["event"] == "rollback-started" || e["event"] == "run-finished")
            .find_map(|e| reason(e).and_then(|r| r["check"].as_str().map(str::to_string)));
        Some(Happened { outcome, at, check })
    }
}

fn says(outcome: &str, at: Option<&str>, check: Option<&str>) -> String {
    format!(
        "{outcome}{}{}",
        at.map(|a| format!(" at {a}")).unwrap_or_default(),
        check.map(|c| format!(" by {c}")).unwrap_or_default()
    )
}

/// `Ok(what happened)` when it matches the expectation, `Err(what differs)` when not.
pub fn verify(expect: &Expect, events: &[Stamped]) -> Result<String, String> {
    let json: Vec<Value> = events
        .iter()
        .map(|e| serde_json::to_value(e).expect("events serialize"))
        .collect();
    let h = Happened::of(&json).unwrap_or(Happened {
        outcome: "failed".into(),
        at: None,
        check: None,
    });
    let got = says(&h.outcome, h.at.as_deref(), h.check.as_deref());
    let at_matches = match (&expect.at, &h.at) {
        (None, _) => true,
        (Some(want), Some(step)) => crate::graph::names_step(step, want),
        (Some(_), None) => false,
    };
    let check_matches = expect.check.is_none() || expect.check == h.check;
    if expect.outcome == h.outcome && at_matches && check_matches {
        Ok(got)
    } else {
        let want = says(
            &expect.outcome,
            expect.at.as_deref(),
            expect.check.as_deref(),
        );
        Err(format!("expected {want}, got {got}"))
    }
}
