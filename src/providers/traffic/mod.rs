//! Traffic routers: where the canary's share of requests is set.

mod added;
mod command;
mod gateway_api;
mod haproxy;
mod istio;
mod kubernetes;
mod simulated;
mod split;

pub use command::{route_env, Command};
pub use gateway_api::GatewayApi;
pub use haproxy::Haproxy;
pub use istio::Istio;
pub use simulated::Simulated;

use crate::event::{Route, RouterState};
use async_trait::async_trait;
use std::time::Duration;

/// Why a router did not do what it was asked. The runner retries transient failures (a
/// refused or slow socket, a failing command) with backoff, and never the others (no such
/// server): retrying cannot fix them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrafficError {
    pub message: String,
    pub transient: bool,
}

impl TrafficError {
    /// A failure that may pass: worth retrying.
    pub fn transient(message: impl Into<String>) -> TrafficError {
        TrafficError {
            message: message.into(),
            transient: true,
        }
    }

    /// A refusal that retrying cannot change.
    pub fn refused(message: impl Into<String>) -> TrafficError {
        TrafficError {
            message: message.into(),
            transient: false,
        }
    }
}

impl std::fmt::Display for TrafficError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

#[async_trait]
pub trait TrafficRouter: Send + Sync {
    /// The current split.
    async fn state(&self) -> Result<RouterState, TrafficError>;
    /// Sets a routing and returns once the router confirms it. One attempt: the runner retries.
    async fn apply(&self, route: &Route) -> Result<(), TrafficError>;
    /// Puts back a split captured by [`TrafficRouter::state`].
    async fn restore(&self, state: &RouterState) -> Result<(), TrafficError>;
    /// How long one shift may take in all, retries included, where the router bounds it (a
    /// Kubernetes router's `timeout`); the runner's own attempts bound the others.
    fn timeout(&self) -> Option<Duration> {
        None
    }
    /// Whether [`TrafficRouter::state`] reads the router (a command router without `get`
    /// cannot: it takes the split to be all on stable).
    fn readable(&self) -> bool {
        true
    }
}
