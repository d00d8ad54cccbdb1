//! Traffic routers: where the canary's share of requests is set.

mod command;
mod simulated;

pub use command::{route_env, Command};
pub use simulated::Simulated;

use crate::graph::Route;
use async_trait::async_trait;
use serde::Serialize;

/// A router's split, as captured before the run's first shift so a rollback can restore it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RouterState {
    /// The canary's share of requests, 0–100.
    pub canary_weight: u8,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrafficError(pub String);

impl std::fmt::Display for TrafficError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[async_trait]
pub trait TrafficRouter: Send + Sync {
    /// The current split.
    async fn state(&self) -> Result<RouterState, TrafficError>;
    /// Sets a routing and returns once the router confirms it.
    async fn apply(&self, route: &Route) -> Result<(), TrafficError>;
    /// Puts back a split captured by [`TrafficRouter::state`].
    async fn restore(&self, state: &RouterState) -> Result<(), TrafficError>;
}
