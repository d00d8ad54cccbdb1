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
