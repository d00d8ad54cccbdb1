//! `cargo bench --bench rig [-- RUNS]`: real rollouts of `workflows/rig-canary.yaml` on the
//! test rig (a real HAProxy and Prometheus scraping every second, under load), timed:
//!
//! - detection: from errors injected on the canary at 25% (0 to 1 s into the phase, spread
//!   over the runs) to HAProxy itself reporting the canary's weight 0 (polled every 2 ms), over
//!   RUNS runs (20 by default);
//! - the runner's own part: from the failing verdict (the check evaluation or trigger that
//!   turned the run) to HAProxy acknowledging weight 0 (the router's confirmed restore), from
//!   the run's event timestamps;
//! - memory: the `rollgate run` process's peak RSS over a whole healthy rollout.
//!
//! Needs HAProxy and Prometheus (the README's test command installs them).

#[allow(dead_code)]
#[path = "../tests/rig/mod.rs"]
mod rig;

use rig::{wait_for, Options, Rig};
use serde_json::Value;
use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const PLAN: &str = "workflows/rig-canary.yaml";

fn start(rig: &Rig, state: &std::path::Path) -> (Child, mpsc::Receiver<Value>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rollgate"))
        .args(["run", PLAN, "--json", "--state-dir"])
        .arg(state)
        .args(rig.inputs())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("rollgate starts");
    let (tx, rx) = mpsc::channel();
    let out = child.stdout.take().expect("piped");
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            if let Ok(e) = serde_json::from_str(&line) {
                let _ = tx.send(e);
            }
        }
    });
    (child, rx)
}

/// Seconds from the event that turned the run to the confirmed restore of weight 0.
fn verdict_to_ack(events: &[Value]) -> Option<f64> {
    let rollback = events
        .iter()
        .position(|e| e["event"] == "rollback-started")?;
    let verdict = events[..rollback].iter().rev().find(|e| {
        e["event"] == "trigger-fired"
            || (e["event"] == "check-evaluated"
                && (e["verdict"] == "fail" || e["verdict"] == "critical"))
    })?;
    let ack = events[rollback..]
        .iter()
        .find(|e| e["event"] == "weight-shifted" && e["to"]["percent"] == 0)?;
    Some(ack["t"].as_f64()? - verdict["t"].as_f64()?)
}

fn rss_kib(pid: u32, field: &str) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    // Nearest rank: with 20 samples, p99 is the largest.
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn main() {
    let runs: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(20);
    let rig = Rig::start(Options::default());
    let state = rig.dir.path().join("state");

    // Memory: a whole healthy rollout.
    let (mut child, rx) = start(&rig, &state);
    let pid = child.id();
    let mut peak = 0;
    while child.try_wait().expect("waitable").is_none() {
        peak = peak.max(rss_kib(pid, "VmHWM:").unwrap_or(0));
        std::thread::sleep(Duration::from_millis(20));
    }
    let healthy: Vec<Value> = rx.try_iter().collect();
    assert!(
        healthy
            .iter()
            .any(|e| e["event"] == "run-finished" && e["outcome"] == "promoted"),
        "the healthy rollout was promoted"
    );
    // Promoted: put HAProxy back for the runs that follow.
    for cmd in [
        "set server app/stable weight 100",
        "set server app/canary weight 0",
    ] {
        rig.admin_command(cmd).expect("HAProxy answers");
    }

    let mut detect = Vec::new();
    let mut runner = Vec::new();
    for i in 0..runs {
        rig.canary.inject_errors(0.0);
        // The last run's errors must be out of the rate window before the next begins.
        wait_for(
            "the canary's errors age out",
            Duration::from_secs(30),
            || {
                rig.query("sum(increase(rig_errors_total{version=\"canary\"}[7s]))")
                    .is_none_or(|v| v == 0.0)
            },
        );
        let (mut child, rx) = start(&rig, &state);
        let mut events = Vec::new();
        for e in rx.iter() {
            let at_25 = e["event"] == "weight-shifted" && e["to"]["percent"] == 25;
            events.push(e);
            if at_25 {
                break;
            }
        }
        // At a different moment of the phase each run, not in step with the evaluations.
        std::thread::sleep(Duration::from_millis((i as u64 * 373) % 1000));
        let injected = Instant::now();
        rig.canary.inject_errors(0.5);
        loop {
            if rig.split().1 == 0 {
                break;
            }
            assert!(injected.elapsed() < Duration::from_secs(60), "no rollback");
            std::thread::sleep(Duration::from_millis(2));
        }
        let took = injected.elapsed().as_secs_f64();
        child.wait().expect("the run ends");
        events.extend(rx.try_iter());
        let own = verdict_to_ack(&events).expect("a verdict and a restore");
        println!(
            "run {:>2}: errors → HAProxy canary weight 0 in {took:.2} s; verdict → HAProxy ack {:.1} ms",
            i + 1,
            own * 1000.0
        );
        detect.push(took);
        runner.push(own * 1000.0);
    }
    detect.sort_by(f64::total_cmp);
    runner.sort_by(f64::total_cmp);
    println!();
    println!(
        "errors injected → canary weight 0 in HAProxy ({runs} runs, 1 s scrape): median {:.2} s, p90 {:.2} s, max {:.2} s",
        quantile(&detect, 0.5),
        quantile(&detect, 0.9),
        quantile(&detect, 1.0)
    );
    println!(
        "failing verdict → HAProxy acknowledges weight 0 (runner's own time): median {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        quantile(&runner, 0.5),
        quantile(&runner, 0.99),
        quantile(&runner, 1.0)
    );
    println!(
        "peak RSS of `rollgate run` over a whole healthy rollout: {:.1} MiB ({:.1} MB)",
        peak as f64 / 1024.0,
        peak as f64 * 1024.0 / 1e6
    );
}
