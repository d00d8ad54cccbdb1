//! Executing one group's steps in order, and each step by its kind.

use super::observe::{health_score, Group, Observation};
use super::retry::{Persistence, Stopped};
use super::{End, RunContext};
use crate::analysis::threshold::Judged;
use crate::event::{Decision, Event, Mode, Reason, StepStatus, Verdict};
use crate::event::{Route, RouterState};
use crate::expr::eval::Status;
use crate::graph::StepKind;
use crate::plan::gate::GateTimeout;
use std::collections::BTreeMap;
use tracing::Instrument;

impl RunContext {
    /// Runs a group's steps in order; a group `timeout` bounds them all.
    pub(super) async fn run_group(&self, group: usize) -> End {
        let steps = async {
            // The last observation's verdicts, for the evaluation that follows it.
            let mut last: BTreeMap<String, Judged> = BTreeMap::new();
            let chain = self.chain(group);
            for (i, &n) in chain.iter().enumerate() {
                if let Some(reason) = self.journal_failed() {
                    return End::Fail(reason);
                }
                let node = &self.graph.graph[n];
                if self.skip.contains(&node.id) {
                    continue;
                }
                // A trigger's pause holds the routers where they are: no step starts.
                self.unheld().await;
                self.emit(Event::StepStarted {
                    step: node.id.clone(),
                    kind: node.kind.name(),
                });
                // The observation after a shift keeps judging the canary while it waits.
                let watch = chain
                    .get(i + 1)
                    .and_then(|&next| match &self.graph.graph[next].kind {
                        StepKind::Observe {
                            interval, checks, ..
                        } => Some((interval.0, checks.as_slice())),
                        _ => None,
                    });
                let end = self
                    .step(
                        &node.id,
                        (node.phase.as_deref(), watch),
                        &node.kind,
                        &mut last,
                    )
                    .instrument(
                        tracing::info_span!("step", step = %node.id, kind = node.kind.name()),
                    )
                    .await;
                let (status, reason) = match &end {
                    End::Ok => (StepStatus::Succeeded, None),
                    End::Fail(r) | End::Abort(r) | End::Pause(r) => {
                        (StepStatus::Failed, Some(r.message.clone()))
                    }
                };
                self.emit(Event::StepFinished {
                    step: node.id.clone(),
                    status,
                    reason,
                });
                if !matches!(end, End::Ok) {
                    return end;
                }
            }
            End::Ok
        };
        let group_info = &self.graph.groups[group];
        match group_info.timeout {
            None => steps.await,
            Some(t) => tokio::time::timeout(t.0, steps).await.unwrap_or_else(|_| {
                End::Fail(Reason::says(format!(
                    "step {} did not finish within its timeout {t}",
                    group_info.id
                )))
            }),
        }
    }

    pub(super) async fn shift(&self, router: &str, route: &Route) -> Result<(), Reason> {
        let r = &self.providers.routers[router];
        let first = !self
            .routers
            .lock()
            .expect("not poisoned")
            .captured
            .contains_key(router);
        if first {
            let state = self
                .retrying(router, Persistence::Shift, || r.state())
                .await
                .map_err(|e| Reason {
                    router: Some(router.to_string()),
                    ..Reason::says(format!("cannot read router {router}: {e}"))
                })?;
            if let Some(refused) = self.starting_above(router, &state) {
                return Err(refused);
            }
            // Journaled before the first shift, so a crashed run can still be put back.
            self.emit(Event::RouterCaptured {
                router: router.to_string(),
                state: state.clone(),
            });
            let mut routers = self.routers.lock().expect("not poisoned");
            routers
                .weight
                .insert(router.to_string(), state.canary_weight);
            routers.captured.insert(router.to_string(), state);
        }
        self.sync_journal();
        let writing = self.clock.elapsed();
        self.writing(router, Persistence::Shift, false, || r.apply(route))
            .await
            .map_err(|stopped| match stopped {
                Stopped::Lost(why) => why,
                Stopped::Router(e) => Reason {
                    router: Some(router.to_string()),
                    ..Reason::says(format!("router {router} refused {}: {e}", route))
                },
            })?;
        let from = {
            let mut routers = self.routers.lock().expect("not poisoned");
            let from = routers.weight[router];
            if let Route::Weight { percent } = route {
                routers.weight.insert(router.to_string(), *percent);
            }
            from
        };
        self.emit(Event::WeightShifted {
            router: router.to_string(),
            from,
            to: route.clone(),
            took: self.took_since(writing),
        });
        self.sync_journal();
        Ok(())
    }

