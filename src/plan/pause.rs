//! Pauses: when the rollout cannot judge the canary (a check stays inconclusive, a health
//! score is marginal, a trigger says `then: pause`, a rollback's approval is refused), it holds
//! every router where it is and waits for a person: continue, or roll back. Nobody deciding
//! within the timeout means the default, rolling back: a paused run never ends with the canary
//! still serving.

use super::gate::{Gate, GateTimeout, CLI_APPROVALS};
use super::units::Duration;
use crate::event::PauseTimeout;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How long a pause waits for a decision when the plan does not say.
pub const DEFAULT_TIMEOUT_SECS: u64 = 30 * 60;

/// The id a pause is decided by, as a gate's step id is (`/rollgate continue`, `rollgate
/// continue RUN`).
pub const PAUSE: &str = "pause";

/// Who may lift a pause, where from, and how long it waits.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Pause {
    /// Who may continue a paused rollout: users or `org/team` slugs; `*` (the default) is anyone who may decide the run. Rolling back is never restricted.
    #[serde(default = "anyone")]
    #[schemars(length(min = 1))]
    pub approvers: Vec<String>,
    /// Where the decision comes from: `cli` (default: `rollgate continue|rollback RUN`) or the name of a `github` provider (`/rollgate continue|rollback` on the pull request).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
    /// How long a pause waits for a decision (default 30m).
    #[serde(default = "default_timeout")]
    pub timeout: Duration,
    /// What nobody deciding within the timeout means: `rollback` (default) or `continue`.
    #[serde(default)]
    pub on_timeout: PauseTimeout,
}

impl Default for Pause {
    fn default() -> Pause {
        Pause {
            approvers: anyone(),
            via: None,
            timeout: default_timeout(),
            on_timeout: PauseTimeout::default(),
        }
    }
}

fn anyone() -> Vec<String> {
    vec!["*".into()]
}

fn default_timeout() -> Duration {
    Duration::from_secs(DEFAULT_TIMEOUT_SECS)
}

impl Pause {
    /// The pause as the gate the approval sources decide: approved is continue, rejected or
    /// timed out (with `on-timeout: rollback`) is roll back.
    pub fn gate(&self) -> Gate {
        Gate {
            approvers: self.approvers.clone(),
            via: self.via.clone(),
            timeout: self.timeout,
            on_timeout: match self.on_timeout {
                PauseTimeout::Rollback => GateTimeout::Rollback,
                PauseTimeout::Continue => GateTimeout::Approve,
            },
            message: None,
        }
    }

    /// Where its decision comes from: `cli`, or the name of a `github` provider.
    pub fn source(&self) -> &str {
        self.via.as_deref().unwrap_or(CLI_APPROVALS)
    }
}
