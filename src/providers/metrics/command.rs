//! A metric source driven by the user's program: it gets the query in `ROLLGATE_QUERY` and
//! prints a number, nothing (no data), or Prometheus' JSON for an instant query.

use super::{Buckets, MetricSource, MetricsError};
use crate::plan::provider::MetricsCommand;
use crate::providers::shell;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;

pub struct Command {
    /// As the plan wrote it, for messages.
    spec: MetricsCommand,
    /// `run` as it runs, its `${{ }}` bound to variables.
    run: shell::Script,
    /// Where its command runs.
    cwd: Option<std::path::PathBuf>,
}

impl Command {
    pub fn new(
        spec: MetricsCommand,
        run: shell::Script,
        cwd: Option<std::path::PathBuf>,
    ) -> Command {
        Command { spec, run, cwd }
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

/// A histogram: Prometheus' JSON for an instant query (whole reply or `data`) with one series
/// per `le`, or lines of `LE COUNT` (`0.25 80`, `+Inf 100`); `Ok(None)` for no data.
pub fn parse_histogram(out: &str) -> Result<Option<Buckets>, String> {
    let t = out.trim();
    if t.is_empty() {
        return Ok(None);
    }
    if let Ok(json) = serde_json::from_str::<Value>(t) {
        return super::instant_histogram(json.get("data").unwrap_or(&json));
    }
    let series = t
        .lines()
        .map(
            |line| match line.split_whitespace().collect::<Vec<_>>().as_slice() {
                [le, count] => count
                    .parse::<f64>()
                    .map(|c| (Some(le.to_string()), c))
                    .map_err(|_| format!("printed `{line}`: the count is not a number")),
                _ => Err(format!(
                    "printed `{line}`: neither Prometheus JSON nor `LE COUNT` lines like `0.25 80`"
                )),
            },
        )
        .collect::<Result<Vec<_>, String>>()?;
    super::histogram_of(series)
}

impl Command {
    /// The program's output for `query` at `at`.
    async fn output(&self, query: &str, at: DateTime<Utc>) -> Result<String, MetricsError> {
        let asked = [
            ("ROLLGATE_QUERY".to_string(), query.to_string()),
            ("ROLLGATE_TIME".to_string(), at.to_rfc3339()),
        ];
        self.run
            .run(asked.into(), self.cwd.as_deref())
            .await
            .map_err(MetricsError)
    }
}

#[async_trait]
impl MetricSource for Command {
    async fn query(&self, query: &str, at: DateTime<Utc>) -> Result<Option<f64>, MetricsError> {
        let out = self.output(query, at).await?;
        parse_output(&out).map_err(|e| MetricsError(format!("`{}` {e}", self.spec.run)))
    }

    async fn buckets(
        &self,
        query: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<Buckets>, MetricsError> {
        let out = self.output(query, at).await?;
        parse_histogram(&out).map_err(|e| MetricsError(format!("`{}` {e}", self.spec.run)))
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

    #[test]
    fn histograms_as_json_or_lines() {
        let lines = "0.1 50\n0.25 80\n+Inf 100\n";
        let want = Some(vec![(0.1, 50.0), (0.25, 80.0), (f64::INFINITY, 100.0)]);
        assert_eq!(parse_histogram(lines), Ok(want.clone()));
        let json = r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"le":"0.25"},"value":[1,"80"]},{"metric":{"le":"0.1"},"value":[1,"50"]},{"metric":{"le":"+Inf"},"value":[1,"100"]}]}}"#;
        assert_eq!(parse_histogram(json), Ok(want));
        assert_eq!(parse_histogram(""), Ok(None));
        assert!(parse_histogram("0.1 lots")
            .unwrap_err()
            .contains("not a number"));
    }
}
