//! The runner: executes a compiled plan's graph on tokio, in wall time (`run`) or virtual time
//! (`dry-run`), through the same code. It talks to providers and emits [`Event`]s; it
//! never prints. Groups (user steps, or the plan's rollout) run as soon as the groups they need
//! succeed, so independent waves run side by side; triggers, `max-duration` and cancellation
//! race them, and any failure leads into the rollback path.

mod counting;
mod histograms;
mod observe;
mod pause;
mod preflight;
pub mod prepare;
mod retry;
mod rollback;
mod step;
mod store_outage;
mod triggers;

use crate::clock::Clock;
use crate::compile::expand::DEFAULT_INTERVAL;
use crate::event::RouterState;
use crate::event::{Event, Mode, Outcome, Reason, Stamped};
use crate::expr::eval::{self, Contexts, Status};
use crate::graph::{Edge, StepGraph};
use crate::journal::{Lease, Pending};
use crate::plan::check::{Counts, Histogram, Series};
use crate::plan::rollback::RollbackMode;
use crate::plan::trigger::TriggerAction;
use crate::plan::{Plan, ResumePolicy};
use crate::providers::Providers;
use petgraph::graph::NodeIndex;
use petgraph::visit::EdgeRef;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

/// A check's queries with `${{ }}` already substituted, as the metric source receives them.
#[derive(Clone, Debug)]
pub struct Queries {
    pub source: String,
    pub canary: Series,
    pub baseline: Option<Series>,
    pub samples: Option<String>,
}

impl Queries {
    /// Every query with where the plan states it under the check (`["baseline", "total"]`).
    pub fn asked(&self) -> Vec<(Vec<&'static str>, &str)> {
        let mut out = Vec::new();
        for (group, series) in [
            ("canary", Some(&self.canary)),
            ("baseline", self.baseline.as_ref()),
        ] {
            match series {
                Some(Series::Value(q)) => out.push((vec![group], q.as_str())),
                Some(Series::Counts(c)) => {
                    out.push((vec![group, "events"], c.events.as_str()));
                    out.push((vec![group, "total"], c.total.as_str()));
                }
                Some(Series::Histogram(h)) => {
                    out.push((vec![group, "buckets"], h.buckets.as_str()))
                }
                None => {}
            }
        }
        if let Some(s) = &self.samples {
            out.push((vec!["samples", "canary"], s.as_str()));
        }
        out
    }
}

/// Everything a run is given.
pub struct Setup {
    pub plan: Plan,
    pub graph: StepGraph,
    pub providers: Providers,
    pub clock: Clock,
    pub mode: Mode,
    /// The fixture a rehearsal replays, to be named when it starts.
    pub fixture: Option<String>,
    /// `env`, `inputs`, `secrets`, `github` for expressions.
    pub contexts: Value,
    /// Completes when the run is cancelled (SIGINT/SIGTERM, or a fixture's `cancel`).
    pub cancel: Cancellation,
    /// Where every event is written before the run moves on (real runs), or kept, in order,
    /// while the store cannot be reached.
    pub journal: Option<Arc<Pending>>,
    /// This process's ownership of the run (real runs), checked before every router write.
    pub owner: Option<Arc<dyn Lease>>,
}

/// A future that completes, with why, when the run must stop and roll back: a signal, or
/// someone asking (`rollgate rollback RUN`).
pub type Cancellation = std::pin::Pin<Box<dyn std::future::Future<Output = String> + Send>>;

/// A cancellation that never comes.
pub fn never() -> Cancellation {
    Box::pin(std::future::pending())
}

/// Every check's queries after substitution.
pub fn resolve_queries(plan: &Plan, contexts: &Value) -> BTreeMap<String, Queries> {
    let ctx = Contexts::plain(contexts);
    let sub = |q: &str| eval::interpolate(q, &ctx);
    let series = |s: &Series| match s {
        Series::Value(q) => Series::Value(sub(q)),
        Series::Counts(c) => Series::Counts(Counts {
            events: sub(&c.events),
            total: sub(&c.total),
        }),
        Series::Histogram(h) => Series::Histogram(Histogram {
            buckets: sub(&h.buckets),
        }),
    };
    plan.checks
        .iter()
        .map(|(name, c)| {
            let samples = c.samples.as_ref().map(|s| sub(&s.canary));
            (
                name.clone(),
                Queries {
                    source: c.source.clone(),
                    canary: series(&c.canary),
                    baseline: c.baseline.as_ref().map(series),
                    samples,
                },
            )
        })
        .collect()
}

