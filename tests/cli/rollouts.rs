//! Real rollouts on the rig (tests/rig): `rollgate run workflows/rig-canary.yaml` against a real
//! HAProxy and a real Prometheus, under load. Each scenario asserts through HAProxy's own state
//! and the services' own request counts, not through what rollgate says about itself.

use crate::rig::{wait_for, Admin, Options, Rig};
use crate::support::root;
use serde_json::Value;
use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const PLAN: &str = "workflows/rig-canary.yaml";
/// HAProxy's weights (stable, canary) before any run, and at each phase of the plan.
const BEFORE: (u32, u32) = (100, 0);
const AT_25: (u32, u32) = (192, 64);
const AT_50: (u32, u32) = (128, 128);
const PROMOTED: (u32, u32) = (0, 256);

/// `rollgate run` in the background, its JSON events collected as they come.
struct Rollout {
    child: Child,
    events: Arc<Mutex<Vec<Value>>>,
    /// Whether its stdout closed: the run is over.
    over: Arc<AtomicBool>,
    reader: std::thread::JoinHandle<()>,
}

/// How a rollout ended.
struct Ended {
    code: i32,
    events: Vec<Value>,
    stderr: String,
}

impl Ended {
    fn of(&self, kind: &str) -> Vec<&Value> {
        self.events.iter().filter(|e| e["event"] == kind).collect()
    }

    fn finished(&self) -> &Value {
        self.of("run-finished")
            .pop()
            .unwrap_or_else(|| panic!("no run-finished event:\n{}", self.stderr))
    }

    fn run_id(&self) -> String {
        let line = self
            .stderr
            .lines()
            .find(|l| l.starts_with("run "))
            .expect("the run says its id");
        line["run ".len()..].split(':').next().unwrap().to_string()
    }

    /// What the run decided: each check's verdicts per step, each shift, and the outcome.
    fn decisions(&self) -> Vec<String> {
        decisions(&self.events)
    }
}

fn decisions(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e["event"].as_str()? {
            "check-evaluated" => Some(format!("{} {} {}", e["step"], e["check"], e["verdict"])),
            "weight-shifted" => Some(format!("shift {} {}", e["router"], e["to"])),
            "trigger-fired" => Some(format!("trigger {}", e["check"])),
            "run-finished" => Some(format!(
                "finished {} {}",
                e["outcome"], e["reason"]["check"]
            )),
            _ => None,
        })
        .collect()
}

fn state_dir(rig: &Rig) -> String {
    rig.dir.path().join("state").display().to_string()
}

impl Rollout {
    fn start(rig: &Rig) -> Rollout {
        let mut child = Command::new(env!("CARGO_BIN_EXE_rollgate"))
            .args(["run", PLAN, "--json", "--state-dir", &state_dir(rig)])
            .args(rig.inputs())
            .current_dir(root())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let events = Arc::new(Mutex::new(Vec::new()));
        let out = child.stdout.take().unwrap();
        let (sink, over) = (events.clone(), Arc::new(AtomicBool::new(false)));
        let closed = over.clone();
        let reader = std::thread::spawn(move || {
            for line in std::io::BufReader::new(out).lines() {
                let line = line.unwrap();
                let e: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("not a JSON event ({e}): {line}"));
                sink.lock().unwrap().push(e);
            }
            closed.store(true, Relaxed);
        });
        Rollout {
            child,
            events,
            over,
            reader,
        }
    }

    /// Waits for an event of `kind` that `matches`.
    fn wait_event(&self, kind: &str, matches: impl Fn(&Value) -> bool) {
        wait_for(
            &format!("a `{kind}` event"),
            Duration::from_secs(60),
            || {
                let over = self.over.load(Relaxed);
                let events = self.events.lock().unwrap();
                let seen = events.iter().any(|e| e["event"] == kind && matches(e));
                assert!(
                    seen || !over,
                    "the run ended without a `{kind}` event: {events:#?}"
                );
                seen
            },
        );
    }

    /// Waits until the run has shifted the canary to `percent`.
    fn wait_shifted(&self, percent: u64) {
        self.wait_event("weight-shifted", |e| e["to"]["percent"] == percent);
    }

    fn signal(&self, signal: &str) {
        crate::support::signal(&self.child, signal);
    }

    fn finish(mut self) -> Ended {
        let mut stderr = String::new();
        std::io::Read::read_to_string(self.child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
        let status = self.child.wait().unwrap();
        self.reader.join().unwrap();
        let events = self.events.lock().unwrap().clone();
        Ended {
            code: status.code().expect("exited, not killed"),
            events,
            stderr,
        }
    }
}

