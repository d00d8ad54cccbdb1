//! Every way a real run can end, against the rig's real HAProxy and Prometheus: when the
//! `rollgate` process has exited, HAProxy's own weights are the ones captured before the run,
//! unless the run was promoted. Scenarios share a rig (HAProxy is put back by hand after a
//! promotion), so a test walks several endings one after the other.

use crate::rig::{Options, Rig};
use crate::support::Events;
use serde_json::Value;
use std::process::{Child, Command};
use std::time::Duration;

const BEFORE: (u32, u32) = (100, 0);
const AT_25: (u32, u32) = (192, 64);
const PROMOTED: (u32, u32) = (0, 256);

/// A plan on the rig with an error-rate check: `check` is the rest of the check (its bounds,
/// `on-no-data`), `extra` the rest of the plan (phases, triggers, `pause`).
fn plan(rig: &Rig, prometheus: &str, check: &str, extra: &str) -> String {
    format!(
        r#"name: ending
providers:
  edge: {{ kind: haproxy, socket: "{}", backend: app, stable: stable, canary: canary }}
  prom: {{ kind: prometheus, url: "{prometheus}", timeout: 1s }}
interval: 500ms
checks:
  error-rate:
    source: prom
    canary: sum(rate(rig_errors_total{{version="canary"}}[5s])) / sum(rate(rig_requests_total{{version="canary"}}[5s]))
    samples:
      canary: sum(increase(rig_requests_total{{version="canary"}}[5s]))
{check}
{extra}"#,
        rig.admin
    )
}

const PHASES: &str = "strategy:\n  canary: { weights: [25, 100], observe: 2s }\n";
/// The check fails above 2% errors (and passes while the canary has no data yet: these
/// scenarios are about what ends the run, not about missing data).
const CHECKED: &str = "    max: 2%\n    on-no-data: pass";
/// The check lets anything but 90% errors pass: only a trigger acts on errors.
const LENIENT: &str = "    max: 90%\n    on-no-data: pass";
/// Five seconds at 25%: time for a trigger's `for`.
const SLOW: &str = "strategy:\n  canary: { weights: [25, 100], observe: 5s }\n";

/// `rollgate run` of `plan` in the rig's directory, its JSON events collected as they come.
struct Running {
    child: Child,
    events: Events,
}

impl Running {
    fn start(rig: &Rig, name: &str, plan: &str) -> Running {
        std::fs::write(rig.dir.path().join(format!("{name}.yaml")), plan).unwrap();
        let (child, events) = Events::spawn(
            Command::new(env!("CARGO_BIN_EXE_rollgate"))
                .args(["run", &format!("{name}.yaml"), "--json"])
                .args(["--state-dir", "state"])
                .current_dir(rig.dir.path()),
        );
        Running { child, events }
    }

    /// The next event of `kind` that `matches`.
    fn wait(&self, kind: &str, matches: impl Fn(&Value) -> bool) -> Value {
        self.events.wait_where(kind, matches)
    }

    fn signal(&self, signal: &str) {
        crate::support::signal(&self.child, signal);
    }

    /// Exit code, the events, and HAProxy's weights read the moment the process is gone.
    fn end(mut self, rig: &Rig) -> (i32, Vec<Value>, (u32, u32)) {
        let code = self.child.wait().unwrap().code().expect("exited");
        let split = rig.split();
        let text = self.events.text.clone();
        let events = self.events.finish();
        assert!(
            events.iter().any(|e| e["event"] == "run-finished"),
            "the run did not finish (exit {code}): {}",
            text.lock().unwrap()
        );
        (code, events, split)
    }
}

