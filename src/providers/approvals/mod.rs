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

/// How often it looks when the store also says at once that a decision was written: only in
/// case a signal was missed (a connection lost and made again).
const POLL_WHEN_WOKEN: Duration = Duration::from_secs(5);

/// How often to look for a decision: seldom when the store also says at once that one was
/// written.
fn poll_every(woken: &Option<tokio::sync::watch::Receiver<u64>>) -> Duration {
    if woken.is_some() {
        POLL_WHEN_WOKEN
    } else {
        POLL
    }
}

/// Waits for `pause`, or less if `woken` (a store's signal that a decision was written)
/// changes; a signal whose sender is gone is dropped, and looking goes on without it.
async fn pause_or_woken(
    pause: impl std::future::Future<Output = ()>,
    woken: &mut Option<tokio::sync::watch::Receiver<u64>>,
) {
    let Some(rx) = woken else {
        return pause.await;
    };
    tokio::select! {
        _ = pause => {}
        changed = rx.changed() => {
            if changed.is_err() {
                *woken = None;
            }
        }
    }
}

/// Asks `next` for a decision every [`POLL`] until one comes, with who made it, or the gate's
/// timeout passes; at once when `woken` changes, and then only every [`POLL_WHEN_WOKEN`].
async fn until_decided<F, Fut>(
    gate: &Gate,
    clock: &Clock,
    mut woken: Option<tokio::sync::watch::Receiver<u64>>,
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
        let left = deadline.saturating_sub(clock.elapsed());
        pause_or_woken(clock.sleep(poll_every(&woken).min(left)), &mut woken).await;
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
