//! HAProxy through its runtime API (the admin socket, unix or TCP): server weights set with
//! `set server BACKEND/SERVER weight N`, read back with `show servers state BACKEND`. Each
//! side's servers share its part of HAProxy's 0–256 weights, so the canary gets exactly its
//! percentage whatever the number of servers on each side. A refused or slow socket is a
//! transient failure (the runner retries it with backoff); a shift is confirmed by reading the
//! weights back.

use super::{TrafficError, TrafficRouter};
use crate::event::Route;
use crate::event::RouterState;
use crate::plan::provider::{Haproxy as Spec, Servers};
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// HAProxy's largest server weight.
const MAX_WEIGHT: u32 = 256;

pub struct Haproxy {
    spec: Spec,
    timeout: Duration,
}

fn names(s: &Servers) -> Vec<String> {
    match s {
        Servers::One(n) => vec![n.clone()],
        Servers::Many(v) => v.clone(),
    }
}

impl Haproxy {
    pub fn new(spec: Spec) -> Haproxy {
        let timeout = spec.timeout.map(|d| d.0).unwrap_or(Duration::from_secs(2));
        Haproxy { spec, timeout }
    }

    /// Whether an admin socket is `host:port` (TCP) rather than a unix socket's path.
    pub fn is_tcp(socket: &str) -> bool {
        socket.contains(':') && !socket.starts_with('/')
    }

    /// One runtime-API command on its own connection, as HAProxy's non-interactive mode wants.
    async fn once(&self, command: &str) -> std::io::Result<String> {
        let mut out = String::new();
        let socket = &self.spec.socket;
        let talk = async {
            if Haproxy::is_tcp(socket) {
                let mut s = tokio::net::TcpStream::connect(socket).await?;
                s.write_all(format!("{command}\n").as_bytes()).await?;
                s.read_to_string(&mut out).await?;
            } else {
                let mut s = tokio::net::UnixStream::connect(socket).await?;
                s.write_all(format!("{command}\n").as_bytes()).await?;
                s.read_to_string(&mut out).await?;
            }
            Ok::<(), std::io::Error>(())
        };
        match tokio::time::timeout(self.timeout, talk).await {
            Ok(r) => r.map(|_| out),
            Err(_) => Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no answer within {}s", self.timeout.as_secs_f64()),
            )),
        }
    }

    /// A command; a socket that refuses or does not answer is a transient failure.
    async fn command(&self, command: &str) -> Result<String, TrafficError> {
        self.once(command).await.map_err(|e| {
            TrafficError::transient(format!(
                "HAProxy's socket {} did not answer `{command}`: {e}",
                self.spec.socket
            ))
        })
    }

    /// Every server's weight in the backend.
    async fn weights(&self) -> Result<BTreeMap<String, u32>, TrafficError> {
        let backend = &self.spec.backend;
        let answer = self
            .command(&format!("show servers state {backend}"))
            .await?;
        let mut lines = answer.lines().filter(|l| !l.trim().is_empty());
        let header: Vec<&str> = lines
            .by_ref()
            .find(|l| l.starts_with('#'))
            .map(|l| l.trim_start_matches('#').split_whitespace().collect())
            .ok_or_else(|| {
                TrafficError::refused(format!(
                    "HAProxy did not list backend `{backend}`: {}",
                    answer.trim()
                ))
            })?;
        let col = |name: &str| {
            header.iter().position(|h| *h == name).ok_or_else(|| {
                TrafficError::refused(format!("`show servers state` has no `{name}` column"))
            })
        };
        let (name_at, weight_at) = (col("srv_name")?, col("srv_uweight")?);
        let mut out = BTreeMap::new();
        for line in lines {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if let (Some(n), Some(w)) = (
                fields.get(name_at),
                fields.get(weight_at).and_then(|w| w.parse().ok()),
            ) {
                out.insert(n.to_string(), w);
            }
        }
        for s in names(&self.spec.stable)
            .iter()
            .chain(&names(&self.spec.canary))
        {
            if !out.contains_key(s) {
                return Err(TrafficError::refused(format!(
                    "backend `{backend}` has no server `{s}`; it has {}",
                    out.keys().cloned().collect::<Vec<_>>().join(", ")
                )));
            }
        }
        Ok(out)
    }

    /// The weights that give the canary `percent` of requests.
    fn split(&self, percent: u8) -> BTreeMap<String, u32> {
        let (stable, canary) = (names(&self.spec.stable), names(&self.spec.canary));
        let part = |share: u32, n: usize| (MAX_WEIGHT * share / 100) / n.max(1) as u32;
        let mut out = BTreeMap::new();
        for s in &stable {
            out.insert(
                s.clone(),
                part(100 - u32::from(percent.min(100)), stable.len()),
            );
        }
        for s in &canary {
            out.insert(s.clone(), part(u32::from(percent.min(100)), canary.len()));
        }
        out
    }

    async fn set(&self, weights: &BTreeMap<String, u32>) -> Result<(), TrafficError> {
        for (server, w) in weights {
            let answer = self
                .command(&format!(
                    "set server {}/{server} weight {w}",
                    self.spec.backend
                ))
                .await?;
            if !answer.trim().is_empty() {
                return Err(TrafficError::refused(format!(
                    "HAProxy refused weight {w} for {}/{server}: {}",
                    self.spec.backend,
                    answer.trim()
                )));
            }
        }
        // Never report a shift HAProxy did not make.
        let now = self.weights().await?;
        for (server, w) in weights {
            if now.get(server) != Some(w) {
                return Err(TrafficError::transient(format!(
                    "{}/{server} has weight {:?} after being set to {w}",
                    self.spec.backend,
                    now.get(server)
                )));
            }
        }
        Ok(())
    }

    fn canary_share(&self, weights: &BTreeMap<String, u32>) -> u8 {
        let sum = |side: &Servers| {
            names(side)
                .iter()
                .map(|s| weights.get(s).copied().unwrap_or(0))
                .sum::<u32>()
        };
        let (s, c) = (sum(&self.spec.stable), sum(&self.spec.canary));
        // Rounded to the nearest percent; no servers weighted means no canary traffic.
        (c * 100 + (s + c) / 2).checked_div(s + c).unwrap_or(0) as u8
    }
}

