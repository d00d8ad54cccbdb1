//! The rig's service: one version (stable or canary) of a small HTTP service. `GET /` answers
//! after a short wait, or fails, as its knobs say; `GET /metrics` exposes, in Prometheus' text
//! format, its requests and errors and a latency histogram, labelled with its version;
//! `GET /knob?errors=0.5&latency=300ms` turns the knobs from outside.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Latency histogram bounds, seconds.
const BUCKETS: [f64; 8] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0];
/// What every request waits before answering.
const BASE_LATENCY: Duration = Duration::from_millis(2);
const WORKERS: usize = 8;

/// What a version has served, and its knobs.
#[derive(Default)]
pub struct Counters {
    /// Requests answered (counted with their latency, so the histogram stays consistent).
    pub requests: AtomicU64,
    /// Requests received, which decides which ones fail.
    received: AtomicU64,
    pub errors: AtomicU64,
    buckets: [AtomicU64; BUCKETS.len()],
    /// Total latency, microseconds.
    latency_sum_us: AtomicU64,
    /// The share of requests that fail, in millionths.
    error_ppm: AtomicU64,
    /// Added to every request's latency, milliseconds.
    extra_ms: AtomicU64,
}

/// A running version of the service; stopped when dropped.
pub struct Service {
    pub port: u16,
    pub counters: Arc<Counters>,
    server: Arc<tiny_http::Server>,
    stop: Arc<AtomicBool>,
    workers: Vec<std::thread::JoinHandle<()>>,
}

impl Service {
    /// Starts `version` on `port` of loopback (0: any free port).
    pub fn start(version: &'static str, port: u16) -> Service {
        let server = Arc::new(
            tiny_http::Server::http(("127.0.0.1", port)).expect("the service binds loopback"),
        );
        let port = server.server_addr().to_ip().expect("an IP address").port();
        let counters = Arc::new(Counters::default());
        let stop = Arc::new(AtomicBool::new(false));
        let workers = (0..WORKERS)
            .map(|_| {
                let (server, counters, stop) = (server.clone(), counters.clone(), stop.clone());
                std::thread::spawn(move || {
                    while !stop.load(Relaxed) {
                        match server.recv() {
                            Ok(req) => serve(version, &counters, req),
                            Err(_) => break,
                        }
                    }
                })
            })
            .collect();
        Service {
            port,
            counters,
            server,
            stop,
            workers,
        }
    }

    /// From now on, `share` (0–1) of requests fail with a 500.
    pub fn inject_errors(&self, share: f64) {
        let ppm = (share.clamp(0.0, 1.0) * 1e6) as u64;
        self.counters.error_ppm.store(ppm, Relaxed);
    }

    pub fn requests(&self) -> u64 {
        self.counters.requests.load(Relaxed)
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.stop.store(true, Relaxed);
        for _ in 0..WORKERS {
            self.server.unblock();
        }
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

fn serve(version: &str, c: &Counters, req: tiny_http::Request) {
    let url = req.url().to_string();
    let respond = |req: tiny_http::Request, code: u16, body: String| {
        let _ = req.respond(tiny_http::Response::from_string(body).with_status_code(code));
    };
    if url == "/metrics" {
        return respond(req, 200, metrics(version, c));
    }
    if let Some(query) = url.strip_prefix("/knob?") {
        return match knob(c, query) {
            Ok(said) => respond(req, 200, said),
            Err(why) => respond(req, 400, why),
        };
    }
    let started = Instant::now();
    std::thread::sleep(BASE_LATENCY + Duration::from_millis(c.extra_ms.load(Relaxed)));
    // Every n-th request fails, evenly: the error share is exact, not noisy.
    let n = c.received.fetch_add(1, Relaxed) + 1;
    let ppm = c.error_ppm.load(Relaxed);
    let fail = (n * ppm) / 1_000_000 != ((n - 1) * ppm) / 1_000_000;
    let took = started.elapsed();
    for (i, le) in BUCKETS.iter().enumerate() {
        if took.as_secs_f64() <= *le {
            c.buckets[i].fetch_add(1, Relaxed);
        }
    }
    c.latency_sum_us.fetch_add(took.as_micros() as u64, Relaxed);
    if fail {
        c.errors.fetch_add(1, Relaxed);
    }
    c.requests.fetch_add(1, Relaxed);
    if fail {
        respond(req, 500, format!("{version}: injected error\n"));
    } else {
        respond(req, 200, format!("{version}\n"));
    }
}

/// `errors=0.5`, `latency=300ms`, joined by `&`.
fn knob(c: &Counters, query: &str) -> Result<String, String> {
    let mut said = Vec::new();
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("errors", v)) => {
                let share: f64 = v
                    .parse()
                    .ok()
                    .filter(|s| (0.0..=1.0).contains(s))
                    .ok_or(format!("errors={v}: give a share from 0 to 1\n"))?;
                c.error_ppm.store((share * 1e6) as u64, Relaxed);
                said.push(format!("errors {share}"));
            }
            Some(("latency", v)) => {
                let ms: u64 = v
                    .strip_suffix("ms")
                    .and_then(|n| n.parse().ok())
                    .ok_or(format!("latency={v}: give milliseconds, e.g. 300ms\n"))?;
                c.extra_ms.store(ms, Relaxed);
                said.push(format!("latency +{ms}ms"));
            }
            _ => {
                return Err(format!(
                    "`{pair}`: the knobs are errors=SHARE and latency=Nms\n"
                ))
            }
        }
    }
    Ok(said.join(", ") + "\n")
}

fn metrics(version: &str, c: &Counters) -> String {
    let l = format!("version=\"{version}\"");
    let requests = c.requests.load(Relaxed);
    let mut out = format!(
        "# TYPE rig_requests_total counter\nrig_requests_total{{{l}}} {requests}\n# TYPE rig_errors_total counter\nrig_errors_total{{{l}}} {}\n# TYPE rig_request_duration_seconds histogram\n",
        c.errors.load(Relaxed)
    );
    for (i, le) in BUCKETS.iter().enumerate() {
        out += &format!(
            "rig_request_duration_seconds_bucket{{{l},le=\"{le}\"}} {}\n",
            c.buckets[i].load(Relaxed)
        );
    }
    out += &format!(
        "rig_request_duration_seconds_bucket{{{l},le=\"+Inf\"}} {requests}\nrig_request_duration_seconds_sum{{{l}}} {}\nrig_request_duration_seconds_count{{{l}}} {requests}\n",
        c.latency_sum_us.load(Relaxed) as f64 / 1e6
    );
    out
}
