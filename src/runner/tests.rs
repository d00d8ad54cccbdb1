//! The gate and rollback paths, driven through the library in virtual time: a plan and a
//! fixture in, the events the runner emits out.

use crate::event::{Decision, Event, Outcome, Route, Stamped};
use crate::fixture;
use crate::runner::{self, prepare};
use std::sync::Arc;

/// A canary at 10% then 50%, a sign-off gate, then 100%; `extra` is appended to the plan.
fn plan(extra: &str) -> String {
    format!(
        r#"
name: paths
providers:
  edge: {{ kind: haproxy, socket: /run/haproxy/admin.sock, backend: app, stable: stable, canary: canary }}
  prom: {{ kind: prometheus, url: http://127.0.0.1:9090 }}
interval: 1m
checks:
  error-rate: {{ source: prom, canary: 'errors{{v="canary"}}', baseline: 'errors{{v="stable"}}', max: 1%, critical: 5% }}
phases:
  - {{ name: canary-10, weight: 10, observe: 5m, checks: [error-rate] }}
  - {{ name: canary-50, weight: 50, observe: 5m, checks: [error-rate] }}
{extra}"#
    )
}

/// Runs `plan` against a fixture whose canary's error rate follows `steps`, stable's 0.2%;
/// `more` is appended to the fixture (scripted events, `approve`).
fn run(plan: &str, steps: &str, more: &str) -> (Outcome, Vec<Stamped>) {
    run_with_stable(plan, steps, HEALTHY, more)
}

fn run_with_stable(plan: &str, steps: &str, stable: &str, more: &str) -> (Outcome, Vec<Stamped>) {
    let v = crate::validate::validate("paths.yaml", plan).unwrap_or_else(|d| panic!("{d:#?}"));
    let fixture = format!(
        "start: 2026-03-01T12:00:00Z\nqueries:\n  'errors{{v=\"canary\"}}':\n    steps: {steps}\n  'errors{{v=\"stable\"}}':\n    steps: {stable}\n{more}"
    );
    let fx = fixture::parse("f.yaml", &fixture).unwrap_or_else(|d| panic!("{d:#?}"));
    rehearse(v, fx)
}

/// Runs a validated plan against a fixture in virtual time; its outcome and events.
fn rehearse(v: crate::validate::Validated, fx: fixture::Fixture) -> (Outcome, Vec<Stamped>) {
    rehearse_with(v, fx, |_| {})
}

/// The same, with its setup changed first by `adjust` (a journal, an owner).
fn rehearse_with(
    v: crate::validate::Validated,
    fx: fixture::Fixture,
    adjust: impl FnOnce(&mut runner::Setup),
) -> (Outcome, Vec<Stamped>) {
    let prepared = prepare::prepare(v, Arc::new(fx), &[], None)
        .unwrap_or_else(|_| panic!("the fixture answers every query"));
    let mut setup = prepared.setup();
    adjust(&mut setup);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let outcome = rt.block_on(runner::run(setup, tx));
    let mut events = Vec::new();
    while let Ok(e) = rx.try_recv() {
        events.push(e);
    }
    (outcome, events)
}

/// The weights the router was set to, in order.
fn weights(events: &[Stamped]) -> Vec<u8> {
    events
        .iter()
        .filter_map(|e| match &e.event {
            Event::WeightShifted {
                to: Route::Weight { percent },
                ..
            } => Some(*percent),
            _ => None,
        })
        .collect()
}

fn reason(events: &[Stamped]) -> String {
    events
        .iter()
        .find_map(|e| match &e.event {
            Event::RollbackStarted { reason, .. } => Some(reason.message.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

const HEALTHY: &str = "[[0s, 0.002]]";
const GATE: &str = "  - { name: sign-off, gate: { approvers: [sre], timeout: 20m, on-timeout: ON } }\n  - { name: full, weight: 100 }\n";

#[test]
fn a_gate_nobody_decides_rolls_back_and_puts_the_router_back() {
    let (outcome, events) = run(
        &plan(&GATE.replace("ON", "rollback")),
        HEALTHY,
        "approve: none\n",
    );
    assert_eq!(outcome, Outcome::RolledBack);
    assert_eq!(weights(&events), [10, 50, 0]);
    assert!(events.iter().any(|e| matches!(
        &e.event,
        Event::GateDecided {
            decision: Decision::TimedOut,
            by: None,
            ..
        }
    )));
    assert_eq!(reason(&events), "sign-off.gate was not approved within 20m");
}

#[test]
fn a_gate_timeout_that_aborts_puts_the_router_back_and_ends_aborted() {
    let (outcome, events) = run(
        &plan(&GATE.replace("ON", "abort")),
        HEALTHY,
        "approve: none\n",
    );
    assert_eq!(outcome, Outcome::Aborted);
    assert_eq!(outcome.exit_code(), 4);
    assert_eq!(weights(&events).last(), Some(&0));
}

#[test]
fn a_rejected_gate_rolls_back_naming_who_rejected() {
    let more = "events:\n  - { at: 12m, reject: sign-off, by: bob }\n";
    let (outcome, events) = run(&plan(&GATE.replace("ON", "rollback")), HEALTHY, more);
    assert_eq!(outcome, Outcome::RolledBack);
    assert!(events.iter().any(|e| matches!(
        &e.event,
        Event::GateDecided { decision: Decision::Rejected, by: Some(by), .. } if by == "bob"
    )));
    assert_eq!(weights(&events), [10, 50, 0]);
}

#[test]
fn an_approved_gate_goes_on_to_full() {
    let more = "events:\n  - { at: 12m, approve: sign-off, by: alice }\n";
    let (outcome, events) = run(&plan(&GATE.replace("ON", "rollback")), HEALTHY, more);
    assert_eq!(outcome, Outcome::Promoted);
    assert_eq!(weights(&events), [10, 50, 100]);
}

#[test]
fn a_critical_value_rolls_back_at_once_naming_check_value_and_bound() {
    let (outcome, events) = run(&plan(""), "[[0s, 0.002], [3m, 0.08]]", "");
    assert_eq!(outcome, Outcome::RolledBack);
    assert_eq!(weights(&events), [10, 0]);
    let why = reason(&events);
    assert!(why.starts_with("error-rate 8% > critical 5%"), "{why}");
    assert!(why.ends_with("at canary-10.observe"), "{why}");
}

#[test]
fn a_gradual_rollback_steps_down_through_its_weights() {
    let rollback = "rollback: { mode: gradual, weights: [25, 5, 0], every: 1m }\n";
    let (outcome, events) = run(&plan(rollback), "[[0s, 0.002], [7m, 0.08]]", "");
    assert_eq!(outcome, Outcome::RolledBack);
    assert_eq!(weights(&events), [10, 50, 25, 5, 0]);
}

#[test]
fn a_rollback_whose_verification_fails_says_so() {
    let rollback = "rollback: { mode: immediate, verify: { observe: 2m, checks: [error-rate] } }\n";
    // An incident on both versions: after the rollback, stable is failing too.
    let both = "[[0s, 0.002], [3m, 0.03]]";
    let (outcome, events) = run_with_stable(&plan(rollback), both, both, "");
    assert_eq!(outcome, Outcome::RolledBack);
    assert!(events.iter().any(|e| matches!(
        e.event,
        Event::RollbackFinished {
            verified: Some(false)
        }
    )));
}

#[test]
fn a_trigger_rolls_back_while_a_gate_waits() {
    let trigger = "triggers:\n  - { check: error-rate, above: 2%, for: 2m, then: rollback }\n";
    let extra = format!("{}{trigger}", GATE.replace("ON", "rollback"));
    let (outcome, events) = run(
        &plan(&extra),
        "[[0s, 0.002], [13m, 0.03]]",
        "approve: none\n",
    );
    assert_eq!(outcome, Outcome::RolledBack);
    assert_eq!(weights(&events), [10, 50, 0]);
    assert!(events
        .iter()
        .any(|e| matches!(e.event, Event::TriggerFired { .. })));
    assert!(!events
        .iter()
        .any(|e| matches!(e.event, Event::GateDecided { .. })));
}

#[test]
fn counters_read_as_observation_starts_are_the_zero_point_so_the_first_interval_is_judged() {
    let plan = r#"
name: counts
providers:
  edge: { kind: haproxy, socket: /run/haproxy/admin.sock, backend: app, stable: stable, canary: canary }
  prom: { kind: prometheus, url: http://127.0.0.1:9090 }
interval: 1m
checks:
  errors: { source: prom, canary: { events: ce, total: ct }, baseline: { events: be, total: bt }, max: 1% }
phases:
  - { name: canary-10, weight: 10, observe: 3m, checks: [errors] }
"#;
    let v = crate::validate::validate("counts.yaml", plan).unwrap_or_else(|d| panic!("{d:#?}"));
    // 100 canary requests a minute, 5 of them errors in the first minute only.
    let fixture = "queries:\n  ce: { steps: [[0s, 0], [1m, 5]] }\n  ct: { steps: [[0s, 0], [1m, 100], [2m, 200], [3m, 300]] }\n  be: { steps: [[0s, 0], [1m, 2], [2m, 4], [3m, 6]] }\n  bt: { steps: [[0s, 0], [1m, 900], [2m, 1800], [3m, 2700]] }\n";
    let fx = fixture::parse("f.yaml", fixture).unwrap_or_else(|d| panic!("{d:#?}"));
    let (outcome, events) = rehearse(v, fx);
    let first = events.iter().find_map(|e| match &e.event {
        Event::CheckEvaluated(ev) => Some((e.t.round(), ev.value, ev.why.clone())),
        _ => None,
    });
    // The first minute's 5% is judged at minute 1 (not taken as the counters' zero point).
    assert_eq!(first, Some((60.0, Some(0.05), Some("5% > max 1%".into()))));
    assert_eq!(outcome, Outcome::RolledBack);
}

/// What a run asked of its journal, in order: each event appended, and each sync.
#[derive(Default)]
struct Recording(std::sync::Mutex<Vec<String>>);

impl crate::journal::Log for Recording {
    fn append(&self, e: &Stamped) -> std::io::Result<()> {
        let kind = serde_json::to_value(e).unwrap()["event"]
            .as_str()
            .unwrap()
            .to_string();
        self.0.lock().unwrap().push(kind);
        Ok(())
    }

    fn sync(&self) -> std::io::Result<()> {
        self.0.lock().unwrap().push("sync".into());
        Ok(())
    }
}

/// Owned by another process from the start: every ownership check fails.
struct Lost;

impl crate::journal::Lease for Lost {
    fn check(&self) -> std::io::Result<()> {
        Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            "this process no longer owns run r1",
        ))
    }

    fn lost(&self) -> bool {
        true
    }
}

/// Runs `plan` against a healthy fixture with the journal and owner given.
fn run_journaled(
    journal: Arc<Recording>,
    owner: Option<Arc<dyn crate::journal::Lease>>,
) -> (Outcome, Vec<Stamped>) {
    let v = crate::validate::validate("paths.yaml", &plan("")).unwrap();
    let fixture = format!(
        "start: 2026-03-01T12:00:00Z\nqueries:\n  'errors{{v=\"canary\"}}':\n    steps: {HEALTHY}\n  'errors{{v=\"stable\"}}':\n    steps: {HEALTHY}\n"
    );
    let fx = fixture::parse("f.yaml", &fixture).unwrap();
    rehearse_with(v, fx, |setup| {
        setup.journal = Some(Arc::new(crate::journal::Pending::new(journal)));
        setup.owner = owner;
    })
}

#[test]
fn the_journal_is_synced_just_before_and_just_after_every_router_write() {
    let journal = Arc::new(Recording::default());
    let (outcome, _) = run_journaled(journal.clone(), None);
    assert_eq!(outcome, Outcome::Promoted);
    let asked = journal.0.lock().unwrap().clone();
    let shifts: Vec<usize> = asked
        .iter()
        .enumerate()
        .filter(|(_, a)| *a == "weight-shifted")
        .map(|(i, _)| i)
        .collect();
    assert_eq!(shifts.len(), 2, "{asked:?}");
    // The router is written between the sync before and the event after: the journal on disk
    // says what it was told either way.
    for i in shifts {
        assert_eq!(asked[i - 1], "sync", "{asked:?}");
        assert_eq!(asked[i + 1], "sync", "{asked:?}");
    }
}

#[test]
fn a_process_that_no_longer_owns_the_run_never_writes_a_router() {
    let (outcome, events) = run_journaled(Arc::new(Recording::default()), Some(Arc::new(Lost)));
    assert_ne!(outcome, Outcome::Promoted);
    assert!(
        !events
            .iter()
            .any(|e| matches!(e.event, Event::WeightShifted { .. })),
        "a router was written"
    );
}

/// A store that cannot be reached while the run's clock is in `down`: its journal and its
/// lease both fail then, as a database restarting does; what it took, it keeps.
struct Flaky {
    clock: std::sync::OnceLock<crate::clock::Clock>,
    down: std::ops::Range<std::time::Duration>,
    kept: std::sync::Mutex<Vec<Stamped>>,
}

impl Flaky {
    fn new(down: std::ops::Range<u64>) -> Arc<Flaky> {
        Arc::new(Flaky {
            clock: std::sync::OnceLock::new(),
            down: std::time::Duration::from_secs(down.start)
                ..std::time::Duration::from_secs(down.end),
            kept: Default::default(),
        })
    }

    fn answers(&self) -> std::io::Result<()> {
        let now = self.clock.get().expect("set before the run").elapsed();
        if self.down.contains(&now) {
            return Err(std::io::Error::other("connection refused"));
        }
        Ok(())
    }
}

impl crate::journal::Log for Flaky {
    fn append(&self, e: &Stamped) -> std::io::Result<()> {
        self.answers()?;
        self.kept.lock().unwrap().push(e.clone());
        Ok(())
    }

    fn sync(&self) -> std::io::Result<()> {
        Ok(())
    }
}

impl crate::journal::Lease for Flaky {
    fn check(&self) -> std::io::Result<()> {
        self.answers()
    }

    fn lost(&self) -> bool {
        false
    }
}

/// Runs the paths plan (with `extra`) on a healthy fixture against a store down while `down`
/// (seconds of run time); the outcome, the events, and what never got written.
fn run_with_store_down(extra: &str, store: &Arc<Flaky>) -> (Outcome, Vec<Stamped>, Vec<Stamped>) {
    let v =
        crate::validate::validate("paths.yaml", &plan(extra)).unwrap_or_else(|d| panic!("{d:#?}"));
    let fixture = format!(
        "start: 2026-03-01T12:00:00Z\nqueries:\n  'errors{{v=\"canary\"}}':\n    steps: {HEALTHY}\n  'errors{{v=\"stable\"}}':\n    steps: {HEALTHY}\n"
    );
    let fx = fixture::parse("f.yaml", &fixture).unwrap();
    let pending = Arc::new(crate::journal::Pending::new(store.clone()));
    let (outcome, events) = rehearse_with(v, fx, |setup| {
        let _ = store.clock.set(setup.clock.clone());
        setup.journal = Some(pending.clone());
        setup.owner = Some(store.clone());
    });
    (outcome, events, pending.left())
}

fn when(events: &[Stamped], what: impl Fn(&Event) -> bool) -> Vec<f64> {
    events
        .iter()
        .filter(|e| what(&e.event))
        .map(|e| e.t)
        .collect()
}

#[test]
fn a_store_away_for_a_while_holds_the_routers_and_loses_no_event() {
    // Down from 2m to 6m: the shift to 50% due at 5m waits for it.
    let store = Flaky::new(120..360);
    let (outcome, events, left) = run_with_store_down("rollback: { store-outage: 10m }", &store);
    assert_eq!(outcome, Outcome::Promoted);
    let shifted = when(&events, |e| matches!(e, Event::WeightShifted { .. }));
    assert!(
        shifted.iter().all(|t| !(120.0..360.0).contains(t)),
        "a router was written while the store was away: {shifted:?}"
    );
    assert_eq!(weights(&events), vec![10, 50]);
    let away = when(&events, |e| matches!(e, Event::StoreUnreachable { .. }));
    let back = when(&events, |e| matches!(e, Event::StoreReachable { .. }));
    assert_eq!(away.len(), 1, "{away:?}");
    assert_eq!(back.len(), 1, "{back:?}");
    assert!((120.0..=180.0).contains(&away[0]), "{away:?}");
    assert!((360.0..=361.0).contains(&back[0]), "{back:?}");
    // Every event is in the journal, in the order it was emitted.
    assert!(left.is_empty(), "{left:?}");
    assert_eq!(*store.kept.lock().unwrap(), events);
}

#[test]
fn a_store_gone_past_its_bound_rolls_back_unproven_and_keeps_what_it_could_not_write() {
    let store = Flaky::new(120..100_000);
    let (outcome, events, left) = run_with_store_down("", &store);
    assert_eq!(outcome, Outcome::RolledBack);
    let reason = events
        .iter()
        .find_map(|e| match &e.event {
            Event::RollbackStarted { reason, .. } => Some(reason.message.clone()),
            _ => None,
        })
        .expect("it rolled back");
    assert!(
        reason.starts_with("the store has been unreachable for 30s (rollback.store-outage)"),
        "{reason}"
    );
    // Back to the captured state, 30 s after the store went away.
    assert_eq!(weights(&events), vec![10, 0]);
    let restored = when(&events, |e| matches!(e, Event::WeightShifted { .. }))[1];
    let away = when(&events, |e| matches!(e, Event::StoreUnreachable { .. }))[0];
    assert!(
        (29.9..32.0).contains(&(restored - away)),
        "{away} {restored}"
    );
    // What the store took, and what it did not, are every event in order.
    let mut all = store.kept.lock().unwrap().clone();
    all.extend(left);
    assert_eq!(all, events);
}