#[async_trait]
impl TrafficRouter for Haproxy {
    async fn state(&self) -> Result<RouterState, TrafficError> {
        let servers = self.weights().await?;
        Ok(RouterState {
            canary_weight: self.canary_share(&servers),
            servers,
            ..RouterState::default()
        })
    }

    async fn apply(&self, route: &Route) -> Result<(), TrafficError> {
        match route {
            Route::Weight { percent } => self.set(&self.split(*percent)).await,
            // Validation refuses mirror and header-match plans for HAProxy.
            other => Err(TrafficError::refused(format!(
                "HAProxy's runtime API cannot apply {other:?}"
            ))),
        }
    }

    async fn restore(&self, state: &RouterState) -> Result<(), TrafficError> {
        // Exactly the weights captured, when they were; else the split for the captured share.
        let ours: Vec<String> = names(&self.spec.stable)
            .into_iter()
            .chain(names(&self.spec.canary))
            .collect();
        let captured: BTreeMap<String, u32> = state
            .servers
            .iter()
            .filter(|(s, _)| ours.contains(s))
            .map(|(s, w)| (s.clone(), *w))
            .collect();
        if captured.len() == ours.len() {
            self.set(&captured).await
        } else {
            self.set(&self.split(state.canary_weight)).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(stable: Servers, canary: Servers) -> Spec {
        Spec {
            socket: "/nonexistent.sock".into(),
            backend: "app".into(),
            stable,
            canary,
            timeout: None,
        }
    }

    #[test]
    fn splits_give_the_canary_its_share_whatever_the_server_counts() {
        let h = Haproxy::new(spec(
            Servers::Many(vec!["s1".into(), "s2".into(), "s3".into()]),
            Servers::One("c1".into()),
        ));
        for p in [0u8, 1, 5, 25, 50, 100] {
            let w = h.split(p);
            assert!(w.values().all(|v| *v <= MAX_WEIGHT));
            assert_eq!(h.canary_share(&w), p, "{w:?}");
        }
    }

    #[tokio::test]
    async fn a_missing_socket_is_a_transient_failure_that_names_it() {
        let h = Haproxy::new(spec(Servers::One("s".into()), Servers::One("c".into())));
        let e = h.state().await.unwrap_err();
        assert!(e.transient);
        assert!(
            e.message
                .contains("/nonexistent.sock did not answer `show servers state app`"),
            "{e}"
        );
    }
}
