//! `rollgate run`, `resume`, `status`, `history`, gates: real runs against a router driven by a
//! command that writes a file, in wall time (phases of a second), journaled. Those about runs
//! and their journals run twice ([`on_both`]): kept in a directory, and in PostgreSQL.

use crate::cluster::Cluster;
use crate::support::root;
use rollgate::journal::{Store, Terms};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A scratch directory with a plan whose router is a file and whose metric is another; its
/// runs kept in its own `.rollgate`, or in a database of its own.
struct Rig<'a> {
    dir: tempfile::TempDir,
    /// The cluster and database its runs are kept in, if not in the directory, and its URL.
    postgres: Option<(&'a Cluster, String)>,
    url: Option<String>,
    store: Arc<dyn Store>,
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

/// Runs `test` with runs kept in a directory, then in PostgreSQL.
fn on_both(test: impl Fn(&Rig)) {
    test(&Rig::new());
    let cluster = Cluster::start();
    test(&Rig::in_postgres(&cluster));
}

fn scratch() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("plan.yaml"), PLAN).unwrap();
    std::fs::write(dir.path().join("router"), "0\n").unwrap();
    std::fs::write(dir.path().join("errors"), "0.001\n").unwrap();
    std::fs::write(dir.path().join("stable-errors"), "0.001\n").unwrap();
    dir
}

impl Rig<'static> {
    fn new() -> Rig<'static> {
        let dir = scratch();
        let store = rollgate::journal::open(
            &dir.path().join(".rollgate").display().to_string(),
            Terms::default(),
        )
        .unwrap_or_else(|_| panic!("a directory store"));
        Rig {
            dir,
            postgres: None,
            url: None,
            store,
        }
    }
}

