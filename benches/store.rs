//! `cargo bench --bench store`: what keeping runs in PostgreSQL costs, on a throwaway cluster
//! on loopback (the tests' own, with commits waiting for the disk as in production): the latency of appending one event (the runner waits for it
//! before moving on), and events per second when 100 runs append at once, each with its own
//! connection as 100 processes would. The directory store's append is measured beside it.
//! Then what an orphan costs: from a killed run's lease running out to its router put back by
//! `rollgate reap` started at that moment.

// The tests' cluster; the tests use the parts this does not.
#[allow(dead_code)]
#[path = "../tests/cli/cluster.rs"]
mod cluster;
#[path = "common/header.rs"]
mod header;
use header::header;

use rollgate::event::{Event, Stamped};
use rollgate::journal::{dir::Dir, Store, Terms};
use std::sync::Arc;
use std::time::{Duration, Instant};

const ONE_RUN: usize = 2000;
const RUNS: usize = 100;
const EACH: usize = 200;
const REAPS: usize = 10;

/// A canary at 25% held at a gate, its router a file.
const GATED: &str = "name: gated\nproviders:\n  router: { kind: traffic-command, set: 'echo $ROLLGATE_CANARY_WEIGHT > router', get: cat router }\n  metrics: { kind: metrics-command, run: echo 0.001 }\ninterval: 100ms\nchecks:\n  errors: { source: metrics, canary: errors, max: 1% }\nphases:\n  - { name: canary-25, weight: 25, observe: 200ms, gate: { approvers: [alice], timeout: 1h, on-timeout: rollback } }\n  - { name: full, weight: 100, observe: 200ms }\n";

fn event(i: usize) -> Stamped {
    Stamped {
        t: i as f64,
        at: chrono::Utc::now(),
        event: Event::StepStarted {
            step: format!("canary-{i}.observe"),
            kind: "observe",
        },
    }
}

/// p50 and p99 of `times`.
fn percentiles(mut times: Vec<Duration>) -> (Duration, Duration) {
    times.sort();
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.99))
}

/// Appends `ONE_RUN` events to one run, timing each.
fn one_run(store: &dyn Store, id: &str) -> (Duration, Duration) {
    let log = store.create(&header(id)).unwrap();
    let times = (0..ONE_RUN)
        .map(|i| {
            let e = event(i);
            let start = Instant::now();
            log.append(&e).unwrap();
            start.elapsed()
        })
        .collect();
    percentiles(times)
}

fn router(dir: &std::path::Path) -> String {
    std::fs::read_to_string(dir.join("router"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn rollgate(dir: &std::path::Path, args: &[&str]) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_rollgate"));
    c.args(args)
        .current_dir(dir)
        .env("ROLLGATE_LEASE", "2s")
        .env("ROLLGATE_HEARTBEAT", "500ms")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    c
}

/// Kills a run at its gate, waits for its lease to run out, then times `reap` from its start
/// to the router back at 0.
fn reaped(cluster: &cluster::Cluster, url: &str) -> Duration {
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("plan.yaml"), GATED).unwrap();
    std::fs::write(work.path().join("router"), "0\n").unwrap();
    let mut run = rollgate(work.path(), &["run", "plan.yaml", "--state", url])
        .spawn()
        .unwrap();
    while router(work.path()) != "25" {
        assert!(run.try_wait().unwrap().is_none(), "the run ended early");
        std::thread::sleep(Duration::from_millis(10));
    }
    run.kill().unwrap();
    run.wait().unwrap();
    let expired = "SELECT count(*) FROM rollgate_runs WHERE lease_until > now()";
    while cluster.sql("reap", expired) != "0" {
        std::thread::sleep(Duration::from_millis(5));
    }
    let start = Instant::now();
    let mut reap = rollgate(work.path(), &["reap", "--state", url])
        .spawn()
        .unwrap();
    while router(work.path()) != "0" {
        if reap.try_wait().unwrap().is_some() {
            assert_eq!(router(work.path()), "0", "reap ended, the router not back");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let took = start.elapsed();
    assert!(reap.wait().unwrap().success());
    took
}

fn main() {
    let cluster = cluster::Cluster::start_with(true);
    let url = cluster.database("bench");
    let pg = rollgate::journal::open(&url, Terms::default()).unwrap();
    let (p50, p99) = one_run(pg.as_ref(), "one");
    println!("PostgreSQL, one run: append p50 {p50:?}, p99 {p99:?} ({ONE_RUN} events)");
    let dir = tempfile::tempdir().unwrap();
    let (d50, d99) = one_run(&Dir::new(dir.path()), "one");
    println!("directory, one run: append p50 {d50:?}, p99 {d99:?}");

    // Each run its own store, so its own connection and thread, as separate processes.
    let stores: Vec<Arc<dyn Store>> = (0..RUNS)
        .map(|_| rollgate::journal::open(&url, Terms::default()).unwrap())
        .collect();
    let start = Instant::now();
    let threads: Vec<_> = stores
        .into_iter()
        .enumerate()
        .map(|(r, store)| {
            std::thread::spawn(move || {
                let log = store.create(&header(&format!("run-{r}"))).unwrap();
                for i in 0..EACH {
                    log.append(&event(i)).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let took = start.elapsed();
    let total = RUNS * EACH;
    println!(
        "PostgreSQL, {RUNS} runs at once: {total} events in {took:.2?}, {:.0} events/s",
        total as f64 / took.as_secs_f64()
    );

    // A database of their own: the runs above are unfinished, and nobody's.
    let url = cluster.database("reap");
    let mut times: Vec<Duration> = (0..REAPS).map(|_| reaped(&cluster, &url)).collect();
    times.sort();
    println!(
        "orphan: lease ran out to router restored by `rollgate reap`: median {:.0?}, max {:.0?} ({REAPS} runs)",
        times[REAPS / 2],
        times[REAPS - 1]
    );
}
