//! Chat notifications of a real run, against a local mock of the chat services (they cannot
//! run here): each payload's shape, the webhook's HMAC, retries on a 503, a notifier that
//! fails without changing the rollback, and secrets kept out of bodies and the journal.

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use std::process::Command;
use std::sync::{Arc, Mutex};

/// One request the mock received.
#[derive(Clone, Debug)]
struct Seen {
    path: String,
    headers: Vec<(String, String)>,
    body: String,
}

/// A mock chat service on loopback: records every request; `/slack/...` answers 503 (with
/// `Retry-After: 0`) to its first request, `/broken` always 400, the rest 200.
struct Mock {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    server: Arc<tiny_http::Server>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Mock {
    fn start() -> Mock {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
        let url = format!("http://{}", server.server_addr().to_ip().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (s, log) = (server.clone(), seen.clone());
        let thread = std::thread::spawn(move || {
            let mut slack_calls = 0;
            while let Ok(mut req) = s.recv() {
                let mut body = String::new();
                let _ = req.as_reader().read_to_string(&mut body);
                let path = req.url().to_string();
                let headers = req
                    .headers()
                    .iter()
                    .map(|h| (h.field.to_string().to_lowercase(), h.value.to_string()))
                    .collect();
                log.lock().unwrap().push(Seen {
                    path: path.clone(),
                    headers,
                    body,
                });
                let status = if path.starts_with("/slack/") {
                    slack_calls += 1;
                    if slack_calls == 1 {
                        503
                    } else {
                        200
                    }
                } else if path == "/broken" {
                    400
                } else {
                    200
                };
                let mut resp = tiny_http::Response::from_string("ok").with_status_code(status);
                if status == 503 {
                    resp.add_header(tiny_http::Header::from_bytes("Retry-After", "0").unwrap());
                }
                let _ = req.respond(resp);
            }
        });
        Mock {
            url,
            seen,
            server,
            thread: Some(thread),
        }
    }

    fn requests(&self, path: &str) -> Vec<Seen> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.path.starts_with(path))
            .cloned()
            .collect()
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

const SLACK_TOKEN: &str = "T000-B000-sl4ck-t0k3n";
const HOOK_SECRET: &str = "hmac-s3cr3t";

fn plan(url: &str) -> String {
    format!(
        r#"name: notified canary
providers:
  router: {{ kind: traffic-command, set: 'echo $ROLLGATE_CANARY_WEIGHT > router', get: cat router }}
  metrics: {{ kind: metrics-command, run: cat errors }}
  slack: {{ kind: slack, webhook: "{url}/slack/${{{{ secrets.SLACK_TOKEN }}}}" }}
  teams: {{ kind: teams, webhook: "{url}/teams" }}
  discord: {{ kind: discord, webhook: "{url}/discord" }}
  chat: {{ kind: google-chat, webhook: "{url}/chat" }}
  hook: {{ kind: webhook, url: "{url}/hook", secret: "${{{{ secrets.HOOK_SECRET }}}}" }}
  broken: {{ kind: slack, webhook: "{url}/broken" }}
interval: 100ms
checks:
  errors: {{ source: metrics, canary: errors, max: 1% }}
strategy:
  canary: {{ weights: [25, 100], observe: 300ms }}
notify:
  to: [slack, teams, discord, chat, hook, broken]
  on: [started, rolled-back]
  messages:
    rolled-back: "Rolled back {{{{plan}}}}: {{{{reason}}}}"
"#
    )
}

fn hmac_hex(secret: &str, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn a_rollback_is_told_to_every_chat_and_a_failing_one_changes_nothing() {
    let mock = Mock::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("plan.yaml"), plan(&mock.url)).unwrap();
    std::fs::write(dir.path().join("router"), "0\n").unwrap();
    std::fs::write(dir.path().join("errors"), "0.05\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rollgate"))
        .args(["run", "plan.yaml", "--json"])
        .current_dir(dir.path())
        .env("SLACK_TOKEN", SLACK_TOKEN)
        .env("HOOK_SECRET", HOOK_SECRET)
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", dir.path().join("summary.md"))
        .env_remove("GITHUB_OUTPUT")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("router"))
            .unwrap()
            .trim(),
        "0"
    );
    // Under Actions the secrets' masks come first.
    let events: Vec<Value> = stdout
        .lines()
        .filter(|l| !l.starts_with("::add-mask::"))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let sent: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"] == "notification-sent")
        .collect();
    assert_eq!(
        sent.len(),
        12,
        "6 targets × started and rolled-back: {sent:#?}"
    );
    let broken: Vec<&&Value> = sent.iter().filter(|e| e["to"] == "broken").collect();
    assert!(
        broken.iter().all(|e| e["error"] == "HTTP 400 Bad Request"),
        "{broken:?}"
    );
    // The job summary lists what was not delivered.
    let summary = std::fs::read_to_string(dir.path().join("summary.md")).unwrap();
    assert!(
        summary.contains("Notifications not delivered (the rollout did not wait for them):\n- broken (started): HTTP 400 Bad Request\n- broken (rolled-back): HTTP 400 Bad Request")
            || summary.contains("Notifications not delivered (the rollout did not wait for them):\n- broken (rolled-back): HTTP 400 Bad Request\n- broken (started): HTTP 400 Bad Request"),
        "{summary}"
    );
    let slack_retry = sent
        .iter()
        .find(|e| e["to"] == "slack" && e["about"] == "started")
        .unwrap();
    assert_eq!(slack_retry["attempts"], 2, "the 503 was retried");

    // Each service got its own shape.
    let slack = mock.requests("/slack/");
    assert_eq!(
        slack.len(),
        3,
        "started twice (a 503, then delivered), rolled-back once"
    );
    let rolled: Value = serde_json::from_str(&slack[2].body).unwrap();
    assert_eq!(rolled["text"], "notified canary: rolled back");
    assert_eq!(rolled["blocks"][0]["type"], "header");
    let text = rolled["blocks"][1]["text"]["text"].as_str().unwrap();
    assert!(
        text.starts_with("Rolled back notified canary: errors 5% > max 1%"),
        "{text}"
    );
    let teams: Value = serde_json::from_str(&mock.requests("/teams")[1].body).unwrap();
    let card = &teams["attachments"][0];
    assert_eq!(
        card["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    assert_eq!(card["content"]["type"], "AdaptiveCard");
    assert_eq!(card["content"]["body"][0]["color"], "Attention");
    let discord: Value = serde_json::from_str(&mock.requests("/discord")[1].body).unwrap();
    assert_eq!(
        discord["embeds"][0]["title"],
        "notified canary: rolled back"
    );
    assert_eq!(discord["embeds"][0]["color"], 0xe7_4c3c);
    let chat: Value = serde_json::from_str(&mock.requests("/chat")[0].body).unwrap();
    assert_eq!(
        chat["text"],
        "*notified canary: rollout started*\nRollout of notified canary started."
    );
    for hook in mock.requests("/hook") {
        let body: Value = serde_json::from_str(&hook.body).unwrap();
        assert_eq!(body["plan"], "notified canary");
        let signature = hook
            .headers
            .iter()
            .find(|(k, _)| k == "x-rollgate-signature")
            .map(|(_, v)| v.clone())
            .expect("signed");
        assert_eq!(
            signature,
            format!("sha256={}", hmac_hex(HOOK_SECRET, &hook.body))
        );
    }

    // Secrets: in no body, and nowhere in the journal, the summary or the output but the
    // commands that mask them in the job's log.
    for s in mock.seen.lock().unwrap().iter() {
        assert!(!s.body.contains(SLACK_TOKEN) && !s.body.contains(HOOK_SECRET));
    }
    let mut masks: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("::add-mask::"))
        .collect();
    masks.sort();
    let mut want = [
        format!("::add-mask::{HOOK_SECRET}"),
        format!("::add-mask::{SLACK_TOKEN}"),
    ];
    want.sort();
    assert_eq!(masks, want);
    let unmasked: String = stdout
        .lines()
        .filter(|l| !l.starts_with("::add-mask::"))
        .collect();
    assert!(!unmasked.contains(SLACK_TOKEN) && !unmasked.contains(HOOK_SECRET));
    assert!(!summary.contains(SLACK_TOKEN) && !summary.contains(HOOK_SECRET));
    for f in crate::support::walk(&dir.path().join(".rollgate/runs")) {
        let text = std::fs::read_to_string(&f).unwrap();
        assert!(
            !text.contains(SLACK_TOKEN) && !text.contains(HOOK_SECRET),
            "{}",
            f.display()
        );
    }
}

