//! `cargo bench --bench kubernetes [-- RUNS]`: real rollouts through a `gateway-api` router
//! against the stand-in Kubernetes API server the tests use (`tests/cli/kube_api.rs`), timed:
//!
//! - the runner's part of a rollback: from the failing verdict (its event's timestamp) to the
//!   stand-in answering the write that restores the route's captured weights, over RUNS runs
//!   (30 by default), errors injected at a different moment of the 25% phase each run;
//! - the API requests one shift costs: reads and writes from the shift's start to its
//!   confirmation (the gateway accepting the generation).

#[allow(dead_code)]
#[path = "../tests/cli/kube_api.rs"]
mod kube_api;

use chrono::{DateTime, Utc};
use kube_api::{Controller, KubeApi};
use serde_json::{json, Value};
use std::io::BufRead;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

const PLAN: &str = "name: bench
providers:
  gw: { kind: gateway-api, routes: [{ name: web }], stable: web-stable, canary: web-canary }
  metrics: { kind: metrics-command, run: cat errors }
interval: 100ms
checks:
  error-rate: { source: metrics, canary: errors, max: 1% }
strategy:
  canary: { weights: [25, 50, 100], observe: 2s }
";

fn at(e: &Value) -> SystemTime {
    let t: DateTime<Utc> = e["at"].as_str().unwrap().parse().unwrap();
    SystemTime::from(t)
}

/// One run: (verdict → restore acknowledged, requests of the first shift).
fn one(delay: Duration) -> (Duration, usize) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("plan.yaml"), PLAN).unwrap();
    std::fs::write(dir.path().join("errors"), "0.001").unwrap();
    let api = KubeApi::start(Controller::Accepts(Duration::ZERO));
    api.put_route(
        "shop",
        "web",
        json!({
            "parentRefs": [{ "name": "edge" }],
            "rules": [{ "backendRefs": [
                { "name": "web-stable", "port": 80, "weight": 90 },
                { "name": "web-canary", "port": 80, "weight": 10 }
            ] }]
        }),
    );
    api.kubeconfig(dir.path(), "shop");
    let mut child = Command::new(env!("CARGO_BIN_EXE_rollgate"))
        .args(["run", "plan.yaml", "--json", "--state-dir", "state"])
        .current_dir(dir.path())
        .env("KUBECONFIG", dir.path().join("kubeconfig"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut events = Vec::new();
    for line in std::io::BufReader::new(child.stdout.take().unwrap()).lines() {
        let e: Value = serde_json::from_str(&line.unwrap()).unwrap();
        if e["event"] == "weight-shifted" && e["to"]["percent"] == 25 {
            std::thread::sleep(delay);
            std::fs::write(dir.path().join("errors"), "0.05").unwrap();
        }
        events.push(e);
    }
    child.wait().unwrap();
    let verdict = events
        .iter()
        .find(|e| e["event"] == "check-evaluated" && e["verdict"] == "fail")
        .map(at)
        .expect("a failing verdict");
    let log = api.log();
    let restored = log
        .iter()
        .find(|r| {
            r.at >= verdict
                && r.code == 200
                && r.body
                    .as_ref()
                    .is_some_and(|b| b["spec"]["rules"][0]["backendRefs"][1]["weight"] == 10)
        })
        .map(|r| r.at)
        .expect("the restoring write");
    let shift_started = events
        .iter()
        .find(|e| e["event"] == "step-started" && e["kind"] == "shift")
        .map(at)
        .unwrap();
    let shifted = events
        .iter()
        .find(|e| e["event"] == "weight-shifted")
        .map(at)
        .unwrap();
    let requests = log
        .iter()
        .filter(|r| r.at >= shift_started && r.at <= shifted)
        .count();
    (
        restored.duration_since(verdict).unwrap_or_default(),
        requests,
    )
}

fn main() {
    let runs: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(30);
    let mut latencies = Vec::new();
    let mut requests = Vec::new();
    for i in 0..runs {
        let delay = Duration::from_millis((i as u64 * 1000 / runs as u64) % 1000);
        let (latency, n) = one(delay);
        latencies.push(latency);
        requests.push(n);
    }
    latencies.sort();
    requests.sort();
    let pick = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize];
    println!(
        "verdict → restore acknowledged by the API server, over {runs} runs: median {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        pick(0.5).as_secs_f64() * 1000.0,
        pick(0.9).as_secs_f64() * 1000.0,
        pick(0.99).as_secs_f64() * 1000.0,
        latencies.last().unwrap().as_secs_f64() * 1000.0
    );
    println!(
        "API requests per shift (read, write, reads until the gateway accepts): median {}, max {}",
        requests[requests.len() / 2],
        requests.last().unwrap()
    );
}
