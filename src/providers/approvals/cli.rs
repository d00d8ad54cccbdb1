//! Gate decisions from a terminal, for a real run: `rollgate approve|reject RUN` writes a
//! decision into the run's store, and the waiting run reads it. A decision names who made
//! it; one by anyone not among the gate's approvers is ignored (and `rollgate approve` refuses
//! it up front). Each decision is used once: a later gate needs its own.

use super::Approvals;
use crate::clock::Clock;
use crate::event::Decision;
use crate::journal::Store;
use crate::plan::Gate;
use async_trait::async_trait;
use std::sync::Arc;

pub struct Cli {
    store: Arc<dyn Store>,
    run_id: String,
}

impl Cli {
    pub fn new(store: Arc<dyn Store>, run_id: &str) -> Cli {
        Cli {
            store,
            run_id: run_id.to_string(),
        }
    }
}

/// Whether `by` may decide `gate`: listed among its approvers (or `*` is).
pub fn may_decide(gate_approvers: &[String], by: &str) -> bool {
    gate_approvers.iter().any(|a| a == by || a == "*")
}

impl Cli {
    /// The oldest unused decision that may decide the gate known by `names`; the others for it
    /// are used up on the way (a non-approver's is ignored).
    fn next_decision(&self, names: &[&str], gate: &Gate) -> Option<(Decision, String)> {
        for (id, w) in self.store.asked(&self.run_id) {
            let for_this = w.gate.as_deref().is_none_or(|g| names.contains(&g));
            if !for_this || w.decision == "rollback" {
                continue;
            }
            self.store.spend(&self.run_id, &id);
            if !may_decide(&gate.approvers, &w.by) {
                continue;
            }
            match w.decision.as_str() {
                "approve" => return Some((Decision::Approved, w.by)),
                "reject" => return Some((Decision::Rejected, w.by)),
                _ => {}
            }
        }
        None
    }
}

#[async_trait]
impl Approvals for Cli {
    async fn decide(
        &self,
        names: &[&str],
        gate: &Gate,
        clock: &Clock,
    ) -> (Decision, Option<String>) {
        let woken = self.store.decisions_woken(&self.run_id);
        super::until_decided(gate, clock, woken, || {
            std::future::ready(self.next_decision(names, gate))
        })
        .await
    }
}

/// Completes when someone asks the run to roll back (`rollgate rollback RUN`), with who.
pub async fn rollback_requested(store: Arc<dyn Store>, run_id: String) -> String {
    let mut woken = store.decisions_woken(&run_id);
    loop {
        if let Some((id, w)) = store
            .asked(&run_id)
            .into_iter()
            .find(|(_, w)| w.decision == "rollback")
        {
            store.spend(&run_id, &id);
            return format!("rollback requested by {}", w.by);
        }
        let every = super::poll_every(&woken);
        super::pause_or_woken(tokio::time::sleep(every), &mut woken).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn approvers_are_named_or_anyone() {
        assert!(may_decide(&["alice".into()], "alice"));
        assert!(!may_decide(&["alice".into()], "mallory"));
        assert!(may_decide(&["*".into()], "anyone"));
    }
}
