//! `cargo bench --bench many_runs`: how many rollouts one process drives at once, on the
//! runtime `rollgate serve` runs them on (multi-threaded, a task each). Each run checks every
//! second through two 20 s phases against simulated routers and metrics replayed in wall time
//! (a rehearsal's providers on a clock that is not paused). For 1,000 and 10,000 runs at once:
//! how late each evaluation came after its second (p50, p99, max), peak RSS, and CPU time per
//! rollout. The HTTP API and the store are not in this measurement.

#[path = "common/rss.rs"]
mod rss;
use rss::peak_rss_mib;

use rollgate::event::{Event, Outcome};
use rollgate::fixture;
use rollgate::runner::{self, prepare::prepare};
use rollgate::validate::validate;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PLAN: &str = r#"
name: many
providers:
  edge: { kind: haproxy, socket: /run/haproxy/admin.sock, backend: app, stable: stable, canary: canary }
  prom: { kind: prometheus, url: http://127.0.0.1:9090 }
interval: 1s
checks:
  errors: { source: prom, canary: errors_canary, baseline: errors_stable, max: 1%, max-increase: 0.5pp }
  latency: { source: prom, canary: p95_canary, max: 300ms }
strategy:
  canary: { weights: [10, 50], observe: 20s }
"#;

const FIXTURE: &str = r#"
start: 2026-03-01T12:00:00Z
queries:
  errors_canary: { steps: [[0s, 0.002]] }
  errors_stable: { steps: [[0s, 0.002]] }
  p95_canary: { steps: [[0s, 0.12]] }
"#;

/// This process's CPU time so far (user and system), from /proc.
fn cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command's closing parenthesis; utime and stime are the 12th and 13th.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|i| fields.get(*i)?.parse::<u64>().ok())
        .sum();
    Duration::from_millis(ticks * 10)
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn measure(n: usize) {
    let fx = Arc::new(fixture::parse("many.yaml", FIXTURE).unwrap_or_else(|d| panic!("{d:?}")));
    let setups: Vec<runner::Setup> = (0..n)
        .map(|_| {
            let v = validate("many.yaml", PLAN).unwrap_or_else(|d| panic!("{d:?}"));
            prepare(v, fx.clone(), &[], None)
                .unwrap_or_else(|_| panic!("the fixture answers"))
                .setup()
        })
        .collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let lags = Arc::new(Mutex::new(Vec::<f64>::new()));
    let (cpu_before, started) = (cpu(), Instant::now());
    let promoted = rt.block_on(async {
        let runs: Vec<_> = setups
            .into_iter()
            .map(|setup| {
                let lags = lags.clone();
                tokio::spawn(async move {
                    let (tx, mut rx) =
                        tokio::sync::mpsc::unbounded_channel::<rollgate::event::Stamped>();
                    // Each evaluation's lag: its time against its second, counted from the
                    // start of the observation it belongs to.
                    let watch = tokio::spawn(async move {
                        let (mut since, mut k) = (0.0, 0u32);
                        let mut mine = Vec::new();
                        while let Some(e) = rx.recv().await {
                            match &e.event {
                                Event::StepStarted {
                                    kind: "observe", ..
                                } => {
                                    (since, k) = (e.t, 0);
                                }
                                Event::CheckEvaluated(ev) if ev.check == "errors" => {
                                    k += 1;
                                    mine.push((e.t - since - f64::from(k)).max(0.0));
                                }
                                _ => {}
                            }
                        }
                        lags.lock().unwrap().extend(mine);
                    });
                    let outcome = runner::run(setup, tx).await;
                    let _ = watch.await;
                    outcome
                })
            })
            .collect();
        let mut promoted = 0;
        for r in runs {
            promoted += usize::from(r.await.unwrap() == Outcome::Promoted);
        }
        promoted
    });
    let (took, cpu_used) = (started.elapsed(), cpu() - cpu_before);
    let mut lags = lags.lock().unwrap().clone();
    lags.sort_by(f64::total_cmp);
    println!(
        "{n} runs at once: {promoted} promoted in {:.1}s; evaluation lag p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms ({} evaluations); peak RSS {:.0} MiB; CPU {:.1} s in all, {:.2} ms per rollout-second",
        took.as_secs_f64(),
        percentile(&lags, 0.5) * 1000.0,
        percentile(&lags, 0.99) * 1000.0,
        lags.last().copied().unwrap_or(0.0) * 1000.0,
        lags.len(),
        peak_rss_mib(),
        cpu_used.as_secs_f64(),
        cpu_used.as_secs_f64() * 1000.0 / (n as f64 * took.as_secs_f64()),
    );
}

fn main() {
    for n in [1_000, 10_000] {
        measure(n);
    }
}
