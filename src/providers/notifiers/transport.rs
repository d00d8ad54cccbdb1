//! Delivering notifier requests over HTTP: a 2xx is delivered; a 429 or 5xx, a timeout or a
//! refused connection is retried with backoff (honouring `Retry-After`, up to a minute); any
//! other 4xx is not (retrying cannot fix a wrong URL).

use super::Request;
use async_trait::async_trait;
use std::time::Duration;

#[async_trait]
pub trait Transport: Send + Sync {
    /// Delivers `r`; on success the number of attempts it took, on failure why.
    async fn send(&self, r: &Request) -> Result<u32, String>;
}

pub struct Http {
    client: reqwest::Client,
    attempts: u32,
    first_delay: Duration,
}

impl Http {
    pub fn new() -> Result<Http, String> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| format!("cannot make an HTTP client: {e}"))?;
        Ok(Http {
            client,
            attempts: 4,
            first_delay: Duration::from_millis(500),
        })
    }
}

/// `Retry-After` in seconds (the HTTP-date form is not used by chat services).
fn retry_after(h: &reqwest::header::HeaderMap) -> Option<Duration> {
    let secs: f64 = h
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs_f64(secs.clamp(0.0, 60.0)))
}

#[async_trait]
impl Transport for Http {
    async fn send(&self, r: &Request) -> Result<u32, String> {
        let mut delay = self.first_delay;
        let mut last = String::new();
        for attempt in 1..=self.attempts {
            let mut req = self.client.post(&r.url).body(r.body.clone());
            for (k, v) in &r.headers {
                req = req.header(k, v);
            }
            let wait = match req.send().await {
                Ok(resp) if resp.status().is_success() => return Ok(attempt),
                Ok(resp) => {
                    let status = resp.status();
                    let after = retry_after(resp.headers());
                    last = format!("HTTP {status}");
                    if !(status.as_u16() == 429 || status.is_server_error()) {
                        return Err(last);
                    }
                    after.unwrap_or(delay)
                }
                // The error's text can carry the URL, which may hold a token: say only what kind.
                Err(e) if e.is_timeout() => {
                    last = "timed out".into();
                    delay
                }
                Err(e) if e.is_connect() => {
                    last = "connection failed".into();
                    delay
                }
                Err(_) => {
                    last = "request failed".into();
                    delay
                }
            };
            if attempt < self.attempts {
                tokio::time::sleep(wait).await;
                delay *= 2;
            }
        }
        Err(format!("{last} (after {} attempts)", self.attempts))
    }
}