impl<'a> Rig<'a> {
    /// Runs kept in a fresh database of `cluster`, with leases of a second (renewed every
    /// quarter) so a killed run can be resumed soon.
    fn in_postgres(cluster: &'a Cluster) -> Rig<'a> {
        static DATABASES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = DATABASES.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let db = format!("rig{n}");
        let url = cluster.database(&db);
        let store = rollgate::journal::open(&url, Terms::default())
            .unwrap_or_else(|_| panic!("the store at {url}"));
        Rig {
            dir: scratch(),
            postgres: Some((cluster, db)),
            url: Some(url),
            store,
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_rollgate"));
        c.args(args).current_dir(self.path());
        if let Some(url) = &self.url {
            c.env("ROLLGATE_STATE", url)
                .env("ROLLGATE_LEASE", "1s")
                .env("ROLLGATE_HEARTBEAT", "250ms");
        }
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

    /// Every run's id, oldest first.
    fn runs(&self) -> Vec<String> {
        self.store
            .list()
            .unwrap_or_default()
            .into_iter()
            .map(|r| r.header.run_id)
            .collect()
    }

    /// A run's journal: whole events only (a crash may leave a last line cut short).
    fn journal(&self, id: &str) -> Vec<Value> {
        self.store.read(id).unwrap().events
    }

    /// A run's journal, which must be whole: in a directory, no torn last line is left.
    fn whole_journal(&self, id: &str) -> Vec<Value> {
        if self.postgres.is_none() {
            let text = std::fs::read_to_string(
                self.path()
                    .join(".rollgate/runs")
                    .join(id)
                    .join("events.jsonl"),
            )
            .unwrap();
            assert!(
                text.is_empty() || text.ends_with('\n'),
                "a torn last line after resume"
            );
        }
        self.journal(id)
    }

    /// Whether the plan's concurrency group is held.
    fn locked(&self) -> bool {
        match &self.postgres {
            None => self
                .path()
                .join(".rollgate/locks/file-router.lock")
                .exists(),
            Some((cluster, db)) => {
                cluster.sql(
                    db,
                    "SELECT count(*) FROM rollgate_locks WHERE grp = 'file-router'",
                ) == "1"
            }
        }
    }

    /// `rollgate resume ID`, once the killed run's lease ran out where there is one.
    fn resume(&self, id: &str) -> (i32, String, String) {
        let start = Instant::now();
        loop {
            let (code, out, err) = self.run(&["resume", id]);
            if !err.contains("is owned by another process") {
                return (code, out, err);
            }
            assert!(start.elapsed() < Duration::from_secs(10), "{err}");
            std::thread::sleep(Duration::from_millis(100));
        }
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

fn kinds(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_healthy_run_is_promoted_and_journaled() {
    on_both(healthy_run);
}

fn healthy_run(rig: &Rig) {
    let (code, out, err) = rig.run(&["run", "plan.yaml"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        !out.contains('\x1b'),
        "no terminal codes when the output is not a terminal"
    );
    assert_eq!(rig.router(), "100");
    let runs = rig.runs();
    let ev = rig.whole_journal(&runs[0]);
    assert_eq!(ev.first().unwrap()["event"], "run-started");
    assert_eq!(ev.last().unwrap()["outcome"], "promoted");
    let header = rig.store.read(&runs[0]).unwrap().header;
    assert_eq!(header.plan_sha256.len(), 64);
    let (_, hist, _) = rig.run(&["history"]);
    assert!(hist.contains("plan.yaml  promoted"), "{hist}");
    let (_, status, _) = rig.run(&["status"]);
    assert!(status.contains(": promoted\n"), "{status}");
    assert!(
        status.contains("  router router: 0% before the run, last set to 100"),
        "{status}"
    );
    assert!(!rig.locked(), "the group is released");
}

#[test]
fn errors_roll_back_with_the_hook_told_why() {
    on_both(|rig| {
        std::fs::write(rig.path().join("errors"), "0.05\n").unwrap();
        let (code, out, _) = rig.run(&["run", "plan.yaml"]);
        assert_eq!(code, 3, "{out}");
        assert_eq!(rig.router(), "0");
        let hook = std::fs::read_to_string(rig.path().join("hook.log")).unwrap();
        assert!(hook.contains("error-rate 5% > max 1%"), "{hook}");
    });
}

#[test]
fn sigterm_rolls_back_before_exiting() {
    on_both(|rig| {
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
        let ev = rig.whole_journal(&rig.runs()[0]);
        assert!(ev.iter().any(|e| e["event"] == "rollback-started"
            && e["reason"]["message"] == "the run was cancelled"));
    });
}

#[test]
fn a_second_run_on_the_group_is_refused_naming_the_holder() {
    on_both(|rig| {
        let mut first = rig.spawn();
        wait_until("the first run taking the lock", || rig.locked());
        let (code, _, err) = rig.run(&["run", "plan.yaml"]);
        first.wait().unwrap();
        assert_eq!(code, 1);
        let holder = &rig.runs()[0];
        assert!(
            err.contains(&format!(
                "concurrency group `file-router` is held by run {holder}"
            )),
            "{err}"
        );
    });
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
/// resumes it, each time on a fresh rig from `rig`; `check` gets the rig, the journal before
/// and after resuming, and resume's exit code.
fn kill_and_resume<'a>(
    rig: &dyn Fn() -> Rig<'a>,
    plan: &str,
    boundaries: impl Iterator<Item = usize>,
    check: impl Fn(&Rig, usize, &[Value], &[Value], i32),
) {
    for k in boundaries {
        let rig = rig();
        std::fs::write(rig.path().join("plan.yaml"), plan).unwrap();
        let mut child = rig.spawn();
        let start = Instant::now();
        // Until k events are journaled, or the run ends on its own (a busy machine fits fewer
        // evaluations into a window, so a run may have fewer events than the reference run).
        let id = loop {
            let finished = child.try_wait().unwrap().is_some();
            if let Some(id) = rig.runs().pop() {
                if rig.journal(&id).len() >= k || finished {
                    break id;
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
        let before = rig.journal(&id);
        consistent(&before, k);
        let (code, out, err) = rig.resume(&id);
        let after = rig.whole_journal(&id);
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
        assert!(!rig.locked(), "boundary {k}: the group is still held");
        check(&rig, k, &before, &after, code);
    }
}

/// Kills `run` after each of its events in turn and resumes it: the router always ends where
/// it started, and no event written before the kill is lost. Kept in PostgreSQL, after every
/// fourth event (each resume there waits for the killed run's lease).
#[test]
fn killed_at_every_event_boundary_and_resumed_the_router_is_safe() {
    let full = {
        let rig = Rig::new();
        assert_eq!(rig.run(&["run", "plan.yaml"]).0, 0);
        kinds(&rig.journal(&rig.runs()[0]))
    };
    assert!(full.len() > 20, "{full:?}");
    let rolled_back = |rig: &Rig, k: usize, _: &[Value], after: &[Value], code: i32| {
        assert_eq!(code, 3, "boundary {k}");
        assert_eq!(
            rig.router(),
            "0",
            "boundary {k}: the router is not back where it was"
        );
        assert_eq!(after.last().unwrap()["outcome"], "rolled-back");
        let (_, status, _) = rig.run(&["status", &rig.runs()[0]]);
        assert!(status.contains("rolled-back"), "{status}");
    };
    kill_and_resume(&Rig::new, PLAN, 1..full.len() - 1, rolled_back);
    let cluster = Cluster::start();
    kill_and_resume(
        &|| Rig::in_postgres(&cluster),
        PLAN,
        (1..full.len() - 1).step_by(4),
        rolled_back,
    );
}

/// With `resume: continue`, a killed run picks up where it stopped and finishes the rollout,
/// without finishing any step twice.
#[test]
fn with_resume_continue_a_killed_run_finishes_its_rollout() {
    let plan = format!("{PLAN}resume: continue\n");
    let continued = |rig: &Rig, k: usize, before: &[Value], after: &[Value], code: i32| {
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
    };
    kill_and_resume(&Rig::new, &plan, (2..26).step_by(3), continued);
    let cluster = Cluster::start();
    kill_and_resume(
        &|| Rig::in_postgres(&cluster),
        &plan,
        (2..26).step_by(6),
        continued,
    );
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
    on_both(rate_limits);
}

fn rate_limits(rig: &Rig) {
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

/// The plan with a sign-off gate at 25% for alice.
fn gated() -> String {
    PLAN.replace(
        "strategy:\n  canary: { weights: [25, 50, 100], observe: 750ms }\n",
        "phases:\n  - { name: canary-25, weight: 25, observe: 250ms, gate: { approvers: [alice], timeout: 30s, on-timeout: rollback } }\n  - { name: full, weight: 100, observe: 250ms }\n",
    )
}

#[test]
fn a_gate_waits_for_its_approver_and_a_rejection_rolls_back() {
    on_both(|rig| {
        std::fs::write(rig.path().join("plan.yaml"), gated()).unwrap();
        let at_the_gate = || {
            let (_, status, _) = rig.run(&["status"]);
            status.contains("  waiting at `canary-25.gate` for alice: `rollgate approve ")
        };
        let mut run = rig.spawn();
        wait_until("the run waiting at its gate", at_the_gate);
        let (code, _, err) = rig.run(&["approve", "--by", "mallory"]);
        assert_eq!(code, 1, "{err}");
        assert!(
            err.contains("mallory is not among the approvers of `canary-25.gate` (alice)"),
            "{err}"
        );
        let (code, out, err) = rig.run(&["approve", "--by", "alice"]);
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("approved `canary-25.gate` of run "), "{out}");
        assert_eq!(run.wait().unwrap().code(), Some(0));
        assert_eq!(rig.router(), "100");

        std::fs::write(rig.path().join("router"), "0\n").unwrap();
        let mut run = rig.spawn();
        wait_until("the second run waiting at its gate", at_the_gate);
        let (code, _, err) = rig.run(&["reject", "--by", "alice"]);
        assert_eq!(code, 0, "{err}");
        assert_eq!(run.wait().unwrap().code(), Some(3));
        assert_eq!(rig.router(), "0");
        let runs = rig.runs();
        let decided: Vec<(Value, Value)> = rig
            .whole_journal(&runs[1])
            .into_iter()
            .filter(|e| e["event"] == "gate-decided")
            .map(|e| (e["decision"].clone(), e["by"].clone()))
            .collect();
        assert_eq!(decided, [("rejected".into(), "alice".into())]);
        let (_, hist, _) = rig.run(&["history"]);
        assert!(
            hist.contains("plan.yaml  promoted\n") && hist.contains("plan.yaml  rolled-back\n"),
            "{hist}"
        );

        // Rolled back on request while it waits; then its metric answers become a fixture
        // that replays to the same ending.
        let mut run = rig.spawn();
        wait_until("the third run waiting at its gate", at_the_gate);
        let third = rig.runs().pop().unwrap();
        let (code, out, err) = rig.run(&["rollback", &third, "--by", "bob"]);
        assert_eq!(code, 0, "{err}");
        assert_eq!(out, format!("asked run {third} to roll back, as bob\n"));
        assert_eq!(run.wait().unwrap().code(), Some(3));
        assert_eq!(rig.router(), "0");
        let (_, status, _) = rig.run(&["status", &third]);
        assert!(status.contains(": rolled-back\n"), "{status}");
        let (code, _, err) = rig.run(&["record", "--run", &third, "--out", "recorded.yaml"]);
        assert_eq!(code, 0, "{err}");
        let fixture = std::fs::read_to_string(rig.path().join("recorded.yaml")).unwrap();
        assert!(fixture.contains("stable-errors"), "{fixture}");
    });
}

#[test]
fn rust_log_turns_on_logs_of_every_event_in_the_runs_span() {
    let rig = Rig::new();
    let quiet = rig.run(&["run", "plan.yaml"]);
    assert!(
        !quiet.2.contains(" INFO "),
        "no logs unless asked: {}",
        quiet.2
    );
    std::fs::write(rig.path().join("router"), "0\n").unwrap();
    let out = rig
        .cmd(&["run", "plan.yaml"])
        .env("RUST_LOG", "rollgate=info")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    let shifted = err
        .lines()
        .find(|l| l.contains("event=\"weight-shifted\""))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(shifted.contains(" INFO run{run_id="), "{shifted}");
    assert!(shifted.contains("router: 0% → 25%"), "{shifted}");
}
