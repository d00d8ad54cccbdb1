//! `cargo bench --bench many_runs`: how many rollouts one process drives at once, on the
//! runtime `rollgate serve` runs them on (multi-threaded, a task each), each journaled in a
//! store and holding its lease as a service's runs do. Each run checks every second through two
//! 20 s phases against simulated routers and metrics replayed in wall time (a rehearsal's
//! providers on a clock that is not paused). For 1,000 and 10,000 runs at once in a directory
//! store, then in PostgreSQL (a throwaway cluster on loopback, commits waiting for the disk):
//! how late each evaluation came after its second (p50, p99, max), events journaled per second,
//! peak RSS, CPU time per rollout, and for PostgreSQL what the database spent per rollout
//! (rows, bytes kept, WAL written, its processes' CPU). The HTTP API is not in this measurement.
//! `ROLLGATE_BENCH_RUNS` and `ROLLGATE_BENCH_POSTGRES_RUNS` (e.g. `1000,10000`; empty for none)
//! choose the sizes.

#[path = "common/header.rs"]
mod header;
#[path = "common/rss.rs"]
mod rss;
use header::header;
use rss::peak_rss_mib;

// The tests' cluster; the tests use the parts this does not.
#[allow(dead_code)]
#[path = "../tests/cli/cluster.rs"]
mod cluster;

use rollgate::event::{Event, Outcome};
use rollgate::fixture;
use rollgate::journal::{dir::Dir, postgres::Postgres, Pending, Store, Terms};
use rollgate::runner::{self, prepare::prepare};
use rollgate::validate::validate;
use std::sync::atomic::{AtomicUsize, Ordering};
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
    cpu_of("self")
}

/// The CPU time so far of every PostgreSQL server process (the benchmark's cluster is the only
/// one running).
fn database_cpu() -> Duration {
    std::fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(|e| {
                let pid = e.ok()?.file_name().to_string_lossy().to_string();
                let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
                (comm.trim() == "postgres").then(|| cpu_of(&pid))
            })
            .sum()
        })
        .unwrap_or_default()
}

/// Process `pid`'s CPU time so far, from /proc.
fn cpu_of(pid: &str) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
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

/// Where the runs are journaled, and what is said of it.
struct Journals {
    store: Arc<dyn Store>,
    name: &'static str,
}

/// Drives `n` runs at once journaled in `kept`; what it saw, in a line.
fn measure(n: usize, kept: &Journals) -> String {
    let fx = Arc::new(fixture::parse("many.yaml", FIXTURE).unwrap_or_else(|d| panic!("{d:?}")));
    let started_at = chrono::Utc::now();
    let setups: Vec<runner::Setup> = (0..n)
        .map(|_| {
            let v = validate("many.yaml", PLAN).unwrap_or_else(|d| panic!("{d:?}"));
            let mut setup = prepare(v, fx.clone(), &[], None)
                .unwrap_or_else(|_| panic!("the fixture answers"))
                .setup();
            let id = kept.store.new_run_id(started_at);
            let log = kept.store.create(&header(&id)).unwrap();
            setup.owner = Some(kept.store.claim(&id).unwrap());
            setup.journal = Some(Arc::new(Pending::new(log)));
            setup
        })
        .collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let lags = Arc::new(Mutex::new(Vec::<f64>::new()));
    let events = Arc::new(AtomicUsize::new(0));
    let (cpu_before, started) = (cpu(), Instant::now());
    let promoted = rt.block_on(async {
        let runs: Vec<_> = setups
            .into_iter()
            .map(|setup| {
                let (lags, events) = (lags.clone(), events.clone());
                tokio::spawn(async move {
                    let (tx, mut rx) =
                        tokio::sync::mpsc::unbounded_channel::<rollgate::event::Stamped>();
                    // Each evaluation's lag: its time against its second, counted from the
                    // start of the observation it belongs to.
                    let watch = tokio::spawn(async move {
                        let (mut since, mut k, mut seen) = (0.0, 0u32, 0);
                        let mut mine = Vec::new();
                        while let Some(e) = rx.recv().await {
                            seen += 1;
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
                        events.fetch_add(seen, Ordering::Relaxed);
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
    let events = events.load(Ordering::Relaxed);
    format!(
        "{n} runs at once, journaled in {}: {promoted} promoted in {:.1}s; evaluation lag p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms ({} evaluations); {events} events journaled, {:.0} a second; CPU {:.1} s in all, {:.2} ms per rollout-second",
        kept.name,
        took.as_secs_f64(),
        percentile(&lags, 0.5) * 1000.0,
        percentile(&lags, 0.99) * 1000.0,
        lags.last().copied().unwrap_or(0.0) * 1000.0,
        lags.len(),
        events as f64 / took.as_secs_f64(),
        cpu_used.as_secs_f64(),
        cpu_used.as_secs_f64() * 1000.0 / (n as f64 * took.as_secs_f64()),
    )
}

/// What the database spent on `n` rollouts: its rows, what it keeps, the WAL it wrote and its
/// processes' CPU, per rollout.
fn on_postgres(cluster: &cluster::Cluster, n: usize) {
    let url = cluster.database(&format!("many{n}"));
    let kept = Journals {
        store: Arc::new(
            Postgres::connect(&url, Terms::default()).unwrap_or_else(|_| panic!("{url}")),
        ),
        name: "PostgreSQL",
    };
    let db = format!("many{n}");
    let lsn = || cluster.sql(&db, "SELECT pg_current_wal_lsn()");
    let (wal_before, db_cpu_before) = (lsn(), database_cpu());
    println!("{}", measure(n, &kept));
    let db_cpu = database_cpu() - db_cpu_before;
    let wal: f64 = cluster
        .sql(
            &db,
            &format!("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '{wal_before}')"),
        )
        .parse()
        .unwrap();
    let rows: f64 = cluster
        .sql(&db, "SELECT count(*) FROM rollgate_events")
        .parse()
        .unwrap();
    let bytes: f64 = cluster
        .sql(&db, "SELECT pg_total_relation_size('rollgate_events') + pg_total_relation_size('rollgate_runs')")
        .parse()
        .unwrap();
    let per = n as f64;
    println!(
        "  the database, per rollout: {:.0} rows, {:.1} KiB kept, {:.1} KiB of WAL, {:.0} ms of its CPU ({:.1} s in all)",
        rows / per,
        bytes / per / 1024.0,
        wal / per / 1024.0,
        db_cpu.as_secs_f64() * 1000.0 / per,
        db_cpu.as_secs_f64(),
    );
}

/// How many runs at once, from `var` (`1000,10000`), or `default`.
fn sizes(var: &str, default: &[usize]) -> Vec<usize> {
    std::env::var(var)
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|_| default.to_vec())
}

fn main() {
    for n in sizes("ROLLGATE_BENCH_RUNS", &[1_000, 10_000]) {
        let dir = tempfile::tempdir().unwrap();
        let kept = Journals {
            store: Arc::new(Dir::new(dir.path())),
            name: "a directory",
        };
        println!("{}; peak RSS {:.0} MiB", measure(n, &kept), peak_rss_mib());
    }
    let on_pg = sizes("ROLLGATE_BENCH_POSTGRES_RUNS", &[1_000, 10_000]);
    if !on_pg.is_empty() {
        let cluster = cluster::Cluster::start_with(true);
        for n in on_pg {
            on_postgres(&cluster, n);
        }
    }
}
