//! `rollgate run` with a `gateway-api` router against the stand-in Kubernetes API server: only
//! the two backends' weights change, the captured weights come back on rollback, another
//! writer's change survives, and a gateway that refuses or an account that may not write says
//! so loudly.

use crate::kube_api::{rollgate_run, Controller, KubeApi};
use crate::support::{said, signal, Events};
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

/// Shared with the safety tests (`kube_safety`).
pub const PLAN: &str = "name: web gateway canary
providers:
  gw: { kind: gateway-api, routes: [{ name: web }], stable: web-stable, canary: web-canary, timeout: 3s }
  metrics: { kind: metrics-command, run: cat errors }
interval: 200ms
checks:
  error-rate: { source: metrics, canary: errors, max: 1% }
strategy:
  canary: { weights: [25, 50, 100], observe: 1s }
";

/// The user's route: a filter and a match on the shared rule, another rule of their own, and
/// the canary already at 10%.
fn users_route() -> Value {
    json!({
        "parentRefs": [{ "name": "edge" }],
        "rules": [
            {
                "matches": [{ "path": { "type": "PathPrefix", "value": "/" } }],
                "filters": [{ "type": "RequestHeaderModifier", "requestHeaderModifier": { "add": [{ "name": "x-team", "value": "web" }] } }],
                "backendRefs": [
                    { "name": "web-stable", "port": 80, "weight": 90 },
                    { "name": "web-canary", "port": 80, "weight": 10 }
                ]
            },
            {
                "matches": [{ "path": { "type": "PathPrefix", "value": "/admin" } }],
                "backendRefs": [{ "name": "admin", "port": 80 }]
            }
        ]
    })
}

/// A route's spec without the two weights rollgate may change.
fn without_weights(spec: &Value) -> Value {
    let mut spec = spec.clone();
    for r in spec["rules"][0]["backendRefs"].as_array_mut().unwrap() {
        r.as_object_mut().unwrap().remove("weight");
    }
    spec
}

struct Setup {
    dir: tempfile::TempDir,
    api: KubeApi,
}

fn setup(controller: Controller, error_rate: &str) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("plan.yaml"), PLAN).unwrap();
    std::fs::write(dir.path().join("errors"), error_rate).unwrap();
    let api = KubeApi::start(controller);
    api.put_route("shop", "web", users_route());
    api.kubeconfig(dir.path(), "shop");
    Setup { dir, api }
}

fn run(dir: &Path) -> Output {
    rollgate_run(dir).output().unwrap()
}

/// The run rolled back (exit 3) and the user's route is exactly as it was before it.
fn rolled_back_to_the_users_route(s: &Setup, out: &Output) {
    assert_eq!(out.status.code(), Some(3), "{}", said(out));
    assert_eq!(s.api.route("shop", "web")["spec"], users_route());
}

