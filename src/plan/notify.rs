//! Where the rollout's news goes.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Notification targets and the events they hear about.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Notify {
    /// Provider names to notify (github, slack, teams, discord, google-chat, webhook).
    #[schemars(length(min = 1))]
    pub to: Vec<String>,
    /// Which events are sent; all of them when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on: Option<Vec<NotifyEvent>>,
}

/// Events worth a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum NotifyEvent {
    /// The run started.
    Started,
    /// A phase passed and the next began.
    PhasePromoted,
    /// A gate waits for approval.
    GateWaiting,
    /// The rollout rolled back.
    RolledBack,
    /// The rollout reached its end and was promoted.
    Promoted,
    /// The rollout stopped without promoting or rolling back.
    Aborted,
}
