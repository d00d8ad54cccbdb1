//! The rig: a real rollout's world on loopback, in a temp dir. Two versions of a small HTTP
//! service (stable and canary) with Prometheus metrics and knobs to inject errors or latency,
//! HAProxy in front (backend `app`, servers `stable` and `canary`) with an admin socket,
//! Prometheus scraping both every second, and a bounded load through HAProxy. The tests drive
//! `rollgate run` against it; `cargo run --example rig` starts it for a person to try.
//!
//! HAProxy and Prometheus are Debian's packages; the README's test command installs them.

pub mod load;
pub mod service;

use load::Load;
use service::Service;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where HAProxy's admin socket listens.
pub enum Admin {
    /// A unix socket in the rig's directory.
    Unix,
    /// `127.0.0.1:PORT`.
    Tcp(u16),
}

/// Ports (0: any free one) and load.
pub struct Options {
    pub admin: Admin,
    pub frontend: u16,
    pub prometheus: u16,
    pub stable: u16,
    pub canary: u16,
    /// Requests a second through HAProxy.
    pub rate: u32,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            admin: Admin::Unix,
            frontend: 0,
            prometheus: 0,
            stable: 0,
            canary: 0,
            rate: 100,
        }
    }
}

/// A server process; killed when dropped, so a failing test leaves nothing running.
pub struct Process(Child);

/// HAProxy in the foreground on `cfg`.
pub fn haproxy(cfg: &Path) -> Process {
    Process(
        Command::new(program("haproxy"))
            .arg("-f")
            .arg(cfg)
            .arg("-db")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("HAProxy starts"),
    )
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub struct Rig {
    // Dropped in this order: load first, so no request meets a stopped server.
    pub load: Option<Load>,
    prometheus: Option<Process>,
    _haproxy: Process,
    pub stable: Service,
    pub canary: Service,
    /// The admin socket as a plan's `socket:` takes it.
    pub admin: String,
    pub prometheus_url: String,
    pub frontend: u16,
    prometheus_port: u16,
    pub dir: tempfile::TempDir,
}

/// A program from Debian's packages, or a panic that says how to get it.
pub fn program(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/usr/bin".into()])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("`{name}` is needed: apt-get install -y {name} (the README's test command installs it)")
        })
}

fn free_port(wanted: u16) -> u16 {
    if wanted != 0 {
        return wanted;
    }
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// The first sample of an instant query to the Prometheus at `url`, as it writes it, if it
/// answers one.
pub fn instant_query(url: &str, q: &str) -> Option<String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(2)))
        .build()
        .into();
    let body = agent
        .get(&format!("{url}/api/v1/query"))
        .query("query", q)
        .call()
        .ok()?
        .body_mut()
        .read_to_string()
        .ok()?;
    let json: serde_json::Value = serde_json::from_str(&body).ok()?;
    Some(json["data"]["result"][0]["value"][1].as_str()?.to_string())
}

/// Waits for `ok`, panicking with `what` after `limit`.
pub fn wait_for(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < limit, "{what} (waited {limit:?})");
        std::thread::sleep(Duration::from_millis(10));
    }
}

impl Rig {
    /// Starts everything and returns once Prometheus sees the stable version's traffic.
    pub fn start(o: Options) -> Rig {
        let dir = tempfile::tempdir().expect("a temp dir");
        let stable = Service::start("stable", o.stable);
        let canary = Service::start("canary", o.canary);
        let frontend = free_port(o.frontend);
        let (admin, stats) = match o.admin {
            Admin::Unix => {
                let path = dir.path().join("admin.sock");
                (path.display().to_string(), path.display().to_string())
            }
            Admin::Tcp(port) => {
                let port = free_port(port);
                (
                    format!("127.0.0.1:{port}"),
                    format!("ipv4@127.0.0.1:{port}"),
                )
            }
        };
        let cfg = dir.path().join("haproxy.cfg");
        std::fs::write(
            &cfg,
            format!(
                "global\n  stats socket {stats} mode 600 level admin\ndefaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\nfrontend web\n  bind 127.0.0.1:{frontend}\n  default_backend app\nbackend app\n  balance roundrobin\n  server stable 127.0.0.1:{} weight 100\n  server canary 127.0.0.1:{} weight 0\n",
                stable.port, canary.port
            ),
        )
        .expect("HAProxy's config is written");
        let haproxy = haproxy(&cfg);
        let prometheus_port = free_port(o.prometheus);
        let mut rig = Rig {
            load: None,
            prometheus: None,
            _haproxy: haproxy,
            stable,
            canary,
            admin,
            prometheus_url: format!("http://127.0.0.1:{prometheus_port}"),
            frontend,
            prometheus_port,
            dir,
        };
        wait_for(
            "HAProxy answers on its admin socket",
            Duration::from_secs(10),
            || rig.weights().is_ok(),
        );
        rig.start_prometheus();
        rig.load = Some(Load::start(
            &format!("http://127.0.0.1:{frontend}/"),
            o.rate,
        ));
        wait_for(
            "Prometheus sees the stable version's traffic",
            Duration::from_secs(30),
            || {
                rig.query("sum(rate(rig_requests_total{version=\"stable\"}[5s]))")
                    .is_some_and(|v| v > 0.0)
            },
        );
        rig
    }

