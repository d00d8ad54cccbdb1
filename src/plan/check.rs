//! Checks: a query per group (canary, baseline) and what counts as healthy.

use super::units::{Duration, Quantile, Quantity};
use crate::event::Method;
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
    /// The canary group's data: a query whose value is the check's value (a rate, a latency, a
    /// KPI), `events` and `total` counters whose ratio per interval is, or a latency histogram's
    /// `buckets`.
    pub canary: Series,
    /// The same for the baseline (stable) group; needed to compare with the baseline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<Series>,
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
    /// How much worse than the baseline the canary may be upwards: relative (`10%`) or, for ratios, in percentage points (`0.5pp`). For histograms: how much slower each judged quantile may be (`10%`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_increase: Option<Quantity>,
    /// How much lower than the baseline the canary may be: relative (`10%`) or, for ratios, in percentage points (`1pp`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_decrease: Option<Quantity>,
    /// For histograms: the quantile shown as the check's value and the lowest one judged; it and every quantile above it may be at most `max-increase` slower than the baseline's (default `p50`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantile: Option<Quantile>,
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
    /// How the canary is judged against the baseline (`max-increase`, `max-decrease`): by default `sequential` for counts and `threshold` for values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<Method>,
    /// The chance of rolling back a canary that is within tolerance (default 1%): over the whole rollout for `sequential`, per window for `z-test` and `mann-whitney`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub false_rollbacks: Option<Quantity>,
    /// For counts: an SLO whose error budget the canary must not burn too fast (multiwindow burn rates), checked every interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slo: Option<Slo>,
}

/// A group's data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Series {
    /// A query whose value is the check's value.
    Value(String),
    /// Counters, e.g. `sum(http_requests_total{code=~"5..",version="canary"})` and `sum(http_requests_total{version="canary"})`: each interval's increase of `events` over that of `total` is the check's value, and the counts are what the statistical methods weigh.
    Counts(Counts),
    /// A latency histogram's bucket counters, one series per bound: `sum by (le) (http_request_duration_seconds_bucket{version="canary"})`. Each interval's increase per bucket is a latency distribution; the check's value is its `quantile`, and the sequential test weighs whole distributions. Any bucket layout works.
    Histogram(Histogram),
}

/// A latency histogram of one group.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Histogram {
    /// A query answering one series per bucket bound, each with its `le` label (cumulative counters, as Prometheus' `_bucket` series are), e.g. `sum by (le) (http_request_duration_seconds_bucket{version="canary"})`.
    pub buckets: String,
}

/// Two counters of one group.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Counts {
    /// A counter of the events that count against the canary (errors, slow requests).
    pub events: String,
    /// A counter of all requests.
    pub total: String,
}

impl Check {
    /// Whether the sequential test compares this check with its baseline: counts on both
    /// sides, unless `method: threshold` says otherwise.
    pub fn sequential(&self) -> bool {
        self.counts_both() && matches!(self.method, None | Some(Method::Sequential))
    }

    /// Counters for the canary and for the baseline, or histograms for both (whose buckets
    /// are counters too).
    pub fn counts_both(&self) -> bool {
        matches!(
            (&self.canary, &self.baseline),
            (Series::Counts(_), Some(Series::Counts(_)))
                | (Series::Histogram(_), Some(Series::Histogram(_)))
        )
    }

    /// Whether the check reads latency histograms.
    pub fn histogram(&self) -> bool {
        matches!(self.canary, Series::Histogram(_))
    }

    /// The quantile a histogram check shows and judges from: `quantile`, p50 unless stated.
    pub fn quantile(&self) -> f64 {
        self.quantile.map_or(0.5, |q| q.0)
    }

    /// Whether each evaluation compares the canary's value with the baseline's as is
    /// (`max-increase`, `max-decrease`), rather than a statistical method deciding.
    pub fn compares_each_value(&self) -> bool {
        !self.sequential() && matches!(self.method, None | Some(Method::Threshold))
    }

    /// The level of its statistical method: `false-rollbacks`, 1% unless stated.
    pub fn level(&self) -> f64 {
        self.false_rollbacks.map(|q| q.value()).unwrap_or(0.01)
    }
}

impl Series {
    /// Every query, in a fixed order.
    pub fn queries(&self) -> Vec<&str> {
        match self {
            Series::Value(q) => vec![q],
            Series::Counts(c) => vec![&c.events, &c.total],
            Series::Histogram(h) => vec![&h.buckets],
        }
    }
}

/// An SLO whose error budget a count check's canary must not burn too fast.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Slo {
    /// The share of requests that must be good, e.g. `99.9%`; the check's `events` are the bad ones.
    pub objective: Quantity,
    /// Window pairs: roll back when both windows of a pair burn the budget at least `burn` times too fast. Default: 1h and 5m at 14.4, 6h and 30m at 6 (the SRE workbook's).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub windows: Vec<BurnWindow>,
}

/// One multiwindow burn-rate rule.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct BurnWindow {
    /// The long window, e.g. `1h` (as much as the rollout has, when it is shorter).
    pub long: Duration,
    /// The short window, e.g. `5m`.
    pub short: Duration,
    /// How many times too fast, e.g. `14.4`.
    #[schemars(range(min = 1.0))]
    pub burn: f64,
}

impl Check {
    /// The unit the check measures: declared, or inferred from its absolute thresholds.
    pub fn unit(&self) -> Unit {
        if let Some(u) = self.unit {
            return u;
        }
        match self.canary {
            Series::Counts(_) => return Unit::Ratio,
            // Prometheus' convention: `le` in seconds.
            Series::Histogram(_) => return Unit::Seconds,
            Series::Value(_) => {}
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
