//! `rollgate run`, `resume`, `status`, `history`: real runs against a router driven by a
//! command that writes a file, in wall time (phases of a second), journaled.

use crate::support::root;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A scratch directory with a plan whose router is a file and whose metric is another.
struct Rig {
    dir: tempfile::TempDir,
}

const PLAN: &str = r#"
name: file-router canary
providers:
  router:
    kind: traffic-command
    set: echo $ROLLGATE_CANARY_WEIGHT > router
    get: cat router
  metrics:
    kind: metrics-command
    run: cat errors
interval: 250ms
checks:
  error-rate: { source: metrics, canary: errors, baseline: stable-errors, max: 1% }
strategy:
  canary: { weights: [25, 50, 100], observe: 750ms }
rollback:
  run: echo "$ROLLGATE_ROLLBACK_REASON" >> hook.log
  verify: { observe: 250ms }
concurrency: file-router
"#;

impl Rig {
    fn new() -> Rig {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("plan.yaml"), PLAN).unwrap();
        std::fs::write(dir.path().join("router"), "0\n").unwrap();
        std::fs::write(dir.path().join("errors"), "0.001\n").unwrap();
        std::fs::write(dir.path().join("stable-errors"), "0.001\n").unwrap();
        Rig { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_rollgate"));
        c.args(args).current_dir(self.path());
        c
    }

    /// `rollgate run plan.yaml` in the background, its output discarded.
    fn spawn(&self) -> std::process::Child {
        self.cmd(&["run", "plan.yaml"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    }

    fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = self.cmd(args).output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into(),
            String::from_utf8_lossy(&out.stderr).into(),
        )
    }

    fn router(&self) -> String {
        std::fs::read_to_string(self.path().join("router"))
            .unwrap()
            .trim()
            .to_string()
    }

