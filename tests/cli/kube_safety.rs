//! What a rollback puts back, found by identity, and what rollgate takes out, only its own:
//! against the stand-in Kubernetes API with another writer editing the route mid-run (a GitOps
//! sync prepending a rule), a user's own canary mirror and a rule named like rollgate's, a
//! gateway that rejects a generation or a server that refuses a write (neither retried), an
//! expired token, a cluster that serves HTTPRoute only as v1beta1, and what every request says
//! of its sender.

use crate::kube_api::{rollgate_run, Controller, KubeApi};
use crate::support::{said, Events};
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

use crate::gateway::PLAN;

/// A route with two split rules, one named and one not, each with its own weights.
fn two_split_rules() -> Value {
    json!({
        "parentRefs": [{ "name": "edge" }],
        "rules": [
            {
                "name": "main",
                "matches": [{ "path": { "type": "PathPrefix", "value": "/" } }],
                "backendRefs": [
                    { "name": "web-stable", "port": 80, "weight": 90 },
                    { "name": "web-canary", "port": 80, "weight": 10 }
                ]
            },
            {
                "matches": [{ "path": { "type": "PathPrefix", "value": "/api" } }],
                "backendRefs": [
                    { "name": "web-stable", "port": 80, "weight": 3 },
                    { "name": "web-canary", "port": 80, "weight": 1 }
                ]
            }
        ]
    })
}

/// A rule a GitOps sync puts first.
fn prepended() -> Value {
    json!({
        "matches": [{ "path": { "type": "PathPrefix", "value": "/static" } }],
        "backendRefs": [{ "name": "static", "port": 80 }]
    })
}

fn start(route: Value, error_rate: &str, plan: &str) -> (tempfile::TempDir, KubeApi) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("plan.yaml"), plan).unwrap();
    std::fs::write(dir.path().join("errors"), error_rate).unwrap();
    let api = KubeApi::start(Controller::Accepts(Duration::from_millis(50)));
    api.put_route("shop", "web", route);
    api.kubeconfig(dir.path(), "shop");
    (dir, api)
}

fn watched(dir: &Path) -> (std::process::Child, Events) {
    let mut cmd = rollgate_run(dir);
    cmd.arg("--json");
    Events::spawn(&mut cmd)
}

#[test]
fn a_rule_prepended_mid_run_gets_its_own_weights_back_and_so_does_every_rule() {
    let (dir, api) = start(two_split_rules(), "0.001", PLAN);
    let (mut child, events) = watched(dir.path());
    events.wait_where("weight-shifted", |e| e["to"]["percent"] == 25);
    api.edit_route("shop", "web", |spec| {
        spec["rules"].as_array_mut().unwrap().insert(0, prepended());
    });
    // The canary fails from here on.
    std::fs::write(dir.path().join("errors"), "0.08").unwrap();
    let status = child.wait().unwrap();
    let all = events.finish();
    assert_eq!(status.code(), Some(3), "{all:?}");
    let mut expected = two_split_rules();
    expected["rules"]
        .as_array_mut()
        .unwrap()
        .insert(0, prepended());
    assert_eq!(api.route("shop", "web")["spec"], expected);
    // The rollback wrote (not GETs only), and read every rule back as captured.
    let checked = all.iter().find(|e| e["event"] == "router-checked").unwrap();
    assert_eq!(checked["off"], json!([]), "{all:?}");
}

