//! Gateway API routers: the `weight` of the stable and canary backendRefs in HTTPRoutes (or
//! GRPCRoutes), read and written through the Kubernetes API.
//!
//! Only those two weights change, in every rule that references both backends; every other
//! rule, filter, match and field (even ones newer than rollgate knows) is written back as it was
//! read, with its `resourceVersion`, and a write that lost a race (409 Conflict) is re-read and
//! re-applied. A shift is confirmed only once every parent gateway reports the route
//! `Accepted` and `ResolvedRefs` at the written generation: observation starts then.

use super::kubernetes::{capture, captured, Kube, Resource};
use super::{TrafficError, TrafficRouter};
use crate::event::{Route, RouterState};
use crate::plan::provider::{Backend, GatewayApi as Spec, RouteKind, RouteRef};
use async_trait::async_trait;
use kube::api::DynamicObject;
use serde_json::Value;
use std::time::Duration;

/// How long a gateway may take to accept a change when the plan does not say.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const GROUP: &str = "gateway.networking.k8s.io";

pub struct GatewayApi {
    spec: Spec,
    kube: Kube,
}

/// A rule that references both backends: its index, and the positions of the two refs in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Shared {
    rule: usize,
    stable: usize,
    canary: usize,
}

impl GatewayApi {
    pub fn new(spec: Spec) -> GatewayApi {
        let kube = Kube::new(spec.context.clone());
        GatewayApi { spec, kube }
    }

    fn resource(&self, route: &RouteRef) -> Resource {
        Resource {
            group: GROUP,
            kind: kind(route),
            plural: match route.kind {
                RouteKind::HTTPRoute => "httproutes",
                RouteKind::GRPCRoute => "grpcroutes",
            },
            name: route.name.clone(),
            namespace: route.namespace.clone().or(self.spec.namespace.clone()),
            writes: true,
        }
    }

    fn shared(&self, route: &Value, ns: &str, what: &str) -> Result<Vec<Shared>, TrafficError> {
        let shared = shared_rules(route, &self.spec.stable, &self.spec.canary, ns);
        if shared.is_empty() {
            return Err(TrafficError::refused(format!(
                "{what} has no rule that references both `{}` and `{}`: add the canary as a backendRef (weight 0) beside stable",
                show(&self.spec.stable),
                show(&self.spec.canary)
            )));
        }
        Ok(shared)
    }

    /// Writes every route, once rollgate's own additions (a header rule, a mirror filter) are
    /// taken out, with `change` (given the route's key and its shared rules), and waits until
    /// every parent gateway accepts each.
    async fn write_all(
        &self,
        change: impl Fn(&mut Value, &str, &[Shared]) -> Result<(), TrafficError>,
    ) -> Result<(), TrafficError> {
        let timeout = self.spec.timeout.map(|d| d.0).unwrap_or(DEFAULT_TIMEOUT);
        for route in &self.spec.routes {
            let resource = self.resource(route);
            let written = self
                .kube
                .edit(
                    &resource,
                    |data, ns, what| {
                        strip(data, &self.spec.canary, ns);
                        let shared = self.shared(data, ns, what)?;
                        change(data, &route_key(route, ns), &shared)
                    },
                    |obj| check_shape(obj, route),
                )
                .await?;
            let generation = written.generation;
            let not_taken = format!("its gateway did not accept generation {generation}");
            self.kube
                .wait(&resource, timeout, &not_taken, |data| {
                    in_force(data, generation)
                })
                .await?;
        }
        Ok(())
    }
}

#[async_trait]
impl TrafficRouter for GatewayApi {
    async fn state(&self) -> Result<RouterState, TrafficError> {
        let mut state = RouterState::default();
        for route in &self.spec.routes {
            let (mut data, ns, what) = self.kube.get(&self.resource(route)).await?;
            // What an earlier run left behind is not the route's own state.
            strip(&mut data, &self.spec.canary, &ns);
            let key = route_key(route, &ns);
            for s in self.shared(&data, &ns, &what)? {
                let at = format!("{key}#{}", s.rule);
                let (stable, canary) = (
                    weight(&data, s.rule, s.stable),
                    weight(&data, s.rule, s.canary),
                );
                capture(&mut state, &at, stable, canary);
            }
        }
        Ok(state)
    }

