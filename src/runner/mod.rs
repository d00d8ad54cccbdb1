//! The runner: executes a compiled plan's graph on tokio, in wall time (`run`) or virtual time
//! (`dry-run`), through the same code. It talks to providers and emits [`events::Event`]s; it
//! never prints. Groups (user steps, or the plan's rollout) run as soon as the groups they need
//! succeed, so independent waves run side by side; triggers, `max-duration` and cancellation
//! race them, and any failure leads into the rollback path.

pub mod clock;
pub mod events;
mod observe;
pub mod prepare;
mod rollback;
mod step;
mod triggers;

use crate::compile::expand::DEFAULT_INTERVAL;
use crate::expr::eval::{self, Contexts, Status};
use crate::graph::{Edge, StepGraph};
use crate::plan::rollback::RollbackMode;
use crate::plan::trigger::TriggerAction;
use crate::plan::Plan;
use crate::providers::traffic::RouterState;
use crate::providers::Providers;
use clock::Clock;
use events::{Event, Mode, Outcome, Reason, Stamped};
use petgraph::graph::NodeIndex;
use petgraph::visit::EdgeRef;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

/// A check's queries with `${{ }}` already substituted, as the metric source receives them.
#[derive(Clone, Debug)]
pub struct Queries {
    pub source: String,
    pub canary: String,
    pub baseline: Option<String>,
    pub samples: Option<String>,
}

/// Everything a run is given.
pub struct Setup {
    pub plan: Plan,
    pub graph: StepGraph,
    pub providers: Providers,
    pub clock: Clock,
    pub mode: Mode,
    /// `env`, `inputs`, `secrets`, `github` for expressions.
    pub contexts: Value,
    /// When the run is cancelled (as by SIGTERM), if it is.
    pub cancel_at: Option<Duration>,
}

/// Every check's queries after substitution.
pub fn resolve_queries(plan: &Plan, contexts: &Value) -> BTreeMap<String, Queries> {
    let ctx = Contexts {
        values: contexts,
        status: Status::default(),
    };
    let sub = |q: &str| eval::interpolate(q, &ctx);
    plan.checks
        .iter()
        .map(|(name, c)| {
            let samples = c.samples.as_ref().map(|s| sub(&s.canary));
            (
                name.clone(),
                Queries {
                    source: c.source.clone(),
                    canary: sub(&c.canary),
                    baseline: c.baseline.as_deref().map(sub),
                    samples,
                },
            )
        })
        .collect()
}

/// What the running steps share.
pub(crate) struct Shared {
    plan: Plan,
    graph: StepGraph,
    providers: Providers,
    clock: Clock,
    mode: Mode,
    contexts: Value,
    queries: BTreeMap<String, Queries>,
    events: mpsc::UnboundedSender<Stamped>,
    routers: Mutex<Routers>,
}

/// What the run did to routers: the state before its first shift, and the current weight.
#[derive(Default)]
struct Routers {
    captured: BTreeMap<String, RouterState>,
    weight: BTreeMap<String, u8>,
}

impl Shared {
    fn emit(&self, event: Event) {
        let t = self.clock.elapsed().as_secs_f64();
        // A reporter that stopped listening must not stop the rollout.
        let _ = self.events.send(Stamped {
            t,
            at: self.clock.now(),
            event,
        });
    }

    fn interpolate(&self, text: &str, status: Status) -> String {
        eval::interpolate(
            text,
            &Contexts {
                values: &self.contexts,
                status,
            },
        )
    }

    /// The group's steps in order.
    fn chain(&self, group: usize) -> Vec<NodeIndex> {
        let g = &self.graph.graph;
        let mut out = vec![NodeIndex::new(self.graph.groups[group].entry)];
        while let Some(next) = g
            .edges(*out.last().expect("a group has an entry"))
            .find(|e| *e.weight() == Edge::Then && g[e.target()].group == group)
            .map(|e| e.target())
        {
            out.push(next);
        }
        out
    }

    fn condition_holds(&self, group: usize, status: Status) -> bool {
        match &self.graph.groups[group].condition {
            None => !status.failed && !status.cancelled,
            Some(c) => crate::expr::parse(c)
                .map(|e| {
                    eval::truthy(&eval::eval(
                        &e,
                        &Contexts {
                            values: &self.contexts,
                            status,
                        },
                    ))
                })
                .unwrap_or(false),
        }
    }
}

/// How a group, a step or the whole forward run ended.
pub(crate) enum End {
    Ok,
    Fail(Reason),
    Abort(Reason),
}

