//! A metric source driven by the user's program: it gets the query in `ROLLGATE_QUERY` and
//! prints a number, nothing (no data), or Prometheus' JSON for an instant query.

use super::{MetricSource, MetricsError};
use crate::plan::provider::MetricsCommand;
use crate::providers::shell;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::BTreeMap;

pub struct Command {
    spec: MetricsCommand,
}

impl Command {
    pub fn new(spec: MetricsCommand) -> Command {
        Command { spec }
    }
}

/// A number, or the single value of a Prometheus `vector`/`scalar` result (whole reply or
/// `data`); `Ok(None)` for no data.
pub fn parse_output(out: &str) -> Result<Option<f64>, String> {
    let t = out.trim();
    if t.is_empty() {
        return Ok(None);
    }
    if let Ok(v) = t.parse::<f64>() {
        return Ok(v.is_finite().then_some(v));
    }
    let json: Value = serde_json::from_str(t).map_err(|_| {
        format!(
            "printed `{}`: neither a number nor Prometheus JSON",
            t.chars().take(60).collect::<String>()
        )
    })?;
    super::instant_value(json.get("data").unwrap_or(&json))
}

#[async_trait]
impl MetricSource for Command {
    async fn query(&self, query: &str, at: DateTime<Utc>) -> Result<Option<f64>, MetricsError> {
        let env = BTreeMap::from([
            ("ROLLGATE_QUERY".to_string(), query.to_string()),
            ("ROLLGATE_TIME".to_string(), at.to_rfc3339()),
        ]);
        let out = shell::run(&self.spec.run, &env, shell::DEFAULT_TIMEOUT)
            .await
            .map_err(MetricsError)?;
        parse_output(&out).map_err(|e| MetricsError(format!("`{}` {e}", self.spec.run)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_nothing_and_prometheus_json() {
        assert_eq!(parse_output("0.25\n"), Ok(Some(0.25)));
        assert_eq!(parse_output(""), Ok(None));
        assert_eq!(parse_output("NaN"), Ok(None));
        let vector = r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1772366400,"0.01"]}]}}"#;
        assert_eq!(parse_output(vector), Ok(Some(0.01)));
        assert_eq!(
            parse_output(r#"{"resultType":"vector","result":[]}"#),
            Ok(None)
        );
        assert_eq!(
            parse_output(r#"{"resultType":"scalar","result":[1772366400,"3"]}"#),
            Ok(Some(3.0))
        );
        assert!(parse_output("oops")
            .unwrap_err()
            .contains("neither a number"));
    }
}
