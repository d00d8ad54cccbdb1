//! Where gate decisions come from.

pub mod cli;
mod scripted;

pub use cli::Cli;
pub use scripted::{ApprovePolicy, Scripted};

use crate::plan::Gate;
use crate::runner::clock::Clock;
use crate::runner::events::Decision;
use async_trait::async_trait;

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
