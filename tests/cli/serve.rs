//! `rollgate serve`: the real binary on loopback, driven over HTTP as a platform team would:
//! tokens and roles, starting runs from its plans directory, watching them, deciding their
//! gates, errors that say what to do.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const OPERATOR: &str = "0123456789abcdef0123";
const VIEWER: &str = "fedcba9876543210fedc";

/// A canary at 25% held at alice's gate, its router a file beside the service.
const GATED: &str = "name: gated\nproviders:\n  router: { kind: traffic-command, set: 'echo $ROLLGATE_CANARY_WEIGHT > router', get: cat router }\n  metrics: { kind: metrics-command, run: echo 0.001 }\ninterval: 100ms\nchecks:\n  errors: { source: metrics, canary: errors, max: 1% }\nphases:\n  - { name: canary-25, weight: 25, observe: 200ms, gate: { approvers: [alice], timeout: 1m, on-timeout: rollback } }\n  - { name: full, weight: 100, observe: 200ms }\n";

/// A service on a free port, in a directory with its plans, tokens and router; killed when
/// dropped.
struct Service {
    dir: PathBuf,
    child: Child,
    url: String,
    /// What it says after its first line.
    stderr: BufReader<std::process::ChildStderr>,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A directory with plans, tokens and a router at 0, for services to run in.
fn prepared() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("plans")).unwrap();
    std::fs::write(dir.path().join("plans/gated.yaml"), GATED).unwrap();
    std::fs::write(
        dir.path().join("plans/broken.yaml"),
        GATED.replace("max: 1%", "max: lots"),
    )
    .unwrap();
    std::fs::write(dir.path().join("router"), "0\n").unwrap();
    std::fs::write(
        dir.path().join("tokens"),
        format!("# who\noperate alice {OPERATOR}\nread viewer {VIEWER}\n"),
    )
    .unwrap();
    dir
}

impl Service {
    /// A service in `dir`, with `env` added (a store, short leases).
    fn start_in(dir: &Path, env: &[(&str, &str)]) -> Service {
        let mut child = Command::new(env!("CARGO_BIN_EXE_rollgate"))
            .args(["serve", "--listen", "127.0.0.1:0", "--plans", "plans"])
            .args(["--tokens", "tokens", "--reap-every", "200ms"])
            .envs(env.iter().copied())
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut first = String::new();
        stderr.read_line(&mut first).unwrap();
        let url = first
            .split("listening on ")
            .nth(1)
            .and_then(|r| r.split(' ').next())
            .unwrap_or_else(|| panic!("no address in {first:?}"))
            .to_string();
        Service {
            dir: dir.to_path_buf(),
            child,
            url,
            stderr,
        }
    }

    fn path(&self) -> &Path {
        &self.dir
    }

    /// Sends SIGTERM and waits: its exit code and what it said meanwhile.
    fn terminate(mut self) -> (Option<i32>, String) {
        crate::support::signal(&self.child, "-TERM");
        let code = self.child.wait().unwrap().code();
        let mut said = String::new();
        std::io::Read::read_to_string(&mut self.stderr, &mut said).unwrap();
        (code, said)
    }