    async fn apply(&self, route: &Route) -> Result<(), TrafficError> {
        match route {
            Route::Weight { percent } => {
                let canary = u32::from(*percent).min(100);
                self.write_all(|data, _, shared| {
                    for s in shared {
                        set_weight(data, s.rule, s.stable, 100 - canary);
                        set_weight(data, s.rule, s.canary, canary);
                    }
                    Ok(())
                })
                .await
            }
            Route::Mirror { percent } => {
                self.write_all(|data, _, shared| {
                    for s in shared {
                        add_mirror(data, s, *percent);
                    }
                    Ok(())
                })
                .await
            }
            Route::HeaderMatch { header, value } => {
                self.write_all(|data, _, shared| {
                    add_header_rule(data, &shared[0], header, value);
                    Ok(())
                })
                .await
            }
        }
    }

    async fn restore(&self, state: &RouterState) -> Result<(), TrafficError> {
        self.write_all(|data, key, shared| {
            for s in shared {
                if let Some((stable, canary)) = captured(state, &format!("{key}#{}", s.rule)) {
                    set_weight(data, s.rule, s.stable, stable);
                    set_weight(data, s.rule, s.canary, canary);
                }
            }
            Ok(())
        })
        .await
    }
}

/// The name of the rule rollgate adds for a header match, and takes out again.
const OWN_RULE: &str = "rollgate-canary";

/// Takes out what rollgate added: its header rule, and mirror filters to the canary.
fn strip(route: &mut Value, canary: &Backend, ns: &str) {
    let Some(rules) = route
        .pointer_mut("/spec/rules")
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    rules.retain(|r| r["name"] != OWN_RULE);
    for rule in rules.iter_mut() {
        let Some(filters) = rule.get_mut("filters").and_then(Value::as_array_mut) else {
            continue;
        };
        let before = filters.len();
        filters.retain(|f| {
            !(f["type"] == "RequestMirror"
                && refers_to(&f["requestMirror"]["backendRef"], canary, ns))
        });
        if filters.is_empty() && before > 0 {
            rule.as_object_mut()
                .expect("a rule is an object")
                .remove("filters");
        }
    }
}

/// Mirrors `percent` of a shared rule's requests to its canary backend.
fn add_mirror(route: &mut Value, s: &Shared, percent: u8) {
    let canary = &route["spec"]["rules"][s.rule]["backendRefs"][s.canary];
    let mut backend = serde_json::Map::new();
    for field in ["group", "kind", "name", "namespace", "port"] {
        if let Some(v) = canary.get(field) {
            backend.insert(field.into(), v.clone());
        }
    }
    let mirror = serde_json::json!({
        "type": "RequestMirror",
        "requestMirror": { "backendRef": backend, "percent": percent }
    });
    let rule = &mut route["spec"]["rules"][s.rule];
    match rule.get_mut("filters").and_then(Value::as_array_mut) {
        Some(filters) => filters.push(mirror),
        None => rule["filters"] = Value::Array(vec![mirror]),
    }
}

