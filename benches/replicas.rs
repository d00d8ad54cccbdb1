//! `cargo bench --bench replicas`: two `rollgate serve` replicas on one PostgreSQL (a throwaway
//! cluster on loopback, commits waiting for the disk), with the default lease (15 s, renewed
//! every 5 s) and `--reap-every` (5 s). Replica A starts runs (`resume: continue`) and parks
//! them at their gates; then it is killed outright (SIGKILL). Measured: how long until replica
//! B drives every one of them again (holds its lease), until each waits at its gate again, and
//! whether any was driven twice: each run's fence counts the processes that took it (2: A, then
//! B once), and each resumes once. `ROLLGATE_BENCH_REPLICA_RUNS` sets how many (default 500).

// The tests' cluster; the tests use the parts this does not.
#[allow(dead_code)]
#[path = "../tests/cli/cluster.rs"]
mod cluster;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const OPERATOR: &str = "0123456789abcdef0123";

/// A canary parked at a gate for an hour; its router (a file every run shares, replaced whole so
/// a read never sees it half-written) and metrics cost a process each.
const PARKED: &str = "name: parked\nresume: continue\nproviders:\n  router: { kind: traffic-command, set: 'echo $ROLLGATE_CANARY_WEIGHT > router.$$ && mv router.$$ router', get: cat router }\n  metrics: { kind: metrics-command, run: echo 0.001 }\ninterval: 1s\nchecks:\n  errors: { source: metrics, canary: errors, max: 1% }\nphases:\n  - { name: canary-25, weight: 25, observe: 1s, gate: { approvers: [alice], timeout: 1h, on-timeout: rollback } }\n  - { name: full, weight: 100, observe: 1s }\n";

/// A replica in `dir` on `state`; its URL.
fn replica(dir: &Path, state: &str) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rollgate"))
        .args(["serve", "--listen", "127.0.0.1:0", "--plans", "plans"])
        .args(["--tokens", "tokens", "--state", state])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut said = BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    said.read_line(&mut first).unwrap();
    // Its logs go on: read, so it never writes to a closed pipe.
    std::thread::spawn(move || std::io::copy(&mut said, &mut std::io::sink()));
    let url = first
        .split("listening on ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .unwrap_or_else(|| panic!("no address in {first:?}"))
        .to_string();
    (child, url)
}

/// Polls `sql` (a count) every 20 ms until it is `n`; when, after `since`.
fn until(cluster: &cluster::Cluster, sql: &str, n: usize, since: Instant) -> Duration {
    let deadline = since + Duration::from_secs(180);
    while cluster.sql("replicas", sql) != n.to_string() {
        assert!(
            Instant::now() < deadline,
            "{sql} never reached {n}; events: {}",
            cluster.sql(
                "replicas",
                "SELECT string_agg(k || ' ' || c, ', ') FROM (SELECT event::json->>'event' AS k, count(*) AS c FROM rollgate_events GROUP BY 1) e"
            )
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    since.elapsed()
}

fn main() {
    let n: usize = std::env::var("ROLLGATE_BENCH_REPLICA_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    let cluster = cluster::Cluster::start_with(true);
    let state = cluster.database("replicas");
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("plans")).unwrap();
    std::fs::write(dir.path().join("plans/parked.yaml"), PARKED).unwrap();
    std::fs::write(
        dir.path().join("tokens"),
        format!("operate alice {OPERATOR}\n"),
    )
    .unwrap();
    std::fs::write(dir.path().join("router"), "0\n").unwrap();
    let (mut a, a_url) = replica(dir.path(), &state);
    let (mut b, _) = replica(dir.path(), &state);

    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    for _ in 0..n {
        let started = agent
            .post(&format!("{a_url}/api/runs"))
            .header("Authorization", format!("Bearer {OPERATOR}"))
            .header("Content-Type", "application/json")
            .send(r#"{"plan": "parked"}"#)
            .unwrap();
        assert_eq!(started.status().as_u16(), 201);
    }
    let waiting = |times: usize| {
        format!("SELECT count(*) FROM (SELECT run_id FROM rollgate_events WHERE event::json->>'event' = 'gate-waiting' GROUP BY run_id HAVING count(*) >= {times}) w")
    };
    until(&cluster, &waiting(1), n, Instant::now());

    a.kill().unwrap();
    let killed = Instant::now();
    a.wait().unwrap();
    let first = until(
        &cluster,
        "SELECT least(count(*), 1) FROM rollgate_runs WHERE fence = 2 AND lease_until > now()",
        1,
        killed,
    );
    let all = until(
        &cluster,
        "SELECT count(*) FROM rollgate_runs WHERE fence = 2 AND lease_until > now()",
        n,
        killed,
    );
    let gated = until(&cluster, &waiting(2), n, killed);
    let twice = cluster.sql(
        "replicas",
        "SELECT count(*) FROM rollgate_runs WHERE fence <> 2",
    );
    let resumed_twice = cluster.sql(
        "replicas",
        "SELECT count(*) FROM (SELECT run_id FROM rollgate_events WHERE event::json->>'event' = 'run-resumed' GROUP BY run_id HAVING count(*) <> 1) r",
    );
    let _ = b.kill();
    let _ = b.wait();
    println!(
        "{n} runs parked at their gates on replica A, killed with SIGKILL: replica B drove the first again after {:.1} s and all {n} after {:.1} s (lease 15 s renewed every 5 s, --reap-every 5 s; {:.0} runs/s taken over once their leases ran out), each at its gate again after {:.1} s; taken by more than A then B: {twice}; resumed other than once: {resumed_twice}",
        first.as_secs_f64(),
        all.as_secs_f64(),
        n as f64 / (all - first).as_secs_f64().max(0.001),
        gated.as_secs_f64(),
    );
}