/// What the running steps share: the plan and its graph, providers, clock, the event channel,
/// the routers' captured state, the journal, answers and counters, the hold and stop signals.
pub(crate) struct RunContext {
    plan: Plan,
    graph: StepGraph,
    providers: Providers,
    clock: Clock,
    mode: Mode,
    contexts: Value,
    queries: BTreeMap<String, Queries>,
    events: mpsc::UnboundedSender<Stamped>,
    routers: Mutex<Routers>,
    journal: Option<Arc<Pending>>,
    owner: Option<Arc<dyn Lease>>,
    /// The first failure to write the journal for good (another process holds the run); the
    /// run then stops and rolls back.
    journal_error: Mutex<Option<String>>,
    /// Since when the store has been unreachable, while it is.
    outage: Mutex<Option<store_outage::Outage>>,
    /// Steps a resumed run already did.
    skip: BTreeSet<String>,
    /// Each query's latest answer, shared by a check and a trigger asking at the same moment.
    answers: Mutex<BTreeMap<(String, String), observe::LatestAnswer>>,
    /// Count checks' counters and sequential tests, per group looked at.
    counting: Mutex<BTreeMap<(String, observe::Group), counting::Counting>>,
    /// Histogram checks' bucket counters and latency tests, per group looked at.
    histograms: Mutex<BTreeMap<(String, observe::Group), histograms::Histograms>>,
    /// True while a trigger's pause holds the run: no step starts until it is lifted.
    hold: tokio::sync::watch::Sender<bool>,
    /// Why the run was stopped from outside (a signal, `rollgate rollback`), once it was.
    stop: tokio::sync::watch::Sender<Option<String>>,
}

/// What the run did to routers: the state before its first shift, and the current weight.
#[derive(Default)]
struct Routers {
    captured: BTreeMap<String, RouterState>,
    weight: BTreeMap<String, u8>,
}

impl RunContext {
    fn emit(&self, event: Event) {
        let stamped = Stamped {
            t: self.clock.elapsed().as_secs_f64(),
            at: self.clock.now(),
            event,
        };
        // The journal is the state: written (or kept, while the store is away) before
        // anything else happens.
        let changed = self.write_journal(&stamped);
        // A reporter that stopped listening must not stop the rollout.
        let _ = self.events.send(stamped);
        if let Some(changed) = changed {
            self.emit(changed);
        }
    }

    /// Makes the journal so far survive the machine going down: before and after every router
    /// write, so a run taken over knows what its routers were told.
    fn sync_journal(&self) {
        if let Some(j) = &self.journal {
            if let Err(e) = off_the_runtime(|| j.sync()) {
                self.journal_error
                    .lock()
                    .expect("not poisoned")
                    .get_or_insert(format!("cannot write the journal: {e}"));
            }
        }
    }

    /// Seconds since `start` (run time), for a real run's events; a rehearsal's routers and
    /// sources take no time worth saying.
    fn took_since(&self, start: Duration) -> Option<f64> {
        (self.mode == Mode::Run).then(|| self.clock.elapsed().saturating_sub(start).as_secs_f64())
    }