fn rollgate(rig: &Rig, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rollgate"))
        .args(args)
        .args(["--state-dir", "state"])
        .current_dir(rig.dir.path())
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

fn finished(events: &[Value]) -> &Value {
    events
        .iter()
        .rev()
        .find(|e| e["event"] == "run-finished")
        .unwrap_or_else(|| panic!("no run-finished: {events:#?}"))
}

/// Asserts an ending: the exit code, the outcome, and HAProxy's weights after the process.
fn ended(
    name: &str,
    run: (i32, Vec<Value>, (u32, u32)),
    code: i32,
    split: (u32, u32),
) -> Vec<Value> {
    let (got, events, now) = run;
    let f = finished(&events);
    assert_eq!(got, code, "{name}: {f}");
    assert_eq!(now, split, "{name}: HAProxy's weights after the run ({f})");
    events
}

/// Puts HAProxy back by hand after a promotion, for the next scenario.
fn reset(rig: &Rig) {
    rig.admin_command("set server app/stable weight 100")
        .unwrap();
    rig.admin_command("set server app/canary weight 0").unwrap();
    assert_eq!(rig.split(), BEFORE);
}

/// Stops the canary's errors and waits until they are out of the checks' 5 s window.
fn heal(rig: &Rig) {
    rig.canary.inject_errors(0.0);
    std::thread::sleep(Duration::from_secs(6));
}

fn at_25(e: &Value) -> bool {
    e["to"]["percent"] == 25
}

#[test]
fn checks_triggers_and_gates_end_with_haproxy_put_back() {
    let rig = Rig::start(Options::default());
    let url = rig.prometheus_url.clone();
    let ok = CHECKED;

    // Promoted: the only ending that leaves the canary serving.
    let run = Running::start(&rig, "promoted", &plan(&rig, &url, ok, PHASES));
    ended("promoted", run.end(&rig), 0, PROMOTED);
    reset(&rig);

    // A check's failure.
    let run = Running::start(&rig, "check", &plan(&rig, &url, ok, PHASES));
    run.wait("weight-shifted", at_25);
    rig.canary.inject_errors(0.5);
    let ev = ended("check", run.end(&rig), 3, BEFORE);
    assert_eq!(finished(&ev)["reason"]["check"], "error-rate");
    heal(&rig);

    // A trigger, while the check alone would not fail.
    let trigger = "triggers:\n  - { check: error-rate, above: 20%, for: 1s }\n";
    let run = Running::start(
        &rig,
        "trigger",
        &plan(&rig, &url, LENIENT, &format!("{trigger}{SLOW}")),
    );
    run.wait("weight-shifted", at_25);
    rig.canary.inject_errors(0.5);
    let ev = ended("trigger", run.end(&rig), 3, BEFORE);
    assert!(finished(&ev)["reason"]["message"]
        .as_str()
        .unwrap()
        .starts_with("trigger: error-rate"));
    heal(&rig);

    let gated = |timeout: &str, then: &str| {
        format!("phases:\n  - {{ name: canary-25, weight: 25, observe: 1s, gate: {{ approvers: [alice], timeout: {timeout}, on-timeout: {then} }} }}\n  - {{ name: full, weight: 100, observe: 1s }}\n")
    };
    // A gate's rejection.
    let run = Running::start(
        &rig,
        "rejected",
        &plan(&rig, &url, ok, &gated("30s", "rollback")),
    );
    run.wait("gate-waiting", |_| true);
    assert_eq!(rig.split(), AT_25);
    assert_eq!(rollgate(&rig, &["reject", "--by", "alice"]).0, 0);
    ended("rejected", run.end(&rig), 3, BEFORE);

    // A gate's timeout that rolls back, and one that aborts: both put HAProxy back.
    let run = Running::start(
        &rig,
        "timed-out",
        &plan(&rig, &url, ok, &gated("1s", "rollback")),
    );
    ended("gate timeout", run.end(&rig), 3, BEFORE);
    let run = Running::start(
        &rig,
        "aborted",
        &plan(&rig, &url, ok, &gated("1s", "abort")),
    );
    let ev = ended("gate abort", run.end(&rig), 4, BEFORE);
    assert_eq!(finished(&ev)["outcome"], "aborted");

    // max-duration, while a gate waits.
    let long = format!("max-duration: 3s\n{}", gated("30s", "rollback"));
    let run = Running::start(&rig, "max-duration", &plan(&rig, &url, ok, &long));
    let ev = ended("max-duration", run.end(&rig), 3, BEFORE);
    assert_eq!(
        finished(&ev)["reason"]["message"],
        "max-duration 3s exceeded"
    );

    // SIGINT and SIGTERM.
    for signal in ["-INT", "-TERM"] {
        let run = Running::start(&rig, "signalled", &plan(&rig, &url, ok, PHASES));
        run.wait("weight-shifted", at_25);
        run.signal(signal);
        let ev = ended(signal, run.end(&rig), 3, BEFORE);
        assert_eq!(finished(&ev)["reason"]["message"], "the run was cancelled");
    }
}

#[test]
fn pauses_hold_the_canary_until_a_decision_and_never_end_with_it_serving() {
    let rig = Rig::start(Options::default());
    let url = rig.prometheus_url.clone();
    // Never enough samples: the check is inconclusive when the 25% phase is judged.
    let starved = "    max: 2%\n    min-samples: 1000000\n    on-no-data: inconclusive";

    // Nobody decides: the pause times out and rolls back.
    let pause = "pause: { timeout: 2s }\n";
    let run = Running::start(
        &rig,
        "unanswered",
        &plan(&rig, &url, starved, &format!("{pause}{PHASES}")),
    );
    let paused = run.wait("paused", |_| true);
    assert_eq!(rig.split(), AT_25, "a pause holds the weights");
    assert!(paused["reason"]["message"]
        .as_str()
        .unwrap()
        .starts_with("error-rate is inconclusive"));
    std::thread::sleep(Duration::from_millis(500));
    let served = rig.canary.requests();
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        rig.canary.requests() > served,
        "the canary serves while paused"
    );
    let ev = ended("pause timeout", run.end(&rig), 3, BEFORE);
    assert!(finished(&ev)["reason"]["message"]
        .as_str()
        .unwrap()
        .ends_with("paused, and nobody continued it within 2s"));

    // `rollgate status` says it is paused; `rollgate continue` lets it go on to promotion.
    let pause = "pause: { timeout: 1m, approvers: [alice] }\n";
    let run = Running::start(
        &rig,
        "continued",
        &plan(&rig, &url, starved, &format!("{pause}{PHASES}")),
    );
    run.wait("paused", |_| true);
    let (_, status, _) = rollgate(&rig, &["status"]);
    assert!(
        status.contains("PAUSED at `canary-25.evaluate`"),
        "{status}"
    );
    assert!(status.contains("`rollgate continue "), "{status}");
    let (code, _, err) = rollgate(&rig, &["approve", "--by", "alice"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("not waiting at a gate: `rollgate continue"),
        "{err}"
    );
    let (code, _, err) = rollgate(&rig, &["continue", "--by", "mallory"]);
    assert_eq!(code, 1);
    assert!(err.contains("mallory is not among the approvers"), "{err}");
    let (code, out, _) = rollgate(&rig, &["continue", "--by", "alice"]);
    assert_eq!(code, 0, "{out}");
    // Still starved at 100%: it pauses again, and is continued again.
    run.wait("paused", |e| e["step"] == "canary-100.evaluate");
    assert_eq!(rig.split(), PROMOTED);
    assert_eq!(rollgate(&rig, &["continue", "--by", "alice"]).0, 0);
    let ev = ended("continued", run.end(&rig), 0, PROMOTED);
    assert!(ev
        .iter()
        .any(|e| e["event"] == "pause-decided" && e["then"] == "continue" && e["by"] == "alice"));
    reset(&rig);

    // `rollgate rollback` while paused rolls back at once.
    let run = Running::start(
        &rig,
        "rolled",
        &plan(&rig, &url, starved, &format!("{pause}{PHASES}")),
    );
    run.wait("paused", |_| true);
    assert_eq!(rollgate(&rig, &["rollback", "--by", "bob"]).0, 0);
    let ev = ended("rollback while paused", run.end(&rig), 3, BEFORE);
    assert_eq!(
        finished(&ev)["reason"]["message"],
        "rollback requested by bob"
    );

    // A trigger's pause holds the next shift until someone decides.
    let trigger = "triggers:\n  - { check: error-rate, above: 20%, for: 1s, then: pause }\n";
    let run = Running::start(
        &rig,
        "trigger-pause",
        &plan(
            &rig,
            &url,
            LENIENT,
            &format!("pause: {{ timeout: 3s }}\n{trigger}{SLOW}"),
        ),
    );
    run.wait("weight-shifted", at_25);
    rig.canary.inject_errors(0.5);
    run.wait("paused", |_| true);
    assert_eq!(rig.split(), AT_25);
    let ev = ended("trigger pause", run.end(&rig), 3, BEFORE);
    assert!(!ev
        .iter()
        .any(|e| e["event"] == "weight-shifted" && e["to"]["percent"] == 100));
    heal(&rig);
}

#[test]
fn a_metric_source_down_ends_as_each_on_no_data_says_and_never_off_the_captured_weights() {
    let mut rig = Rig::start(Options::default());
    let url = rig.prometheus_url.clone();
    let phases = "pause: { timeout: 2s }\nmax-duration: 10s\nstrategy:\n  canary: { weights: [25, 100], observe: 3s }\n";
    for (policy, code, split) in [
        ("inconclusive", 3, BEFORE),
        ("hold", 3, BEFORE),
        ("fail", 3, BEFORE),
        ("pass", 0, PROMOTED),
    ] {
        let check = format!("    max: 2%\n    on-no-data: {policy}\n    failure-limit: 2");
        let run = Running::start(&rig, policy, &plan(&rig, &url, &check, phases));
        run.wait("weight-shifted", at_25);
        rig.stop_prometheus();
        ended(policy, run.end(&rig), code, split);
        if split == PROMOTED {
            reset(&rig);
        }
        rig.start_prometheus();
    }

    // A source that cannot be reached refuses the run before any weight moves.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let nowhere = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let run = Running::start(&rig, "unreachable", &plan(&rig, &nowhere, CHECKED, PHASES));
    let ev = ended("unreachable source", run.end(&rig), 1, BEFORE);
    assert!(!ev.iter().any(|e| e["event"] == "weight-shifted"));
    let why = finished(&ev)["reason"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        why.starts_with("refused before any weight moved: metric source `prom`"),
        "{why}"
    );
    // An error answer (a query Prometheus cannot parse) too; no data is fine.
    let broken = plan(&rig, &url, CHECKED, PHASES).replace("sum(increase(", "sum((increase(");
    let run = Running::start(&rig, "broken", &broken);
    let ev = ended("broken query", run.end(&rig), 1, BEFORE);
    assert!(finished(&ev)["reason"]["message"]
        .as_str()
        .unwrap()
        .contains("HTTP 400"));
}

#[test]
fn rollback_of_a_run_that_is_not_running_puts_haproxy_back_from_anywhere() {
    let rig = Rig::start(Options::default());
    let url = rig.prometheus_url.clone();
    let ok = CHECKED;
    // The newest run's id (ids start with their start time).
    let latest = || -> String {
        let runs = std::fs::read_dir(rig.dir.path().join("state/runs")).unwrap();
        let ids = runs.map(|e| e.unwrap().file_name().to_string_lossy().into_owned());
        ids.max().unwrap()
    };
    // A promoted run is put back only when asked with --promoted.
    let run = Running::start(&rig, "promoted", &plan(&rig, &url, ok, PHASES));
    ended("promoted", run.end(&rig), 0, PROMOTED);
    let promoted = latest();
    let (code, _, err) = rollgate(&rig, &["rollback", &promoted]);
    assert_eq!(code, 1);
    assert!(err.contains("--promoted"), "{err}");
    assert_eq!(rig.split(), PROMOTED);
    let (code, out, err) = rollgate(
        &rig,
        &["rollback", &promoted, "--promoted", "--by", "carol"],
    );
    assert_eq!(code, 3, "{out}{err}");
    assert_eq!(rig.split(), BEFORE);

    // A run killed mid-phase (SIGKILL: nothing of it runs) is taken over from another
    // directory, by the plan's absolute path, and rolled back.
    let run = Running::start(&rig, "killed", &plan(&rig, &url, ok, PHASES));
    run.wait("weight-shifted", at_25);
    run.signal("-KILL");
    let mut child = run.child;
    child.wait().unwrap();
    assert_eq!(rig.split(), AT_25, "SIGKILL leaves the canary serving");
    let killed = latest();
    let elsewhere = tempfile::tempdir().unwrap();
    let state = rig.dir.path().join("state");
    let out = Command::new(env!("CARGO_BIN_EXE_rollgate"))
        .args(["rollback", &killed, "--state-dir"])
        .arg(&state)
        .current_dir(elsewhere.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(rig.split(), BEFORE);
    let (code, out, _) = rollgate(&rig, &["rollback", &killed]);
    assert_eq!(code, 0);
    assert!(out.contains("nothing to put back"), "{out}");
}
