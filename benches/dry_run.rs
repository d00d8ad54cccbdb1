//! `cargo bench --bench dry_run`: a two-hour, five-phase plan with three checks every 10 s,
//! rehearsed in virtual time: the wall time of one dry-run (median of 21), then 1,000 dry-runs
//! at once in one process, with the wall time and peak RSS.

#[path = "common/rss.rs"]
mod rss;
use rss::peak_rss_mib;

use rollgate::event::Outcome;
use rollgate::fixture;
use rollgate::providers::approvals::ApprovePolicy;
use rollgate::runner::{self, prepare::prepare};
use rollgate::validate::validate;
use std::sync::Arc;
use std::time::{Duration, Instant};

const PLAN: &str = r#"
name: bench two-hour canary
providers:
  edge: { kind: haproxy, socket: /run/haproxy/admin.sock, backend: app, stable: stable, canary: canary }
  prom: { kind: prometheus, url: http://127.0.0.1:9090 }
interval: 10s
checks:
  errors: { source: prom, canary: errors_canary, baseline: errors_stable, max: 1%, critical: 2x, max-increase: 0.5pp }
  latency: { source: prom, canary: p95_canary, baseline: p95_stable, max: 300ms, max-increase: 20% }
  saturation: { source: prom, canary: cpu_canary, unit: ratio, max: 80% }
triggers:
  - { check: errors, above: 5%, for: 1m }
strategy:
  canary: { weights: [5, 10, 25, 50, 100], observe: 24m }
"#;

const FIXTURE: &str = r#"
start: 2026-03-01T12:00:00Z
queries:
  errors_canary: { steps: [[0s, 0.002]] }
  errors_stable: { steps: [[0s, 0.002]] }
  p95_canary: { steps: [[0s, 0.12]] }
  p95_stable: { steps: [[0s, 0.11]] }
  cpu_canary: { steps: [[0s, 0.4]] }
"#;

fn prepared() -> runner::prepare::Prepared {
    let v = validate("bench.yaml", PLAN).unwrap_or_else(|d| panic!("{d:?}"));
    let fx =
        Arc::new(fixture::parse("bench-fixture.yaml", FIXTURE).unwrap_or_else(|d| panic!("{d:?}")));
    match prepare(v, fx, &[], Some(ApprovePolicy::All)) {
        Ok(p) => p,
        Err(_) => panic!("the bench fixture answers every query"),
    }
}

/// Runs one dry-run to its end on `rt`, draining its events as a reporter would.
async fn one(p: runner::prepare::Prepared) -> (Outcome, usize) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let drain = tokio::spawn(async move {
        let mut n = 0;
        while rx.recv().await.is_some() {
            n += 1;
        }
        n
    });
    let outcome = runner::run(p.setup(), tx).await;
    (outcome, drain.await.unwrap())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap()
}

fn main() {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let mut times: Vec<Duration> = Vec::new();
    let mut events = 0;
    for _ in 0..21 {
        let t = Instant::now();
        let p = prepared();
        let (outcome, n) = runtime().block_on(async move { one(p).await });
        times.push(t.elapsed());
        assert_eq!(outcome, Outcome::Promoted);
        events = n;
    }
    times.sort();
    println!("one dry-run (2 h virtual, 5 phases, 3 checks every 10 s, {events} events), validate + compile + run: median {:.1} ms, min {:.1} ms, max {:.1} ms", ms(times[10]), ms(times[0]), ms(times[20]));

    let t = Instant::now();
    let all: Vec<_> = (0..1000).map(|_| prepared()).collect();
    let prep = t.elapsed();
    let t = Instant::now();
    let outcomes = runtime().block_on(async move {
        let mut set = tokio::task::JoinSet::new();
        for p in all {
            set.spawn(one(p));
        }
        let mut promoted = 0;
        while let Some(r) = set.join_next().await {
            promoted += usize::from(r.unwrap().0 == Outcome::Promoted);
        }
        promoted
    });
    let run = t.elapsed();
    assert_eq!(outcomes, 1000);
    println!(
        "1,000 dry-runs at once in one process: prepare {:.0} ms, run {:.0} ms, peak RSS {:.0} MiB",
        ms(prep),
        ms(run),
        peak_rss_mib()
    );
}
