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
