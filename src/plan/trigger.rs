//! Triggers: conditions watched for the whole run that fire a rollback or pause at any moment.

use super::rollback::RollbackMode;
use super::units::{Duration, Quantity};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The name of the weighted health score across checks, usable where a check name is.
pub const HEALTH_SCORE: &str = "health-score";

/// A condition on a check, held for a window, and what to do when it fires.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Trigger {
    /// The check watched, or `health-score` for the weighted score across checks.
    pub check: String,
    /// Fires when the canary value is above this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub above: Option<Quantity>,
    /// Fires when the canary value is below this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub below: Option<Quantity>,
    /// Fires when the canary is worse than the baseline upwards by more than this (`20%` relative, `1pp` for ratios).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub above_baseline: Option<Quantity>,
    /// Fires when the canary is lower than the baseline by more than this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub below_baseline: Option<Quantity>,
    /// Fires after this many consecutive failed evaluations of the check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub failures: Option<u32>,
    /// How long the condition must hold before the trigger fires; at once when absent.
    #[serde(default, rename = "for", skip_serializing_if = "Option::is_none")]
    pub for_: Option<Duration>,
    /// What happens when the trigger fires.
    #[serde(default)]
    pub then: TriggerAction,
    /// Overrides the plan's rollback mode for this trigger.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<RollbackMode>,
}

/// What a fired trigger does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum TriggerAction {
    /// Roll back, with the plan's rollback policy.
    #[default]
    Rollback,
    /// Hold every router where it is until someone continues or rolls back (the plan's `pause`; nobody deciding in time rolls back).
    Pause,
}
