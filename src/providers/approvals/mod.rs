//! Where gate decisions come from.

pub mod cli;
mod github;
mod scripted;

pub use cli::Cli;
pub use github::Github;
pub use scripted::{ApprovePolicy, Scripted};

use crate::clock::Clock;
use crate::event::Decision;
use crate::plan::Gate;
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// How often a waiting gate looks for a decision (and a run for a rollback asked for).
const POLL: Duration = Duration::from_millis(200);

/// Asks `next` for a decision every [`POLL`] until one comes, with who made it, or the gate's
/// timeout passes.
async fn until_decided<F, Fut>(
    gate: &Gate,
    clock: &Clock,
    mut next: F,
) -> (Decision, Option<String>)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<(Decision, String)>>,
{
    let deadline = clock.elapsed() + gate.timeout.0;
    loop {
        if let Some((d, by)) = next().await {
            return (d, Some(by));
        }
        if clock.elapsed() >= deadline {
            return (Decision::TimedOut, None);
        }
        clock
            .sleep(POLL.min(deadline.saturating_sub(clock.elapsed())))
            .await;
    }
}

#[async_trait]
pub trait Approvals: Send + Sync {
    /// Waits for a decision on the gate known by any of `names` (its step id, its phase), no
    /// longer than the gate's timeout; returns the decision and who made it.
    async fn decide(
        &self,
        names: &[&str],
        gate: &Gate,
        clock: &Clock,
    ) -> (Decision, Option<String>);
}

/// A real run's gates, each decided by the source its `via` names (`cli` when absent).
pub struct BySource {
    pub sources: BTreeMap<String, Arc<dyn Approvals>>,
}

#[async_trait]
impl Approvals for BySource {
    async fn decide(
        &self,
        names: &[&str],
        gate: &Gate,
        clock: &Clock,
    ) -> (Decision, Option<String>) {
        match self.sources.get(gate.source()) {
            Some(source) => source.decide(names, gate, clock).await,
            // `rollgate run` sets up every source its plan's gates name before it starts.
            None => (Decision::TimedOut, None),
        }
    }
}