/// Runs the plan to its outcome, emitting events as it goes.
pub async fn run(setup: Setup, events: mpsc::UnboundedSender<Stamped>) -> Outcome {
    let queries = resolve_queries(&setup.plan, &setup.contexts);
    let cancel_at = setup.cancel_at;
    let shared = Arc::new(Shared {
        plan: setup.plan,
        graph: setup.graph,
        providers: setup.providers,
        clock: setup.clock,
        mode: setup.mode,
        contexts: setup.contexts,
        queries,
        events,
        routers: Mutex::new(Routers::default()),
    });
    let sh = &shared;
    sh.emit(Event::RunStarted {
        plan: sh.plan.name.clone(),
        mode: sh.mode,
        steps: sh.graph.graph.node_count(),
    });
    let rollback_group = sh.graph.rollback.map(|n| sh.graph.graph[n].group);
    let forward: Vec<usize> = (0..sh.graph.groups.len())
        .filter(|g| Some(*g) != rollback_group)
        .collect();

    let (fired_tx, mut fired_rx) = mpsc::channel(1);
    let watcher = (!sh.plan.triggers.is_empty()).then(|| {
        tokio::spawn(triggers::watch(
            shared.clone(),
            sh.plan.interval.unwrap_or(DEFAULT_INTERVAL).0,
            fired_tx,
        ))
    });
    let deadline = sh.plan.max_duration.map(|d| d.0);
    let forever = Duration::from_secs(u64::MAX / 4);

    // Per finished group, whether it succeeded; and which groups were started.
    let mut done: BTreeMap<usize, bool> = BTreeMap::new();
    let mut started = std::collections::BTreeSet::new();
    let mut running = JoinSet::new();
    let mut ended: Option<(End, Option<RollbackMode>)> = None;
    loop {
        for &g in &forward {
            if done.contains_key(&g) || started.contains(&g) {
                continue;
            }
            let needs = &sh.graph.groups[g].needs;
            if !needs.iter().all(|n| done.contains_key(n)) {
                continue;
            }
            if needs.iter().all(|n| done[n]) && sh.condition_holds(g, Status::default()) {
                let s = shared.clone();
                running.spawn(async move { (g, s.run_group(g).await) });
                started.insert(g);
            } else {
                done.insert(g, false);
            }
        }
        if running.is_empty() {
            break;
        }
        tokio::select! {
            Some(joined) = running.join_next() => {
                let (g, end) = joined.expect("a group's task does not panic");
                match end {
                    End::Ok => { done.insert(g, true); }
                    other => { ended = Some((other, None)); break; }
                }
            }
            Some(fired) = fired_rx.recv() => {
                let end = match fired.action { TriggerAction::Rollback => End::Fail(fired.reason), TriggerAction::Pause => End::Abort(fired.reason) };
                ended = Some((end, fired.mode));
                break;
            }
            _ = sh.clock.sleep_until(deadline.unwrap_or(forever)) => {
                let d = sh.plan.max_duration.expect("a deadline comes from max-duration");
                ended = Some((End::Fail(Reason::says(format!("max-duration {d} exceeded"))), None));
                break;
            }
            _ = sh.clock.sleep_until(cancel_at.unwrap_or(forever)) => {
                ended = Some((End::Fail(Reason::says("the run was cancelled")), Some(RollbackMode::Immediate)));
                break;
            }
        }
    }
    running.abort_all();
    if let Some(w) = watcher {
        w.abort();
    }
    let (outcome, reason) = match ended {
        None => (Outcome::Promoted, None),
        Some((End::Ok, _)) => unreachable!("a group that succeeds does not end the run"),
        Some((End::Abort(reason), _)) => (Outcome::Aborted, Some(reason)),
        Some((End::Fail(reason), mode)) => {
            let gradual = mode.unwrap_or(sh.plan.rollback.mode) == RollbackMode::Gradual;
            sh.rollback(reason.clone(), gradual).await
        }
    };
    // Steps that asked to run after a failure (`if: failure()` or `always()`) run now.
    if outcome != Outcome::Promoted {
        let status = Status {
            failed: true,
            cancelled: false,
        };
        for &g in &forward {
            if !started.contains(&g)
                && sh.graph.groups[g].condition.is_some()
                && sh.condition_holds(g, status)
            {
                let _ = sh.run_group(g).await;
            }
        }
    }
    sh.emit(Event::RunFinished { outcome, reason });
    outcome
}
