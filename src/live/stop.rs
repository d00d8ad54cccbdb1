//! What stops a real run from outside, with why: someone asking for a rollback (`rollgate
//! rollback RUN`, or `/rollgate rollback` on the pull request) and, for a run that owns its
//! process, SIGINT or SIGTERM (what a cancelled CI job sends).

use crate::event::CANCELLED;
use crate::github::commands::Commands;
use crate::journal::{Lease, Store};
use crate::runner::Cancellation;
use std::sync::Arc;

/// Whether the process's signals stop the run: yes for the command line, where one process is
/// one run; a service running many decides for itself what a signal means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signals {
    StopTheRun,
    Ignored,
}

/// Completes, with why, when the run must stop and roll back.
pub fn stop_when(
    store: Arc<dyn Store>,
    run_id: String,
    lease: Arc<dyn Lease>,
    prs: Vec<Arc<Commands>>,
    signals: Signals,
) -> Cancellation {
    Box::pin(async move {
        let signalled = async {
            if signals == Signals::StopTheRun {
                terminated().await
            } else {
                std::future::pending().await
            }
        };
        tokio::select! {
            why = signalled => why,
            why = crate::providers::approvals::cli::rollback_requested(store, run_id) => why,
            why = from_a_pr(prs) => why,
            why = lease_lost(lease) => why,
        }
    })
}

/// Completes when this process finds it no longer owns the run: it stops, and every router
/// write it would make is refused by the same check.
async fn lease_lost(lease: Arc<dyn Lease>) -> String {
    while !lease.lost() {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    lease
        .check()
        .err()
        .map_or_else(|| "this process lost the run".into(), |e| e.to_string())
}

/// Completes on SIGINT or SIGTERM, with the reason a run stopped by it rolls back for.
pub async fn terminated() -> String {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => CANCELLED.to_string(),
        _ = term => CANCELLED.to_string(),
    }
}

/// Completes when a writer comments `/rollgate rollback` on any of the pull requests.
async fn from_a_pr(prs: Vec<Arc<Commands>>) -> String {
    // Polled here rather than spawned, so nothing outlives the run holding a PR's watcher.
    let mut asked: Vec<_> = prs
        .iter()
        .map(|c| Box::pin(c.rollback_requested()))
        .collect();
    std::future::poll_fn(|cx| {
        asked
            .iter_mut()
            .find_map(|f| match std::future::Future::poll(f.as_mut(), cx) {
                std::task::Poll::Ready(why) => Some(why),
                std::task::Poll::Pending => None,
            })
            .map_or(std::task::Poll::Pending, std::task::Poll::Ready)
    })
    .await
}
