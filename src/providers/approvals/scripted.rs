//! Gate decisions for a dry-run: scripted by the fixture's events, else by `--approve`.

use super::Approvals;
use crate::clock::Clock;
use crate::event::Decision;
use crate::fixture::{Scripted as Event, TimedEvent};
use crate::plan::pause::PAUSE;
use crate::plan::Gate;
use async_trait::async_trait;

/// What happens at a gate the fixture does not decide.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApprovePolicy {
    /// Approved as soon as it waits.
    All,
    /// Nobody answers: the gate times out.
    None,
}

pub struct Scripted {
    events: Vec<TimedEvent>,
    policy: ApprovePolicy,
}

impl Scripted {
    pub fn new(events: Vec<TimedEvent>, policy: ApprovePolicy) -> Scripted {
        Scripted { events, policy }
    }
}

#[async_trait]
impl Approvals for Scripted {
    async fn decide(
        &self,
        names: &[&str],
        gate: &Gate,
        clock: &Clock,
    ) -> (Decision, Option<String>) {
        let asked = clock.elapsed();
        let deadline = asked + gate.timeout.0;
        let scripted = self.events.iter().find_map(|e| match &e.what {
            Event::Approve { gate: g, by } if names.contains(&g.as_str()) => {
                Some((e.at, Decision::Approved, by.clone()))
            }
            Event::Reject { gate: g, by } if names.contains(&g.as_str()) => {
                Some((e.at, Decision::Rejected, by.clone()))
            }
            _ => None,
        });
        match scripted {
            // A decision scripted before the gate waits counts the moment it does.
            Some((at, decision, by)) if at <= deadline => {
                clock.sleep_until(at.max(asked)).await;
                (decision, Some(by))
            }
            // `--approve all` approves gates; a pause is lifted only by a scripted `continue`.
            _ if self.policy == ApprovePolicy::All && !names.contains(&PAUSE) => {
                (Decision::Approved, Some("--approve all".into()))
            }
            _ => {
                clock.sleep_until(deadline).await;
                (Decision::TimedOut, None)
            }
        }
    }
}