    /// Shifts `router`; in a real run, while a canary that already takes traffic waits for
    /// the router to take the shift, `watch`'s checks go on judging it every interval from
    /// one interval on, and a failing one ends the shift (a router that is slow to answer
    /// does not leave a bad canary unobserved).
    async fn shift_watched(
        &self,
        id: &str,
        router: &str,
        route: &Route,
        watch: Option<(std::time::Duration, &[String])>,
    ) -> Result<(), Reason> {
        let serving = self
            .routers
            .lock()
            .expect("not poisoned")
            .weight
            .get(router)
            .is_some_and(|w| *w > 0);
        let Some((interval, checks)) = watch.filter(|_| serving && self.mode == Mode::Run) else {
            return self.shift(router, route).await;
        };
        let judging = async {
            self.clock.sleep(interval).await;
            let forever = std::time::Duration::from_secs(u64::MAX / 4);
            match self
                .observe(id, forever, interval, checks, Group::Canary)
                .await
            {
                Observation::Failed(reason) => reason,
                Observation::Done(_) => std::future::pending().await,
            }
        };
        tokio::select! {
            shifted = self.shift(router, route) => shifted,
            reason = judging => {
                // The write cut short may have landed: the rollback plans from the higher.
                if let Route::Weight { percent } = route {
                    let mut routers = self.routers.lock().expect("not poisoned");
                    if let Some(w) = routers.weight.get_mut(router) {
                        *w = (*w).max(*percent);
                    }
                }
                Err(reason)
            }
        }
    }

    /// Why a router may not be started from: it already sends the canary more than the
    /// plan's lowest forward step before the run (a promoted rollout that was never
    /// finalized), and rolling back to that state would send traffic back onto the canary
    /// this run judged.
    fn starting_above(&self, router: &str, state: &RouterState) -> Option<Reason> {
        let rollback_group = self.graph.rollback.map(|n| self.graph.graph[n].group);
        let lowest = self
            .graph
            .graph
            .node_weights()
            .filter(|n| Some(n.group) != rollback_group)
            .filter_map(|n| match &n.kind {
                StepKind::Shift {
                    router: r,
                    route: Route::Weight { percent },
                } if r == router => Some(*percent),
                _ => None,
            })
            .min();
        match lowest {
            Some(lowest) if state.highest_share() > lowest => Some(Reason {
                router: Some(router.to_string()),
                ..Reason::says(format!(
                    "router {router} already sends the canary {}% before the run, more than this plan's first step ({lowest}%): an earlier rollout that was promoted and not finalized left it there (`rollgate history` lists it), and a rollback would send traffic back onto that canary. Finalize it (make the canary the new stable, the router back at 0%) or shift it back, then run again",
                    state.highest_share()
                ))
            }),
            _ => None,
        }
    }

    async fn step(
        &self,
        id: &str,
        (phase, watch): (Option<&str>, Option<(std::time::Duration, &[String])>),
        kind: &StepKind,
        last: &mut BTreeMap<String, Judged>,
    ) -> End {
        match kind {
            StepKind::Shift { router, route } => {
                match self.shift_watched(id, router, route, watch).await {
                    Ok(()) => End::Ok,
                    Err(r) => End::Fail(r),
                }
            }
            StepKind::Observe {
                duration,
                interval,
                checks,
            } => match self
                .observe(id, duration.0, interval.0, checks, Group::Canary)
                .await
            {
                Observation::Done(verdicts) => {
                    *last = verdicts;
                    End::Ok
                }
                Observation::Failed(reason) => End::Fail(reason),
            },
            StepKind::Evaluate {
                checks,
                min_score,
                pass_score,
            } => match self.step_evaluate(id, checks, (*min_score, *pass_score), last) {
                End::Pause(reason) => self.pause(id, reason, true).await,
                other => other,
            },
            StepKind::Gate { gate } => {
                self.emit(Event::GateWaiting {
                    step: id.to_string(),
                    approvers: gate.approvers.clone(),
                    timeout: gate.timeout.0.as_secs_f64(),
                    via: gate.source().into(),
                });
                let names: Vec<&str> = [Some(id), phase].into_iter().flatten().collect();
                let Some(approvals) = &self.providers.approvals else {
                    return End::Fail(Reason {
                        step: Some(id.into()),
                        ..Reason::says(format!(
                            "{id} waits for an approval, and this run has no approval source"
                        ))
                    });
                };
                let (decision, by) = approvals.decide(&names, gate, &self.clock).await;
                self.emit(Event::GateDecided {
                    step: id.to_string(),
                    decision,
                    by: by.clone(),
                });
                let who = by.unwrap_or_else(|| "nobody".into());
                match (decision, gate.on_timeout) {
                    (Decision::Approved, _) | (Decision::TimedOut, GateTimeout::Approve) => End::Ok,
                    (Decision::Rejected, _) => End::Fail(Reason {
                        step: Some(id.into()),
                        ..Reason::says(format!("{id} was rejected by {who}"))
                    }),
                    (Decision::TimedOut, GateTimeout::Rollback) => End::Fail(Reason {
                        step: Some(id.into()),
                        ..Reason::says(format!("{id} was not approved within {}", gate.timeout))
                    }),
                    (Decision::TimedOut, GateTimeout::Abort) => End::Abort(Reason {
                        step: Some(id.into()),
                        ..Reason::says(format!(
                            "{id} was not approved within {}; stopped without promoting",
                            gate.timeout
                        ))
                    }),
                }
            }
            StepKind::Run { command, env } => {
                let env = env
                    .iter()
                    .map(|(k, v)| (k.clone(), self.interpolate(v, Status::default())))
                    .collect();
                match self.command(id, command, Status::default(), env).await {
                    Ok(()) => End::Ok,
                    Err(r) => End::Fail(r),
                }
            }
            // The message goes out through the chat reporter, from the event; a dry-run
            // only records it.
            StepKind::Notify { to, message } => {
                let (step, to) = (id.to_string(), to.clone());
                let message = self.interpolate(message, Status::default());
                self.emit(match self.mode {
                    crate::event::Mode::Run => Event::NotificationAsked { step, to, message },
                    crate::event::Mode::DryRun => Event::NotificationSkipped { step, to, message },
                });
                End::Ok
            }
            StepKind::Restore { router } => match self.restore(router).await {
                Ok(()) => End::Ok,
                Err(r) => End::Fail(r),
            },
        }
    }

