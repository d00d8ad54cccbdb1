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

/// A histogram's cumulative counts by bucket bound, sorted, ending with +Inf.
pub type Buckets = Vec<(f64, f64)>;

/// A bound as Prometheus writes `le`: `0.25`, `+Inf`.
pub fn parse_le(le: &str) -> Option<f64> {
    match le {
        "+Inf" | "Inf" | "inf" => Some(f64::INFINITY),
        _ => le.parse::<f64>().ok().filter(|v| v.is_finite()),
    }
}

/// `le` as Prometheus writes it.
pub fn le_text(le: f64) -> String {
    if le.is_infinite() {
        "+Inf".into()
    } else {
        le.to_string()
    }
}

/// Per-bound counts (as `le` labels say them) made into a histogram: sorted, each bound once,
/// with the +Inf bucket that holds the total. `Ok(None)` for no series at all.
pub fn histogram_of(series: Vec<(Option<String>, f64)>) -> Result<Option<Buckets>, String> {
    if series.is_empty() {
        return Ok(None);
    }
    let mut out = Vec::new();
    for (le, v) in series {
        let Some(le) = le else {
            return Err("answered a series without an `le` label; a histogram needs one series per bucket bound: `sum by (le) (<histogram>_bucket{...})`".into());
        };
        let bound = parse_le(&le).ok_or(format!(
            "answered `le=\"{le}\"`, which is not a bucket bound"
        ))?;
        if out.iter().any(|(b, _)| *b == bound) {
            return Err(format!(
                "answered two series for `le=\"{le}\"`; aggregate them: `sum by (le) (...)`"
            ));
        }
        if v.is_finite() {
            out.push((bound, v));
        }
    }
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    if out.last().is_none_or(|b| b.0.is_finite()) {
        return Err(
            "answered no `le=\"+Inf\"` series, the bucket that counts every request".into(),
        );
    }
    Ok(Some(out))
}

/// The histogram in a Prometheus instant-query answer's `data`: a `vector` of one series per
/// `le`.
pub fn instant_histogram(data: &serde_json::Value) -> Result<Option<Buckets>, String> {
    use serde_json::Value;
    if data["resultType"].as_str() != Some("vector") {
        return Err(
            "answered without a vector; a histogram's `buckets` query answers one series per `le`"
                .into(),
        );
    }
    let series = data["result"]
        .as_array()
        .ok_or("answered a vector without `result`")?
        .iter()
        .map(|one| {
            let v = one["value"]
                .get(1)
                .and_then(Value::as_str)
                .and_then(|s| s.parse::<f64>().ok())
                .ok_or("answered a series without a value")?;
            Ok((one["metric"]["le"].as_str().map(str::to_string), v))
        })
        .collect::<Result<Vec<_>, &str>>()?;
    histogram_of(series)
}

#[async_trait]
pub trait MetricSource: Send + Sync {
    /// The query's value at `at`; `Ok(None)` when it has no data there.
    async fn query(&self, query: &str, at: DateTime<Utc>) -> Result<Option<f64>, MetricsError>;

    /// A histogram query's bucket counts at `at`, one series per `le`; `Ok(None)` when it has
    /// no data there.
    async fn buckets(
        &self,
        query: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<Buckets>, MetricsError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_from_vectors_by_le() {
        let data = serde_json::json!({"resultType": "vector", "result": [
            {"metric": {"le": "+Inf"}, "value": [1, "100"]},
            {"metric": {"le": "0.1"}, "value": [1, "50"]},
            {"metric": {"le": "0.25"}, "value": [1, "80"]},
        ]});
        assert_eq!(
            instant_histogram(&data),
            Ok(Some(vec![
                (0.1, 50.0),
                (0.25, 80.0),
                (f64::INFINITY, 100.0)
            ]))
        );
        let empty = serde_json::json!({"resultType": "vector", "result": []});
        assert_eq!(instant_histogram(&empty), Ok(None));
        let no_le = serde_json::json!({"resultType": "vector", "result": [{"metric": {}, "value": [1, "3"]}]});
        assert!(instant_histogram(&no_le)
            .unwrap_err()
            .contains("sum by (le)"));
        let twice = histogram_of(vec![(Some("0.1".into()), 1.0), (Some("0.1".into()), 2.0)]);
        assert!(twice.unwrap_err().contains("two series for `le=\"0.1\"`"));
        let no_inf = histogram_of(vec![(Some("0.1".into()), 1.0)]);
        assert!(no_inf.unwrap_err().contains("+Inf"));
    }
}
