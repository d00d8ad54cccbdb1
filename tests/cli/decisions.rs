//! Gates of a real run decided from a terminal (`rollgate approve|reject RUN`), and a rollback
//! asked for (`rollgate rollback RUN`), against a run going on in the background.

use crate::support::Events;
use std::process::Command;

const PLAN: &str = "name: gated\nproviders:\n  router: { kind: traffic-command, set: 'echo $ROLLGATE_CANARY_WEIGHT > router', get: cat router }\n  metrics: { kind: metrics-command, run: echo 0.001 }\ninterval: 100ms\nchecks:\n  errors: { source: metrics, canary: errors, max: 1% }\nphases:\n  - { name: canary-25, weight: 25, observe: 200ms, gate: { approvers: [alice], timeout: 30s, on-timeout: rollback } }\n  - { name: full, weight: 100, observe: 200ms }\n";

struct Rig {
    dir: tempfile::TempDir,
}

impl Rig {
    fn new() -> Rig {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("plan.yaml"), PLAN).unwrap();
        std::fs::write(dir.path().join("router"), "0\n").unwrap();
        Rig { dir }
    }

    fn rollgate(&self, args: &[&str]) -> (i32, String, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_rollgate"))
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8_lossy(&out.stdout).into(),
            String::from_utf8_lossy(&out.stderr).into(),
        )
    }

    /// `rollgate run plan.yaml --json` in the background: the process, and its events.
    fn start(&self) -> (std::process::Child, Events) {
        Events::spawn(
            Command::new(env!("CARGO_BIN_EXE_rollgate"))
                .args(["run", "plan.yaml", "--json"])
                .current_dir(self.dir.path()),
        )
    }

    fn router(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("router"))
            .unwrap()
            .trim()
            .to_string()
    }
}

#[test]
fn an_approver_lets_the_run_go_on_and_anyone_else_is_refused() {
    let rig = Rig::new();
    let (mut run, rx) = rig.start();
    let waiting = rx.wait_for("gate-waiting");
    assert_eq!(waiting["step"], "canary-25.gate");
    let (code, out, _) = rig.rollgate(&["status"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("  waiting at `canary-25.gate` for alice: `rollgate approve "),
        "{out}"
    );
    let (code, _, err) = rig.rollgate(&["approve", "--by", "mallory"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("mallory is not among the approvers of `canary-25.gate` (alice)"),
        "{err}"
    );
    let (code, _, err) = rig.rollgate(&["approve", "--gate", "full", "--by", "alice"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("waits at `canary-25.gate`, not `full`"),
        "{err}"
    );
    let (code, out, _) = rig.rollgate(&["approve", "--gate", "canary-25", "--by", "alice"]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with("approved `canary-25.gate` of run "),
        "{out}"
    );
    let decided = rx.wait_for("gate-decided");
    assert_eq!(
        (decided["decision"].as_str(), decided["by"].as_str()),
        (Some("approved"), Some("alice"))
    );
    assert_eq!(rx.wait_for("run-finished")["outcome"], "promoted");
    assert_eq!(run.wait().unwrap().code(), Some(0));
    assert_eq!(rig.router(), "100");
    let (code, _, err) = rig.rollgate(&["approve", "--by", "alice"]);
    assert_eq!(code, 2, "no run is going on");
    assert!(err.contains("no running run in .rollgate;"), "{err}");
}

#[test]
fn a_rejection_rolls_back() {
    let rig = Rig::new();
    let (mut run, rx) = rig.start();
    rx.wait_for("gate-waiting");
    let (code, out, _) = rig.rollgate(&["reject", "--by", "alice"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(rx.wait_for("run-finished")["outcome"], "rolled-back");
    assert_eq!(run.wait().unwrap().code(), Some(3));
    assert_eq!(rig.router(), "0");
}

#[test]
fn a_rollback_asked_for_from_a_terminal_happens_at_once() {
    let rig = Rig::new();
    let (mut run, rx) = rig.start();
    let started = rx.wait_for("gate-waiting");
    assert_eq!(started["step"], "canary-25.gate");
    let (code, out, _) = rig.rollgate(&["rollback", "--by", "bob"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("asked run ") && out.contains("to roll back, as bob"),
        "{out}"
    );
    let rb = rx.wait_for("rollback-started");
    assert_eq!(rb["reason"]["message"], "rollback requested by bob");
    assert_eq!(rx.wait_for("run-finished")["outcome"], "rolled-back");
    assert_eq!(run.wait().unwrap().code(), Some(3));
    assert_eq!(rig.router(), "0");
}