#[test]
fn a_rule_another_writer_took_away_fails_the_run_loudly_and_status_shows_it_left() {
    let (dir, api) = start(two_split_rules(), "0.001", PLAN);
    let (mut child, events) = watched(dir.path());
    events.wait_where("weight-shifted", |e| e["to"]["percent"] == 25);
    // The unnamed rule's matches change: it is no longer the rule that was captured.
    api.edit_route("shop", "web", |spec| {
        spec["rules"][1]["matches"][0]["path"]["value"] = "/v2".into();
    });
    std::fs::write(dir.path().join("errors"), "0.08").unwrap();
    let status = child.wait().unwrap();
    let all = events.finish();
    assert_eq!(
        status.code(),
        Some(5),
        "router-failed, never rolled-back: {all:?}"
    );
    let finished = all.iter().find(|e| e["event"] == "run-finished").unwrap();
    assert_eq!(finished["outcome"], "router-failed");
    let reason = finished["reason"]["message"].as_str().unwrap();
    assert!(
        reason.contains("has no the rule matching") || reason.contains("has no rule"),
        "{reason}"
    );
    // The named rule is back; the other could not be told.
    let route = api.route("shop", "web");
    assert_eq!(route["spec"]["rules"][0], two_split_rules()["rules"][0]);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rollgate"))
        .args(["status", "--state-dir", "state"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let text = said(&out);
    assert!(text.contains("LEFT"), "{text}");
}

#[test]
fn a_users_canary_mirror_and_rule_named_like_rollgates_survive_promotion_and_rollback() {
    // The plan mirrors first, then shifts: rollgate adds a mirror of its own beside theirs.
    let plan = PLAN.replace(
        "strategy:\n  canary: { weights: [25, 50, 100], observe: 1s }\n",
        "phases:\n  - { name: shadow, mirror: 100, observe: 600ms }\n  - { name: quarter, weight: 25, observe: 600ms }\n  - { name: full, weight: 100 }\n",
    );
    let theirs = || {
        let mut route = two_split_rules();
        route["rules"][0]["filters"] = json!([{ "type": "RequestMirror", "requestMirror": { "backendRef": { "name": "web-canary", "port": 80 }, "percent": 5 } }]);
        route["rules"].as_array_mut().unwrap().push(
            json!({ "name": "rollgate-canary", "backendRefs": [{ "name": "legacy", "port": 80 }] }),
        );
        route
    };
    for (errors, code) in [("0.001", 0), ("0.08", 3)] {
        let (dir, api) = start(theirs(), errors, &plan);
        let out = rollgate_run(dir.path()).output().unwrap();
        assert_eq!(out.status.code(), Some(code), "{}", said(&out));
        let route = api.route("shop", "web");
        let mut expected = theirs();
        if code == 0 {
            for rule in expected["rules"].as_array_mut().unwrap().iter_mut().take(2) {
                rule["backendRefs"][0]["weight"] = 0.into();
                rule["backendRefs"][1]["weight"] = 100.into();
            }
        }
        assert_eq!(route["spec"], expected, "{}", said(&out));
        assert!(
            route["metadata"]["annotations"].is_null(),
            "nothing of rollgate's is left: {route}"
        );
        // While mirroring, the route held both mirrors, and the annotation named rollgate's.
        let mirrored = api
            .writes()
            .into_iter()
            .find(|w| {
                w["spec"]["rules"][0]["filters"]
                    .as_array()
                    .is_some_and(|f| f.len() == 2)
            })
            .expect("a write with rollgate's mirror beside the user's");
        let added = mirrored["metadata"]["annotations"]["rollgate.dev/added"]
            .as_str()
            .unwrap();
        assert!(added.contains("\"mirror\""), "{added}");
    }
}

#[test]
fn a_rejected_generation_and_a_refused_write_are_not_retried() {
    let (dir, api) = start(two_split_rules(), "0.001", PLAN);
    api.set_controller(Controller::Rejects {
        above: 20,
        reason: "UnsupportedValue",
        message: "at most 20%",
    });
    let out = rollgate_run(dir.path()).output().unwrap();
    let text = said(&out);
    assert_eq!(out.status.code(), Some(5), "{text}");
    assert!(!text.contains("retrying"), "{text}");
    // One write of 25%, then the restore.
    let canary: Vec<u64> = api
        .writes()
        .iter()
        .map(|w| {
            w["spec"]["rules"][0]["backendRefs"][1]["weight"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(canary, [25, 10], "{text}");

    let (dir, api) = start(two_split_rules(), "0.001", PLAN);
    api.refuse_writes(422);
    let out = rollgate_run(dir.path()).output().unwrap();
    let text = said(&out);
    assert_eq!(out.status.code(), Some(5), "{text}");
    assert!(!text.contains("retrying"), "{text}");
    assert!(text.contains("422"), "{text}");
    let puts = api.log().iter().filter(|r| r.method == "PUT").count();
    assert_eq!(puts, 1, "{text}");
}

#[test]
fn a_stuck_shift_gives_up_within_the_routers_timeout() {
    let (dir, api) = start(
        two_split_rules(),
        "0.08",
        &PLAN.replace("timeout: 3s", "timeout: 2s"),
    );
    api.set_controller(Controller::Silent);
    let (mut child, events) = watched(dir.path());
    let started = events.wait_for("rollback-started");
    child.wait().unwrap();
    // 2 s of waiting for the gateway, and one interval: not 5 attempts of 2 s each.
    let t = started["t"].as_f64().unwrap();
    assert!(t < 2.0 + 0.2 + 0.5, "rollback began at {t} s");
}

#[test]
fn every_request_says_it_is_rollgate_and_every_write_names_its_field_manager() {
    let (dir, api) = start(two_split_rules(), "0.001", PLAN);
    let out = rollgate_run(dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", said(&out));
    let log = api.log();
    let agent = format!("rollgate/{}", env!("CARGO_PKG_VERSION"));
    assert!(
        log.iter()
            .all(|r| r.user_agent.as_deref() == Some(agent.as_str())),
        "{log:?}"
    );
    let puts: Vec<_> = log.iter().filter(|r| r.method == "PUT").collect();
    assert!(!puts.is_empty());
    assert!(
        puts.iter().all(|r| r.url.contains("fieldManager=rollgate")),
        "{puts:?}"
    );
    assert_eq!(
        api.route("shop", "web")["metadata"]["managedFields"][0]["manager"],
        "rollgate"
    );
}

#[test]
fn an_expired_token_is_said_as_authentication_not_rbac() {
    let (dir, api) = start(two_split_rules(), "0.001", PLAN);
    api.unauthorize();
    let out = rollgate_run(dir.path()).output().unwrap();
    let text = said(&out);
    assert_ne!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains(
            "did not accept the credentials of kubeconfig user `rollgate` of context `standin`"
        ),
        "{text}"
    );
    assert!(!text.contains("Role"), "{text}");
    assert!(!text.contains("retrying"), "{text}");
}

#[test]
fn a_cluster_serving_httproute_only_as_v1beta1_is_driven_as_v1beta1() {
    let (dir, api) = start(two_split_rules(), "0.001", PLAN);
    api.serve_only(
        "gateway.networking.k8s.io",
        &[
            ("v1beta1", &["gateways", "httproutes"]),
            ("v1alpha2", &["tcproutes"]),
        ],
    );
    let out = rollgate_run(dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", said(&out));
    let puts: Vec<_> = api
        .log()
        .into_iter()
        .filter(|r| r.method == "PUT")
        .collect();
    assert!(puts.iter().all(|r| r
        .url
        .starts_with("/apis/gateway.networking.k8s.io/v1beta1/")));
    assert_eq!(
        api.route("shop", "web")["spec"]["rules"][1]["backendRefs"][1]["weight"],
        100
    );

    // A GRPCRoute on a cluster without GRPCRoute v1: said, with what the cluster serves.
    let plan = PLAN.replace(
        "routes: [{ name: web }]",
        "routes: [{ name: web, kind: GRPCRoute }]",
    );
    std::fs::write(dir.path().join("plan.yaml"), plan).unwrap();
    let out = rollgate_run(dir.path()).output().unwrap();
    let text = said(&out);
    assert_ne!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("the cluster does not serve GRPCRoute at gateway.networking.k8s.io/v1 (it serves gateway.networking.k8s.io only as v1beta1, v1alpha2)"),
        "{text}"
    );
}

/// The prepended-rule rollback for Istio: the second `http` route's weights go back to it,
/// not onto the first.
#[test]
fn an_istio_route_prepended_mid_run_gets_every_routes_weights_back() {
    let plan = "name: checkout istio canary
providers:
  mesh: { kind: istio, virtual-service: checkout, stable: { host: checkout, subset: stable }, canary: { host: checkout, subset: canary }, timeout: 3s }
  metrics: { kind: metrics-command, run: cat errors }
interval: 200ms
checks:
  error-rate: { source: metrics, canary: errors, max: 1% }
strategy:
  canary: { weights: [25, 50, 100], observe: 1s }
";
    let d = |subset: &str, w: u64| json!({ "destination": { "host": "checkout", "subset": subset }, "weight": w });
    let vs = json!({
        "hosts": ["checkout"],
        "http": [
            { "name": "first", "match": [{ "uri": { "prefix": "/a" } }], "route": [d("stable", 90), d("canary", 10)] },
            { "match": [{ "uri": { "prefix": "/b" } }], "route": [d("stable", 100), d("canary", 0)] }
        ]
    });
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("plan.yaml"), plan).unwrap();
    std::fs::write(dir.path().join("errors"), "0.001").unwrap();
    let api = KubeApi::start(Controller::Accepts(Duration::from_millis(50)));
    api.put_istio(
        "virtualservices",
        "VirtualService",
        "prod",
        "checkout",
        vs.clone(),
    );
    api.kubeconfig(dir.path(), "prod");
    let (mut child, events) = watched(dir.path());
    events.wait_where("weight-shifted", |e| e["to"]["percent"] == 25);
    let other = json!({ "match": [{ "uri": { "prefix": "/c" } }], "route": [{ "destination": { "host": "static" } }] });
    api.edit_object("virtualservices", "prod", "checkout", |spec| {
        spec["http"]
            .as_array_mut()
            .unwrap()
            .insert(0, other.clone());
    });
    std::fs::write(dir.path().join("errors"), "0.08").unwrap();
    let status = child.wait().unwrap();
    let all = events.finish();
    let now = api.object("virtualservices", "prod", "checkout")["spec"].clone();
    assert_eq!(now["http"][1], vs["http"][0], "{all:?}");
    assert_eq!(now["http"][2], vs["http"][1], "{all:?}");
    assert_eq!(now["http"][0], other, "{all:?}");
    assert_eq!(status.code(), Some(3), "{all:?}");
}

/// `openssl s_server` on loopback with a self-signed certificate: an API server whose CA the
/// kubeconfig does not have.
struct TlsServer {
    child: std::process::Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tls_server() -> TlsServer {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let made = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl (the README's test command installs it)");
    assert!(made.status.success(), "{}", said(&made));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = std::process::Command::new("openssl")
        .args([
            "s_server",
            "-quiet",
            "-www",
            "-accept",
            &format!("127.0.0.1:{port}"),
            "-cert",
        ])
        .arg(&cert)
        .arg("-key")
        .arg(&key)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    crate::rig::wait_for(
        "openssl s_server to listen",
        Duration::from_secs(10),
        || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
    );
    TlsServer {
        child,
        port,
        _dir: dir,
    }
}

#[test]
fn a_kubeconfig_without_the_servers_ca_is_said_as_tls_verification() {
    let server = tls_server();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("plan.yaml"), PLAN).unwrap();
    std::fs::write(dir.path().join("errors"), "0.001").unwrap();
    let kubeconfig = format!("apiVersion: v1\nkind: Config\nclusters:\n  - name: prod\n    cluster: {{ server: 'https://127.0.0.1:{}' }}\nusers:\n  - name: ci\n    user: {{ token: t }}\ncontexts:\n  - name: prod\n    context: {{ cluster: prod, user: ci, namespace: shop }}\ncurrent-context: prod\n", server.port);
    std::fs::write(dir.path().join("kubeconfig"), kubeconfig).unwrap();
    let out = rollgate_run(dir.path()).output().unwrap();
    let text = said(&out);
    assert_ne!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("the Kubernetes API server's TLS certificate did not verify (invalid peer certificate: "),
        "{text}"
    );
    assert!(
        text.contains("give kubeconfig cluster `prod` the CA that signed it (`certificate-authority-data` or `certificate-authority`)"),
        "{text}"
    );
    assert!(!text.contains("retrying"), "{text}");
}

#[test]
fn while_a_shift_waits_for_its_gateway_the_canary_is_still_judged() {
    let (dir, api) = start(
        two_split_rules(),
        "0.001",
        &PLAN.replace("timeout: 3s", "timeout: 20s"),
    );
    let (mut child, events) = watched(dir.path());
    events.wait_where("weight-shifted", |e| e["to"]["percent"] == 25);
    // The gateway stops answering; the shift to 50% waits for it, and the canary goes bad.
    api.set_controller(Controller::Silent);
    let waiting = events.wait_where("step-started", |e| e["step"] == "canary-50.shift");
    std::fs::write(dir.path().join("errors"), "0.08").unwrap();
    let rollback = events.wait_for("rollback-started");
    api.set_controller(Controller::Accepts(Duration::from_millis(50)));
    child.wait().unwrap();
    let waited = rollback["t"].as_f64().unwrap() - waiting["t"].as_f64().unwrap();
    assert!(waited < 3.0, "judged {waited} s into a 20 s wait");
    assert_eq!(rollback["reason"]["check"], "error-rate", "{rollback}");
    assert_eq!(
        api.route("shop", "web")["spec"]["rules"][0],
        two_split_rules()["rules"][0]
    );
}

#[test]
fn an_istio_users_mirror_and_route_named_like_rollgates_survive_promotion_and_rollback() {
    let plan = "name: checkout istio canary
providers:
  mesh: { kind: istio, virtual-service: checkout, routes: [primary], stable: { host: checkout, subset: stable }, canary: { host: checkout, subset: canary }, timeout: 3s }
  metrics: { kind: metrics-command, run: cat errors }
interval: 200ms
checks:
  error-rate: { source: metrics, canary: errors, max: 1% }
strategy:
  canary: { weights: [25, 100], observe: 600ms }
";
    let d = |subset: &str, w: u64| json!({ "destination": { "host": "checkout", "subset": subset }, "weight": w });
    let theirs = json!({
        "hosts": ["checkout"],
        "http": [
            { "name": "rollgate-canary", "match": [{ "uri": { "prefix": "/legacy" } }], "route": [{ "destination": { "host": "legacy" } }] },
            { "name": "primary", "mirror": { "host": "checkout", "subset": "canary" }, "mirrorPercentage": { "value": 5.0 },
              "route": [d("stable", 100), d("canary", 0)] }
        ]
    });
    for (errors, code) in [("0.001", 0), ("0.08", 3)] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("plan.yaml"), plan).unwrap();
        std::fs::write(dir.path().join("errors"), errors).unwrap();
        let api = KubeApi::start(Controller::Accepts(Duration::from_millis(50)));
        api.put_istio(
            "virtualservices",
            "VirtualService",
            "prod",
            "checkout",
            theirs.clone(),
        );
        api.kubeconfig(dir.path(), "prod");
        let out = rollgate_run(dir.path()).output().unwrap();
        assert_eq!(out.status.code(), Some(code), "{}", said(&out));
        let mut expected = theirs.clone();
        if code == 0 {
            expected["http"][1]["route"] = json!([d("stable", 0), d("canary", 100)]);
        }
        let vs = api.object("virtualservices", "prod", "checkout");
        assert_eq!(vs["spec"], expected, "{}", said(&out));
    }
}