    /// Whether the observation just made lets the phase be promoted.
    pub(super) fn step_evaluate(
        &self,
        id: &str,
        checks: &[String],
        (min_score, pass_score): (Option<f64>, Option<f64>),
        last: &BTreeMap<String, Judged>,
    ) -> End {
        let because = |message: String, check: Option<&String>| Reason {
            check: check.cloned(),
            step: Some(id.to_string()),
            ..Reason::says(message)
        };
        let weight = |n: &str| self.plan.checks[n].weight.unwrap_or(1.0);
        // Kayenta's way: the weighted share of checks that pass decides, not each check alone.
        if let Some(pass) = pass_score {
            let marginal = min_score.unwrap_or(0.0);
            let Some(score) = health_score(last, weight) else {
                return End::Pause(because(format!("no check had a verdict at {id}"), None));
            };
            let failing: Vec<&str> = last
                .iter()
                .filter(|(_, j)| matches!(j.verdict, Verdict::Fail | Verdict::Critical))
                .map(|(n, _)| n.as_str())
                .collect();
            let which = if failing.is_empty() {
                String::new()
            } else {
                format!(" (failing: {})", failing.join(", "))
            };
            return if score < marginal {
                End::Fail(because(
                    format!("health score {score:.2} < marginal {marginal}{which} at {id}"),
                    None,
                ))
            } else if score < pass {
                End::Pause(because(
                    format!(
                        "health score {score:.2} is marginal, below pass {pass}{which} at {id}"
                    ),
                    None,
                ))
            } else {
                End::Ok
            };
        }
        for name in checks {
            match last
                .get(name)
                .map(|j| (j.verdict, j.why.clone().unwrap_or_default()))
            {
                Some((Verdict::Fail | Verdict::Critical, why)) => {
                    return End::Fail(because(format!("{name} {why} at {id}"), Some(name)))
                }
                Some((Verdict::Inconclusive, why)) => {
                    return End::Pause(because(
                        format!("{name} is inconclusive ({why}) at {id}"),
                        Some(name),
                    ))
                }
                _ => {}
            }
        }
        if let Some(min) = min_score {
            let score = health_score(last, weight).unwrap_or(0.0);
            if score < min {
                return End::Fail(because(
                    format!("health score {score:.2} < {min} at {id}"),
                    None,
                ));
            }
        }
        End::Ok
    }

    /// Puts a router back as it was before the run's first shift, if the run touched it.
    pub(super) async fn restore(&self, router: &str) -> Result<(), Reason> {
        let captured = self
            .routers
            .lock()
            .expect("not poisoned")
            .captured
            .get(router)
            .cloned();
        let Some(state) = captured else { return Ok(()) };
        let r = &self.providers.routers[router];
        self.sync_journal();
        let writing = self.clock.elapsed();
        self.writing(router, Persistence::Restore, true, || r.restore(&state))
            .await
            .map_err(|stopped| match stopped {
                Stopped::Lost(why) => why,
                Stopped::Router(e) => Reason::says(format!("cannot restore router {router}: {e}")),
            })?;
        let from = self
            .routers
            .lock()
            .expect("not poisoned")
            .weight
            .insert(router.to_string(), state.canary_weight)
            .unwrap_or(0);
        self.emit(Event::WeightShifted {
            router: router.to_string(),
            from,
            to: Route::Weight {
                percent: state.canary_weight,
            },
            took: self.took_since(writing),
        });
        self.sync_journal();
        Ok(())
    }
}
