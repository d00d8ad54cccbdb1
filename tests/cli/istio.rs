//! `rollgate run` with an `istio` router against the stand-in Kubernetes API server: only the
//! two destinations' weights in the named `http` route change, the captured weights come back
//! on rollback, and a DestinationRule without the subsets refuses the run before anything moves.

use crate::kube_api::{rollgate_run, Controller, KubeApi};
use crate::support::said;
use serde_json::{json, Value};
use std::process::Output;
use std::time::Duration;

const PLAN: &str = "name: checkout istio canary
providers:
  mesh:
    kind: istio
    virtual-service: checkout
    routes: [primary]
    stable: { host: checkout, subset: stable }
    canary: { host: checkout, subset: canary }
    destination-rule: checkout
    timeout: 3s
  metrics: { kind: metrics-command, run: cat errors }
interval: 200ms
checks:
  error-rate: { source: metrics, canary: errors, max: 1% }
strategy:
  canary: { weights: [25, 50, 100], observe: 600ms }
";

/// The user's VirtualService: a route of their own first, then the one split between the two
/// subsets, with retries rollgate must leave alone.
fn users_virtual_service() -> Value {
    let destination = |subset: &str, weight: u64| json!({ "destination": { "host": "checkout.prod.svc.cluster.local", "subset": subset, "port": { "number": 8080 } }, "weight": weight });
    json!({
        "hosts": ["checkout"],
        "gateways": ["mesh"],
        "http": [
            {
                "name": "internal",
                "match": [{ "headers": { "x-internal": { "exact": "1" } } }],
                "route": [{ "destination": { "host": "checkout-internal" } }]
            },
            {
                "name": "primary",
                "retries": { "attempts": 3, "perTryTimeout": "2s" },
                "route": [destination("stable", 100), destination("canary", 0)]
            }
        ]
    })
}

fn destination_rule(subsets: &[&str]) -> Value {
    let subsets: Vec<Value> = subsets
        .iter()
        .map(|s| json!({ "name": s, "labels": { "track": s } }))
        .collect();
    json!({ "host": "checkout", "subsets": subsets })
}

struct Setup {
    dir: tempfile::TempDir,
    api: KubeApi,
}

fn setup(error_rate: &str, subsets: &[&str]) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("plan.yaml"), PLAN).unwrap();
    std::fs::write(dir.path().join("errors"), error_rate).unwrap();
    let api = KubeApi::start(Controller::Accepts(Duration::from_millis(50)));
    api.put_istio(
        "virtualservices",
        "VirtualService",
        "prod",
        "checkout",
        users_virtual_service(),
    );
    api.put_istio(
        "destinationrules",
        "DestinationRule",
        "prod",
        "checkout",
        destination_rule(subsets),
    );
    api.kubeconfig(dir.path(), "prod");
    Setup { dir, api }
}

fn run(s: &Setup) -> Output {
    rollgate_run(s.dir.path()).output().unwrap()
}

/// The user's VirtualService once the canary is promoted: only the two weights changed.
fn promoted() -> Value {
    let mut expected = users_virtual_service();
    expected["http"][1]["route"][0]["weight"] = 0.into();
    expected["http"][1]["route"][1]["weight"] = 100.into();
    expected
}

/// The weights of the `primary` route: stable's, canary's.
fn weights(s: &Setup) -> (u64, u64) {
    let vs = s.api.object("virtualservices", "prod", "checkout");
    let route = &vs["spec"]["http"][1]["route"];
    (
        route[0]["weight"].as_u64().unwrap(),
        route[1]["weight"].as_u64().unwrap(),
    )
}

#[test]
fn a_healthy_rollout_moves_only_the_two_weights_to_full() {
    let s = setup("0.001", &["stable", "canary"]);
    let out = run(&s);
    assert_eq!(out.status.code(), Some(0), "{}", said(&out));
    assert_eq!(weights(&s), (0, 100));
    assert_eq!(
        s.api.object("virtualservices", "prod", "checkout")["spec"],
        promoted()
    );
}

#[test]
fn a_failing_canary_gets_the_captured_weights_back() {
    let s = setup("0.05", &["stable", "canary"]);
    let out = run(&s);
    assert_eq!(out.status.code(), Some(3), "{}", said(&out));
    assert_eq!(
        s.api.object("virtualservices", "prod", "checkout")["spec"],
        users_virtual_service()
    );
}

#[test]
fn a_destination_rule_without_the_canary_subset_refuses_the_run_before_anything_moves() {
    let s = setup("0.001", &["stable"]);
    let out = run(&s);
    let text = said(&out);
    assert_eq!(out.status.code(), Some(5), "{text}");
    assert!(
        text.contains("DestinationRule prod/checkout defines no subset `canary` (it has: stable)"),
        "{text}"
    );
    assert!(text.contains("nothing had moved"), "{text}");
    assert!(s.api.writes().is_empty());
}

#[test]
fn mirroring_then_a_header_route_are_added_and_taken_out_again() {
    let s = setup("0.001", &["stable", "canary"]);
    let plan = PLAN.replace(
        "strategy:\n  canary: { weights: [25, 50, 100], observe: 600ms }\n",
        "phases:\n  - { name: shadow, mirror: 100, observe: 600ms }\n  - { name: ab, match: { header: x-canary, value: always }, observe: 600ms }\n  - { name: full, weight: 100 }\n",
    );
    std::fs::write(s.dir.path().join("plan.yaml"), plan).unwrap();
    let out = run(&s);
    assert_eq!(out.status.code(), Some(0), "{}", said(&out));
    let writes = s.api.writes();
    let http = |i: usize| writes[i]["spec"]["http"].clone();
    // The mirror on the split route, then the header route first and the mirror gone, then
    // neither, with all traffic on the canary.
    assert_eq!(http(0)[1]["mirror"]["subset"], "canary");
    assert_eq!(http(0)[1]["mirrorPercentage"]["value"], 100.0);
    assert_eq!(http(1)[0]["name"], "rollgate-canary");
    assert_eq!(
        http(1)[0]["match"][0]["headers"]["x-canary"]["exact"],
        "always"
    );
    assert!(http(1)[2].get("mirror").is_none());
    assert_eq!(
        s.api.object("virtualservices", "prod", "checkout")["spec"],
        promoted()
    );
}
