//! Checks: a query per group (canary, baseline) and what counts as healthy.

use super::units::{Duration, Quantity};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A health check evaluated while traffic is on the canary.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Check {
    /// The metric source (a provider name) the queries run against.
    pub source: String,
    /// What this check watches, for reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The query for the canary group.
    pub canary: String,
    /// The same query for the baseline (stable) group; needed to compare with the baseline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<String>,
    /// Queries counting the requests behind each value, for `min-samples`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub samples: Option<Samples>,
    /// What the queries return; inferred from the thresholds when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<Unit>,
    /// Healthy while the canary value is at most this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<Quantity>,
    /// Healthy while the canary value is at least this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<Quantity>,
    /// A bound past which the rollout rolls back at once, without waiting for `failure-limit`: an absolute value, or a factor of `max`/`min` such as `2x`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub critical: Option<Quantity>,
    /// How much worse than the baseline the canary may be upwards: relative (`10%`) or, for ratios, in percentage points (`0.5pp`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_increase: Option<Quantity>,
    /// How much lower than the baseline the canary may be: relative (`10%`) or, for ratios, in percentage points (`1pp`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_decrease: Option<Quantity>,
    /// Requests needed in a group before a verdict other than inconclusive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_samples: Option<u64>,
    /// What no data (empty result, NaN, source down) means.
    #[serde(default)]
    pub on_no_data: OnNoData,
    /// Consecutive failed evaluations before the check fails the phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub failure_limit: Option<u32>,
    /// How often the check is evaluated; the plan's `interval` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Duration>,
    /// This check's weight in the health score (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.0))]
    pub weight: Option<f64>,
}

impl Check {
    /// The unit the check measures: declared, or inferred from its absolute thresholds.
    pub fn unit(&self) -> Unit {
        if let Some(u) = self.unit {
            return u;
        }
        let absolute = [self.max, self.min, self.critical];
        if absolute
            .iter()
            .flatten()
            .any(|q| matches!(q, Quantity::Seconds(_)))
        {
            Unit::Seconds
        } else if absolute
            .iter()
            .flatten()
            .any(|q| matches!(q, Quantity::Percent(_)))
        {
            Unit::Ratio
        } else {
            Unit::Number
        }
    }
}

/// Request-count queries per group.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Samples {
    /// Requests served by the canary in the evaluation window.
    pub canary: String,
    /// Requests served by the baseline in the evaluation window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<String>,
}

/// The unit a check's query returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Unit {
    /// A fraction between 0 and 1 (error rate, success rate, CPU share); thresholds in `%` or fractions.
    Ratio,
    /// Seconds (Prometheus' convention for latency); thresholds as durations (`500ms`) or seconds.
    Seconds,
    /// Milliseconds; thresholds as durations (`500ms`) or milliseconds.
    Milliseconds,
    /// Anything else (a score, a count, a cost); thresholds as plain numbers.
    Number,
}

impl Unit {
    pub fn name(self) -> &'static str {
        match self {
            Unit::Ratio => "a ratio",
            Unit::Seconds => "seconds",
            Unit::Milliseconds => "milliseconds",
            Unit::Number => "a plain number",
        }
    }
}

/// What no data means for a check.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum OnNoData {
    /// Count it as healthy.
    Pass,
    /// Count it as a failure.
    Fail,
    /// Neither: keep observing, and pause the rollout if the phase ends without a verdict.
    #[default]
    Inconclusive,
    /// Hold the current weight and keep waiting for data, without a time limit other than `max-duration`.
    Hold,
}
