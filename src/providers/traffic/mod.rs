//! Traffic routers: where the canary's share of requests is set.

mod command;
mod haproxy;
mod simulated;

pub use command::{route_env, Command};
pub use haproxy::Haproxy;
pub use simulated::Simulated;

use crate::graph::Route;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A router's split, as captured before the run's first shift so a rollback can restore it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouterState {
    /// The canary's share of requests, 0–100.
    pub canary_weight: u8,
    /// Each server's own weight, for routers that have them (HAProxy), so that restoring is exact.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub servers: BTreeMap<String, u32>,
}

impl RouterState {
    /// A split known only as the canary's share.
    pub fn share(canary_weight: u8) -> RouterState {
        RouterState {
            canary_weight,
            servers: BTreeMap::new(),
        }
    }
}

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
}