#[test]
fn a_notify_step_of_a_real_run_goes_to_its_chat() {
    let mock = Mock::start();
    let dir = tempfile::tempdir().unwrap();
    let plan = format!(
        r#"name: announced
providers:
  router: {{ kind: traffic-command, set: 'echo $ROLLGATE_CANARY_WEIGHT > router', get: cat router }}
  metrics: {{ kind: metrics-command, run: echo 0.001 }}
  teams: {{ kind: teams, webhook: "{url}/teams" }}
  hook: {{ kind: webhook, url: "{url}/hook" }}
interval: 100ms
checks:
  errors: {{ source: metrics, canary: errors, max: 1% }}
strategy:
  canary: {{ weights: [50, 100], observe: 200ms }}
steps:
  - {{ id: roll, uses: rollout }}
  - id: announce
    needs: roll
    uses: notify
    with: {{ to: [hook], message: "${{{{ inputs.release }}}} is live." }}
inputs:
  release: {{ type: string }}
"#,
        url = mock.url
    );
    std::fs::write(dir.path().join("plan.yaml"), plan).unwrap();
    std::fs::write(dir.path().join("router"), "0\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rollgate"))
        .args(["run", "plan.yaml", "--json", "--input", "release=v7"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let asked = stdout
        .lines()
        .find(|l| l.contains(r#""event":"notification-asked""#))
        .expect("the step asked");
    assert!(
        asked.contains(r#""step":"announce","to":["hook"],"message":"v7 is live.""#),
        "{asked}"
    );
    let sent = stdout
        .lines()
        .find(|l| l.contains(r#""event":"notification-sent""#))
        .expect("and it was sent");
    assert!(
        sent.contains(r#""to":"hook","about":"step","attempts":1"#),
        "{sent}"
    );
    // Only the step's target: the plan has no `notify:`.
    assert!(mock.requests("/teams").is_empty());
    let hooks = mock.requests("/hook");
    assert_eq!(hooks.len(), 1);
    let body: Value = serde_json::from_str(&hooks[0].body).unwrap();
    assert_eq!(
        (
            body["event"].as_str(),
            body["step"].as_str(),
            body["text"].as_str()
        ),
        (Some("step"), Some("announce"), Some("v7 is live."))
    );
}