    /// Why the run cannot go on, if writing the journal failed.
    fn journal_failed(&self) -> Option<Reason> {
        self.journal_error
            .lock()
            .expect("not poisoned")
            .clone()
            .map(Reason::says)
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

impl RunContext {
    /// Runs `command` (as the plan wrote it, with `${{ }}` judged under `status`) for a step
    /// (`run:`, the rollback hook), in an environment of the plan's `env`, then `env`; a
    /// dry-run only records it, substituted. In a real run each expression's value is handed
    /// to the shell in a variable ([`shell_bind`](crate::expr::shell_bind)), never as shell
    /// text.
    async fn command(
        &self,
        step: &str,
        command: &str,
        status: Status,
        env: std::collections::BTreeMap<String, String>,
    ) -> Result<(), Reason> {
        match self.mode {
            Mode::DryRun => {
                let shown: String = env.iter().map(|(k, v)| format!("{k}={v:?} ")).collect();
                let command = self.interpolate(command, status);
                self.emit(Event::CommandSkipped {
                    step: step.to_string(),
                    command: format!("{shown}{command}"),
                });
                Ok(())
            }
            Mode::Run => {
                let ctx = Contexts {
                    values: &self.contexts,
                    status,
                };
                let (bound, values) = crate::expr::shell_bind::bind(command, &ctx);
                let mut vars = crate::providers::plan_env(&self.contexts);
                vars.extend(env);
                vars.extend(values);
                let result = crate::providers::shell::run(
                    &bound,
                    &vars,
                    crate::providers::shell::DEFAULT_TIMEOUT,
                    self.providers.cwd.as_deref(),
                )
                .await;
                // The journal keeps the command as the plan wrote it: substituted, it may hold secrets.
                self.emit(Event::CommandRan {
                    step: step.to_string(),
                    command: command.to_string(),
                    error: result.as_ref().err().cloned(),
                });
                result.map(|_| ()).map_err(|e| Reason {
                    step: Some(step.to_string()),
                    ..Reason::says(e)
                })
            }
        }
    }
}

/// Runs `f`, which blocks (an fsync, a commit), so that on a multi-threaded runtime (`rollgate
/// serve`'s) the runs beside this one go on meanwhile: their many fsyncs at once then also reach
/// the disk together rather than one after another. On the command line's single-threaded
/// runtime, where this run is alone, it runs as is.
pub(crate) fn off_the_runtime<T>(f: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

/// How a group, a step or the whole forward run ended.
pub(crate) enum End {
    Ok,
    /// Roll back.
    Fail(Reason),
    /// Stop without judging the canary: roll back, and end aborted.
    Abort(Reason),
    /// The canary cannot be judged: hold and ask (an evaluation's answer, before its step
    /// turns it into a pause's decision).
    Pause(Reason),
}

fn run_context(
    setup: Setup,
    events: mpsc::UnboundedSender<Stamped>,
    skip: BTreeSet<String>,
) -> Arc<RunContext> {
    let queries = resolve_queries(&setup.plan, &setup.contexts);
    let shared = Arc::new(RunContext {
        plan: setup.plan,
        graph: setup.graph,
        providers: setup.providers,
        clock: setup.clock,
        mode: setup.mode,
        contexts: setup.contexts,
        queries,
        events,
        routers: Mutex::new(Routers::default()),
        journal: setup.journal,
        owner: setup.owner,
        journal_error: Mutex::new(None),
        outage: Mutex::new(None),
        answers: Mutex::new(BTreeMap::new()),
        counting: Mutex::new(BTreeMap::new()),
        histograms: Mutex::new(BTreeMap::new()),
        hold: tokio::sync::watch::channel(false).0,
        stop: tokio::sync::watch::channel(None).0,
        skip,
    });
    // The stop is watched from the start, so every wait (a pause, the forward run) sees it.
    let stop = shared.stop.clone();
    let cancel = setup.cancel;
    tokio::spawn(async move {
        let why = cancel.await;
        stop.send_replace(Some(why));
    });
    shared
}

impl RunContext {
    /// Completes, with why, once the run is stopped from outside.
    async fn stopped(&self) -> String {
        let mut rx = self.stop.subscribe();
        let why = match rx.wait_for(Option::is_some).await {
            Ok(why) => why.clone(),
            Err(_) => None,
        };
        match why {
            Some(why) => why,
            None => std::future::pending().await,
        }
    }

    /// Completes when no trigger's pause holds the run.
    async fn unheld(&self) {
        let mut rx = self.hold.subscribe();
        let _ = rx.wait_for(|held| !*held).await;
    }
}

/// What the journal of a run that stopped says, for resuming it.
pub struct Journaled {
    /// (router, its state before the run, weight last set).
    pub routers: Vec<(String, RouterState, Option<u8>)>,
    /// The last step it started.
    pub died_at: Option<String>,
    /// The steps it finished.
    pub done_steps: BTreeSet<String>,
    /// Whether it had begun rolling back.
    pub rolling_back: bool,
}

/// The steps a continued run can skip: those it finished, except an observation whose
/// evaluation had not run yet (its verdicts are gone with the process, so it watches again).
fn skippable(graph: &StepGraph, done: &BTreeSet<String>) -> BTreeSet<String> {
    let g = &graph.graph;
    g.node_indices()
        .filter(|n| done.contains(&g[*n].id))
        .filter(|n| {
            let evaluation_pending = g.edges(*n).filter(|e| *e.weight() == Edge::Then).any(|e| {
                matches!(g[e.target()].kind, crate::graph::StepKind::Evaluate { .. })
                    && !done.contains(&g[e.target()].id)
            });
            !evaluation_pending
        })
        .map(|n| g[n].id.clone())
        .collect()
}

/// What taking over a run does.
pub enum TakeOver {
    /// As the plan's `resume` says: roll back, or (`resume: continue`, and it had not begun
    /// rolling back) continue from the step it stopped in.
    AsPlanned,
    /// It was handed over, not lost: continue from the step it stopped in, unless it had
    /// begun rolling back (then that rollback finishes).
    CarryOn,
    /// Roll it back through the plan's rollback path, for this reason (someone asked).
    RollBack(String),
    /// It ended with a router off its captured state: put every router back, and nothing else
    /// (its rollback hook already ran, if it had one).
    PutBack(String),
}

/// Takes over a run that is not running. Its routers' states before the run come from the
/// journal, and every router it touched returns to that state, unless the plan says `resume:
/// continue` and the run stopped in the middle of its rollout.
pub async fn resume(
    setup: Setup,
    from: Journaled,
    how: TakeOver,
    events: mpsc::UnboundedSender<Stamped>,
) -> Outcome {
    let go_on = match how {
        TakeOver::AsPlanned => setup.plan.resume == ResumePolicy::Continue,
        TakeOver::CarryOn => true,
        TakeOver::RollBack(_) | TakeOver::PutBack(_) => false,
    } && !from.rolling_back;
    let skip = if go_on {
        skippable(&setup.graph, &from.done_steps)
    } else {
        BTreeSet::new()
    };
    let shared = run_context(setup, events, skip);
    {
        let mut r = shared.routers.lock().expect("not poisoned");
        for (name, captured, last) in &from.routers {
            // Where a crash came between a shift and its journal line, the router may be
            // anywhere: a rollback restores it whatever its weight, and a continued run sets it.
            r.weight
                .insert(name.clone(), last.unwrap_or(captured.canary_weight));
            r.captured.insert(name.clone(), captured.clone());
        }
    }
    shared.emit(Event::RunResumed {
        died_at: from.died_at.clone(),
        continuing: go_on,
    });
    if go_on {
        return forward(shared).await;
    }
    let (outcome, reason) = match how {
        // Reading each router back and restoring those off their captured state is the
        // whole of it.
        TakeOver::PutBack(why) => {
            let reason = Reason::says(why);
            shared.emit(Event::RollbackStarted {
                reason: Box::new(reason.clone()),
                gradual: false,
            });
            let ended = shared
                .ensure_restored((Outcome::RolledBack, Some(reason)))
                .await;
            shared.emit(Event::RollbackFinished { verified: None });
            ended
        }
        TakeOver::RollBack(why) => {
            let ended = shared.rollback(Reason::says(why), false).await;
            shared.ensure_restored(ended).await
        }
        TakeOver::AsPlanned | TakeOver::CarryOn => {
            let where_ = from
                .died_at
                .as_deref()
                .map(|s| format!(" during {s}"))
                .unwrap_or_default();
            let reason = Reason {
                step: from.died_at,
                ..Reason::says(format!(
                    "the run stopped{where_} without finishing; resumed to roll it back"
                ))
            };
            let ended = shared.rollback(reason, false).await;
            shared.ensure_restored(ended).await
        }
    };
    shared.emit(Event::RunFinished {
        outcome,
        reason: reason.map(Box::new),
    });
    outcome
}

/// Runs the plan to its outcome, emitting events as it goes.
pub async fn run(mut setup: Setup, events: mpsc::UnboundedSender<Stamped>) -> Outcome {
    let fixture = setup.fixture.take();
    let shared = run_context(setup, events, BTreeSet::new());
    shared.emit(Event::RunStarted {
        plan: shared.plan.name.clone(),
        mode: shared.mode,
        steps: shared.graph.graph.node_count(),
        fixture,
    });
    // A dry-run's sources are its fixture, whose outages are part of the rehearsal.
    if shared.mode == Mode::Run {
        if let Err(reason) = shared.preflight().await {
            shared.emit(Event::RunFinished {
                outcome: Outcome::Failed,
                reason: Some(Box::new(reason)),
            });
            return Outcome::Failed;
        }
    }
    forward(shared).await
}

/// The forward run: groups as their needs allow, raced by triggers, `max-duration` and
/// cancellation; then the rollback path if anything failed. Whatever the ending, every router
/// the run touched is confirmed back at its captured state unless the run was promoted.
async fn forward(shared: Arc<RunContext>) -> Outcome {
    let sh = &shared;
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
    // A trigger's pause, waiting for its decision while the groups hold.
    let mut paused: Option<tokio::task::JoinHandle<End>> = None;
    loop {
        for &g in &forward {
            if done.contains_key(&g) || started.contains(&g) {
                continue;
            }
            let needs = &sh.graph.groups[g].needs;
            if !needs.iter().all(|n| done.contains_key(n)) {
                continue;
            }
            // A resumed run does not do again what it finished.
            if sh
                .chain(g)
                .iter()
                .all(|n| sh.skip.contains(&sh.graph.graph[*n].id))
            {
                done.insert(g, true);
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
        // The last step may end while a trigger's pause waits: the run is promoted only if it
        // is continued.
        if running.is_empty() && paused.is_none() {
            break;
        }
        tokio::select! {
            Some(joined) = running.join_next() => {
                let (g, end) = match joined {
                    Ok(ended) => ended,
                    // A bug must not leave the canary serving: it rolls back like any failure.
                    Err(e) => {
                        ended = Some((End::Fail(Reason::says(format!("a step failed unexpectedly ({e}); rolling back"))), None));
                        break;
                    }
                };
                match end {
                    End::Ok => { done.insert(g, true); }
                    other => { ended = Some((other, None)); break; }
                }
            }
            Some(fired) = fired_rx.recv() => match fired.action {
                TriggerAction::Rollback => {
                    ended = Some((End::Fail(fired.reason), fired.mode));
                    break;
                }
                // Held where it is: steps wait, checks and other triggers go on.
                TriggerAction::Pause if paused.is_none() => {
                    sh.hold.send_replace(true);
                    let s = shared.clone();
                    let step = format!("trigger.{}", fired.reason.check.clone().unwrap_or_default());
                    paused = Some(tokio::spawn(async move { s.pause(&step, fired.reason, true).await }));
                }
                TriggerAction::Pause => {}
            },
            decided = async { paused.as_mut().expect("polled only while paused").await }, if paused.is_some() => {
                paused = None;
                match decided {
                    Ok(End::Ok) => { sh.hold.send_replace(false); }
                    Ok(other) => { ended = Some((other, None)); break; }
                    Err(e) => {
                        ended = Some((End::Fail(Reason::says(format!("a pause failed unexpectedly ({e}); rolling back"))), None));
                        break;
                    }
                }
            }
            _ = sh.clock.sleep_until(deadline.unwrap_or(forever)) => {
                let d = sh.plan.max_duration.expect("a deadline comes from max-duration");
                ended = Some((End::Fail(Reason::says(format!("max-duration {d} exceeded"))), None));
                break;
            }
            why = sh.stopped() => {
                ended = Some((End::Fail(Reason::says(why)), Some(RollbackMode::Immediate)));
                break;
            }
            why = sh.store_gone(), if sh.journal.is_some() => {
                ended = Some((End::Fail(why), Some(RollbackMode::Immediate)));
                break;
            }
        }
    }
    running.abort_all();
    if let Some(p) = paused {
        p.abort();
    }
    if let Some(w) = watcher {
        w.abort();
    }
    let (outcome, reason) = match ended {
        None => (Outcome::Promoted, None),
        Some((End::Ok, _)) => unreachable!("a group that succeeds does not end the run"),
        // An abort takes the rollback path too: it stops without a verdict, and leaves no
        // router off its captured state.
        Some((End::Abort(reason), _)) => match sh.rollback(reason, false).await {
            (Outcome::RolledBack, r) => (Outcome::Aborted, r),
            other => other,
        },
        Some((End::Fail(reason) | End::Pause(reason), mode)) => {
            let gradual = mode.unwrap_or(sh.plan.rollback.mode) == RollbackMode::Gradual;
            // A router that refused gets its own outcome, whatever the rollback managed.
            let router_failed = reason.router.is_some();
            match sh.rollback(reason.clone(), gradual).await {
                (Outcome::RolledBack, r) if router_failed => (Outcome::RouterFailed, r),
                other => other,
            }
        }
    };
    // Steps that asked to run after a failure (`if: failure()` or `always()`) run now.
    let (outcome, reason) = if outcome != Outcome::Promoted {
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
        sh.ensure_restored((outcome, reason)).await
    } else {
        (outcome, reason)
    };
    sh.emit(Event::RunFinished {
        outcome,
        reason: reason.map(Box::new),
    });
    outcome
}

#[cfg(test)]
mod tests;