    /// Starts (or restarts, on the same data) Prometheus, scraping both versions every second.
    pub fn start_prometheus(&mut self) {
        let cfg = self.dir.path().join("prometheus.yml");
        std::fs::write(
            &cfg,
            format!(
                "global: {{ scrape_interval: 1s, evaluation_interval: 1s }}\nscrape_configs:\n  - job_name: rig\n    static_configs: [{{ targets: ['127.0.0.1:{}', '127.0.0.1:{}'] }}]\n",
                self.stable.port, self.canary.port
            ),
        )
        .expect("Prometheus' config is written");
        let child = Command::new(program("prometheus"))
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                self.dir.path().join("tsdb").display()
            ))
            .arg(format!(
                "--web.listen-address=127.0.0.1:{}",
                self.prometheus_port
            ))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("Prometheus starts");
        self.prometheus = Some(Process(child));
        wait_for(
            "Prometheus scrapes both versions",
            Duration::from_secs(30),
            || self.query("count(up{job=\"rig\"} == 1)") == Some(2.0),
        );
    }

    /// Stops Prometheus (its data stays for a restart).
    pub fn stop_prometheus(&mut self) {
        self.prometheus = None;
    }

    /// An instant query's single value, if Prometheus answers one.
    pub fn query(&self, q: &str) -> Option<f64> {
        instant_query(&self.prometheus_url, q)?.parse().ok()
    }

    /// Each server's weight in backend `app`, as HAProxy itself reports it.
    pub fn weights(&self) -> std::io::Result<BTreeMap<String, u32>> {
        let answer = self.admin_command("show servers state app")?;
        let mut lines = answer.lines().filter(|l| !l.trim().is_empty());
        let header: Vec<&str> = lines
            .find(|l| l.starts_with('#'))
            .map(|l| l.trim_start_matches('#').split_whitespace().collect())
            .ok_or_else(|| std::io::Error::other(format!("no state in {answer:?}")))?;
        let col = |n: &str| header.iter().position(|h| *h == n).expect("a known column");
        let (name, weight) = (col("srv_name"), col("srv_uweight"));
        Ok(lines
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                Some((f.get(name)?.to_string(), f.get(weight)?.parse().ok()?))
            })
            .collect())
    }

    /// (stable, canary) weights.
    pub fn split(&self) -> (u32, u32) {
        let w = self.weights().expect("HAProxy answers");
        (w["stable"], w["canary"])
    }

    /// One runtime-API command on its own connection.
    pub fn admin_command(&self, command: &str) -> std::io::Result<String> {
        let mut out = String::new();
        if self.admin.starts_with('/') {
            let mut s = std::os::unix::net::UnixStream::connect(&self.admin)?;
            s.write_all(format!("{command}\n").as_bytes())?;
            s.read_to_string(&mut out)?;
        } else {
            let mut s = std::net::TcpStream::connect(&self.admin)?;
            s.write_all(format!("{command}\n").as_bytes())?;
            s.read_to_string(&mut out)?;
        }
        Ok(out)
    }

    /// The unix admin socket's path (a test moves it away to make the socket refuse).
    pub fn socket_path(&self) -> &Path {
        assert!(self.admin.starts_with('/'), "a unix admin socket");
        Path::new(&self.admin)
    }

    /// The `--input`s that point `workflows/rig-canary.yaml` at this rig.
    pub fn inputs(&self) -> Vec<String> {
        vec![
            "--input".into(),
            format!("socket={}", self.admin),
            "--input".into(),
            format!("prometheus={}", self.prometheus_url),
        ]
    }
}
