//! `cargo bench --bench store`: what keeping runs in PostgreSQL costs, on a throwaway cluster
//! on loopback (the tests' own, with commits waiting for the disk as in production): the latency of appending one event (the runner waits for it
//! before moving on), and events per second when 100 runs append at once, each with its own
//! connection as 100 processes would. The directory store's append is measured beside it.

// The tests' cluster; the tests use the parts this does not.
#[allow(dead_code)]
#[path = "../tests/cli/cluster.rs"]
mod cluster;

use rollgate::event::{Event, Stamped};
use rollgate::journal::{dir::Dir, Header, Store, Terms};
use std::sync::Arc;
use std::time::{Duration, Instant};

const ONE_RUN: usize = 2000;
const RUNS: usize = 100;
const EACH: usize = 200;

fn header(id: &str) -> Header {
    Header {
        run_id: id.into(),
        plan: "plan.yaml".into(),
        plan_file: None,
        plan_sha256: rollgate::journal::sha256("plan"),
        inputs: vec![],
        started_at: chrono::Utc::now(),
        pid: std::process::id(),
        concurrency: None,
        environment: None,
        host: None,
    }
}

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
}
