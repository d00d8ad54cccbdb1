//! Prometheus' HTTP API: an instant query per evaluation, with a timeout and bearer or basic
//! auth. Every way of not getting a number (refused connection, HTTP error, timeout, an error
//! answer) is a source failure, and an empty vector or NaN is no data: what either means is
//! the check's `on-no-data`.

use super::{instant_histogram, instant_value, Buckets, MetricSource, MetricsError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::time::Duration;

pub struct Prometheus {
    client: reqwest::Client,
    url: String,
    token: Option<String>,
    basic: Option<(String, Option<String>)>,
}

impl Prometheus {
    /// `url`, `token`, `username` and `password` with `${{ }}` already substituted.
    pub fn new(
        url: &str,
        token: Option<String>,
        username: Option<String>,
        password: Option<String>,
        timeout: Option<Duration>,
    ) -> Result<Prometheus, String> {
        // rustls with ring; installing it twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(timeout.unwrap_or(Duration::from_secs(10)))
            .build()
            .map_err(|e| format!("cannot make an HTTP client: {e}"))?;
        Ok(Prometheus {
            client,
            url: url.trim_end_matches('/').to_string(),
            token,
            basic: username.map(|u| (u, password)),
        })
    }
}

fn seconds(at: DateTime<Utc>) -> String {
    format!("{:.3}", at.timestamp_millis() as f64 / 1000.0)
}

impl Prometheus {
    /// `path` with `params`; the answer's `data`, or why there is none.
    async fn get(
        &self,
        path: &str,
        params: &[(&str, &str)],
    ) -> Result<serde_json::Value, MetricsError> {
        let mut req = self.client.get(format!("{}{path}", self.url)).query(params);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some((u, p)) = &self.basic {
            req = req.basic_auth(u, p.as_ref());
        }
        let fail = |why: String| MetricsError(format!("Prometheus at {}: {why}", self.url));
        let resp = req.send().await.map_err(|e| fail(said(e)))?;
        let status = resp.status();
        let body = resp.text().await.map_err(|e| fail(said(e)))?;
        let mut json: serde_json::Value = serde_json::from_str(&body).map_err(|_| {
            fail(format!(
                "HTTP {status}, not JSON: {}",
                body.chars().take(120).collect::<String>()
            ))
        })?;
        if !status.is_success() || json["status"] != "success" {
            return Err(fail(format!(
                "HTTP {status}: {}",
                json["error"].as_str().unwrap_or("error")
            )));
        }
        Ok(json["data"].take())
    }

    /// A range query's `data` (a `matrix`), as `rollgate record` saves it.
    pub async fn query_range(
        &self,
        query: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        step: Duration,
    ) -> Result<serde_json::Value, MetricsError> {
        let step = format!("{}", step.as_secs_f64());
        self.get(
            "/api/v1/query_range",
            &[
                ("query", query),
                ("start", &seconds(from)),
                ("end", &seconds(to)),
                ("step", &step),
            ],
        )
        .await
    }
}

/// What went wrong, down to its cause ("connection refused"), without the request's URL: the
/// URL-encoded query is noise in every line that says the source is down.
fn said(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(&e);
    while let Some(c) = cause {
        let c_text = c.to_string();
        if !text.contains(&c_text) {
            text = format!("{text}: {c_text}");
        }
        cause = c.source();
    }
    text
}

#[async_trait]
impl MetricSource for Prometheus {
    async fn query(&self, query: &str, at: DateTime<Utc>) -> Result<Option<f64>, MetricsError> {
        let data = self
            .get("/api/v1/query", &[("query", query), ("time", &seconds(at))])
            .await?;
        instant_value(&data)
            .map_err(|e| MetricsError(format!("Prometheus at {}: `{query}` {e}", self.url)))
    }

    async fn buckets(
        &self,
        query: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<Buckets>, MetricsError> {
        let data = self
            .get("/api/v1/query", &[("query", query), ("time", &seconds(at))])
            .await?;
        instant_histogram(&data)
            .map_err(|e| MetricsError(format!("Prometheus at {}: `{query}` {e}", self.url)))
    }
}
