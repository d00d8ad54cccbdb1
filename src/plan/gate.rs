//! Approval gates: the rollout waits for a person.

use super::units::Duration;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The approval source meaning `rollgate approve|reject RUN` from a terminal.
pub const CLI_APPROVALS: &str = "cli";

/// An approval the rollout waits for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Gate {
    /// Who may approve: GitHub users or `org/team` slugs.
    #[schemars(length(min = 1))]
    pub approvers: Vec<String>,
    /// Where approvals come from: `cli` (default) or the name of a `github` provider (PR comments).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
    /// How long to wait.
    pub timeout: Duration,
    /// What a timeout means.
    pub on_timeout: GateTimeout,
    /// Shown to the approvers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl Gate {
    /// Where its decision comes from: `cli`, or the name of a `github` provider.
    pub fn source(&self) -> &str {
        self.via.as_deref().unwrap_or(CLI_APPROVALS)
    }
}

/// What an approval timeout means.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum GateTimeout {
    /// Roll back.
    Rollback,
    /// Stop the rollout without judging the canary: put every router back as it was before the run (the rollback path) and exit aborted.
    Abort,
    /// Carry on as if approved.
    Approve,
}
