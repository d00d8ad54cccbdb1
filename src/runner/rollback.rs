//! The rollback path: take traffic off the canary (at once, or step by step, each step held
//! and watched), put the routers back as they were, run the rollback hook, verify, notify.

use super::observe::{Group, Observation};
use super::retry::Persistence;
use super::{End, RunContext};
use crate::event::Route;
use crate::event::RouterState;
use crate::event::{Decision, Event, Outcome, Reason};
use crate::expr::eval::Status;
use crate::graph::StepKind;

impl RunContext {
    /// Rolls back for `reason`; the outcome is rolled back, or router-failed when a router
    /// could not be put back (said loudly: the canary may still take traffic). A refused
    /// approval of the rollback only delays it (a hold, see [`RunContext::pause`]).
    pub(super) async fn rollback(
        &self,
        reason: Reason,
        gradual: bool,
    ) -> (Outcome, Option<Reason>) {
        self.emit(Event::RollbackStarted {
            reason: Box::new(reason.clone()),
            gradual,
        });
        let Some(entry) = self.graph.rollback else {
            self.emit(Event::RollbackFinished { verified: None });
            return (Outcome::RolledBack, Some(reason));
        };
        let mut gradual = gradual;
        let mut held = false;
        let mut verified = None;
        let mut last = Default::default();
        let mut unrestored: Vec<String> = Vec::new();
        for n in self.chain(self.graph.graph[entry].group) {
            let node = &self.graph.graph[n];
            let id = node.id.as_str();
            match &node.kind {
                // Someone asked for this rollback (a signal, `rollgate rollback`): nobody need
                // approve it again; nor one for a store gone, where approvals are kept.
                StepKind::Gate { .. }
                    if crate::event::stopped_from_outside(&reason.message)
                        || reason.message.starts_with(crate::event::STORE_GONE) => {}
                StepKind::Gate { gate } => {
                    self.emit(Event::GateWaiting {
                        step: id.into(),
                        approvers: gate.approvers.clone(),
                        timeout: gate.timeout.0.as_secs_f64(),
                        via: gate.source().into(),
                    });
                    // Without an approval source, nothing may hold a rollback back.
                    let (decision, by) = match &self.providers.approvals {
                        Some(approvals) => {
                            approvals.decide(&[id, "rollback"], gate, &self.clock).await
                        }
                        None => (
                            Decision::Approved,
                            Some("no approval source: rolling back".into()),
                        ),
                    };
                    self.emit(Event::GateDecided {
                        step: id.into(),
                        decision,
                        by: by.clone(),
                    });
                    // A refusal holds traffic where it is (to look into it), never for good:
                    // until someone asks for the rollback, or the plan's pause times out.
                    if decision == Decision::Rejected {
                        let held = Reason {
                            message: format!(
                                "the rollback was refused by {} ({})",
                                by.unwrap_or_default(),
                                reason.message
                            ),
                            ..reason.clone()
                        };
                        tokio::select! {
                            _ = self.pause(id, held, false) => {}
                            why = self.stopped() => {
                                self.emit(Event::PauseDecided {
                                    step: id.into(),
                                    then: crate::event::PauseTimeout::Rollback,
                                    by: why.strip_prefix(crate::event::REQUESTED).map(str::to_string),
                                    timed_out: false,
                                });
                            }
                        }
                    }
                }
                StepKind::Shift {
                    router,
                    route: Route::Weight { percent },
                } => {
                    let current = self
                        .routers
                        .lock()
                        .expect("not poisoned")
                        .weight
                        .get(router)
                        .copied();
                    held = gradual && current.is_some_and(|w| *percent < w);
                    if held {
                        if let Err(r) = self
                            .shift(router, &Route::Weight { percent: *percent })
                            .await
                        {
                            self.emit(Event::StepFinished {
                                step: id.into(),
                                status: crate::event::StepStatus::Failed,
                                reason: Some(r.message),
                            });
                            gradual = false;
                        }
                    }
                }
                // A rollback chain shifts weights only, and holds no notify step: the plan's
                // `notify` is told from the events.
                StepKind::Shift { .. } | StepKind::Notify { .. } => {}
                // A hold follows each gradual step; a failing check cuts the rest short.
                StepKind::Observe {
                    duration,
                    interval,
                    checks,
                } if held => {
                    held = false;
                    if let Observation::Failed(_) = self
                        .observe(id, duration.0, interval.0, checks, Group::Canary)
                        .await
                    {
                        gradual = false;
                    }
                }
                StepKind::Observe {
                    duration,
                    interval,
                    checks,
                } => {
                    match self
                        .observe(id, duration.0, interval.0, checks, Group::Stable)
                        .await
                    {
                        Observation::Done(v) => last = v,
                        Observation::Failed(_) => verified = Some(false),
                    }
                }
                StepKind::Evaluate {
                    checks, min_score, ..
                } => {
                    if verified.is_none() {
                        verified = Some(matches!(
                            self.step_evaluate(id, checks, (*min_score, None), &last),
                            End::Ok
                        ));
                    }
                }
                StepKind::Restore { router } => {
                    if let Err(r) = self.restore(router).await {
                        unrestored.push(format!("{router} ({})", r.message));
                        self.emit(Event::StepFinished {
                            step: id.into(),
                            status: crate::event::StepStatus::Failed,
                            reason: Some(r.message),
                        });
                    }
                }
                StepKind::Run { command, .. } => {
                    let failed = Status {
                        failed: true,
                        cancelled: false,
                    };
                    let env = [(
                        "ROLLGATE_ROLLBACK_REASON".to_string(),
                        reason.message.clone(),
                    )]
                    .into();
                    // A failing hook is reported; the rollback goes on.
                    let _ = self.command(id, command, failed, env).await;
                }
            }
        }
        self.emit(Event::RollbackFinished { verified });
        if let Some(first) = unrestored.first() {
            let router = first.split(' ').next().unwrap_or_default().to_string();
            let why = Reason {
                router: Some(router),
                ..Reason {
                    message: format!(
                        "{}; then the rollback could not put back {}: it may still send traffic to the canary",
                        reason.message,
                        unrestored.join(", ")
                    ),
                    ..reason
                }
            };
            return (Outcome::RouterFailed, Some(why));
        }
        (Outcome::RolledBack, Some(reason))
    }