#[test]
fn a_healthy_rollout_moves_only_the_two_weights_to_full() {
    let s = setup(Controller::Accepts(Duration::from_millis(100)), "0.001");
    let out = run(s.dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", said(&out));
    assert_eq!(
        s.api.weights("shop", "web"),
        [("web-stable".into(), 0), ("web-canary".into(), 100)]
    );
    let route = s.api.route("shop", "web");
    assert_eq!(
        without_weights(&route["spec"]),
        without_weights(&users_route())
    );
    // Each shift was one write of the whole route, weights 75/25, 50/50, 0/100.
    let written: Vec<(u64, u64)> = s
        .api
        .writes()
        .iter()
        .map(|w| {
            let refs = &w["spec"]["rules"][0]["backendRefs"];
            (
                refs[0]["weight"].as_u64().unwrap(),
                refs[1]["weight"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(written, [(75, 25), (50, 50), (0, 100)]);
    // Reads and writes only; every write answered 200.
    let log = s.api.log();
    assert!(log.iter().all(|r| r.method == "GET" || r.method == "PUT"));
    assert!(log
        .iter()
        .filter(|r| r.method == "PUT")
        .all(|r| r.code == 200));
    assert!(log.windows(2).all(|w| w[0].at <= w[1].at));
    let put: Vec<Value> = log.iter().filter_map(|r| r.body.clone()).collect();
    assert_eq!(put, s.api.writes());
}

#[test]
fn a_failing_canary_gets_the_captured_weights_back() {
    let s = setup(Controller::Accepts(Duration::from_millis(100)), "0.05");
    let out = run(s.dir.path());
    // Not 100/0: the 90/10 the route had before the run.
    assert_eq!(
        s.api.weights("shop", "web"),
        [("web-stable".into(), 90), ("web-canary".into(), 10)]
    );
    rolled_back_to_the_users_route(&s, &out);
}

#[test]
fn another_writers_change_survives_and_conflicts_are_retried() {
    let s = setup(Controller::Accepts(Duration::from_millis(100)), "0.001");
    s.api.conflict_next(2);
    let child = rollgate_run(s.dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Mid-run, someone adds a rule of their own and changes the shared rule's filter.
    std::thread::sleep(Duration::from_millis(900));
    s.api.edit_route("shop", "web", |spec| {
        spec["rules"][0]["filters"][0]["requestHeaderModifier"]["add"][0]["value"] = "web-2".into();
        spec["rules"].as_array_mut().unwrap().push(json!({
            "matches": [{ "path": { "type": "PathPrefix", "value": "/health" } }],
            "backendRefs": [{ "name": "health", "port": 80 }]
        }));
    });
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", said(&out));
    let route = s.api.route("shop", "web");
    assert_eq!(route["spec"]["rules"].as_array().unwrap().len(), 3);
    assert_eq!(
        route["spec"]["rules"][0]["filters"][0]["requestHeaderModifier"]["add"][0]["value"],
        "web-2"
    );
    assert_eq!(
        s.api.weights("shop", "web"),
        [("web-stable".into(), 0), ("web-canary".into(), 100)]
    );
}

#[test]
fn a_gateway_that_refuses_the_weight_fails_the_run_loudly_and_gets_the_route_back() {
    let s = setup(
        Controller::Rejects {
            above: 20,
            reason: "UnsupportedValue",
            message: "this gateway allows the canary at most 20%",
        },
        "0.001",
    );
    let out = run(s.dir.path());
    let text = said(&out);
    assert_eq!(out.status.code(), Some(5), "{text}");
    assert!(
        text.contains("HTTPRoute shop/web: gateway `edge` reports Accepted=False (UnsupportedValue): this gateway allows the canary at most 20%"),
        "{text}"
    );
    assert_eq!(s.api.route("shop", "web")["spec"], users_route());
}

#[test]
fn a_gateway_that_never_answers_times_the_shift_out() {
    let s = setup(Controller::Silent, "0.001");
    std::fs::write(
        s.dir.path().join("plan.yaml"),
        PLAN.replace("timeout: 3s", "timeout: 300ms"),
    )
    .unwrap();
    let out = run(s.dir.path());
    let text = said(&out);
    assert_eq!(out.status.code(), Some(5), "{text}");
    assert!(
        text.contains("HTTPRoute shop/web: its gateway did not accept generation 2 within 300ms"),
        "{text}"
    );
}

#[test]
fn an_account_that_may_not_write_is_refused_before_anything_moves() {
    let s = setup(Controller::Accepts(Duration::from_millis(100)), "0.001");
    s.api.forbid();
    let out = run(s.dir.path());
    let text = said(&out);
    assert_ne!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("rollgate needs `get` and `update` on `httproutes` in `gateway.networking.k8s.io`, namespace `shop`"),
        "{text}"
    );
    // The Role that grants it, once per reason, in one line to copy.
    let role = "`kubectl create role rollgate -n shop --verb=get,update --resource=httproutes.gateway.networking.k8s.io`";
    assert!(text.contains(role), "{text}");
    let last = text.lines().find(|l| l.contains("Router failed:")).unwrap();
    assert_eq!(last.matches("kubectl create role").count(), 1, "{text}");
    // Whose credentials were refused, from the kubeconfig.
    assert!(
        text.contains("for kubeconfig user `rollgate` of context `standin`"),
        "{text}"
    );
    assert!(text.contains("nothing had moved"), "{text}");
    assert!(s.api.writes().is_empty());
}

/// Starts a run with `--json`, its events read as they come.
fn watched(s: &Setup) -> (std::process::Child, Events) {
    let mut cmd = rollgate_run(s.dir.path());
    cmd.arg("--json");
    Events::spawn(&mut cmd)
}

/// Starts a run with `--json` and waits until the canary takes 50%.
fn at_fifty(s: &Setup) -> (std::process::Child, Events) {
    let (child, events) = watched(s);
    events.wait_where("weight-shifted", |e| e["to"]["percent"] == 50);
    assert_eq!(
        s.api.weights("shop", "web"),
        [("web-stable".into(), 50), ("web-canary".into(), 50)]
    );
    (child, events)
}

#[test]
fn sigterm_puts_the_captured_weights_back_before_exiting() {
    let s = setup(Controller::Accepts(Duration::from_millis(50)), "0.001");
    let (child, events) = at_fifty(&s);
    signal(&child, "-TERM");
    let out = child.wait_with_output().unwrap();
    events.finish();
    rolled_back_to_the_users_route(&s, &out);
}

#[test]
fn killed_outright_then_resumed_the_route_gets_its_weights_back() {
    let s = setup(Controller::Accepts(Duration::from_millis(50)), "0.001");
    let (child, events) = at_fifty(&s);
    signal(&child, "-KILL");
    child.wait_with_output().unwrap();
    events.finish();
    // Left at 50/50 by a process that is gone.
    assert_eq!(
        s.api.weights("shop", "web"),
        [("web-stable".into(), 50), ("web-canary".into(), 50)]
    );
    let runs: Vec<_> = std::fs::read_dir(s.dir.path().join("state/runs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    let out = Command::new(env!("CARGO_BIN_EXE_rollgate"))
        .args(["resume", &runs[0], "--state-dir", "state"])
        .current_dir(s.dir.path())
        .env("KUBECONFIG", s.dir.path().join("kubeconfig"))
        .output()
        .unwrap();
    rolled_back_to_the_users_route(&s, &out);
}

#[test]
fn an_api_server_down_mid_run_is_retried_then_the_route_is_put_back() {
    let s = setup(Controller::Accepts(Duration::from_millis(50)), "0.001");
    let (child, events) = watched(&s);
    events.wait_where("weight-shifted", |e| e["to"]["percent"] == 25);
    s.api.set_down(true);
    // The shift to 50% fails its retries; the rollback keeps trying until the API is back.
    events.wait_where("router-retrying", |e| e["attempt"] == 4);
    events.wait_for("rollback-started");
    events.wait_for("router-retrying");
    s.api.set_down(false);
    let out = child.wait_with_output().unwrap();
    let seen = events.finish();
    assert_eq!(out.status.code(), Some(5), "{}", said(&out));
    assert!(seen.iter().any(|e| e["event"] == "rollback-finished"));
    assert_eq!(s.api.route("shop", "web")["spec"], users_route());
}

const MIRROR_THEN_HEADER: &str = "name: web shadow then a/b
providers:
  gw: { kind: gateway-api, routes: [{ name: web }], stable: web-stable, canary: web-canary, timeout: 3s }
  metrics: { kind: metrics-command, run: cat errors }
interval: 200ms
checks:
  error-rate: { source: metrics, canary: errors, max: 1% }
phases:
  - { name: shadow, mirror: 100, observe: 1s }
  - { name: ab, match: { header: x-canary, value: always }, observe: 1s }
  - { name: half, weight: 50, observe: 1s }
  - { name: full, weight: 100 }
";

#[test]
fn mirroring_then_a_header_rule_are_added_and_taken_out_again() {
    let s = setup(Controller::Accepts(Duration::from_millis(50)), "0.001");
    std::fs::write(s.dir.path().join("plan.yaml"), MIRROR_THEN_HEADER).unwrap();
    let (child, events) = watched(&s);
    events.wait_where("weight-shifted", |e| e["to"]["type"] == "mirror");
    let rules = s.api.route("shop", "web")["spec"]["rules"].clone();
    assert_eq!(
        rules[0]["filters"][1],
        json!({ "type": "RequestMirror", "requestMirror": { "backendRef": { "name": "web-canary", "port": 80 }, "percent": 100 } })
    );
    events.wait_where("weight-shifted", |e| e["to"]["type"] == "header-match");
    let rules = s.api.route("shop", "web")["spec"]["rules"].clone();
    assert_eq!(rules[0]["name"], "rollgate-canary");
    assert_eq!(rules[0]["matches"][0]["headers"][0]["name"], "x-canary");
    assert_eq!(
        rules[1]["filters"].as_array().unwrap().len(),
        1,
        "the mirror is gone"
    );
    events.wait_where("weight-shifted", |e| e["to"]["percent"] == 50);
    let mut expected = users_route();
    expected["rules"][0]["backendRefs"][0]["weight"] = 50.into();
    expected["rules"][0]["backendRefs"][1]["weight"] = 50.into();
    assert_eq!(s.api.route("shop", "web")["spec"], expected);
    let out = child.wait_with_output().unwrap();
    events.finish();
    assert_eq!(out.status.code(), Some(0), "{}", said(&out));
    assert_eq!(
        s.api.weights("shop", "web"),
        [("web-stable".into(), 0), ("web-canary".into(), 100)]
    );
}

#[test]
fn a_rollback_during_the_header_phase_leaves_the_route_as_it_was() {
    let s = setup(Controller::Accepts(Duration::from_millis(50)), "0.001");
    std::fs::write(s.dir.path().join("plan.yaml"), MIRROR_THEN_HEADER).unwrap();
    let (child, events) = watched(&s);
    events.wait_where("weight-shifted", |e| e["to"]["type"] == "header-match");
    std::fs::write(s.dir.path().join("errors"), "0.05").unwrap();
    let out = child.wait_with_output().unwrap();
    events.finish();
    rolled_back_to_the_users_route(&s, &out);
}

#[test]
fn a_grpc_route_is_driven_the_same_way() {
    let s = setup(Controller::Accepts(Duration::from_millis(50)), "0.001");
    let grpc = json!({
        "parentRefs": [{ "name": "edge" }],
        "rules": [{
            "matches": [{ "method": { "service": "shop.Cart" } }],
            "backendRefs": [
                { "name": "web-stable", "port": 9090, "weight": 100 },
                { "name": "web-canary", "port": 9090, "weight": 0 }
            ]
        }]
    });
    s.api.put_grpc_route("shop", "cart", grpc.clone());
    let plan = PLAN.replace(
        "routes: [{ name: web }]",
        "routes: [{ name: cart, kind: GRPCRoute }]",
    );
    std::fs::write(s.dir.path().join("plan.yaml"), plan).unwrap();
    let out = run(s.dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", said(&out));
    let mut expected = grpc;
    expected["rules"][0]["backendRefs"][0]["weight"] = 0.into();
    expected["rules"][0]["backendRefs"][1]["weight"] = 100.into();
    assert_eq!(s.api.object("grpcroutes", "shop", "cart")["spec"], expected);
}

#[test]
fn a_missing_route_or_context_is_said_before_anything_moves() {
    let s = setup(Controller::Accepts(Duration::from_millis(50)), "0.001");
    let plan = PLAN.replace("routes: [{ name: web }]", "routes: [{ name: webb }]");
    std::fs::write(s.dir.path().join("plan.yaml"), plan).unwrap();
    let out = run(s.dir.path());
    let text = said(&out);
    assert_eq!(out.status.code(), Some(5), "{text}");
    assert!(
        text.contains(
            "no HTTPRoute `webb` in namespace `shop`: check the router's settings and `namespace`"
        ),
        "{text}"
    );
    assert!(text.contains("nothing had moved"), "{text}");
    let plan = PLAN.replace("timeout: 3s", "timeout: 3s, context: staging");
    std::fs::write(s.dir.path().join("plan.yaml"), plan).unwrap();
    let out = run(s.dir.path());
    let text = said(&out);
    assert_eq!(out.status.code(), Some(5), "{text}");
    assert!(text.contains("kubeconfig context `staging`"), "{text}");
    assert!(s.api.writes().is_empty());
}