/// Adds, first, a rule that sends the shared rule's requests carrying `header: value` to the
/// canary alone, with the shared rule's matches and filters.
fn add_header_rule(route: &mut Value, s: &Shared, header: &str, value: &str) {
    let shared = route["spec"]["rules"][s.rule].clone();
    let condition = serde_json::json!({ "type": "Exact", "name": header, "value": value });
    let matches: Vec<Value> = match shared["matches"].as_array() {
        Some(ms) if !ms.is_empty() => ms.clone(),
        _ => vec![serde_json::json!({})],
    }
    .into_iter()
    .map(|mut m| {
        match m.get_mut("headers").and_then(Value::as_array_mut) {
            Some(headers) => headers.push(condition.clone()),
            None => m["headers"] = Value::Array(vec![condition.clone()]),
        }
        m
    })
    .collect();
    let mut canary = shared["backendRefs"][s.canary].clone();
    if let Some(c) = canary.as_object_mut() {
        c.remove("weight");
    }
    let mut rule =
        serde_json::json!({ "name": OWN_RULE, "matches": matches, "backendRefs": [canary] });
    if let Some(filters) = shared.get("filters") {
        rule["filters"] = filters.clone();
    }
    if let Some(rules) = route
        .pointer_mut("/spec/rules")
        .and_then(Value::as_array_mut)
    {
        rules.insert(0, rule);
    }
}

fn kind(route: &RouteRef) -> &'static str {
    match route.kind {
        RouteKind::HTTPRoute => "HTTPRoute",
        RouteKind::GRPCRoute => "GRPCRoute",
    }
}

/// The key a route's captured weights are kept under: `HTTPRoute/shop/storefront`.
fn route_key(route: &RouteRef, ns: &str) -> String {
    format!("{}/{ns}/{}", kind(route), route.name)
}

fn show(b: &Backend) -> String {
    match b.port() {
        Some(port) => format!("{}:{port}", b.service()),
        None => b.service().to_string(),
    }
}

/// Whether a backendRef is this backend: a Service of that name (no other group or kind), in
/// the route's namespace unless it names another, on the backend's port when one is given.
fn refers_to(r: &Value, b: &Backend, route_ns: &str) -> bool {
    let field = |k: &str| r.get(k).and_then(Value::as_str);
    field("name") == Some(b.service())
        && field("group").is_none_or(str::is_empty)
        && field("kind").is_none_or(|k| k == "Service")
        && field("namespace").is_none_or(|n| n == route_ns)
        && b.port()
            .is_none_or(|p| r.get("port").and_then(Value::as_u64) == Some(u64::from(p)))
}

/// Every rule of `route` that references both backends.
fn shared_rules(route: &Value, stable: &Backend, canary: &Backend, ns: &str) -> Vec<Shared> {
    let Some(rules) = route.pointer("/spec/rules").and_then(Value::as_array) else {
        return Vec::new();
    };
    rules
        .iter()
        .enumerate()
        .filter_map(|(rule, r)| {
            let refs = r.get("backendRefs")?.as_array()?;
            let find = |b: &Backend| refs.iter().position(|x| refers_to(x, b, ns));
            Some(Shared {
                rule,
                stable: find(stable)?,
                canary: find(canary)?,
            })
        })
        .collect()
}

/// A backendRef's weight: 1 when it states none (the Gateway API's default).
fn weight(route: &Value, rule: usize, backend: usize) -> u32 {
    route
        .pointer(&format!("/spec/rules/{rule}/backendRefs/{backend}/weight"))
        .and_then(Value::as_u64)
        .map_or(1, |w| w.min(u64::from(u32::MAX)) as u32)
}

fn set_weight(route: &mut Value, rule: usize, backend: usize, weight: u32) {
    if let Some(r) = route.pointer_mut(&format!("/spec/rules/{rule}/backendRefs/{backend}")) {
        r["weight"] = Value::from(weight);
    }
}

/// Whether every parent accepts `generation` of the route: `Ok(false)` while one has not yet
/// reported on it, `Err` with the parent, condition and message when one refuses it.
fn in_force(route: &Value, generation: i64) -> Result<bool, String> {
    let parents = route
        .pointer("/status/parents")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    if parents.is_empty() {
        return Ok(false);
    }
    let mut all = true;
    for parent in parents {
        let name = parent
            .pointer("/parentRef/name")
            .and_then(Value::as_str)
            .unwrap_or("?");
        for wanted in ["Accepted", "ResolvedRefs"] {
            let condition = parent
                .get("conditions")
                .and_then(Value::as_array)
                .and_then(|cs| cs.iter().find(|c| c["type"] == wanted));
            let Some(c) = condition else {
                all = false;
                continue;
            };
            if c["observedGeneration"].as_i64().unwrap_or_default() < generation {
                all = false;
                continue;
            }
            if c["status"] != "True" {
                return Err(format!(
                    "gateway `{name}` reports {wanted}={} ({}): {}",
                    c["status"].as_str().unwrap_or("?"),
                    c["reason"].as_str().unwrap_or("no reason"),
                    c["message"].as_str().unwrap_or("no message")
                ));
            }
        }
    }
    Ok(all)
}

