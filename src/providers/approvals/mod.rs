//! Where gate decisions come from.

pub mod cli;
mod github;
mod scripted;

pub use cli::Cli;
pub use github::Github;
pub use scripted::{ApprovePolicy, Scripted};

use crate::plan::Gate;
use crate::runner::clock::Clock;
use crate::runner::events::Decision;
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::sync::Arc;

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
