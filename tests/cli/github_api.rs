//! A real run reporting to GitHub, against a local mock of GitHub's REST API (it cannot run
//! here): the sticky PR comment created once and then edited, the deployment and its
//! statuses, permission and team look-ups for `/rollgate` commands (a writer among the
//! approvers accepted, a reader and a non-approver refused with a reply), a rollback asked for
//! on the PR, GitHub's secondary rate limit waited out, and the token in no body, output or
//! journal.

use crate::support::Events;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const TOKEN: &str = "ghs_m0ckT0kenThatMustNotLeak";
const OLD_DEPLOYMENT: u64 = 100;
/// Where a GitHub Enterprise server serves its REST API.
const ENTERPRISE: &str = "/api/v3";

/// One request the mock received.
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    /// Path and query.
    url: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Seen {
    /// The API path, without a GitHub Enterprise server's `/api/v3` prefix.
    fn path(&self) -> &str {
        let path = self.url.split('?').next().unwrap();
        path.strip_prefix(ENTERPRISE).unwrap_or(path)
    }
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

#[derive(Default)]
struct State {
    comments: Vec<Value>,
    permissions: BTreeMap<String, String>,
    /// `org/team` → members.
    teams: BTreeMap<String, Vec<String>>,
    /// The open pull requests containing each commit.
    pulls: BTreeMap<String, Vec<u64>>,
    /// Each pull request's head commit.
    heads: BTreeMap<u64, String>,
    /// Deployments as GitHub lists them, oldest first, each with its `statuses` (oldest first).
    deployments: Vec<Value>,
    next_id: u64,
    /// Edits of a comment answered with GitHub's secondary rate limit before one goes through.
    limited_edits: u32,
    seen: Vec<Seen>,
}

/// GitHub's REST API for the repository `acme/shop`, as far as rollgate uses it.
struct GitHub {
    url: String,
    state: Arc<Mutex<State>>,
    server: Arc<tiny_http::Server>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Whether the object `v` has the id a URL names.
fn id_is(v: &Value, id: &str) -> bool {
    v["id"].as_u64().is_some() && v["id"].as_u64() == id.parse().ok()
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn error(status: u16, message: &str) -> (u16, Value) {
    (
        status,
        json!({ "message": message, "documentation_url": "https://docs.github.com/rest" }),
    )
}

impl State {
    fn answer(
        &mut self,
        method: &str,
        url: &str,
        body: &Value,
    ) -> (u16, Value, Vec<(&'static str, String)>) {
        let (path, query) = url.split_once('?').unwrap_or((url, ""));
        let q: BTreeMap<&str, &str> = query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .collect();
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let (status, value) = match (method, parts.as_slice()) {
            ("GET", ["repos", "acme", "shop", "commits", sha, "pulls"]) => (
                200,
                json!(self
                    .pulls
                    .get(*sha)
                    .cloned()
                    .unwrap_or_default()
                    .iter()
                    .map(|n| json!({"number": n, "state": "open"}))
                    .collect::<Vec<_>>()),
            ),
            ("GET", ["repos", "acme", "shop", "issues", "7", "comments"]) => {
                let since = q
                    .get("since")
                    .map(|s| s.replace("%3A", ":"))
                    .unwrap_or_default();
                let page: usize = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
                let all: Vec<Value> = self
                    .comments
                    .iter()
                    .filter(|c| c["created_at"].as_str().unwrap() >= since.as_str())
                    .cloned()
                    .collect();
                (200, json!(if page == 1 { all } else { vec![] }))
            }
            // GraphQL, where a GitHub Enterprise server has it (beside `/api/v3`, not under it);
            // a job token's viewer is the Actions app's bot, named without REST's `[bot]`.
            ("POST", ["graphql"] | ["api", "graphql"]) => match body["query"].as_str() {
                Some(q) if q.contains("viewer") && q.contains("login") => (
                    200,
                    json!({ "data": { "viewer": { "login": "github-actions", "__typename": "Bot" } } }),
                ),
                _ => (
                    200,
                    json!({ "errors": [{ "message": "A query attribute must be specified and must be a string." }] }),
                ),
            },
            ("GET", ["repos", "acme", "shop", "pulls", n]) => {
                match n
                    .parse()
                    .ok()
                    .and_then(|n: u64| self.heads.get(&n).map(|h| (n, h)))
                {
                    Some((n, head)) => (
                        200,
                        json!({ "number": n, "state": "open", "head": { "sha": head, "ref": "feature" } }),
                    ),
                    None => error(404, "Not Found"),
                }
            }
            ("POST", ["repos", "acme", "shop", "issues", "7", "comments"]) => {
                self.next_id += 1;
                let c = json!({
                    "id": self.next_id,
                    "body": body["body"],
                    "user": { "login": BOT, "type": "Bot" },
                    "created_at": now(),
                });
                self.comments.push(c.clone());
                (201, c)
            }
            ("PATCH", ["repos", "acme", "shop", "issues", "comments", id]) => {
                if self.limited_edits > 0 {
                    self.limited_edits -= 1;
                    let (s, v) = error(403, "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.");
                    return (s, v, vec![("retry-after", "1".into())]);
                }
                match self.comments.iter_mut().find(|c| id_is(c, id)) {
                    Some(c) => {
                        c["body"] = body["body"].clone();
                        (200, c.clone())
                    }
                    None => error(404, "Not Found"),
                }
            }
            ("GET", ["repos", "acme", "shop", "collaborators", user, "permission"]) => {
                match self.permissions.get(*user) {
                    Some(p) => (200, json!({ "permission": p, "user": { "login": user } })),
                    None => error(404, &format!("{user} is not a user")),
                }
            }
            ("GET", ["orgs", org, "teams", team, "memberships", user]) => {
                let members = self
                    .teams
                    .get(&format!("{org}/{team}"))
                    .cloned()
                    .unwrap_or_default();
                if members.iter().any(|m| m == user) {
                    (200, json!({ "state": "active", "role": "member" }))
                } else {
                    error(404, "Not Found")
                }
            }
            ("GET", ["repos", "acme", "shop", "deployments"]) => {
                let env = q.get("environment").copied().unwrap_or_default();
                let listed: Vec<Value> = self
                    .deployments
                    .iter()
                    .rev()
                    .filter(|d| d["environment"] == env)
                    .cloned()
                    .collect();
                (200, json!(listed))
            }
            ("GET", ["repos", "acme", "shop", "deployments", id, "statuses"]) => {
                match self.deployments.iter().find(|d| id_is(d, id)) {
                    Some(d) => {
                        let newest = d["statuses"].as_array().unwrap().last();
                        (
                            200,
                            json!(newest
                                .map(|s| vec![json!({ "state": s })])
                                .unwrap_or_default()),
                        )
                    }
                    None => error(404, "Not Found"),
                }
            }
            ("POST", ["repos", "acme", "shop", "deployments"]) => {
                self.next_id += 1;
                let d = json!({
                    "id": self.next_id,
                    "sha": body["ref"],
                    "environment": body["environment"],
                    "payload": body["payload"],
                    "statuses": [],
                });
                self.deployments.push(d.clone());
                (201, d)
            }
            ("POST", ["repos", "acme", "shop", "deployments", id, "statuses"]) => {
                match self.deployments.iter_mut().find(|d| id_is(d, id)) {
                    Some(d) => {
                        d["statuses"]
                            .as_array_mut()
                            .unwrap()
                            .push(body["state"].clone());
                        (201, json!({ "id": 1, "state": body["state"] }))
                    }
                    None => error(404, "Not Found"),
                }
            }
            _ => error(404, "Not Found"),
        };
        (status, value, vec![])
    }
}

impl GitHub {
    fn start(state: State) -> GitHub {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
        let url = format!("http://{}", server.server_addr().to_ip().unwrap());
        let state = Arc::new(Mutex::new(State {
            next_id: 1000,
            ..state
        }));
        let (s, st) = (server.clone(), state.clone());
        let thread = std::thread::spawn(move || {
            while let Ok(mut req) = s.recv() {
                let mut body = String::new();
                let _ = req.as_reader().read_to_string(&mut body);
                let seen = Seen {
                    method: req.method().to_string().to_uppercase(),
                    url: req.url().to_string(),
                    headers: req
                        .headers()
                        .iter()
                        .map(|h| (h.field.to_string().to_lowercase(), h.value.to_string()))
                        .collect(),
                    body,
                };
                let (status, value, headers) = {
                    let mut st = st.lock().unwrap();
                    st.seen.push(seen.clone());
                    let url = seen.url.strip_prefix(ENTERPRISE).unwrap_or(&seen.url);
                    st.answer(&seen.method, url, &seen.json())
                };
                let mut resp = tiny_http::Response::from_string(value.to_string())
                    .with_status_code(status)
                    .with_header(
                        tiny_http::Header::from_bytes("Content-Type", "application/json").unwrap(),
                    );
                for (k, v) in headers {
                    resp.add_header(tiny_http::Header::from_bytes(k, v.as_bytes()).unwrap());
                }
                let _ = req.respond(resp);
            }
        });
        GitHub {
            url,
            state,
            server,
            thread: Some(thread),
        }
    }

    /// Someone comments on PR #7.
    fn comment(&self, user: &str, body: &str) {
        let mut st = self.state.lock().unwrap();
        st.next_id += 1;
        let c = json!({ "id": st.next_id, "body": body, "user": { "login": user, "type": "User" }, "created_at": now() });
        st.comments.push(c);
    }

    /// The current text of rollgate's comment (the job token's) that begins with `marker`.
    fn sticky(&self, marker: &str) -> (u64, String) {
        let st = self.state.lock().unwrap();
        let c = st
            .comments
            .iter()
            .find(|c| c["user"]["login"] == BOT && c["body"].as_str().unwrap().starts_with(marker))
            .expect("the comment");
        (
            c["id"].as_u64().unwrap(),
            c["body"].as_str().unwrap().to_string(),
        )
    }

    /// The statuses posted to a deployment, oldest first.
    fn statuses(&self, deployment: u64) -> Vec<Value> {
        let path = format!("/repos/acme/shop/deployments/{deployment}/statuses");
        self.requests("POST", &path)
            .iter()
            .map(Seen::json)
            .collect()
    }

    fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }

    fn requests(&self, method: &str, path: &str) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.method == method && s.path() == path)
            .collect()
    }

    /// Waits until a request matching `f` has come.
    fn wait_for(&self, what: &str, f: impl Fn(&Seen) -> bool) -> Seen {
        for _ in 0..300 {
            if let Some(s) = self.seen().into_iter().find(|s| f(s)) {
                return s;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("GitHub never got {what}; it got {:#?}", self.seen());
    }
}

impl Drop for GitHub {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Rig {
    dir: tempfile::TempDir,
}

impl Rig {
    fn new(plan: &str) -> Rig {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("plan.yaml"), plan).unwrap();
        std::fs::write(dir.path().join("router"), "0\n").unwrap();
        Rig { dir }
    }

    /// `rollgate run plan.yaml --json` as an Actions job would run it against `gh`.
    fn command(&self, gh: &GitHub, extra: &[(&str, &str)]) -> Command {
        let run = ["run", "plan.yaml", "--json", "--environment", "staging"];
        self.rollgate(gh, &run, extra)
    }

    /// `rollgate ARGS` in the rig's directory, in a job's environment against `gh`.
    fn rollgate(&self, gh: &GitHub, args: &[&str], extra: &[(&str, &str)]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_rollgate"));
        c.args(args)
            .current_dir(self.dir.path())
            .env_remove("GITHUB_ACTIONS")
            .env_remove("GITHUB_EVENT_PATH")
            .env_remove("GITHUB_TOKEN")
            .env_remove("GITHUB_GRAPHQL_URL")
            .env("GITHUB_API_URL", &gh.url)
            .env("GITHUB_SERVER_URL", "https://github.example")
            .env("GITHUB_REPOSITORY", "acme/shop")
            .env("GITHUB_SHA", "abc123")
            .env("GITHUB_RUN_ID", "99")
            .env("GH_TOKEN", TOKEN);
        for (k, v) in extra {
            c.env(k, v);
        }
        c
    }

    fn start(&self, gh: &GitHub, extra: &[(&str, &str)]) -> (std::process::Child, Events) {
        Events::spawn(&mut self.command(gh, extra))
    }

    fn router(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("router"))
            .unwrap()
            .trim()
            .to_string()
    }

    /// Everything the run wrote under its state directory.
    fn journal_text(&self) -> String {
        crate::support::walk(&self.dir.path().join(".rollgate"))
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap_or_default())
            .collect()
    }
}

/// A `pull_request` event's payload for PR #7, whose head is `head456`, as Actions writes it.
fn pr_event(dir: &std::path::Path) -> std::path::PathBuf {
    let event = dir.join("event.json");
    std::fs::write(
        &event,
        r#"{"pull_request": {"number": 7, "head": {"sha": "head456"}}}"#,
    )
    .unwrap();
    event
}

/// The token went only into `Authorization` headers.
fn token_kept(gh: &GitHub, output: &str, journal: &str) {
    for s in gh.seen() {
        assert!(
            !s.body.contains(TOKEN) && !s.url.contains(TOKEN),
            "token in {} {}",
            s.method,
            s.url
        );
        let auth = s
            .headers
            .iter()
            .find(|h| h.0 == "authorization")
            .map(|h| h.1.clone());
        assert_eq!(
            auth,
            Some(format!("Bearer {TOKEN}")),
            "{} {}",
            s.method,
            s.url
        );
    }
    assert!(!output.contains(TOKEN), "token in the run's output");
    assert!(!journal.contains(TOKEN), "token in the journal");
}

const GATED: &str = r#"name: shop canary
providers:
  router: { kind: traffic-command, set: 'echo $ROLLGATE_CANARY_WEIGHT > router', get: cat router }
  metrics: { kind: metrics-command, run: echo 0.001 }
  gh: { kind: github, token: "${{ secrets.GH_TOKEN }}", environment: production, poll: 200ms }
interval: 100ms
checks:
  errors: { source: metrics, canary: errors, max: 1% }
phases:
  - name: canary-25
    weight: 25
    observe: 200ms
    gate: { approvers: [alice, acme/sre], via: gh, timeout: 60s, on-timeout: rollback }
  - { name: full, weight: 100, observe: 200ms }
notify: { to: [gh] }
"#;

#[test]
fn the_pr_comment_deployment_and_approvals_from_the_pr() {
    let gh = GitHub::start(State {
        permissions: [("mallory", "read"), ("bob", "write"), ("carol", "admin")]
            .map(|(u, p)| (u.to_string(), p.to_string()))
            .into(),
        teams: [("acme/sre".to_string(), vec!["carol".to_string()])].into(),
        pulls: [("abc123".to_string(), vec![7])].into(),
        deployments: vec![json!({
            "id": OLD_DEPLOYMENT,
            "environment": "production",
            "payload": {},
            "statuses": ["in_progress", "success"],
        })],
        ..State::default()
    });
    let rig = Rig::new(GATED);
    let (mut run, rx) = rig.start(&gh, &[]);
    let waiting = rx.wait_for("gate-waiting");
    assert_eq!(
        (waiting["step"].as_str(), waiting["via"].as_str()),
        (Some("canary-25.gate"), Some("gh"))
    );
    // The comment says how to approve while the gate waits.
    gh.wait_for("the comment showing the waiting gate", |s| {
        s.body
            .contains("**waiting** for alice, acme/sre: comment `/rollgate approve`")
    });

    // `status` says where to decide, and a terminal cannot approve for the PR.
    let status = Command::new(env!("CARGO_BIN_EXE_rollgate"))
        .arg("status")
        .current_dir(rig.dir.path())
        .output()
        .unwrap();
    let status = String::from_utf8_lossy(&status.stdout);
    assert!(status.contains("  waiting at `canary-25.gate` for alice, acme/sre: a `/rollgate approve` or `/rollgate reject` comment on the pull request (`via: gh`)"), "{status}");
    let out = Command::new(env!("CARGO_BIN_EXE_rollgate"))
        .args(["approve", "--by", "alice"])
        .current_dir(rig.dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("`canary-25.gate` of run "), "{err}");
    assert!(err.contains("takes its decision from pull-request comments (`via: gh`): comment `/rollgate approve` on the pull request; `rollgate rollback` still works from here"), "{err}");

    gh.comment("mallory", "/rollgate approve");
    let refused = gh.wait_for("a reply to mallory", |s| {
        s.method == "POST" && s.body.contains("@mallory")
    });
    assert!(
        refused.json()["body"].as_str().unwrap().contains("`/rollgate approve` was ignored: it needs write access to acme/shop, and you have `read`."),
        "{}",
        refused.body
    );
    gh.comment("bob", "/rollgate approve");
    let refused = gh.wait_for("a reply to bob", |s| {
        s.method == "POST" && s.body.contains("@bob")
    });
    assert!(
        refused.json()["body"]
            .as_str()
            .unwrap()
            .contains("`canary-25.gate` may be decided by alice, acme/sre only."),
        "{}",
        refused.body
    );
    // Asking again changes nothing and gets no second reply.
    gh.comment("mallory", "/rollgate approve");
    // A command shown in a quote or a code block is not one; typed as people type, it is.
    gh.comment(
        "alice",
        "> /rollgate approve\n\nShould I?\n```\n/rollgate approve\n```",
    );
    gh.comment("carol", "/rollgate Approve canary-25.");
    let decided = rx.wait_for("gate-decided");
    assert_eq!(
        (decided["decision"].as_str(), decided["by"].as_str()),
        (Some("approved"), Some("carol"))
    );
    assert_eq!(rx.wait_for("run-finished")["outcome"], "promoted");
    assert_eq!(run.wait().unwrap().code(), Some(0));
    assert_eq!(rig.router(), "100");

    // The PR was found from the commit; each commenter's permission was looked up once, and
    // the team only for the writers who are not listed by name.
    assert_eq!(
        gh.requests("GET", "/repos/acme/shop/commits/abc123/pulls")
            .len(),
        1
    );
    for user in ["mallory", "bob", "carol"] {
        assert_eq!(
            gh.requests(
                "GET",
                &format!("/repos/acme/shop/collaborators/{user}/permission")
            )
            .len(),
            1,
            "{user}"
        );
    }
    assert!(gh
        .requests("GET", "/orgs/acme/teams/sre/memberships/mallory")
        .is_empty());
    assert!(gh
        .requests("GET", "/repos/acme/shop/collaborators/alice/permission")
        .is_empty());
    assert_eq!(
        gh.requests("GET", "/orgs/acme/teams/sre/memberships/bob")
            .len(),
        1
    );
    assert_eq!(
        gh.requests("GET", "/orgs/acme/teams/sre/memberships/carol")
            .len(),
        1
    );

    // One sticky comment, created once and then edited in place to the end.
    let marker = "<!-- rollgate:shop canary:production -->";
    let posts = gh.requests("POST", "/repos/acme/shop/issues/7/comments");
    let created: Vec<&Seen> = posts
        .iter()
        .filter(|s| s.json()["body"].as_str().unwrap().starts_with(marker))
        .collect();
    assert_eq!(created.len(), 1, "{posts:#?}");
    assert_eq!(posts.len(), 3, "the comment and two replies");
    let (id, last) = gh.sticky(marker);
    let edits = gh.requests("PATCH", &format!("/repos/acme/shop/issues/comments/{id}"));
    assert!(edits.len() >= 2, "{edits:#?}");
    assert!(last.contains("**Promoted**"), "{last}");
    assert!(
        last.contains("- approval `canary-25.gate`: approved by carol"),
        "{last}"
    );
    assert!(last.contains("| `errors` | 0.1% |"), "{last}");

    // The deployment: created for the commit and environment, in progress, then success; the
    // one it replaced made inactive; every status links to the job's log.
    let created = gh.requests("POST", "/repos/acme/shop/deployments");
    assert_eq!(created.len(), 1);
    let d = created[0].json();
    assert_eq!(
        (d["ref"].as_str(), d["environment"].as_str()),
        (Some("abc123"), Some("production"))
    );
    assert_eq!(d["auto_merge"], false);
    assert_eq!(d["required_contexts"], json!([]));
    let new_id = gh.state.lock().unwrap().deployments.last().unwrap()["id"]
        .as_u64()
        .unwrap();
    let statuses = gh.statuses(new_id);
    let states: Vec<&str> = statuses
        .iter()
        .map(|s| s["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["in_progress", "success"]);
    for s in &statuses {
        assert_eq!(
            s["log_url"],
            "https://github.example/acme/shop/actions/runs/99"
        );
        assert_eq!(s["auto_inactive"], false);
    }
    let old = gh.statuses(OLD_DEPLOYMENT);
    assert_eq!(old.len(), 1);
    assert_eq!(old[0]["state"], "inactive");
    assert_eq!(
        old[0]["description"],
        format!("replaced by deployment {new_id}")
    );

    let journal = rig.journal_text();
    assert!(
        journal.contains(r#""event":"notification-sent","to":"gh","about":"PR #7 comment posted""#),
        "{journal}"
    );
    token_kept(&gh, &rx.text.lock().unwrap(), &journal);
}

/// The job token's login in REST answers.
const BOT: &str = "github-actions[bot]";

const WATCHED: &str = r#"name: shop canary
providers:
  router: { kind: traffic-command, set: 'echo $ROLLGATE_CANARY_WEIGHT > router', get: cat router }
  metrics: { kind: metrics-command, run: echo 0.001 }
  gh: { kind: github, token: "${{ secrets.GH_TOKEN }}", poll: 200ms }
interval: 100ms
checks:
  errors: { source: metrics, canary: errors, max: 1% }
phases:
  - { name: canary-25, weight: 25, observe: 60s }
  - { name: full, weight: 100, observe: 200ms }
notify: { to: [gh] }
"#;

#[test]
fn a_rollback_asked_for_on_the_pr_edits_the_earlier_comment_through_a_rate_limit() {
    let marker = "<!-- rollgate:shop canary:staging -->";
    let gh = GitHub::start(State {
        permissions: [("dave".to_string(), "write".to_string())].into(),
        comments: vec![
            json!({
                "id": 555,
                "body": format!("{marker}\nan earlier run's comment"),
                "user": { "login": BOT, "type": "Bot" },
                "created_at": "2026-01-01T00:00:00Z",
            }),
            // Newer, with the marker planted by someone else: never rollgate's comment.
            json!({
                "id": 556,
                "body": format!("{marker}\nplanted by mallory"),
                "user": { "login": "mallory", "type": "User" },
                "created_at": "2026-01-02T00:00:00Z",
            }),
            // A person whose login is the app's name is not the app's bot either.
            json!({
                "id": 557,
                "body": format!("{marker}\nplanted by a user named github-actions"),
                "user": { "login": "github-actions", "type": "User" },
                "created_at": "2026-01-03T00:00:00Z",
            }),
        ],
        limited_edits: 1,
        ..State::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let event = pr_event(dir.path());
    let rig = Rig::new(WATCHED);
    let (mut run, rx) = rig.start(&gh, &[("GITHUB_EVENT_PATH", event.to_str().unwrap())]);
    loop {
        let e = rx.wait_for("weight-shifted");
        if e["to"]["percent"] == 25 {
            break;
        }
    }
    // A writer asks for a rollback on the PR while the canary is watched.
    gh.comment("dave", "/rollgate rollback");
    let finished = rx.wait_for("run-finished");
    assert_eq!(finished["outcome"], "rolled-back");
    assert_eq!(
        finished["reason"]["message"],
        "rollback requested by dave on PR #7"
    );
    assert_eq!(run.wait().unwrap().code(), Some(3));
    assert_eq!(rig.router(), "0");

    // The PR came from the event, the commit from the PR's head.
    assert!(gh
        .requests("GET", "/repos/acme/shop/commits/head456/pulls")
        .is_empty());
    assert!(
        gh.requests("POST", "/repos/acme/shop/issues/7/comments")
            .is_empty(),
        "no second comment"
    );
    let edits = gh.requests("PATCH", "/repos/acme/shop/issues/comments/555");
    assert!(
        edits.len() >= 2,
        "the rate-limited edit was tried again: {edits:#?}"
    );
    let (id, last) = gh.sticky(marker);
    assert_eq!(id, 555);
    for planted in [556, 557] {
        assert!(
            gh.requests(
                "PATCH",
                &format!("/repos/acme/shop/issues/comments/{planted}")
            )
            .is_empty(),
            "a planted marker ({planted}) is not rollgate's comment"
        );
    }
    let asked = gh.requests("POST", "/graphql");
    assert_eq!(asked.len(), 1, "who the token is, asked once");
    assert!(asked[0].json()["query"]
        .as_str()
        .unwrap()
        .contains("viewer"));
    assert!(last.contains("**Rolled back**"), "{last}");
    assert!(
        last.contains("rollback requested by dave on PR #7"),
        "{last}"
    );

    let d = gh.requests("POST", "/repos/acme/shop/deployments")[0].json();
    assert_eq!(
        (d["ref"].as_str(), d["environment"].as_str()),
        (Some("head456"), Some("staging"))
    );
    let id = gh.state.lock().unwrap().deployments[0]["id"]
        .as_u64()
        .unwrap();
    let states = gh.statuses(id);
    assert_eq!(
        states
            .iter()
            .map(|s| s["state"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["in_progress", "failure"]
    );
    assert_eq!(
        states[1]["description"],
        "rolled back: rollback requested by dave on PR #7"
    );
    token_kept(&gh, &rx.text.lock().unwrap(), &rig.journal_text());
}

#[test]
fn a_gate_on_pr_comments_without_a_pull_request_does_not_start() {
    let gh = GitHub::start(State::default());
    let rig = Rig::new(GATED);
    let out = rig.command(&gh, &[]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("gate `canary-25.gate` reads its decision from pull-request comments (`via: gh`), and no pull request contains commit abc123"),
        "{err}"
    );
    assert_eq!(rig.router(), "0", "nothing was touched");
    assert!(!rig.dir.path().join(".rollgate/runs").exists() || rig.journal_text().is_empty());
}

#[test]
fn away_from_github_a_rollout_goes_on_without_its_reports_there() {
    let gh = GitHub::start(State::default());
    let rig = Rig::new(&WATCHED.replace("observe: 60s", "observe: 200ms"));
    let out = rig
        .command(&gh, &[])
        .env_remove("GITHUB_REPOSITORY")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("rollgate: `gh` (github): not in a GitHub Actions job (GITHUB_REPOSITORY is not set), so no PR comment or deployment statuses"), "{err}");
    assert_eq!(rig.router(), "100");
    assert!(gh.seen().is_empty());
}

#[test]
fn a_rehearsal_in_an_actions_job_puts_its_comment_on_the_pr_on_github_enterprise_too() {
    let gh = GitHub::start(State::default());
    let dir = tempfile::tempdir().unwrap();
    let event = pr_event(dir.path());
    // The sample workflow's rehearsal steps, as the action runs them, on GitHub Enterprise.
    let rehearse = |fixture: &str| {
        Command::new(env!("CARGO_BIN_EXE_rollgate"))
            .arg("action")
            .current_dir(crate::support::root())
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_OUTPUT", dir.path().join("output"))
            .env("GITHUB_STEP_SUMMARY", dir.path().join("summary"))
            .env("GITHUB_API_URL", format!("{}{ENTERPRISE}", gh.url))
            .env_remove("GITHUB_GRAPHQL_URL")
            .env("GITHUB_REPOSITORY", "acme/shop")
            .env("GITHUB_SHA", "merge789")
            .env("GITHUB_EVENT_PATH", &event)
            .env("GITHUB_TOKEN", TOKEN)
            .env("ROLLGATE_PLAN", "workflows/haproxy-canary.yaml")
            .env("ROLLGATE_MODE", "dry-run")
            .env("ROLLGATE_FIXTURE", fixture)
            .env("ROLLGATE_ENVIRONMENT", "production")
            .env_remove("ROLLGATE_INPUTS")
            .output()
            .unwrap()
    };
    let out = rehearse("fixtures/metrics/haproxy-canary/healthy.yaml");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("rollgate: the rehearsal's comment is on PR #7 (`gh`)"),
        "{err}"
    );
    // REST under `/api/v3`; GraphQL (who the token is) beside it, where GitHub Enterprise has it.
    let (graphql, rest): (Vec<Seen>, Vec<Seen>) =
        gh.seen().into_iter().partition(|s| s.url == "/api/graphql");
    assert_eq!(graphql.len(), 1);
    assert!(
        rest.iter().all(|s| s.url.starts_with("/api/v3/")),
        "{rest:#?}"
    );
    let posts = gh.requests("POST", "/repos/acme/shop/issues/7/comments");
    assert_eq!(posts.len(), 1);
    let body = posts[0].json()["body"].as_str().unwrap().to_string();
    assert!(
        body.starts_with("<!-- rollgate:checkout-api canary:production -->"),
        "{body}"
    );
    assert!(body.contains("preview (dry-run)"), "{body}");
    assert!(body.contains("**Promoted**"), "{body}");
    assert!(
        body.contains(
            "rollgate replayed the fixture `fixtures/metrics/haproxy-canary/healthy.yaml`"
        ),
        "{body}"
    );

    // A second fixture, in the same job: the same comment shows both, in the order they ran.
    // It rolls back, as that fixture expects: the step passes.
    let out = rehearse("fixtures/metrics/haproxy-canary/error-spike-at-25.yaml");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        gh.requests("POST", "/repos/acme/shop/issues/7/comments")
            .len(),
        1
    );
    let edits: Vec<Seen> = gh
        .seen()
        .into_iter()
        .filter(|s| s.method == "PATCH")
        .collect();
    assert_eq!(edits.len(), 1, "{edits:#?}");
    let both = edits[0].json()["body"].as_str().unwrap().to_string();
    let healthy = both
        .find("<!-- rollgate-rehearsal:head456:fixtures/metrics/haproxy-canary/healthy.yaml -->");
    let spike = both.find("<!-- rollgate-rehearsal:head456:fixtures/metrics/haproxy-canary/error-spike-at-25.yaml -->");
    assert!(
        healthy.is_some() && spike.is_some() && healthy < spike,
        "{both}"
    );
    assert!(
        both.contains("**Promoted**") && both.contains("**Rolled back**"),
        "{both}"
    );
    // A rehearsal deploys nothing.
    assert!(gh
        .requests("POST", "/repos/acme/shop/deployments")
        .is_empty());
    token_kept(&gh, &String::from_utf8_lossy(&out.stdout), "");
}

#[test]
fn a_resumed_run_carries_on_with_its_deployment_and_comment() {
    let marker = "<!-- rollgate:shop canary:staging -->";
    let gh = GitHub::start(State::default());
    let dir = tempfile::tempdir().unwrap();
    let event = pr_event(dir.path());
    let env = [("GITHUB_EVENT_PATH", event.to_str().unwrap())];
    let rig = Rig::new(WATCHED);
    let (mut run, rx) = rig.start(&gh, &env);
    loop {
        if rx.wait_for("weight-shifted")["to"]["percent"] == 25 {
            break;
        }
    }
    gh.wait_for("the deployment in progress", |s| {
        s.body.contains("in_progress")
    });
    gh.wait_for("the comment", |s| {
        s.method == "POST" && s.body.contains(marker)
    });
    // The machine goes away mid-phase.
    run.kill().unwrap();
    run.wait().unwrap();
    let mut runs = std::fs::read_dir(rig.dir.path().join(".rollgate/runs")).unwrap();
    let id = runs.next().unwrap().unwrap().file_name();
    let id = id.to_str().unwrap();
    let out = rig
        .rollgate(&gh, &["resume", id, "--json"], &env)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(rig.router(), "0");
    // One deployment, told in progress by each life and then how it ended; one comment.
    assert_eq!(gh.requests("POST", "/repos/acme/shop/deployments").len(), 1);
    let deployment = gh.state.lock().unwrap().deployments[0]["id"]
        .as_u64()
        .unwrap();
    let states: Vec<Value> = gh
        .statuses(deployment)
        .iter()
        .map(|s| s["state"].clone())
        .collect();
    assert_eq!(
        states,
        [json!("in_progress"), json!("in_progress"), json!("failure")]
    );
    assert_eq!(
        gh.requests("POST", "/repos/acme/shop/issues/7/comments")
            .len(),
        1
    );
    let (_, last) = gh.sticky(marker);
    assert!(last.contains("**Rolled back**"), "{last}");
}

/// A run started by a comment on PR #7 (an `issue_comment` event, whose payload names the PR
/// but not its head): the deployment is of the PR's head, not of `GITHUB_SHA` (the default
/// branch's), and a marker someone else planted is left alone: rollgate posts its own.
#[test]
fn on_a_comment_the_deployment_is_of_the_prs_head_and_a_planted_marker_is_left_alone() {
    let marker = "<!-- rollgate:shop canary:staging -->";
    let gh = GitHub::start(State {
        heads: [(7, "head789".to_string())].into(),
        comments: vec![json!({
            "id": 556,
            "body": format!("{marker}\nplanted by mallory"),
            "user": { "login": "mallory", "type": "User" },
            "created_at": "2026-01-02T00:00:00Z",
        })],
        ..State::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let event = dir.path().join("event.json");
    std::fs::write(
        &event,
        r#"{"action": "created", "issue": {"number": 7, "pull_request": {"url": "https://api.github.com/repos/acme/shop/pulls/7"}}, "comment": {"id": 1, "body": "/deploy", "user": {"login": "carol"}}}"#,
    )
    .unwrap();
    let rig = Rig::new(&WATCHED.replace("observe: 60s", "observe: 200ms"));
    let out = rig
        .command(&gh, &[("GITHUB_EVENT_PATH", event.to_str().unwrap())])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(gh.requests("GET", "/repos/acme/shop/pulls/7").len(), 1);
    let d = gh.requests("POST", "/repos/acme/shop/deployments")[0].json();
    assert_eq!(d["ref"], "head789", "not GITHUB_SHA (abc123)");
    assert!(
        gh.requests("PATCH", "/repos/acme/shop/issues/comments/556")
            .is_empty(),
        "the planted marker is not edited"
    );
    assert_eq!(
        gh.requests("POST", "/repos/acme/shop/issues/7/comments")
            .len(),
        1,
        "rollgate posts its own comment"
    );
    let (id, last) = gh.sticky(marker);
    assert_ne!(id, 556);
    assert!(last.contains("**Promoted**"), "{last}");
    assert_eq!(
        gh.state.lock().unwrap().comments[0]["body"],
        format!("{marker}\nplanted by mallory")
    );
}