/// `rollgate ARGS` in the repository root, where the plan's path is relative to.
fn rollgate_here(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_rollgate"))
        .args(args)
        .current_dir(root())
        .output()
        .unwrap()
}

fn succeeds(args: &[&str]) {
    let out = rollgate_here(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The canary serves nothing more while load goes on.
fn assert_canary_idle(rig: &Rig) {
    let served = rig.canary.requests();
    let stable = rig.stable.requests();
    std::thread::sleep(Duration::from_secs(1));
    assert!(rig.stable.requests() > stable, "the load goes on");
    assert_eq!(rig.canary.requests(), served, "the canary got requests");
}

/// Records the run's answers as a fixture, replays it as a dry-run, and checks that the dry-run
/// decided exactly what the run did.
fn replay(rig: &Rig, run: &Ended) {
    let fixture = rig.dir.path().join("recorded.yaml");
    let fixture = fixture.display().to_string();
    succeeds(&[
        "record",
        "--run",
        &run.run_id(),
        "--state-dir",
        &state_dir(rig),
        "--out",
        &fixture,
    ]);
    let dry = rollgate_here(&["dry-run", PLAN, "--json", "--fixture", &fixture]);
    let events: Vec<Value> = String::from_utf8_lossy(&dry.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        dry.status.code(),
        Some(run.code),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    assert_eq!(
        decisions(&events),
        run.decisions(),
        "the replay decided otherwise"
    );
}

#[test]
fn a_healthy_canary_walks_every_phase_and_is_promoted() {
    let rig = Rig::start(Options::default());
    assert_eq!(rig.split(), BEFORE);
    let run = Rollout::start(&rig).finish();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let shifts: Vec<u64> = run
        .of("weight-shifted")
        .iter()
        .map(|e| e["to"]["percent"].as_u64().unwrap())
        .collect();
    assert_eq!(shifts, [10, 25, 50, 100]);
    assert_eq!(
        rig.split(),
        PROMOTED,
        "HAProxy sends everything to the canary"
    );
    assert!(rig.canary.requests() > 100, "the canary served the load");
    // Promoted: now stable is the one that gets nothing.
    let stable = rig.stable.requests();
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(rig.stable.requests(), stable);
    replay(&rig, &run);
    // The same minutes read back from Prometheus' past make a fixture too.
    let header: Value = serde_json::from_str(
        &std::fs::read_to_string(
            rig.dir
                .path()
                .join("state/runs")
                .join(run.run_id())
                .join("run.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let past = rig.dir.path().join("past.yaml").display().to_string();
    let url = format!("prometheus={}", rig.prometheus_url);
    let from = header["started_at"].as_str().unwrap();
    succeeds(&[
        "record", PLAN, "--from", from, "--to", "now", "--step", "1s", "--input", &url, "--out",
        &past,
    ]);
    let text = std::fs::read_to_string(&past).unwrap();
    assert_eq!(text.matches("    data: {").count(), 4, "{text}");
    let dry = rollgate_here(&["dry-run", PLAN, "--fixture", &past]);
    assert_eq!(
        dry.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&dry.stdout),
        String::from_utf8_lossy(&dry.stderr)
    );
}

#[test]
fn errors_on_the_canary_at_25_percent_roll_it_back_and_it_gets_no_more_requests() {
    let rig = Rig::start(Options::default());
    let rollout = Rollout::start(&rig);
    rollout.wait_shifted(25);
    assert_eq!(rig.split(), AT_25);
    rig.canary.inject_errors(0.5);
    let run = rollout.finish();
    assert_eq!(run.code, 3, "{}", run.stderr);
    let reason = &run.finished()["reason"];
    assert_eq!(reason["check"], "error-rate", "{reason}");
    assert!(
        reason["step"]
            .as_str()
            .unwrap_or_default()
            .starts_with("canary-25")
            || reason["message"]
                .as_str()
                .unwrap_or_default()
                .starts_with("trigger"),
        "{reason}"
    );
    assert_eq!(rig.split(), BEFORE, "exactly the weights before the run");
    assert_canary_idle(&rig);
    replay(&rig, &run);
}

#[test]
fn prometheus_stopped_mid_phase_rolls_back_as_the_plan_declares() {
    let mut rig = Rig::start(Options::default());
    let rollout = Rollout::start(&rig);
    rollout.wait_shifted(25);
    rig.stop_prometheus();
    let run = rollout.finish();
    // error-rate says `on-no-data: fail` with `failure-limit: 3`.
    assert_eq!(run.code, 3, "{}", run.stderr);
    let reason = &run.finished()["reason"];
    assert_eq!(reason["check"], "error-rate", "{reason}");
    assert!(
        reason["message"]
            .as_str()
            .unwrap()
            .contains("metric source down"),
        "{reason}"
    );
    let refused = run.of("queried");
    assert!(
        refused.iter().any(|e| e["error"]
            .as_str()
            .is_some_and(|e| e.contains(&rig.prometheus_url))),
        "the journal says why the source was down"
    );
    assert_eq!(rig.split(), BEFORE);
    assert_canary_idle(&rig);
}

#[test]
fn a_socket_that_refuses_for_a_moment_is_retried_and_the_rollout_goes_on() {
    let rig = Rig::start(Options::default());
    let away = rig.dir.path().join("admin.sock.away");
    let rollout = Rollout::start(&rig);
    rollout.wait_shifted(25);
    // The socket's path gone: connecting fails as when HAProxy is reloading.
    std::fs::rename(rig.socket_path(), &away).unwrap();
    rollout.wait_event("router-retrying", |e| e["router"] == "edge");
    std::fs::rename(&away, rig.socket_path()).unwrap();
    let run = rollout.finish();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(rig.split(), PROMOTED);
}

#[test]
fn a_socket_that_keeps_refusing_ends_the_run_loudly_and_the_rollback_still_puts_it_back() {
    let rig = Rig::start(Options::default());
    let away = rig.dir.path().join("admin.sock.away");
    let rollout = Rollout::start(&rig);
    rollout.wait_shifted(25);
    std::fs::rename(rig.socket_path(), &away).unwrap();
    // The shift to 50% fails after its retries; the rollback keeps trying to put HAProxy back.
    rollout.wait_event("rollback-started", |e| e["reason"]["router"] == "edge");
    std::thread::sleep(Duration::from_millis(500));
    std::fs::rename(&away, rig.socket_path()).unwrap();
    let run = rollout.finish();
    assert_eq!(run.code, 5, "{}", run.stderr);
    assert_eq!(run.finished()["outcome"], "router-failed");
    assert!(run.stderr.contains("a router failed"), "{}", run.stderr);
    assert!(
        run.of("router-retrying").len() >= 5,
        "retried before giving up the shift, and while restoring"
    );
    assert_eq!(rig.split(), BEFORE, "the rollback got HAProxy back");
    assert_canary_idle(&rig);
}

#[test]
fn sigterm_mid_run_puts_the_weights_back_before_the_process_exits() {
    // HAProxy's admin socket on TCP this time.
    let rig = Rig::start(Options {
        admin: Admin::Tcp(0),
        ..Options::default()
    });
    let rollout = Rollout::start(&rig);
    rollout.wait_shifted(50);
    assert_eq!(rig.split(), AT_50);
    rollout.signal("-TERM");
    let run = rollout.finish();
    // Read the moment the process is gone: nothing can have fixed HAProxy since.
    assert_eq!(rig.split(), BEFORE);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert_eq!(run.finished()["reason"]["message"], "the run was cancelled");
    assert_canary_idle(&rig);
}