    /// `method path` with `token` and a JSON `body`: the status and the JSON answer.
    fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> (u16, Value) {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(10)))
            .build()
            .into();
        let url = format!("{}{path}", self.url);
        let mut req = ureq::http::Request::builder().method(method).uri(&url);
        if let Some(t) = token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        if body.is_some() {
            req = req.header("Content-Type", "application/json");
        }
        let mut answer = agent
            .run(req.body(body.unwrap_or("").to_string()).unwrap())
            .unwrap();
        let status = answer.status().as_u16();
        let text = answer.body_mut().read_to_string().unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    fn router(&self) -> String {
        std::fs::read_to_string(self.path().join("router"))
            .unwrap()
            .trim()
            .to_string()
    }

    /// Polls run `id` until `holds`, failing after 10 s.
    fn wait_for(&self, id: &str, what: &str, holds: impl Fn(&Value) -> bool) -> Value {
        let start = Instant::now();
        loop {
            let (_, run) = self.call("GET", &format!("/api/runs/{id}"), Some(VIEWER), None);
            if holds(&run) {
                return run;
            }
            if start.elapsed() > Duration::from_secs(10) {
                let (_, ready) = self.call("GET", "/readyz", None, None);
                panic!("{what}: {run}; {ready}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[test]
fn a_team_starts_watches_and_decides_runs_over_http() {
    let dir = prepared();
    let s = Service::start_in(dir.path(), &[]);
    assert_eq!(s.call("GET", "/healthz", None, None), (200, "ok\n".into()));
    let (code, ready) = s.call("GET", "/readyz", None, None);
    assert_eq!((code, &ready["ready"]), (200, &Value::Bool(true)));

    // Without a token, with a reader's, with one nobody has.
    let start = Some(r#"{"plan": "gated"}"#);
    let (code, err) = s.call("POST", "/api/runs", None, start);
    assert_eq!(code, 401);
    assert!(
        err["error"]
            .as_str()
            .unwrap()
            .contains("Authorization: Bearer TOKEN"),
        "{err}"
    );
    let (code, err) = s.call("POST", "/api/runs", Some(VIEWER), start);
    assert_eq!(code, 403);
    assert_eq!(
        err["error"],
        "viewer has a `read` token; this needs an `operate` one"
    );
    let (code, _) = s.call("GET", "/api/runs", Some("not-a-token-of-theirs"), None);
    assert_eq!(code, 401);

    let (code, started) = s.call("POST", "/api/runs", Some(OPERATOR), start);
    assert_eq!(code, 201, "{started}");
    let id = started["run"].as_str().unwrap().to_string();
    assert_eq!(started["url"], format!("/api/runs/{id}"));
    let waiting = s.wait_for(&id, "waiting at its gate", |r| !r["waiting"].is_null());
    assert_eq!(waiting["state"], "running");
    assert_eq!(waiting["waiting"]["step"], "canary-25.gate");
    assert_eq!(s.router(), "25");
    // The approver is the token's holder: a reader may not, alice may.
    let (code, _) = s.call(
        "POST",
        &format!("/api/runs/{id}/approve"),
        Some(VIEWER),
        None,
    );
    assert_eq!(code, 403);
    let (code, said) = s.call(
        "POST",
        &format!("/api/runs/{id}/approve"),
        Some(OPERATOR),
        None,
    );
    assert_eq!(code, 200, "{said}");
    assert_eq!(
        said["message"],
        format!("approved `canary-25.gate` of run {id} as alice")
    );
    s.wait_for(&id, "promoted", |r| r["state"] == "promoted");
    assert_eq!(s.router(), "100");
    let (_, events) = s.call("GET", &format!("/api/runs/{id}/events"), Some(VIEWER), None);
    let kinds: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.first(), Some(&"run-started"));
    assert_eq!(kinds.last(), Some(&"run-finished"));
    assert!(kinds.contains(&"gate-decided"), "{kinds:?}");

    // A second run, rolled back on request while it waits; the list filters by state.
    std::fs::write(s.path().join("router"), "0\n").unwrap();
    let (_, second) = s.call("POST", "/api/runs", Some(OPERATOR), start);
    let second = second["run"].as_str().unwrap().to_string();
    s.wait_for(&second, "waiting at its gate", |r| !r["waiting"].is_null());
    let (code, said) = s.call(
        "POST",
        &format!("/api/runs/{second}/rollback"),
        Some(OPERATOR),
        None,
    );
    assert_eq!(code, 200, "{said}");
    s.wait_for(&second, "rolled back", |r| r["state"] == "rolled-back");
    assert_eq!(s.router(), "0");
    let (_, promoted) = s.call("GET", "/api/runs?state=promoted", Some(VIEWER), None);
    assert_eq!(promoted.as_array().unwrap().len(), 1, "{promoted}");
    assert_eq!(promoted[0]["run"], id.as_str());
    let (_, by_plan) = s.call("GET", "/api/runs?plan=gated", Some(VIEWER), None);
    assert_eq!(by_plan.as_array().unwrap().len(), 2, "{by_plan}");
    // Counted from the store, by plan, outcome and what rolled it back.
    let (code, stats) = s.call("GET", "/api/stats", Some(VIEWER), None);
    assert_eq!(code, 200, "{stats}");
    assert_eq!(stats["all"], stats["plans"]["gated"]);
    assert_eq!(
        stats["plans"]["gated"],
        serde_json::json!({"started": 2, "running": 0, "stopped": 0,
            "outcomes": {"promoted": 1, "rolled-back": 1},
            "rolled_back_by": {"requested": 1}})
    );
    // The command line sees the service's runs: one store.
    let history = Command::new(env!("CARGO_BIN_EXE_rollgate"))
        .arg("history")
        .current_dir(s.path())
        .output()
        .unwrap();
    let history = String::from_utf8_lossy(&history.stdout);
    assert!(
        history.contains(&format!("{id}  ")) && history.contains("rolled-back"),
        "{history}"
    );
}

#[test]
fn bad_requests_say_what_to_do() {
    let dir = prepared();
    let s = Service::start_in(dir.path(), &[]);
    let op = Some(OPERATOR);
    let (code, err) = s.call("POST", "/api/runs", op, Some(r#"{"plan": "nope"}"#));
    assert_eq!(code, 404);
    assert_eq!(
        err["error"],
        "no plan `nope` in plans; plans there: broken, gated"
    );
    let (code, err) = s.call("POST", "/api/runs", op, Some(r#"{"plan": "../tokens"}"#));
    assert_eq!(code, 404, "{err}");
    let (code, err) = s.call("POST", "/api/runs", op, Some(r#"{"plan": "broken"}"#));
    assert_eq!(code, 422);
    assert!(
        err["error"]
            .as_str()
            .unwrap()
            .contains("plans/broken.yaml:7:"),
        "{err}"
    );
    let (code, err) = s.call(
        "POST",
        "/api/runs",
        op,
        Some(r#"{"plan": "gated", "input": {}}"#),
    );
    assert_eq!(code, 422);
    assert!(
        err["error"]
            .as_str()
            .unwrap()
            .contains("unknown field `input`"),
        "{err}"
    );
    let huge = format!(
        r#"{{"plan": "gated", "inputs": {{"x": "{}"}}}}"#,
        "y".repeat(100_000)
    );
    let (code, _) = s.call("POST", "/api/runs", op, Some(&huge));
    assert_eq!(code, 413);
    let (code, err) = s.call("GET", "/api/runs/20260101T000000Z-1", op, None);
    assert_eq!(code, 404);
    assert_eq!(
        err["error"],
        "no run `20260101T000000Z-1`; `GET /api/runs` lists them"
    );
    let (code, err) = s.call("POST", "/api/runs/20260101T000000Z-1/launch", op, None);
    assert_eq!(code, 404);
    assert_eq!(
        err["error"],
        "no decision `launch`: approve, reject, continue or rollback"
    );
    // Nothing secret in any answer.
    for (_, answer) in [
        s.call("GET", "/api/runs", Some("wrong-token-0000000000"), None),
        s.call(
            "POST",
            "/api/runs",
            Some(VIEWER),
            Some(r#"{"plan": "gated"}"#),
        ),
    ] {
        let text = answer.to_string();
        assert!(!text.contains(OPERATOR) && !text.contains(VIEWER), "{text}");
    }
}

#[test]
fn the_service_refuses_to_start_without_tokens() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("plans")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rollgate"))
        .args(["serve", "--plans", "plans", "--listen", "127.0.0.1:0"])
        .env_remove("ROLLGATE_TOKENS")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("`rollgate serve` needs tokens: `--tokens FILE` or `ROLLGATE_TOKENS`"),
        "{err}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_rollgate"))
        .args(["serve", "--plans", "nowhere", "--listen", "127.0.0.1:0"])
        .env("ROLLGATE_TOKENS", "read x 0123456789abcdef0123")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("`--plans nowhere` is not a directory of plans"));
}

/// The lines of a server-sent stream as they come.
fn stream(s: &Service, path: &str, last: Option<usize>) -> impl Iterator<Item = String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let mut req = agent
        .get(format!("{}{path}", s.url))
        .header("Authorization", format!("Bearer {VIEWER}"))
        .header("Accept", "text/event-stream");
    if let Some(n) = last {
        req = req.header("Last-Event-ID", n.to_string());
    }
    let answer = req.call().unwrap();
    assert_eq!(
        answer.headers()["content-type"],
        "text/event-stream",
        "{:?}",
        answer.headers()
    );
    BufReader::new(answer.into_body().into_reader())
        .lines()
        .map_while(Result::ok)
}

#[test]
fn a_runs_events_stream_as_they_happen_and_a_reconnect_goes_on_where_it_left() {
    let dir = prepared();
    let s = Service::start_in(dir.path(), &[]);
    let (_, started) = s.call(
        "POST",
        "/api/runs",
        Some(OPERATOR),
        Some(r#"{"plan": "gated"}"#),
    );
    let id = started["run"].as_str().unwrap().to_string();
    let path = format!("/api/runs/{id}/events");
    let mut lines = stream(&s, &path, None);
    // Up to the gate, live; then approved from elsewhere, the rest comes on the same stream.
    let mut seen: Vec<(usize, String)> = Vec::new();
    let mut id_line = None;
    for line in lines.by_ref() {
        if let Some(n) = line.strip_prefix("id: ") {
            id_line = Some(n.parse::<usize>().unwrap());
        }
        if let Some(kind) = line.strip_prefix("event: ") {
            seen.push((id_line.unwrap(), kind.to_string()));
            if kind == "gate-waiting" {
                break;
            }
        }
    }
    let (code, _) = s.call(
        "POST",
        &format!("/api/runs/{id}/approve"),
        Some(OPERATOR),
        None,
    );
    assert_eq!(code, 200);
    for line in lines.by_ref() {
        if let Some(n) = line.strip_prefix("id: ") {
            id_line = Some(n.parse::<usize>().unwrap());
        }
        if let Some(kind) = line.strip_prefix("event: ") {
            seen.push((id_line.unwrap(), kind.to_string()));
        }
    }
    // It ended after the run did, every event once and in order.
    assert_eq!(seen.first().unwrap().1, "run-started");
    assert_eq!(seen.last().unwrap().1, "run-finished");
    let ids: Vec<usize> = seen.iter().map(|(n, _)| *n).collect();
    assert_eq!(ids, (0..seen.len()).collect::<Vec<_>>());
    let (_, journal) = s.call("GET", &path, Some(VIEWER), None);
    assert_eq!(journal.as_array().unwrap().len(), seen.len());
    // Reconnecting after the third event gives the fourth on.
    let again: Vec<String> = stream(&s, &path, Some(2))
        .filter_map(|l| l.strip_prefix("id: ").map(str::to_string))
        .collect();
    assert_eq!(again.first().map(String::as_str), Some("3"));
    assert_eq!(again.len(), seen.len() - 3);
}

impl Service {
    /// Starts a run of the gated plan and waits until it waits at its gate: its id.
    /// Approves run `id` at its gate as alice and waits until it is promoted, the router at 100.
    fn approved_to_the_end(&self, id: &str) {
        let (code, said) = self.call(
            "POST",
            &format!("/api/runs/{id}/approve"),
            Some(OPERATOR),
            None,
        );
        assert_eq!(code, 200, "{said}");
        self.wait_for(id, "promoted", |r| r["state"] == "promoted");
        assert_eq!(self.router(), "100");
    }

    fn at_the_gate(&self) -> String {
        let (code, started) = self.call(
            "POST",
            "/api/runs",
            Some(OPERATOR),
            Some(r#"{"plan": "gated"}"#),
        );
        assert_eq!(code, 201, "{started}");
        let id = started["run"].as_str().unwrap().to_string();
        self.wait_for(&id, "waiting at its gate", |r| !r["waiting"].is_null());
        id
    }
}

/// Waits until run `id` was taken over and waits at its gate again, driven (`running`).
fn carried_on_to_its_gate(s: &Service, id: &str) {
    let start = Instant::now();
    loop {
        let kinds = kinds_of(s, id);
        let resumed = kinds.iter().position(|k| k == "run-resumed");
        let waiting = kinds.iter().rposition(|k| k == "gate-waiting");
        let (_, run) = s.call("GET", &format!("/api/runs/{id}"), Some(VIEWER), None);
        if resumed < waiting && resumed.is_some() && run["state"] == "running" {
            return;
        }
        if start.elapsed() > Duration::from_secs(10) {
            let (_, ready) = s.call("GET", "/readyz", None, None);
            panic!("not carried on: {kinds:?}; {run}; {ready}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn kinds_of(s: &Service, id: &str) -> Vec<String> {
    let (_, events) = s.call("GET", &format!("/api/runs/{id}/events"), Some(VIEWER), None);
    events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn the_service_takes_every_open_file_its_hard_limit_allows() {
    let dir = prepared();
    // Started from a shell whose soft limit is low, as a login's 1,024 is for thousands of runs.
    let mut child = Command::new("sh")
        .args(["-c", "ulimit -Sn 256 && exec \"$0\" serve --listen 127.0.0.1:0 --plans plans --tokens tokens"])
        .arg(env!("CARGO_BIN_EXE_rollgate"))
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.contains("listening on"), "{first}");
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", child.id())).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let files: Vec<&str> = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap()
        .split_whitespace()
        .collect();
    let (soft, hard) = (files[3], files[4]);
    assert_eq!(soft, hard, "{limits}");
    assert_ne!(soft, "256", "{limits}");
}

#[test]
fn a_stopped_service_hands_its_runs_over_and_the_next_carries_them_on() {
    let dir = prepared();
    let first = Service::start_in(dir.path(), &[]);
    let id = first.at_the_gate();
    let (code, said) = first.terminate();
    assert_eq!(code, Some(0), "{said}");
    assert!(said.contains("stopped; 1 runs handed over"), "{said}");
    // Its logs are JSON lines, each about a run in that run's span.
    let logs: Vec<Value> = said
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let waiting = logs
        .iter()
        .find(|l| l["fields"]["event"] == "gate-waiting")
        .unwrap_or_else(|| panic!("{said}"));
    assert_eq!(waiting["span"]["run_id"], id.as_str());
    assert_eq!(waiting["span"]["plan"], "gated");
    assert_eq!(
        waiting["fields"]["message"],
        "canary-25.gate waits for alice"
    );
    assert!(logs
        .iter()
        .any(|l| l["fields"]["message"] == "handing every run over"));
    // Not rolled back: the canary holds where it was, and the journal says why.
    assert_eq!(
        std::fs::read_to_string(dir.path().join("router"))
            .unwrap()
            .trim(),
        "25"
    );
    let next = Service::start_in(dir.path(), &[]);
    assert_eq!(
        kinds_of(&next, &id).last().map(String::as_str),
        Some("run-handed-over")
    );
    // Carried on, not rolled back: at its gate again, then approved to the end.
    carried_on_to_its_gate(&next, &id);
    next.approved_to_the_end(&id);
    let kinds = kinds_of(&next, &id);
    let handed = kinds.iter().position(|k| k == "run-handed-over").unwrap();
    assert_eq!(kinds[handed + 1], "run-resumed");
    assert!(
        !kinds[handed..].contains(&"rollback-started".to_string()),
        "{kinds:?}"
    );
}

#[test]
fn a_plan_sent_in_the_request_runs_where_the_service_allows_it_and_is_kept_with_the_run() {
    let dir = prepared();
    let sent = |source: &str| serde_json::json!({ "source": source }).to_string();
    let renamed = GATED.replace("name: gated", "name: sent");

    // Off unless asked for: sending a plan lets its sender run commands as the service.
    let closed = Service::start_in(dir.path(), &[]);
    let (code, err) = closed.call("POST", "/api/runs", Some(OPERATOR), Some(&sent(&renamed)));
    assert_eq!(code, 403, "{err}");
    assert!(
        err["error"]
            .as_str()
            .unwrap()
            .contains("--accept-sent-plans"),
        "{err}"
    );
    drop(closed);

    let open = [("ROLLGATE_ACCEPT_SENT_PLANS", "true")];
    let s = Service::start_in(dir.path(), &open);
    // A plan that does not validate is answered with where and why, as `rollgate validate` says it.
    let broken = renamed.replace("max: 1%", "max: lots");
    let (code, err) = s.call("POST", "/api/runs", Some(OPERATOR), Some(&sent(&broken)));
    assert_eq!(code, 422, "{err}");
    assert!(
        err["error"]
            .as_str()
            .unwrap()
            .contains("request:7:51: error[bad-quantity]"),
        "{err}"
    );
    let both = serde_json::json!({ "plan": "gated", "source": renamed }).to_string();
    let (code, err) = s.call("POST", "/api/runs", Some(OPERATOR), Some(&both));
    assert_eq!(code, 422, "{err}");
    assert!(err["error"].as_str().unwrap().contains("not both"), "{err}");

    let (code, started) = s.call("POST", "/api/runs", Some(OPERATOR), Some(&sent(&renamed)));
    assert_eq!(code, 201, "{started}");
    let id = started["run"].as_str().unwrap().to_string();
    let waiting = s.wait_for(&id, "waiting at its gate", |r| !r["waiting"].is_null());
    assert_eq!(waiting["plan"], "sent");
    assert_eq!(s.router(), "25");
    let (_, listed) = s.call("GET", "/api/runs?plan=sent", Some(VIEWER), None);
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");

    // No file holds the plan: the next service carries the run on from the text kept with it.
    let (code, said) = s.terminate();
    assert_eq!(code, Some(0), "{said}");
    assert!(!dir.path().join("plans/sent.yaml").exists());
    let next = Service::start_in(dir.path(), &[]);
    carried_on_to_its_gate(&next, &id);
    next.approved_to_the_end(&id);
}

#[test]
fn replicas_on_postgres_share_runs_carry_on_what_one_hands_over_and_put_back_what_a_dead_one_left()
{
    let cluster = crate::cluster::Cluster::start();
    let url = cluster.database("serve");
    let dir = prepared();
    let env = [
        ("ROLLGATE_STATE", url.as_str()),
        ("ROLLGATE_LEASE", "2s"),
        ("ROLLGATE_HEARTBEAT", "500ms"),
    ];
    let a = Service::start_in(dir.path(), &env);
    let b = Service::start_in(dir.path(), &env);
    let first = a.at_the_gate();
    // Either replica answers for every run.
    assert_eq!(
        b.call("GET", &format!("/api/runs/{first}"), Some(VIEWER), None)
            .1["waiting"]["step"],
        "canary-25.gate"
    );
    let (code, said) = a.terminate();
    assert_eq!(code, Some(0), "{said}");
    // B carries it on at once (the lease was given up), without rolling back.
    carried_on_to_its_gate(&b, &first);
    assert_eq!(b.router(), "25");
    b.approved_to_the_end(&first);
    assert!(!kinds_of(&b, &first).contains(&"rollback-started".to_string()));

    // A replica killed outright: another puts its run back once the lease runs out.
    std::fs::write(dir.path().join("router"), "0\n").unwrap();
    let second = b.at_the_gate();
    let c = Service::start_in(dir.path(), &env);
    let mut b = b;
    b.child.kill().unwrap();
    b.child.wait().unwrap();
    let killed = Instant::now();
    c.wait_for(&second, "rolled back by the survivor", |r| {
        r["state"] == "rolled-back"
    });
    let took = killed.elapsed();
    assert!(
        took >= Duration::from_millis(1500),
        "taken over while its lease ran: {took:?}"
    );
    assert!(took < Duration::from_secs(6), "{took:?}");
    assert_eq!(c.router(), "0");
    // Driven by one process at a time: every event once, in order.
    let seqs = cluster.sql(
        "serve",
        &format!("SELECT count(*) = max(seq) + 1 FROM rollgate_events WHERE run_id = '{second}'"),
    );
    assert_eq!(seqs, "t");
}

#[test]
fn a_real_prometheus_scrapes_the_services_metrics_with_a_read_token() {
    let dir = prepared();
    let s = Service::start_in(dir.path(), &[]);
    let (code, _) = s.call("GET", "/metrics", None, None);
    assert_eq!(code, 401, "metrics need a token");
    let id = s.at_the_gate();
    s.approved_to_the_end(&id);

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let target = s.url.trim_start_matches("http://");
    let cfg = dir.path().join("prometheus.yml");
    std::fs::write(
        &cfg,
        format!("global: {{ scrape_interval: 1s }}\nscrape_configs:\n  - job_name: rollgate\n    authorization: {{ credentials: {VIEWER} }}\n    static_configs: [{{ targets: ['{target}'] }}]\n"),
    )
    .unwrap();
    let _prometheus = crate::support::Daemon(
        Command::new(crate::support::tool(
            "prometheus",
            "apt-get install -y prometheus",
        ))
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("tsdb").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap(),
    );
    let value = |q: &str| crate::rig::instant_query(&format!("http://127.0.0.1:{port}"), q);
    let start = Instant::now();
    let promoted = r#"rollgate_rollouts_finished_total{plan="gated",outcome="promoted"}"#;
    while value(promoted).is_none() {
        assert!(start.elapsed() < Duration::from_secs(30), "never scraped");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(value(promoted).as_deref(), Some("1"));
    assert_eq!(value(r#"up{job="rollgate"}"#).as_deref(), Some("1"));
    assert_eq!(
        value(r#"rollgate_runs{state="promoted"}"#).as_deref(),
        Some("1")
    );
    assert!(value("rollgate_event_append_seconds_count > 20").is_some());
    assert_eq!(
        value(r#"rollgate_router_write_seconds_count{router="router"}"#).as_deref(),
        Some("2")
    );
    assert!(
        value(r#"sum(rollgate_check_evaluations_total{check="errors",verdict="pass"}) > 0"#)
            .is_some()
    );
}

#[test]
fn the_openapi_description_matches_what_the_service_does() {
    let dir = prepared();
    let s = Service::start_in(dir.path(), &[]);
    let (code, described) = s.call("GET", "/openapi.json", None, None);
    assert_eq!(code, 200);
    assert_eq!(described["openapi"], "3.0.3");
    // A real run for the operations about one, which schemathesis then decides at random.
    let id = s.at_the_gate();
    let config = dir.path().join("schemathesis.toml");
    std::fs::write(&config, format!("[parameters]\n\"path.id\" = \"{id}\"\n")).unwrap();
    let out = Command::new(crate::support::tool(
        "schemathesis",
        "python3 -m pip install schemathesis (the README's test command does)",
    ))
    .arg("--config-file")
    .arg(&config)
    .args(["run", &format!("{}/openapi.json", s.url)])
    .args(["-H", &format!("Authorization: Bearer {OPERATOR}")])
    .args([
        "--checks",
        "all",
        "--max-examples",
        "40",
        "--seed",
        "1",
        "--no-color",
    ])
    .current_dir(dir.path())
    .output()
    .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("Tested: 9"), "{said}");
}

#[test]
fn the_status_page_shows_a_run_live_and_lets_an_operator_decide_it_in_a_real_browser() {
    crate::support::tool("chromium", "apt-get install -y chromium");
    let dir = prepared();
    let s = Service::start_in(dir.path(), &[]);
    let id = s.at_the_gate();
    let shot = dir.path().join("status-page.png");
    let out = crate::support::node_client(
        "status-page.mjs",
        "playwright-core",
        &[
            std::ffi::OsStr::new(&s.url),
            std::ffi::OsStr::new(OPERATOR),
            std::ffi::OsStr::new(VIEWER),
            shot.as_os_str(),
        ],
        dir.path(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(seen["signInFirst"], "/login");
    assert_eq!(seen["refused"], "That is not one of the service's tokens.");
    assert!(seen["listed"].as_str().unwrap().contains(&id), "{seen}");
    assert_eq!(seen["waiting"], "Waiting at canary-25.gate for alice.");
    assert!(
        seen["check"].as_str().unwrap().starts_with("errors0.001"),
        "{seen}"
    );
    let before: Vec<&str> = seen["timelineBefore"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    assert_eq!(before.first(), Some(&"run-started"));
    assert_eq!(before.last(), Some(&"gate-waiting"));
    assert_eq!(
        seen["said"],
        format!("approved `canary-25.gate` of run {id} as alice")
    );
    assert_eq!(seen["routers"], "router0%100%");
    assert_eq!(seen["buttonsAfter"], serde_json::json!([]));
    assert_eq!(seen["errors"], serde_json::json!([]));
    assert_eq!(seen["viewerButtons"], serde_json::json!([]));
    assert!(shot.is_file());
    assert_eq!(s.router(), "100");
}

#[test]
fn given_a_certificate_the_service_speaks_only_tls() {
    let dir = prepared();
    let openssl = crate::support::tool("openssl", "apt-get install -y openssl");
    let made = Command::new(openssl)
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args([
            "-nodes", "-keyout", "key.pem", "-out", "cert.pem", "-days", "1",
        ])
        .args([
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let s = Service::start_in(
        dir.path(),
        &[
            ("ROLLGATE_TLS_CERT", "cert.pem"),
            ("ROLLGATE_TLS_KEY", "key.pem"),
        ],
    );
    assert!(s.url.starts_with("https://127.0.0.1:"), "{}", s.url);
    let curl = |url: &str, extra: &[&str]| {
        let out = Command::new(crate::support::tool("curl", "apt-get install -y curl"))
            .args(["-sS", "--max-time", "5", "--cacert", "cert.pem"])
            .args(extra)
            .arg(url)
            .current_dir(dir.path())
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
        )
    };
    assert_eq!(
        curl(&format!("{}/healthz", s.url), &[]),
        (true, "ok\n".into())
    );
    let (ok, runs) = curl(
        &format!("{}/api/runs", s.url),
        &["-H", &format!("Authorization: Bearer {VIEWER}")],
    );
    assert!(ok && runs == "[]", "{runs}");
    // Plain HTTP on the same port gets no answer.
    let plain = s.url.replace("https://", "http://");
    assert!(!curl(&format!("{plain}/healthz"), &[]).0);
    // A key that is not one is refused before anything listens.
    std::fs::write(dir.path().join("bad.pem"), "not a key").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rollgate"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--tokens",
            "tokens",
            "--plans",
            "plans",
        ])
        .args(["--tls-cert", "cert.pem", "--tls-key", "bad.pem"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("the certificate cert.pem and key bad.pem:"),
        "{err}"
    );
}

/// An input sent over the API reaches the plan's commands as that literal string: never
/// shell text, whoever holds an operate token.
#[test]
fn an_input_sent_over_the_api_reaches_commands_as_a_literal_value() {
    let dir = prepared();
    let plan = "name: bound\ninputs:\n  release: { type: string, required: true }\nproviders:\n  router: { kind: traffic-command, set: 'printf \"%s|%s\\n\" \"${{ inputs.release }}\" $ROLLGATE_CANARY_WEIGHT >> seen; echo $ROLLGATE_CANARY_WEIGHT > router', get: cat router }\n  metrics: { kind: metrics-command, run: echo 0.001 }\ninterval: 100ms\nchecks:\n  errors: { source: metrics, canary: errors, max: 1% }\nstrategy:\n  canary: { weights: [100], observe: 200ms }\n";
    std::fs::write(dir.path().join("plans/bound.yaml"), plan).unwrap();
    let s = Service::start_in(dir.path(), &[]);
    let injected = "$(touch pwned); touch pwned-too";
    let body =
        serde_json::json!({ "plan": "bound", "inputs": { "release": injected } }).to_string();
    let (code, started) = s.call("POST", "/api/runs", Some(OPERATOR), Some(&body));
    assert_eq!(code, 201, "{started}");
    let id = started["run"].as_str().unwrap().to_string();
    s.wait_for(&id, "promoted", |r| r["state"] == "promoted");
    let seen = std::fs::read_to_string(dir.path().join("seen")).unwrap();
    assert_eq!(
        seen.lines().collect::<Vec<_>>(),
        [format!("{injected}|100")]
    );
    assert!(!dir.path().join("pwned").exists() && !dir.path().join("pwned-too").exists());
}

/// A database that stops answering without a TCP error makes `/readyz` say so within the
/// store's deadline (a third of the lease), rather than hang with it.
#[test]
fn readyz_answers_within_a_bound_when_the_database_stalls() {
    let cluster = crate::cluster::Cluster::start();
    let (proxy, url) = crate::fault_proxy::FaultProxy::before(&cluster.database("stalled"));
    let dir = prepared();
    let env = [
        ("ROLLGATE_STATE", url.as_str()),
        ("ROLLGATE_LEASE", "3s"),
        ("ROLLGATE_HEARTBEAT", "1s"),
    ];
    let s = Service::start_in(dir.path(), &env);
    assert_eq!(s.call("GET", "/readyz", None, None).0, 200);
    proxy.set(crate::fault_proxy::Fault::Hold);
    let asked = Instant::now();
    let (code, answer) = s.call("GET", "/readyz", None, None);
    let took = asked.elapsed();
    assert_eq!(code, 503, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("did not answer within 1s"),
        "{answer}"
    );
    assert!(took < Duration::from_secs(3), "/readyz took {took:?}");
    proxy.set(crate::fault_proxy::Fault::Pass);
}
