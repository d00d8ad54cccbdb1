//! A pause: the run holds every router where it is and waits for a person, through the same
//! approval sources as a gate (the plan's `pause` says who, where from and how long). Continue
//! lets the rollout go on; a rollback asked for, a rejection, or nobody deciding in time (with
//! the default `on-timeout: rollback`) rolls it back. A pause never ends a run by itself.

use super::{End, RunContext};
use crate::event::PauseTimeout;
use crate::event::{Decision, Event, Reason};
use crate::plan::pause::PAUSE;

impl RunContext {
    /// Holds at `step` for `reason` until a decision. With `can_continue` false (a refused
    /// rollback) only a rollback can follow: the hold lasts until one is asked for or the
    /// pause's timeout passes.
    pub(super) async fn pause(&self, step: &str, reason: Reason, can_continue: bool) -> End {
        let policy = &self.plan.pause;
        let on_timeout = if can_continue {
            policy.on_timeout
        } else {
            PauseTimeout::Rollback
        };
        self.emit(Event::Paused {
            step: step.to_string(),
            reason: Box::new(reason.clone()),
            timeout: policy.timeout.0.as_secs_f64(),
            on_timeout,
            via: policy.source().to_string(),
            approvers: policy.approvers.clone(),
            can_continue,
        });
        let gate = policy.gate();
        let (decision, by) = match (&self.providers.approvals, can_continue) {
            (Some(approvals), true) => approvals.decide(&[step, PAUSE], &gate, &self.clock).await,
            // Only a rollback asked for (the run's stop) ends this hold early.
            _ => {
                self.clock.sleep(policy.timeout.0).await;
                (Decision::TimedOut, None)
            }
        };
        let timed_out = decision == Decision::TimedOut;
        let go_on =
            decision == Decision::Approved || (timed_out && on_timeout == PauseTimeout::Continue);
        self.emit(Event::PauseDecided {
            step: step.to_string(),
            then: if go_on {
                PauseTimeout::Continue
            } else {
                PauseTimeout::Rollback
            },
            by: by.clone(),
            timed_out,
        });
        if go_on {
            return End::Ok;
        }
        let then = match by {
            Some(by) if !timed_out => format!("paused, and {by} chose to roll back"),
            _ => format!("paused, and nobody continued it within {}", policy.timeout),
        };
        End::Fail(Reason {
            message: format!("{}; {then}", reason.message),
            step: reason.step.clone().or_else(|| Some(step.to_string())),
            ..reason
        })
    }
}