    /// Confirms, by reading each router the run touched, that it is back at its captured
    /// state, and puts back any that is not (a step that ran after the rollback, a restore
    /// that did not take). A router that cannot be read or put back makes the outcome
    /// router-failed, naming it.
    pub(super) async fn ensure_restored(
        &self,
        (outcome, reason): (Outcome, Option<Reason>),
    ) -> (Outcome, Option<Reason>) {
        let captured: Vec<(String, RouterState)> = self
            .routers
            .lock()
            .expect("not poisoned")
            .captured
            .iter()
            .map(|(n, s)| (n.clone(), s.clone()))
            .collect();
        let mut off = Vec::new();
        for (name, before) in captured {
            if let Some(why) = self.back_at(&name, &before).await {
                off.push((name, why));
            }
        }
        let Some((first, _)) = off.first() else {
            return (outcome, reason);
        };
        let said: Vec<String> = off.iter().map(|(n, why)| format!("{n} ({why})")).collect();
        let before = reason
            .as_ref()
            .map(|r| format!("{}; then ", r.message))
            .unwrap_or_default();
        let why = Reason {
            router: Some(first.clone()),
            message: format!(
                "{before}{} could not be confirmed back at the state before the run: it may still send traffic to the canary",
                said.join(", ")
            ),
            ..reason.unwrap_or_else(|| Reason::says(""))
        };
        (Outcome::RouterFailed, Some(why))
    }

    /// Whether router `name` reads back at its captured state as a whole (every rule's and
    /// server's weights), putting it back once when it does not and reading it again: `None`
    /// when it is back, else why not. What was read is journaled (`router-checked`).
    async fn back_at(&self, name: &str, before: &RouterState) -> Option<String> {
        let router = &self.providers.routers[name];
        // A router that cannot be read back (a command router without `get`) is put back
        // every time; its last weight set is what `status` goes by.
        if !router.readable() {
            return self.restore(name).await.err().map(|r| r.message);
        }
        let read = || async {
            self.retrying(name, Persistence::Shift, || router.state())
                .await
                .map(|now| before.differences(&now))
                .map_err(|e| format!("cannot read router {name}: {e}"))
        };
        let mut off = match read().await {
            Ok(off) if off.is_empty() => Vec::new(),
            Ok(_) => match self.restore(name).await {
                Err(r) => {
                    // What the failed restore left is still worth saying; unread, it is
                    // not taken for back.
                    let left = read().await.unwrap_or_else(|e| vec![e]);
                    self.emit(Event::RouterChecked {
                        router: name.into(),
                        off: if left.is_empty() {
                            vec![r.message.clone()]
                        } else {
                            left
                        },
                    });
                    return Some(r.message);
                }
                Ok(()) => match read().await {
                    Ok(off) => off,
                    Err(e) => vec![e],
                },
            },
            Err(e) => vec![e],
        };
        self.emit(Event::RouterChecked {
            router: name.into(),
            off: off.clone(),
        });
        if off.is_empty() {
            return None;
        }
        off.insert(0, "read back after restoring".into());
        Some(off.join("; "))
    }
}
