//! Metric sources: where checks get their numbers.

mod command;
mod fixture;
mod prometheus;

pub use command::Command;
pub use fixture::FixtureSource;
pub use prometheus::Prometheus;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// The source could not answer (down, refused, timed out); what that means is the check's
/// `on-no-data`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsError(pub String);

/// The one value of a Prometheus instant-query answer's `data` (a one-series `vector`, or a
/// `scalar`); `Ok(None)` for no series or a NaN/Inf value.
pub fn instant_value(data: &serde_json::Value) -> Result<Option<f64>, String> {
    use serde_json::Value;
    let result = &data["result"];
    let value = match data["resultType"].as_str() {
        Some("scalar") => result.get(1),
        Some("vector") => match result.as_array().map(Vec::as_slice) {
            Some([]) => return Ok(None),
            Some([one]) => one["value"].get(1),
            Some(many) => {
                return Err(format!(
                    "answered {} series; a check needs one (aggregate with sum())",
                    many.len()
                ))
            }
            None => None,
        },
        _ => None,
    };
    let v = value
        .and_then(Value::as_str)
        .and_then(|s| s.parse::<f64>().ok())
        .ok_or("answered without a vector or scalar value")?;
    Ok(v.is_finite().then_some(v))
}

#[async_trait]
pub trait MetricSource: Send + Sync {
    /// The query's value at `at`; `Ok(None)` when it has no data there.
    async fn query(&self, query: &str, at: DateTime<Utc>) -> Result<Option<f64>, MetricsError>;
}
