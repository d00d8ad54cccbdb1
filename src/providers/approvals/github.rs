//! Gate decisions from pull-request comments: `/rollgate approve` or `/rollgate reject`
//! (optionally naming the gate) from someone with write access who is among the gate's
//! approvers: their login, a team they are an active member of (`org/team`), or anyone with
//! write access when the approvers are `*`. Anyone else is told, in a reply, why their
//! comment was ignored. Only comments posted while the gate waits count.

use super::Approvals;
use crate::clock::Clock;
use crate::event::Decision;
use crate::github::client::Error;
use crate::github::commands::{Commands, Verb};
use crate::plan::pause::PAUSE;
use crate::plan::Gate;
use async_trait::async_trait;
use std::sync::Arc;

pub struct Github {
    commands: Arc<Commands>,
}

impl Github {
    pub fn new(commands: Arc<Commands>) -> Github {
        Github { commands }
    }

    /// Whether `user` is among `approvers`.
    async fn approver(&self, approvers: &[String], user: &str) -> Result<bool, Error> {
        for a in approvers {
            let yes = match a.split_once('/') {
                Some((org, team)) => self.commands.client.in_team(org, team, user).await?,
                None => a == "*" || a.eq_ignore_ascii_case(user),
            };
            if yes {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The decision of the next command that may decide this gate, if one came.
    async fn next_decision(&self, names: &[&str], gate: &Gate) -> Option<(Decision, String)> {
        while let Some(c) = self.commands.next() {
            let word = c.verb.word();
            if let Some(g) = c.gate.as_deref().filter(|g| !names.contains(g)) {
                let text = format!(
                    "`/rollgate {word} {g}` was ignored: the rollout waits at `{}`.",
                    names[0]
                );
                self.commands.reply(c.comment, &c.by, &text).await;
                continue;
            }
            // A pause is lifted by `continue`, a gate decided by `approve` or `reject`.
            let pause = names.contains(&PAUSE);
            let misplaced = match c.verb {
                Verb::Approve | Verb::Reject if pause => Some("the rollout is paused, not waiting at a gate: `/rollgate continue` lets it go on, `/rollgate rollback` rolls it back"),
                Verb::Continue if !pause => Some("`/rollgate continue` lifts a pause; this gate takes `/rollgate approve` or `/rollgate reject`"),
                _ => None,
            };
            if let Some(why) = misplaced {
                let text = format!("`/rollgate {word}` was ignored: {why}.");
                self.commands.reply(c.comment, &c.by, &text).await;
                continue;
            }
            match self.approver(&gate.approvers, &c.by).await {
                Ok(true) => {
                    // Only approvals, rejections and continues are queued; a rollback cancels
                    // the run.
                    let d = if c.verb == Verb::Reject {
                        Decision::Rejected
                    } else {
                        Decision::Approved
                    };
                    return Some((d, c.by));
                }
                Ok(false) => {
                    let text = format!(
                        "`/rollgate {word}` was ignored: `{}` may be decided by {} only.",
                        names[0],
                        gate.approvers.join(", ")
                    );
                    self.commands.reply(c.comment, &c.by, &text).await;
                }
                Err(e) => {
                    let text = format!("`/rollgate {word}` was ignored: whether you are among the approvers ({}) could not be checked: {e}. A listed team needs a token that can read the organization's teams.", gate.approvers.join(", "));
                    self.commands.reply(c.comment, &c.by, &text).await;
                }
            }
        }
        None
    }
}

#[async_trait]
impl Approvals for Github {
    async fn decide(
        &self,
        names: &[&str],
        gate: &Gate,
        clock: &Clock,
    ) -> (Decision, Option<String>) {
        self.commands.set_gate_waiting(true);
        let decided =
            super::until_decided(gate, clock, None, || self.next_decision(names, gate)).await;
        self.commands.set_gate_waiting(false);
        decided
    }
}
