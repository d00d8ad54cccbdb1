//! Fixed runs for the reporters' snapshot tests: a plan and the events of a run of it, written
//! out event by event as the runner emits them, so a change to what a reporter prints shows as
//! a snapshot diff and never depends on the runner.

use crate::event::{
    Decision, Evaluation, Event, Evidence, Method, Mode, Outcome, Reason, Route, RouterState,
    Stamped, StepStatus, Verdict,
};
use crate::plan::Plan;
use chrono::{DateTime, Duration, Utc};

const PLAN: &str = r#"
name: checkout canary
providers:
  edge: { kind: haproxy, socket: /run/haproxy/admin.sock, backend: checkout, stable: stable, canary: canary }
  prom: { kind: prometheus, url: http://127.0.0.1:9090 }
  gh: { kind: github }
interval: 1m
checks:
  errors:
    source: prom
    canary: { events: 'sum(errors{version="canary"})', total: 'sum(requests{version="canary"})' }
    baseline: { events: 'sum(errors{version="stable"})', total: 'sum(requests{version="stable"})' }
    false-rollbacks: 1%
  p99-latency: { source: prom, canary: 'p99{version="canary"}', max: 500ms }
phases:
  - { name: canary-10, weight: 10, observe: 30m, checks: [errors, p99-latency] }
  - { name: sign-off, gate: { approvers: [my-org/sre], via: gh, timeout: 30m, on-timeout: rollback } }
  - { name: full, weight: 100 }
notify: { to: [gh] }
"#;

pub fn plan() -> Plan {
    crate::validate::validate("checkout.yaml", PLAN)
        .unwrap_or_else(|d| panic!("{d:#?}"))
        .plan
}

/// Events at seconds since 2026-03-01T12:00:00Z.
struct Script(Vec<Stamped>);

impl Script {
    fn at(&mut self, t: f64, event: Event) -> &mut Script {
        let start: DateTime<Utc> = "2026-03-01T12:00:00Z".parse().expect("a time");
        let at = start + Duration::milliseconds((t * 1000.0) as i64);
        self.0.push(Stamped { t, at, event });
        self
    }
}

fn step(step: &str, kind: &'static str) -> Event {
    Event::StepStarted {
        step: step.into(),
        kind,
    }
}

fn done(step: &str, status: StepStatus, reason: Option<&str>) -> Event {
    Event::StepFinished {
        step: step.into(),
        status,
        reason: reason.map(str::to_string),
    }
}

fn shifted(from: u8, to: u8) -> Event {
    Event::WeightShifted {
        router: "edge".into(),
        from,
        to: Route::Weight { percent: to },
        took: None,
    }
}

fn errors(verdict: Verdict, why: Option<&str>, canary: f64, evidence: Evidence) -> Event {
    Event::CheckEvaluated(Box::new(Evaluation {
        step: "canary-10.observe".into(),
        check: "errors".into(),
        value: Some(canary),
        baseline: Some(0.0035),
        threshold: "sequential: rate ≤ baseline's, false rollbacks ≤ 1%".into(),
        verdict,
        why: why.map(str::to_string),
        window: 60.0,
        samples: Some(1805.0),
        method: Method::Sequential,
        evidence: Some(evidence),
        statistic: None,
        p_value: None,
    }))
}

fn latency(value: f64) -> Event {
    Event::CheckEvaluated(Box::new(Evaluation {
        step: "canary-10.observe".into(),
        check: "p99-latency".into(),
        value: Some(value),
        baseline: None,
        threshold: "max 500ms".into(),
        verdict: Verdict::Pass,
        why: None,
        window: 60.0,
        samples: Some(1.0),
        method: Method::Threshold,
        evidence: None,
        statistic: None,
        p_value: None,
    }))
}

fn evidence(e_value: f64, ratio: f64) -> Evidence {
    Evidence {
        e_value,
        bound: 100.0,
        ratio: Some(ratio),
        canary_rate: Some(0.0122),
        baseline_rate: Some(0.00486),
        null_ratio: 1.0,
        dispersion: 1.0,
        slower: None,
    }
}

fn started(s: &mut Script) {
    s.at(
        0.0,
        Event::RunStarted {
            plan: "checkout canary".into(),
            mode: Mode::Run,
            steps: 5,
            fixture: None,
        },
    )
    .at(0.0, step("canary-10.shift", "shift"))
    .at(
        0.0,
        Event::RouterCaptured {
            router: "edge".into(),
            state: RouterState::share(0),
        },
    )
    .at(0.0, shifted(0, 10))
    .at(0.0, done("canary-10.shift", StepStatus::Succeeded, None))
    .at(0.0, step("canary-10.observe", "observe"));
}

/// Rolled back by the sequential test at 19 minutes: errors 2.5× stable's.
pub fn rolled_back_by_the_sequential_test() -> Vec<Stamped> {
    let why =
        "1.22% vs baseline 0.486% over the run so far (2.51×, tolerance 1×): e-value 125 ≥ 100";
    let message = format!("errors {why} at canary-10.observe");
    let reason = Reason {
        check: Some("errors".into()),
        value: Some(0.0278),
        baseline: Some(0.0035),
        threshold: Some("sequential: rate ≤ baseline's, false rollbacks ≤ 1%".into()),
        window: Some(60.0),
        step: Some("canary-10.observe".into()),
        evidence: Some(Box::new(evidence(125.48, 2.51))),
        ..Reason::says(message.clone())
    };
    let mut s = Script(Vec::new());
    started(&mut s);
    s.at(60.0, latency(0.212))
        .at(
            600.0,
            errors(Verdict::Pass, None, 0.009, evidence(4.2, 1.8)),
        )
        .at(600.0, latency(0.231))
        .at(
            1140.0,
            errors(Verdict::Fail, Some(why), 0.0278, evidence(125.48, 2.51)),
        )
        .at(
            1140.0,
            done("canary-10.observe", StepStatus::Failed, Some(&message)),
        )
        .at(
            1140.0,
            Event::RollbackStarted {
                reason: Box::new(reason.clone()),
                gradual: false,
            },
        )
        .at(1140.0, shifted(10, 0))
        .at(1140.0, Event::RollbackFinished { verified: None })
        .at(
            1140.0,
            Event::RunFinished {
                outcome: Outcome::RolledBack,
                reason: Some(Box::new(reason)),
            },
        );
    s.0
}

/// Started, observed the canary (its error rate and p99 latency), waiting at the sign-off.
fn at_the_gate(error_rate: f64, p99: f64) -> Script {
    let mut s = Script(Vec::new());
    started(&mut s);
    s.at(
        900.0,
        errors(Verdict::Pass, None, error_rate, evidence(0.5, 1.05)),
    )
    .at(900.0, latency(p99))
    .at(
        1800.0,
        done("canary-10.observe", StepStatus::Succeeded, None),
    )
    .at(1800.0, step("sign-off.gate", "gate"))
    .at(
        1800.0,
        Event::GateWaiting {
            step: "sign-off.gate".into(),
            approvers: vec!["my-org/sre".into()],
            timeout: 1800.0,
            via: "gh".into(),
        },
    );
    s
}

/// The canary passed its observation; nobody approved the sign-off within 30 minutes.
pub fn gate_timed_out() -> Vec<Stamped> {
    let message = "sign-off.gate was not approved within 30m";
    let reason = Reason {
        step: Some("sign-off.gate".into()),
        ..Reason::says(message)
    };
    let mut s = at_the_gate(0.0041, 0.205);
    s.at(
        3600.0,
        Event::GateDecided {
            step: "sign-off.gate".into(),
            decision: Decision::TimedOut,
            by: None,
        },
    )
    .at(
        3600.0,
        done("sign-off.gate", StepStatus::Failed, Some(message)),
    )
    .at(
        3600.0,
        Event::RollbackStarted {
            reason: Box::new(reason.clone()),
            gradual: false,
        },
    )
    .at(3600.0, shifted(10, 0))
    .at(3600.0, Event::RollbackFinished { verified: None })
    .at(
        3600.0,
        Event::RunFinished {
            outcome: Outcome::RolledBack,
            reason: Some(Box::new(reason)),
        },
    );
    s.0
}

/// Promoted: every check passed, the sign-off approved on the pull request.
pub fn promoted() -> Vec<Stamped> {
    let mut s = at_the_gate(0.0037, 0.198);
    s.at(
        2100.0,
        Event::GateDecided {
            step: "sign-off.gate".into(),
            decision: Decision::Approved,
            by: Some("alice".into()),
        },
    )
    .at(2100.0, done("sign-off.gate", StepStatus::Succeeded, None))
    .at(2100.0, step("full.shift", "shift"))
    .at(2100.0, shifted(10, 100))
    .at(2100.0, done("full.shift", StepStatus::Succeeded, None))
    .at(
        2100.0,
        Event::RunFinished {
            outcome: Outcome::Promoted,
            reason: None,
        },
    );
    s.0
}

/// The same events as a rehearsal against `fixture` would emit them.
pub fn rehearsed(mut events: Vec<Stamped>, fixture: &str) -> Vec<Stamped> {
    for e in &mut events {
        if let Event::RunStarted {
            mode, fixture: f, ..
        } = &mut e.event
        {
            *mode = Mode::DryRun;
            *f = Some(fixture.to_string());
        }
    }
    events
}
