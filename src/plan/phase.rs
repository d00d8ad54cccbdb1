//! Phases: the shorthand most plans use. Each sets a routing, observes, and may wait for approval.

use super::gate::Gate;
use super::units::{Duration, Weight};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One stage of the rollout.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Phase {
    /// The phase's name, unique in its rollout; used in step ids and reports.
    pub name: String,
    /// The canary's share of traffic during this phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<Weight>,
    /// Mirror (shadow) this share of requests to the canary, in percent; answers are discarded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirror: Option<Weight>,
    /// Route requests carrying this header value to the canary (A/B by header).
    #[serde(default, rename = "match", skip_serializing_if = "Option::is_none")]
    pub match_: Option<HeaderMatch>,
    /// The minimum time to observe before the phase can be promoted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observe: Option<Duration>,
    /// Checks evaluated during the phase; all of the plan's checks when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checks: Option<Vec<String>>,
    /// The minimum weighted health score (0–1) to promote; with `pass-score`, Kayenta's marginal threshold: below it the phase rolls back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0, max = 1.0))]
    pub min_score: Option<f64>,
    /// Kayenta's pass threshold (0–1): the weighted share of checks that pass must reach it to promote; between `min-score` and it, the rollout pauses for a person. With it, each check's last verdict in the window feeds the score rather than failing the phase alone; a critical bound, `failure-limit`, the sequential test or a burn rate still roll back at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0, max = 1.0))]
    pub pass_score: Option<f64>,
    /// How often checks are evaluated in this phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Duration>,
    /// An approval to wait for once observation passes, before the next phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<Gate>,
}

/// A header match for A/B routing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct HeaderMatch {
    /// The request header's name.
    pub header: String,
    /// The exact value that sends a request to the canary.
    pub value: String,
}
