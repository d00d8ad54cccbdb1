//! Safety beyond one router kind: a run refuses to start on a canary an earlier rollout left
//! promoted (its rollback would send traffic back onto it), and a dead metric source is said
//! once per cause, not once per query.

use crate::support::said;
use std::path::Path;
use std::process::{Command, Output};

const PROMOTING: &str = "name: file canary
providers:
  router: { kind: traffic-command, set: 'echo $ROLLGATE_CANARY_WEIGHT > router', get: cat router }
  metrics: { kind: metrics-command, run: cat errors }
interval: 100ms
checks:
  errors: { source: metrics, canary: errors, max: 1% }
strategy:
  canary: { weights: [10, 100], observe: 300ms }
";

fn run(dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rollgate"))
        .args(["run", "plan.yaml", "--state-dir", "state"])
        .current_dir(dir)
        .env_remove("GITHUB_ACTIONS")
        .output()
        .unwrap()
}

#[test]
fn a_run_after_an_unfinalized_promotion_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("plan.yaml"), PROMOTING).unwrap();
    std::fs::write(dir.path().join("router"), "0").unwrap();
    std::fs::write(dir.path().join("errors"), "0.001").unwrap();
    let out = run(dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", said(&out));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("router"))
            .unwrap()
            .trim(),
        "100"
    );
    // The next release fails at 10%: a rollback "to the state before the run" would be 100%.
    std::fs::write(dir.path().join("errors"), "0.08").unwrap();
    let out = run(dir.path());
    let text = said(&out);
    assert_eq!(out.status.code(), Some(5), "{text}");
    assert!(
        text.contains("router router already sends the canary 100% before the run, more than this plan's first step (10%)"),
        "{text}"
    );
    assert!(text.contains("nothing had moved"), "{text}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("router"))
            .unwrap()
            .trim(),
        "100"
    );
}

#[test]
fn a_dead_metric_source_is_said_once_per_cause_with_its_count() {
    let dir = tempfile::tempdir().unwrap();
    let checks: String = ["a", "b", "c", "d", "e"]
        .iter()
        .map(|c| format!("  {c}: {{ source: prom, canary: 'sum(rate({c}[1m]))', max: 1% }}\n"))
        .collect();
    let plan = format!("name: dead source\nproviders:\n  router: {{ kind: traffic-command, set: 'echo $ROLLGATE_CANARY_WEIGHT > router', get: cat router }}\n  prom: {{ kind: prometheus, url: 'http://127.0.0.1:1' }}\ninterval: 200ms\nchecks:\n{checks}strategy:\n  canary: {{ weights: [25, 100], observe: 1s }}\n");
    std::fs::write(dir.path().join("plan.yaml"), plan).unwrap();
    std::fs::write(dir.path().join("router"), "0").unwrap();
    let out = run(dir.path());
    let text = said(&out);
    assert_ne!(out.status.code(), Some(0), "{text}");
    let id = crate::support::only_run(&dir.path().join("state"));
    let journal = dir.path().join(format!("state/runs/{id}/events.jsonl"));
    let journal = std::fs::read_to_string(journal).unwrap();
    let finished: serde_json::Value = journal
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|e| e["event"] == "run-finished")
        .unwrap();
    let reason = finished["reason"]["message"].as_str().unwrap();
    assert_eq!(reason.matches("Connection refused").count(), 1, "{reason}");
    assert!(
        reason.contains("(5 queries, checks a, b, c, d, e)"),
        "{reason}"
    );
    assert_eq!(
        text.matches("Connection refused").count(),
        text.lines()
            .filter(|l| l.contains("Connection refused"))
            .count(),
        "{text}"
    );
}

/// A plan whose commands use an input and the plan's `env`, each logging what it was given.
const HOSTILE_INPUT: &str = r#"name: bound inputs
inputs:
  release: { type: string, required: true }
env:
  APP: shop
providers:
  router:
    kind: traffic-command
    set: printf '%s|%s|%s\n' "${{ inputs.release }}" "$APP" $ROLLGATE_CANARY_WEIGHT >> seen; echo $ROLLGATE_CANARY_WEIGHT > router
    get: cat router
  metrics: { kind: metrics-command, run: "printf '%s\n' ${{ inputs.release }} >> asked; cat errors" }
interval: 100ms
checks:
  errors: { source: metrics, canary: errors, max: 1% }
strategy:
  canary: { weights: [25, 100], observe: 30s }
"#;

/// An input that would run commands if it became shell text.
const INJECTED: &str = "$(touch pwned); touch pwned-too `touch pwned-three`";

#[test]
fn inputs_reach_commands_as_literal_values_in_a_run_and_its_resume() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("plan.yaml"), HOSTILE_INPUT).unwrap();
    std::fs::write(dir.path().join("router"), "0").unwrap();
    std::fs::write(dir.path().join("errors"), "0.001").unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rollgate"));
    cmd.args([
        "run",
        "plan.yaml",
        "--state-dir",
        "state",
        "--json",
        "--input",
    ])
    .arg(format!("release={INJECTED}"))
    .current_dir(dir.path())
    .env_remove("GITHUB_ACTIONS");
    let (mut child, events) = crate::support::Events::spawn(&mut cmd);
    events.wait_where("weight-shifted", |e| e["to"]["percent"] == 25);
    child.kill().unwrap();
    child.wait().unwrap();
    let id = crate::support::only_run(&dir.path().join("state"));
    let elsewhere = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rollgate"))
        .args(["resume", &id, "--state-dir"])
        .arg(dir.path().join("state"))
        .current_dir(elsewhere.path())
        .env_remove("GITHUB_ACTIONS")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", said(&out));
    let seen = std::fs::read_to_string(dir.path().join("seen")).unwrap();
    // The shift by the run, the restore by the resume: both given the value as it is.
    assert_eq!(
        seen.lines().collect::<Vec<_>>(),
        [format!("{INJECTED}|shop|25"), format!("{INJECTED}|shop|0")]
    );
    let asked = std::fs::read_to_string(dir.path().join("asked")).unwrap();
    assert!(asked.lines().all(|l| l == INJECTED), "{asked}");
    for d in [dir.path(), elsewhere.path()] {
        for f in ["pwned", "pwned-too", "pwned-three"] {
            assert!(
                !d.join(f).exists(),
                "{f} was created: an input ran as shell"
            );
        }
    }
    // The journal keeps the commands as the plan wrote them.
    let journal =
        std::fs::read_to_string(dir.path().join(format!("state/runs/{id}/events.jsonl"))).unwrap();
    assert!(!journal.contains("ROLLGATE_EXPR_"), "{journal}");
}