    fn runs(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(self.path().join(".rollgate/runs"))
            .map(|d| d.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default();
        v.sort();
        v
    }
}

/// Polls `happened` until it holds, failing the test after 10 s.
fn wait_until(what: &str, happened: impl Fn() -> bool) {
    crate::rig::wait_for(
        &format!("{what} did not happen"),
        Duration::from_secs(10),
        happened,
    );
}

fn journal(run: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(run.join("events.jsonl")).unwrap();
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "a torn last line after resume"
    );
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn kinds(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_healthy_run_is_promoted_and_journaled() {
    let rig = Rig::new();
    let (code, out, err) = rig.run(&["run", "plan.yaml"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        !out.contains('\x1b'),
        "no terminal codes when the output is not a terminal"
    );
    assert_eq!(rig.router(), "100");
    let runs = rig.runs();
    let ev = journal(&runs[0]);
    assert_eq!(ev.first().unwrap()["event"], "run-started");
    assert_eq!(ev.last().unwrap()["outcome"], "promoted");
    let header: Value =
        serde_json::from_str(&std::fs::read_to_string(runs[0].join("run.json")).unwrap()).unwrap();
    assert_eq!(header["plan_sha256"].as_str().unwrap().len(), 64);
    let (_, hist, _) = rig.run(&["history"]);
    assert!(hist.contains("plan.yaml  promoted"), "{hist}");
    assert!(
        !rig.path().join(".rollgate/locks/file-router.lock").exists(),
        "the group is released"
    );
}

#[test]
fn errors_roll_back_with_the_hook_told_why() {
    let rig = Rig::new();
    std::fs::write(rig.path().join("errors"), "0.05\n").unwrap();
    let (code, out, _) = rig.run(&["run", "plan.yaml"]);
    assert_eq!(code, 3, "{out}");
    assert_eq!(rig.router(), "0");
    let hook = std::fs::read_to_string(rig.path().join("hook.log")).unwrap();
    assert!(hook.contains("error-rate 5% > max 1%"), "{hook}");
}

#[test]
fn sigterm_rolls_back_before_exiting() {
    let rig = Rig::new();
    let mut child = rig.spawn();
    let start = Instant::now();
    wait_until("the run shifting the router", || rig.router() != "0");
    Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(3));
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_eq!(rig.router(), "0");
    let ev = journal(&rig.runs()[0]);
    assert!(ev
        .iter()
        .any(|e| e["event"] == "rollback-started"
            && e["reason"]["message"] == "the run was cancelled"));
}

#[test]
fn a_second_run_on_the_group_is_refused_naming_the_holder() {
    let rig = Rig::new();
    let mut first = rig.spawn();
    wait_until("the first run taking the lock", || {
        rig.path().join(".rollgate/locks/file-router.lock").exists()
    });
    let (code, _, err) = rig.run(&["run", "plan.yaml"]);
    first.wait().unwrap();
    assert_eq!(code, 1);
    let holder = rig.runs()[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .to_string();
    assert!(
        err.contains(&format!(
            "concurrency group `file-router` is held by run {holder}"
        )),
        "{err}"
    );
}

#[test]
fn plans_run_cannot_do_yet_are_refused_up_front() {
    let state = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_rollgate"))
            .args(args)
            .arg("--state-dir")
            .arg(state.path())
            .env_remove("TEAMS_WEBHOOK")
            .env_remove("GITHUB_REPOSITORY")
            .current_dir(root())
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    // A gate decided by PR comments needs a GitHub repository to read them from.
    let (code, err) = run(&[
        "run",
        "workflows/model-config-rollout.yaml",
        "--input",
        "model=m2",
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("`gh` (github): GITHUB_REPOSITORY is not set: the GitHub provider needs to know the repository (Actions sets it; elsewhere set it to OWNER/REPO)"), "{err}");
    assert!(
        err.contains("= help: rehearse it with `rollgate dry-run"),
        "{err}"
    );
    // Secrets come from the environment; a missing one is named before anything moves.
    let (code, err) = run(&[
        "run",
        "workflows/mesh-environments.yaml",
        "--input",
        "version=v9",
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("the plan reads `secrets.TEAMS_WEBHOOK`, and the environment variable `TEAMS_WEBHOOK` is not set"), "{err}");
    assert!(!state.path().join("runs").exists(), "nothing was started");
}

/// Kills `run` with SIGKILL once `k` events are journaled, for each `k` of `boundaries`, then
/// resumes it; `check` gets the rig, the journal before and after resuming, and resume's exit code.
fn kill_and_resume(
    plan: &str,
    boundaries: impl Iterator<Item = usize>,
    check: impl Fn(&Rig, usize, &[Value], &[Value], i32),
) {
    for k in boundaries {
        let rig = Rig::new();
        std::fs::write(rig.path().join("plan.yaml"), plan).unwrap();
        let mut child = rig.spawn();
        let start = Instant::now();
        // Until k events are journaled, or the run ends on its own (a busy machine fits fewer
        // evaluations into a window, so a run may have fewer events than the reference run).
        let run = loop {
            let finished = child.try_wait().unwrap().is_some();
            if let Some(run) = rig.runs().pop() {
                let lines = std::fs::read_to_string(run.join("events.jsonl"))
                    .map(|t| t.lines().count())
                    .unwrap_or(0);
                if lines >= k || finished {
                    break run;
                }
            }
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "boundary {k}: the run did not get there"
            );
            std::thread::sleep(Duration::from_millis(2));
        };
        let _ = child.kill();
        child.wait().unwrap();
        let before = journal_lenient(&run);
        consistent(&before, k);
        let id = run.file_name().unwrap().to_string_lossy().to_string();
        let (code, out, err) = rig.run(&["resume", &id]);
        let after = journal(&run);
        if before.last().unwrap()["event"] == "run-finished" {
            assert_eq!(code, 0, "boundary {k}: {out}{err}");
            assert!(out.contains("already finished"), "{out}");
            continue;
        }
        assert_eq!(
            kinds(&after)[..before.len()],
            kinds(&before)[..],
            "boundary {k}: resume lost events"
        );
        assert!(
            after[before.len()..]
                .iter()
                .any(|e| e["event"] == "run-resumed"),
            "boundary {k}"
        );
        assert!(
            !rig.path().join(".rollgate/locks/file-router.lock").exists(),
            "boundary {k}: the group is still held"
        );
        check(&rig, k, &before, &after, code);
    }
}

/// Kills `run` after each of its events in turn and resumes it: the router always ends where
/// it started, and no event written before the kill is lost.
#[test]
fn killed_at_every_event_boundary_and_resumed_the_router_is_safe() {
    let full = {
        let rig = Rig::new();
        assert_eq!(rig.run(&["run", "plan.yaml"]).0, 0);
        kinds(&journal(&rig.runs()[0]))
    };
    assert!(full.len() > 20, "{full:?}");
    kill_and_resume(PLAN, 1..full.len() - 1, |rig, k, _, after, code| {
        assert_eq!(code, 3, "boundary {k}");
        assert_eq!(
            rig.router(),
            "0",
            "boundary {k}: the router is not back where it was"
        );
        assert_eq!(after.last().unwrap()["outcome"], "rolled-back");
        let id = rig.runs()[0]
            .file_name()
            .unwrap()
            .to_string_lossy()
            .to_string();
        let (_, status, _) = rig.run(&["status", &id]);
        assert!(status.contains("rolled-back"), "{status}");
    });
}

/// With `resume: continue`, a killed run picks up where it stopped and finishes the rollout,
/// without finishing any step twice.
#[test]
fn with_resume_continue_a_killed_run_finishes_its_rollout() {
    let plan = format!("{PLAN}resume: continue\n");
    kill_and_resume(&plan, (2..26).step_by(3), |rig, k, before, after, code| {
        assert_eq!(code, 0, "boundary {k}");
        assert_eq!(rig.router(), "100", "boundary {k}");
        assert_eq!(after.last().unwrap()["outcome"], "promoted");
        // No step finishes twice, except an observation killed before its evaluation ran: its
        // verdicts died with the process, so it watches again (by design).
        let finished_before = |step: &str| {
            before
                .iter()
                .any(|e| e["event"] == "step-finished" && e["step"] == step)
        };
        let mut finished: Vec<&str> = after
            .iter()
            .filter(|e| e["event"] == "step-finished")
            .filter_map(|e| e["step"].as_str())
            .collect();
        finished.sort();
        for pair in finished.windows(2).filter(|w| w[0] == w[1]) {
            let step = pair[0];
            let watched_again = step
                .strip_suffix(".observe")
                .is_some_and(|phase| !finished_before(&format!("{phase}.evaluate")));
            assert!(watched_again, "boundary {k}: {step} finished twice");
        }
        let shifted_before = before
            .iter()
            .filter(|e| e["event"] == "weight-shifted")
            .count();
        let resumed = after
            .iter()
            .position(|e| e["event"] == "run-resumed")
            .unwrap();
        let weights_after: Vec<u64> = after[resumed..]
            .iter()
            .filter(|e| e["event"] == "weight-shifted")
            .filter_map(|e| e["to"]["percent"].as_u64())
            .collect();
        assert!(
            weights_after.windows(2).all(|w| w[0] < w[1]),
            "boundary {k}: weights after resuming go {weights_after:?}"
        );
        assert!(
            shifted_before + weights_after.len() <= 4,
            "boundary {k}: a shift was repeated"
        );
    });
}

/// What any journal must show, wherever the run was killed: it starts with the run, every
/// router's state is captured before its first shift, and every finished step was started.
fn consistent(events: &[Value], k: usize) {
    assert_eq!(
        events.first().map(|e| e["event"].clone()),
        Some(Value::from("run-started")),
        "boundary {k}"
    );
    let mut captured = std::collections::BTreeSet::new();
    let mut started = std::collections::BTreeSet::new();
    for e in events {
        match e["event"].as_str().unwrap() {
            "router-captured" => {
                captured.insert(e["router"].as_str().unwrap().to_string());
            }
            "weight-shifted" => assert!(
                captured.contains(e["router"].as_str().unwrap()),
                "boundary {k}: a shift before its router's state was captured"
            ),
            "step-started" => {
                started.insert(e["step"].as_str().unwrap().to_string());
            }
            "step-finished" => assert!(
                started.contains(e["step"].as_str().unwrap()),
                "boundary {k}: a step finished that never started"
            ),
            _ => {}
        }
    }
}

/// The journal as a crash left it: whole lines only.
fn journal_lenient(run: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(run.join("events.jsonl")).unwrap();
    let whole = text.rfind('\n').map(|i| &text[..i]).unwrap_or("");
    whole
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn on_a_terminal_a_live_status_line_follows_the_run() {
    let rig = Rig::new();
    let script = crate::support::tool("script", "apt-get install -y bsdutils");
    // `script` gives the run a pseudo-terminal and copies what it draws to our stdout.
    let out = Command::new(script)
        .args([
            "-qec",
            &format!("{} run plan.yaml", env!("CARGO_BIN_EXE_rollgate")),
            "/dev/null",
        ])
        .current_dir(rig.path())
        .output()
        .unwrap();
    let screen = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{screen}");
    assert!(
        screen.contains("\r\x1b[2K▶ "),
        "no status line drawn:\n{screen:?}"
    );
    assert!(
        screen.contains("router 100%") && screen.contains("error-rate 0.0010 ok"),
        "{screen:?}"
    );
    assert!(
        screen.ends_with("\r\x1b[2K"),
        "the status line is cleared at the end: {:?}",
        screen
            .chars()
            .rev()
            .take(80)
            .collect::<String>()
            .chars()
            .rev()
            .collect::<String>()
    );
}

#[test]
fn rollbacks_per_hour_and_cool_down_are_enforced_from_the_journals() {
    let rig = Rig::new();
    std::fs::write(rig.path().join("errors"), "0.05\n").unwrap();
    let limited = |extra: &str| {
        PLAN.replace(
            "  verify: { observe: 250ms }\n",
            &format!("  verify: {{ observe: 250ms }}\n{extra}"),
        )
    };
    std::fs::write(rig.path().join("plan.yaml"), limited("  cool-down: 1h\n")).unwrap();
    assert_eq!(rig.run(&["run", "plan.yaml"]).0, 3);
    let (code, _, err) = rig.run(&["run", "plan.yaml"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("plan `file-router canary` rolled back at")
            && err.contains("with rollback.cool-down 1h the next run may start at"),
        "{err}"
    );
    std::fs::write(rig.path().join("plan.yaml"), limited("  max-per-hour: 1\n")).unwrap();
    let (code, _, err) = rig.run(&["run", "plan.yaml"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("rolled back 1 time in the last hour (rollback.max-per-hour: 1)"),
        "{err}"
    );
    std::fs::write(rig.path().join("plan.yaml"), limited("  max-per-hour: 2\n")).unwrap();
    assert_eq!(
        rig.run(&["run", "plan.yaml"]).0,
        3,
        "a second rollback within the hour is allowed at 2"
    );
}
