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
    /// Per event, a handlebars template for the message's text instead of the shipped one. It sees `plan`, `event`, `step`, `router`, `weight`, `approvers`, `outcome`, `reason`, `check`, `canary`, `baseline`, and for `paused` `how` and `after`.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub messages: std::collections::BTreeMap<String, String>,
}

impl NotifyEvent {
    pub const ALL: [NotifyEvent; 7] = [
        NotifyEvent::Started,
        NotifyEvent::PhasePromoted,
        NotifyEvent::GateWaiting,
        NotifyEvent::Paused,
        NotifyEvent::RolledBack,
        NotifyEvent::Promoted,
        NotifyEvent::Aborted,
    ];

    /// As the plan writes it: `rolled-back`.
    pub fn name(self) -> &'static str {
        match self {
            NotifyEvent::Started => "started",
            NotifyEvent::PhasePromoted => "phase-promoted",
            NotifyEvent::GateWaiting => "gate-waiting",
            NotifyEvent::Paused => "paused",
            NotifyEvent::RolledBack => "rolled-back",
            NotifyEvent::Promoted => "promoted",
            NotifyEvent::Aborted => "aborted",
        }
    }
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
    /// The rollout holds where it is and waits for someone to continue it or roll it back.
    Paused,
    /// The rollout rolled back.
    RolledBack,
    /// The rollout reached its end and was promoted.
    Promoted,
    /// The rollout stopped without judging the canary (a gate timed out with `on-timeout: abort`); its routers were put back.
    Aborted,
}
