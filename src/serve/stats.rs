//! Rollouts counted from the store, by plan: how many started, how each ended, and what
//! rolled them back. Read from the journals, not this process's memory, so every replica
//! answers the same and the counts outlive restarts (`/metrics` counts what this process saw).

use crate::journal::Record;
use serde::Serialize;
use std::collections::BTreeMap;

/// One plan's rollouts, or every plan's.
#[derive(Debug, Default, PartialEq, Serialize)]
pub struct Counts {
    pub started: u64,
    /// Not ended, and driven by some process now.
    pub running: u64,
    /// Not ended, and driven by nobody: a service takes it over within its `--reap-every`.
    pub stopped: u64,
    /// The ended ones by outcome: `promoted`, `rolled-back`, `aborted`, `failed`,
    /// `router-failed`.
    pub outcomes: BTreeMap<String, u64>,
    /// The rolled-back ones by cause: the check that decided, or `requested`, `router`,
    /// `store`, `other`.
    pub rolled_back_by: BTreeMap<String, u64>,
}

#[derive(Debug, Default, PartialEq, Serialize)]
pub struct Stats {
    pub all: Counts,
    /// By plan name (a plan file's name without `.yaml`).
    pub plans: BTreeMap<String, Counts>,
}

/// The counts of `runs`.
pub fn stats(runs: &[Record]) -> Stats {
    let mut s = Stats::default();
    for r in runs {
        let plan = s.plans.entry(r.plan_name()).or_default();
        for counts in [&mut *plan, &mut s.all] {
            count(counts, r);
        }
    }
    s
}

fn count(c: &mut Counts, r: &Record) {
    c.started += 1;
    let Some(outcome) = r.outcome() else {
        match r.driven() {
            true => c.running += 1,
            false => c.stopped += 1,
        }
        return;
    };
    *c.outcomes.entry(outcome.to_string()).or_default() += 1;
    if let (Some(finished), "rolled-back") = (r.finished(), outcome) {
        let why = &finished["reason"];
        let cause = crate::event::cause(
            why["check"].as_str(),
            why["router"].as_str(),
            why["message"].as_str().unwrap_or_default(),
        );
        *c.rolled_back_by.entry(cause).or_default() += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::Header;
    use serde_json::json;

    fn run(plan: &str, finished: Option<serde_json::Value>, owned: bool) -> Record {
        Record {
            header: Header {
                run_id: "r".into(),
                plan: plan.into(),
                plan_file: None,
                plan_sha256: String::new(),
                plan_source: None,
                inputs: vec![],
                started_at: chrono::Utc::now(),
                pid: 1,
                concurrency: None,
                environment: None,
                host: None,
                dir: None,
            },
            events: finished.into_iter().collect(),
            owned: Some(owned),
        }
    }

    #[test]
    fn rollouts_are_counted_by_plan_outcome_and_what_rolled_them_back() {
        let ended = |outcome: &str, reason: serde_json::Value| {
            Some(json!({"event": "run-finished", "outcome": outcome, "reason": reason}))
        };
        let runs = [
            run("plans/checkout.yaml", ended("promoted", json!(null)), false),
            run(
                "plans/checkout.yaml",
                ended(
                    "rolled-back",
                    json!({"message": "error-rate 8% > 1%", "check": "error-rate"}),
                ),
                false,
            ),
            run(
                "plans/checkout.yaml",
                ended(
                    "rolled-back",
                    json!({"message": "rollback requested by alice"}),
                ),
                false,
            ),
            run("plans/search.yml", None, true),
            run("plans/search.yml", None, false),
        ];
        let s = stats(&runs);
        let checkout = &s.plans["checkout"];
        assert_eq!(checkout.started, 3);
        assert_eq!(checkout.outcomes["promoted"], 1);
        assert_eq!(checkout.outcomes["rolled-back"], 2);
        assert_eq!(checkout.rolled_back_by["error-rate"], 1);
        assert_eq!(checkout.rolled_back_by["requested"], 1);
        let search = &s.plans["search"];
        assert_eq!((search.started, search.running, search.stopped), (2, 1, 1));
        assert!(search.outcomes.is_empty());
        assert_eq!(s.all.started, 5);
        assert_eq!(s.all.rolled_back_by.values().sum::<u64>(), 2);
    }
}