/// What rollgate writes must still be a route the Gateway API's own types accept.
fn check_shape(obj: &DynamicObject, route: &RouteRef) -> Result<(), String> {
    let value = serde_json::to_value(obj).map_err(|e| e.to_string())?;
    let checked = match route.kind {
        RouteKind::HTTPRoute => {
            serde_json::from_value::<gateway_api::httproutes::HttpRoute>(value).map(|_| ())
        }
        RouteKind::GRPCRoute => {
            serde_json::from_value::<gateway_api::grpcroutes::GrpcRoute>(value).map(|_| ())
        }
    };
    checked.map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::BTreeMap;

    fn spec(yaml: &str) -> Spec {
        let v = crate::plan::load::load("p.yaml", yaml).unwrap().value;
        serde_json::from_value(v).unwrap()
    }

    fn route() -> Value {
        json!({
            "metadata": { "name": "web", "namespace": "shop" },
            "spec": {
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
                    { "matches": [{ "path": { "type": "PathPrefix", "value": "/admin" } }], "backendRefs": [{ "name": "admin", "port": 80 }] },
                    { "backendRefs": [{ "name": "web-stable", "port": 80 }, { "name": "web-canary", "port": 80 }, { "name": "other", "kind": "Service", "port": 80 }] }
                ]
            }
        })
    }

    /// The captured-weights keys of a route, as `state` makes them.
    fn captured_state(route: &Value, spec: &Spec, ns: &str) -> RouterState {
        let key = route_key(&spec.routes[0], ns);
        let mut state = RouterState::default();
        for s in shared_rules(route, &spec.stable, &spec.canary, ns) {
            let (stable, canary) = (
                weight(route, s.rule, s.stable),
                weight(route, s.rule, s.canary),
            );
            capture(&mut state, &format!("{key}#{}", s.rule), stable, canary);
        }
        state
    }

    const SPEC: &str = "{ routes: [{ name: web }], stable: web-stable, canary: web-canary }";

    #[test]
    fn finds_every_rule_that_references_both_backends() {
        let s = spec(SPEC);
        let shared = shared_rules(&route(), &s.stable, &s.canary, "shop");
        assert_eq!(
            shared,
            [
                Shared {
                    rule: 0,
                    stable: 0,
                    canary: 1
                },
                Shared {
                    rule: 2,
                    stable: 0,
                    canary: 1
                }
            ]
        );
        // A ref in another namespace, of another kind, or on another port is not the backend.
        let other_ns = json!({ "name": "web-canary", "namespace": "elsewhere" });
        assert!(!refers_to(&other_ns, &s.canary, "shop"));
        let other_kind = json!({ "name": "web-canary", "kind": "ServiceImport", "group": "multicluster.x-k8s.io" });
        assert!(!refers_to(&other_kind, &s.canary, "shop"));
        let on_port = spec("{ routes: [{ name: web }], stable: web-stable, canary: { service: web-canary, port: 8080 } }");
        assert!(shared_rules(&route(), &on_port.stable, &on_port.canary, "shop").is_empty());
    }

    #[test]
    fn captures_weights_as_written_with_the_default_of_one() {
        let state = captured_state(&route(), &spec(SPEC), "shop");
        assert_eq!(
            state.servers,
            BTreeMap::from([
                ("HTTPRoute/shop/web#0/canary".to_string(), 10),
                ("HTTPRoute/shop/web#0/stable".to_string(), 90),
                ("HTTPRoute/shop/web#2/canary".to_string(), 1),
                ("HTTPRoute/shop/web#2/stable".to_string(), 1),
            ])
        );
        assert_eq!(state.canary_weight, 10);
        assert_eq!(captured(&state, "HTTPRoute/shop/web#2"), Some((1, 1)));
    }

    #[test]
    fn changing_weights_leaves_everything_else_as_it_was() {
        let before = route();
        let mut after = before.clone();
        for s in shared_rules(&before, &spec(SPEC).stable, &spec(SPEC).canary, "shop") {
            set_weight(&mut after, s.rule, s.stable, 75);
            set_weight(&mut after, s.rule, s.canary, 25);
        }
        assert_eq!(weight(&after, 0, 1), 25);
        assert_eq!(weight(&after, 2, 0), 75);
        // Put the four weights back: the route is exactly what was read.
        set_weight(&mut after, 0, 0, 90);
        set_weight(&mut after, 0, 1, 10);
        let r2 = after.pointer_mut("/spec/rules/2/backendRefs").unwrap();
        r2[0].as_object_mut().unwrap().remove("weight");
        r2[1].as_object_mut().unwrap().remove("weight");
        assert_eq!(after, before);
    }

    #[test]
    fn a_mirror_and_a_header_rule_come_out_exactly_as_they_went_in() {
        let s = spec(SPEC);
        let before = route();
        let shared = shared_rules(&before, &s.stable, &s.canary, "shop");
        let mut mirrored = before.clone();
        add_mirror(&mut mirrored, &shared[0], 100);
        add_mirror(&mut mirrored, &shared[1], 100);
        assert_eq!(
            mirrored["spec"]["rules"][0]["filters"][1],
            json!({ "type": "RequestMirror", "requestMirror": { "backendRef": { "name": "web-canary", "port": 80 }, "percent": 100 } })
        );
        assert_eq!(
            mirrored["spec"]["rules"][2]["filters"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        strip(&mut mirrored, &s.canary, "shop");
        assert_eq!(mirrored, before);

        let mut matched = before.clone();
        add_header_rule(&mut matched, &shared[0], "x-canary", "always");
        let own = &matched["spec"]["rules"][0];
        assert_eq!(own["name"], OWN_RULE);
        assert_eq!(
            own["matches"],
            json!([{ "path": { "type": "PathPrefix", "value": "/" }, "headers": [{ "type": "Exact", "name": "x-canary", "value": "always" }] }])
        );
        assert_eq!(
            own["backendRefs"],
            json!([{ "name": "web-canary", "port": 80 }])
        );
        assert_eq!(own["filters"], before["spec"]["rules"][0]["filters"]);
        // The shared rules are found where they were, the added one is not one of them.
        assert_eq!(
            shared_rules(&matched, &s.stable, &s.canary, "shop").len(),
            2
        );
        strip(&mut matched, &s.canary, "shop");
        assert_eq!(matched, before);
    }

    #[test]
    fn a_route_is_in_force_once_every_parent_accepts_the_generation() {
        let status = |g: i64, accepted: &str| {
            json!({ "status": { "parents": [{
                "parentRef": { "name": "edge" },
                "conditions": [
                    { "type": "Accepted", "status": accepted, "observedGeneration": g, "reason": "UnsupportedValue", "message": "weight too large" },
                    { "type": "ResolvedRefs", "status": "True", "observedGeneration": g }
                ]
            }] } })
        };
        assert_eq!(in_force(&json!({}), 3), Ok(false));
        assert_eq!(in_force(&status(2, "True"), 3), Ok(false));
        assert_eq!(in_force(&status(3, "True"), 3), Ok(true));
        assert_eq!(
            in_force(&status(3, "False"), 3),
            Err(
                "gateway `edge` reports Accepted=False (UnsupportedValue): weight too large".into()
            )
        );
        // A refusal of an older generation is history, not an answer.
        assert_eq!(in_force(&status(2, "False"), 3), Ok(false));
    }
}
