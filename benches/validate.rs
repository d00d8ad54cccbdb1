//! `cargo bench --bench validate`: validate + compile a generated 10,000-step plan
//! (200 services × 50 steps, in waves of 20 services) and print the wall time and peak RSS.
//!
//! Time is measured in this process over repeated runs; peak RSS in a fresh child process that
//! validates and compiles once, so earlier iterations do not inflate it.

use rollgate::compile::compile;
use rollgate::validate::validate;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

const SERVICES: usize = 200;
const STEPS_PER_SERVICE: usize = 50;
const WAVE: usize = 20;

fn plan() -> String {
    let mut s = String::from("name: bench 10k steps\nproviders:\n  prom: { kind: prometheus, url: http://127.0.0.1:9090 }\n");
    for r in 0..10 {
        let _ = writeln!(s, "  edge-{r}: {{ kind: haproxy, socket: /run/haproxy/{r}.sock, backend: app, stable: stable, canary: canary }}");
    }
    s.push_str("checks:\n");
    for c in ["errors", "latency", "saturation"] {
        let _ = writeln!(s, "  {c}: {{ source: prom, canary: 'metric_{c}{{version=\"canary\"}}', baseline: 'metric_{c}{{version=\"stable\"}}', max: 1%, max-increase: 10% }}");
    }
    s.push_str("steps:\n");
    for svc in 0..SERVICES {
        for k in 0..STEPS_PER_SERVICE {
            let id = format!("s{svc}-{k}");
            let needs = match (k, svc) {
                (0, s) if s >= WAVE => format!(", needs: s{}-{}", s - WAVE, STEPS_PER_SERVICE - 1),
                (0, _) => String::new(),
                (k, s) => format!(", needs: s{s}-{}", k - 1),
            };
            if k % 2 == 0 {
                let weight = (k / 2 + 1) * 4;
                let _ = writeln!(s, "  - {{ id: {id}, uses: shift, with: {{ router: edge-{}, weight: {weight} }}{needs} }}", svc % 10);
            } else {
                let _ = writeln!(s, "  - {{ id: {id}, uses: observe, with: {{ duration: 1m, checks: [errors, latency, saturation] }}{needs} }}");
            }
        }
    }
    s
}

fn once(text: &str) -> usize {
    let v = validate("bench.yaml", text)
        .unwrap_or_else(|d| panic!("the generated plan is invalid: {d:?}"));
    compile(&v).graph.node_count()
}

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn main() {
    let text = plan();
    if std::env::args().any(|a| a == "--child-once") {
        once(&text);
        println!("{}", peak_rss_kib());
        return;
    }
    let nodes = once(&text);
    let mut times: Vec<Duration> = (0..15)
        .map(|_| {
            let t = Instant::now();
            once(&text);
            t.elapsed()
        })
        .collect();
    times.sort();
    let child = std::process::Command::new(std::env::current_exe().unwrap())
        .arg("--child-once")
        .output()
        .expect("child runs");
    let rss: u64 = String::from_utf8_lossy(&child.stdout)
        .trim()
        .parse()
        .unwrap_or(0);
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "plan: {} steps in YAML ({} KiB), compiled to {nodes} graph steps",
        SERVICES * STEPS_PER_SERVICE,
        text.len() / 1024
    );
    println!(
        "validate + compile: min {:.1} ms, median {:.1} ms, max {:.1} ms (15 runs)",
        ms(times[0]),
        ms(times[times.len() / 2]),
        ms(times[times.len() - 1])
    );
    println!(
        "peak RSS of one validate + compile in a fresh process: {:.1} MiB",
        rss as f64 / 1024.0
    );
}
