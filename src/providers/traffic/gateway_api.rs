//! Gateway API routers: the `weight` of the stable and canary backendRefs in HTTPRoutes (or
//! GRPCRoutes), read and written through the Kubernetes API.
//!
//! Only those two weights change, in every rule that references both backends; every other
//! rule, filter, match and field (even ones newer than rollgate knows) is written back as it was
//! read, with its `resourceVersion`, and a write that lost a race (409 Conflict) is re-read and
//! re-applied. Each split rule is captured by its identity (see [`super::split`]), so a
//! rollback finds it wherever it sits. What rollgate adds (a header rule, a mirror filter) is
//! listed in the route's `rollgate.dev/added` annotation and is all it ever takes out. A shift
//! is confirmed only once every parent gateway reports the route `Accepted` and `ResolvedRefs`
//! at the written generation: observation starts then. HTTPRoutes are driven as v1, or as
//! v1beta1 on a cluster (Gateway API before 1.0) that serves only that.

use super::added;
use super::kubernetes::{Kube, Resource};
use super::split::{self, Missed, Split};
use super::{TrafficError, TrafficRouter};
use crate::event::{Route, RouterState, RuleIdentity};
use crate::plan::provider::{Backend, GatewayApi as Spec, RouteKind, RouteRef};
use async_trait::async_trait;
use serde_json::Value;
use std::time::Duration;

/// How long a gateway may take to accept a change when the plan does not say.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const GROUP: &str = "gateway.networking.k8s.io";

pub struct GatewayApi {
    spec: Spec,
    kube: Kube,
}

impl GatewayApi {
    pub fn new(spec: Spec) -> GatewayApi {
        let kube = Kube::new(spec.context.clone());
        GatewayApi { spec, kube }
    }

    fn resource(&self, route: &RouteRef) -> Resource {
        let (plural, versions): (_, &'static [&'static str]) = match route.kind {
            RouteKind::HTTPRoute => ("httproutes", &["v1", "v1beta1"]),
            // GRPCRoute became v1 in Gateway API 1.1; its v1alpha2 differs in fields rollgate
            // would have to write back unknown.
            RouteKind::GRPCRoute => ("grpcroutes", &["v1"]),
        };
        Resource {
            group: GROUP,
            kind: kind(route),
            plural,
            versions,
            name: route.name.clone(),
            namespace: route.namespace.clone().or(self.spec.namespace.clone()),
            writes: true,
        }
    }

    fn splits(&self, route: &Value, ns: &str, what: &str) -> Result<Vec<Split>, TrafficError> {
        let splits = split_rules(route, &self.spec.stable, &self.spec.canary, ns);
        if splits.is_empty() {
            return Err(TrafficError::refused(format!(
                "{what} has no rule that references both `{}` and `{}`: add the canary as a backendRef (weight 0) beside stable",
                show(&self.spec.stable),
                show(&self.spec.canary)
            )));
        }
        Ok(splits)
    }

    /// Takes out what rollgate's earlier writes added, as the route's annotation lists it;
    /// what it could not.
    fn strip(&self, route: &mut Value, ns: &str) -> Vec<Value> {
        strip(route, &self.spec.stable, &self.spec.canary, ns)
    }

    /// Writes every route, once rollgate's own additions are taken out, with `change` (given
    /// the route's name for messages and its split rules, returning what it added), and waits
    /// until every parent gateway accepts each. What rollgate had added and could not take out
    /// (kept in the annotation) is noted in `missed`.
    async fn write_all(
        &self,
        missed: &Missed,
        change: impl Fn(&mut Value, &str, &[Split]) -> Result<Vec<Value>, TrafficError>,
    ) -> Result<(), TrafficError> {
        let started = tokio::time::Instant::now();
        for route in &self.spec.routes {
            let resource = self.resource(route);
            let written = self
                .kube
                .edit(
                    &resource,
                    |data, ns, what| {
                        let mut added = self.strip(data, ns);
                        missed.note_left(what, &added);
                        let splits = self.splits(data, ns, what)?;
                        added.extend(change(data, what, &splits)?);
                        added::write(data, &added);
                        Ok(())
                    },
                    |obj| check_shape(obj, route),
                )
                .await?;
            let generation = written.generation;
            let not_taken = format!("its gateway did not accept generation {generation}");
            self.kube
                .wait(
                    &resource,
                    (started, self.timeout().unwrap_or(DEFAULT_TIMEOUT)),
                    &not_taken,
                    |data| in_force(data, generation),
                )
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
            // What an earlier run added is not the route's own state.
            let _ = self.strip(&mut data, &ns);
            for s in self.splits(&data, &ns, &what)? {
                let (stable, canary) = (weight(&data, &s, s.stable), weight(&data, &s, s.canary));
                split::capture(&mut state, &what, &s, stable, canary);
            }
        }
        Ok(state)
    }

    async fn apply(&self, route: &Route) -> Result<(), TrafficError> {
        match route {
            Route::Weight { percent } => {
                let canary = u32::from(*percent).min(100);
                self.write_all(&Missed::default(), |data, _, splits| {
                    for s in splits {
                        set_weight(data, s, s.stable, 100 - canary);
                        set_weight(data, s, s.canary, canary);
                    }
                    Ok(Vec::new())
                })
                .await
            }
            Route::Mirror { percent } => {
                self.write_all(&Missed::default(), |data, _, splits| {
                    Ok(splits
                        .iter()
                        .map(|s| add_mirror(data, s, *percent))
                        .collect())
                })
                .await
            }
            Route::HeaderMatch { header, value } => {
                self.write_all(&Missed::default(), |data, _, splits| {
                    Ok(vec![add_header_rule(data, &splits[0], header, value)])
                })
                .await
            }
        }
    }

    async fn restore(&self, state: &RouterState) -> Result<(), TrafficError> {
        split::by_identity(state)?;
        let missed = Missed::default();
        self.write_all(&missed, |data, what, splits| {
            split::put_back(state, what, splits, &missed, |s, stable, canary| {
                set_weight(data, s, s.stable, stable);
                set_weight(data, s, s.canary, canary);
            });
            Ok(Vec::new())
        })
        .await?;
        missed.into_result()
    }

    fn timeout(&self) -> Option<Duration> {
        Some(self.spec.timeout.map(|d| d.0).unwrap_or(DEFAULT_TIMEOUT))
    }
}

/// Takes out what the route's annotation says rollgate added: its own rule (by the name it
/// gave it) and the mirror filters it put in split rules (one filter equal to each). Returns
/// what it could not take out (a mirror in a rule another writer changed), still rollgate's.
fn strip(route: &mut Value, stable: &Backend, canary: &Backend, ns: &str) -> Vec<Value> {
    let listed = added::read(route);
    added::write(route, &[]);
    let mut kept = Vec::new();
    for a in &listed {
        if let Some(name) = a["rule"].as_str() {
            if let Some(rules) = route
                .pointer_mut("/spec/rules")
                .and_then(Value::as_array_mut)
            {
                if let Some(i) = rules.iter().position(|r| r["name"] == name) {
                    rules.remove(i);
                }
            }
        }
    }
    for a in &listed {
        let Some(m) = a.get("mirror") else { continue };
        let Ok(identity) = serde_json::from_value::<RuleIdentity>(m["rule"].clone()) else {
            continue;
        };
        let splits = split_rules(route, stable, canary, ns);
        let Some(s) = splits.iter().find(|s| s.identity == identity) else {
            kept.push(a.clone());
            continue;
        };
        let rule = &mut route["spec"]["rules"][s.at];
        let Some(filters) = rule.get_mut("filters").and_then(Value::as_array_mut) else {
            continue;
        };
        if let Some(i) = filters.iter().rposition(|f| *f == m["filter"]) {
            filters.remove(i);
        }
        if filters.is_empty() {
            rule.as_object_mut()
                .expect("a rule is an object")
                .remove("filters");
        }
    }
    kept
}

/// Mirrors `percent` of a split rule's requests to its canary backend; what it added.
fn add_mirror(route: &mut Value, s: &Split, percent: u8) -> Value {
    let canary = &route["spec"]["rules"][s.at]["backendRefs"][s.canary];
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
    let rule = &mut route["spec"]["rules"][s.at];
    match rule.get_mut("filters").and_then(Value::as_array_mut) {
        Some(filters) => filters.push(mirror.clone()),
        None => rule["filters"] = Value::Array(vec![mirror.clone()]),
    }
    serde_json::json!({ "mirror": { "rule": s.identity, "filter": mirror } })
}

/// Adds, first, a rule that sends the split rule's requests carrying `header: value` to the
/// canary alone, with the split rule's matches and filters, under a name no rule has; what it
/// added.
fn add_header_rule(route: &mut Value, s: &Split, header: &str, value: &str) -> Value {
    let shared = route["spec"]["rules"][s.at].clone();
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
    let rules = route
        .pointer("/spec/rules")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let name = added::free_name(rules.iter().filter_map(|r| r["name"].as_str()));
    let mut rule = serde_json::json!({ "name": name, "matches": matches, "backendRefs": [canary] });
    if let Some(filters) = shared.get("filters") {
        rule["filters"] = filters.clone();
    }
    if let Some(rules) = route
        .pointer_mut("/spec/rules")
        .and_then(Value::as_array_mut)
    {
        rules.insert(0, rule);
    }
    serde_json::json!({ "rule": name })
}

fn kind(route: &RouteRef) -> &'static str {
    match route.kind {
        RouteKind::HTTPRoute => "HTTPRoute",
        RouteKind::GRPCRoute => "GRPCRoute",
    }
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

/// A backendRef as a rule's identity names it: `[namespace/]name[:port]`, with its kind when
/// not a Service.
fn backend_said(r: &Value) -> String {
    let mut s = String::new();
    if let Some(k) = r["kind"].as_str().filter(|k| *k != "Service") {
        s.push_str(&format!("{k}:"));
    }
    if let Some(ns) = r["namespace"].as_str() {
        s.push_str(&format!("{ns}/"));
    }
    s.push_str(r["name"].as_str().unwrap_or_default());
    if let Some(p) = r["port"].as_u64() {
        s.push_str(&format!(":{p}"));
    }
    s
}

/// Every rule of `route` that references both backends, each with its identity.
fn split_rules(route: &Value, stable: &Backend, canary: &Backend, ns: &str) -> Vec<Split> {
    let Some(rules) = route.pointer("/spec/rules").and_then(Value::as_array) else {
        return Vec::new();
    };
    let mut splits: Vec<Split> = rules
        .iter()
        .enumerate()
        .filter_map(|(at, r)| {
            let refs = r.get("backendRefs")?.as_array()?;
            let find = |b: &Backend| refs.iter().position(|x| refers_to(x, b, ns));
            let (stable, canary) = (find(stable)?, find(canary)?);
            Some(Split {
                at,
                stable,
                canary,
                identity: identity(r, refs),
            })
        })
        .collect();
    split::number(&mut splits);
    splits
}

/// A rule's identity: its name, else its matches and the backends it sends to.
fn identity(rule: &Value, refs: &[Value]) -> RuleIdentity {
    if let Some(name) = rule["name"].as_str() {
        return RuleIdentity {
            name: Some(name.into()),
            matches: Value::Null,
            backends: Vec::new(),
            occurrence: 0,
        };
    }
    let mut backends: Vec<String> = refs.iter().map(backend_said).collect();
    backends.sort();
    RuleIdentity {
        name: None,
        matches: rule.get("matches").cloned().unwrap_or(Value::Null),
        backends,
        occurrence: 0,
    }
}

/// A backendRef's weight: 1 when it states none (the Gateway API's default).
fn weight(route: &Value, s: &Split, backend: usize) -> u32 {
    route
        .pointer(&format!(
            "/spec/rules/{}/backendRefs/{backend}/weight",
            s.at
        ))
        .and_then(Value::as_u64)
        .map_or(1, |w| w.min(u64::from(u32::MAX)) as u32)
}

fn set_weight(route: &mut Value, s: &Split, backend: usize, weight: u32) {
    if let Some(r) = route.pointer_mut(&format!("/spec/rules/{}/backendRefs/{backend}", s.at)) {
        r["weight"] = Value::from(weight);
    }
}

/// Whether every parent accepts `generation` of the route: `Ok(false)` while one has not yet
/// reported on it (or reports it `Pending`), refused with the parent, condition and message
/// when one does not accept it (a rejected generation stays rejected, so it is not retried),
/// and transient while a backend it refers to does not resolve.
fn in_force(route: &Value, generation: i64) -> Result<bool, TrafficError> {
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
            if c["observedGeneration"].as_i64().unwrap_or_default() < generation
                || c["reason"] == "Pending"
            {
                all = false;
                continue;
            }
            if c["status"] != "True" {
                let said = format!(
                    "gateway `{name}` reports {wanted}={} ({}): {}",
                    c["status"].as_str().unwrap_or("?"),
                    c["reason"].as_str().unwrap_or("no reason"),
                    c["message"].as_str().unwrap_or("no message")
                );
                // A rejected route stays rejected; a backend not found yet may appear.
                return Err(match wanted {
                    "Accepted" => TrafficError::refused(said),
                    _ => TrafficError::transient(said),
                });
            }
        }
    }
    Ok(all)
}

/// What rollgate writes must still be a route the Gateway API's own types accept (v1beta1
/// routes have the same fields).
fn check_shape(obj: &Value, route: &RouteRef) -> Result<(), String> {
    let mut value = obj.clone();
    value["apiVersion"] = Value::from(format!("{GROUP}/v1"));
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
                    { "name": "rest", "backendRefs": [{ "name": "web-stable", "port": 80 }, { "name": "web-canary", "port": 80 }, { "name": "other", "kind": "Service", "port": 80 }] }
                ]
            }
        })
    }

    const SPEC: &str = "{ routes: [{ name: web }], stable: web-stable, canary: web-canary }";

    fn splits(route: &Value) -> Vec<Split> {
        let s = spec(SPEC);
        split_rules(route, &s.stable, &s.canary, "shop")
    }

    #[test]
    fn finds_every_rule_that_references_both_backends_by_identity() {
        let found = splits(&route());
        assert_eq!(
            found
                .iter()
                .map(|s| (s.at, s.stable, s.canary))
                .collect::<Vec<_>>(),
            [(0, 0, 1), (2, 0, 1)]
        );
        assert_eq!(found[1].identity.name.as_deref(), Some("rest"));
        assert_eq!(
            found[0].identity.backends,
            ["web-canary:80", "web-stable:80"]
        );
        // A rule put before them moves them, not who they are.
        let mut moved = route();
        let first = json!({ "matches": [{ "path": { "type": "PathPrefix", "value": "/new" } }], "backendRefs": [{ "name": "new", "port": 80 }] });
        moved["spec"]["rules"]
            .as_array_mut()
            .unwrap()
            .insert(0, first);
        let again = splits(&moved);
        assert_eq!(again.iter().map(|s| s.at).collect::<Vec<_>>(), [1, 3]);
        assert_eq!(again[0].identity, found[0].identity);
        // A ref in another namespace, of another kind, or on another port is not the backend.
        let s = spec(SPEC);
        let other_ns = json!({ "name": "web-canary", "namespace": "elsewhere" });
        assert!(!refers_to(&other_ns, &s.canary, "shop"));
        let other_kind = json!({ "name": "web-canary", "kind": "ServiceImport", "group": "multicluster.x-k8s.io" });
        assert!(!refers_to(&other_kind, &s.canary, "shop"));
        let on_port = spec("{ routes: [{ name: web }], stable: web-stable, canary: { service: web-canary, port: 8080 } }");
        assert!(split_rules(&route(), &on_port.stable, &on_port.canary, "shop").is_empty());
    }

    #[test]
    fn weights_default_to_one_and_changing_them_leaves_everything_else() {
        let before = route();
        let found = splits(&before);
        assert_eq!(weight(&before, &found[1], 0), 1);
        let mut after = before.clone();
        for s in &found {
            set_weight(&mut after, s, s.stable, 75);
            set_weight(&mut after, s, s.canary, 25);
        }
        assert_eq!(weight(&after, &found[0], 1), 25);
        set_weight(&mut after, &found[0], 0, 90);
        set_weight(&mut after, &found[0], 1, 10);
        let r2 = after.pointer_mut("/spec/rules/2/backendRefs").unwrap();
        r2[0].as_object_mut().unwrap().remove("weight");
        r2[1].as_object_mut().unwrap().remove("weight");
        assert_eq!(after, before);
    }

    /// `route` once what it lists as added is stripped.
    fn stripped(route: &Value) -> Value {
        let s = spec(SPEC);
        let mut r = route.clone();
        strip(&mut r, &s.stable, &s.canary, "shop");
        r
    }

    #[test]
    fn what_rollgate_adds_comes_out_exactly_and_nothing_of_the_users() {
        // The user's own mirror to the canary, and a rule of theirs named like rollgate's.
        let mut before = route();
        let theirs = json!({ "type": "RequestMirror", "requestMirror": { "backendRef": { "name": "web-canary", "port": 80 }, "percent": 100 } });
        before["spec"]["rules"][0]["filters"]
            .as_array_mut()
            .unwrap()
            .push(theirs.clone());
        before["spec"]["rules"][1]["name"] = json!("rollgate-canary");
        assert_eq!(stripped(&before), before);

        let found = splits(&before);
        let mut mirrored = before.clone();
        let added: Vec<Value> = found
            .iter()
            .map(|s| add_mirror(&mut mirrored, s, 100))
            .collect();
        added::write(&mut mirrored, &added);
        assert_eq!(mirrored["spec"]["rules"][0]["filters"][2], theirs);
        assert_eq!(stripped(&mirrored), before);

        let mut matched = before.clone();
        let own = add_header_rule(&mut matched, &found[0], "x-canary", "always");
        added::write(&mut matched, &[own]);
        let rule = &matched["spec"]["rules"][0];
        assert_eq!(rule["name"], "rollgate-canary-2");
        assert_eq!(
            rule["matches"],
            json!([{ "path": { "type": "PathPrefix", "value": "/" }, "headers": [{ "type": "Exact", "name": "x-canary", "value": "always" }] }])
        );
        assert_eq!(
            rule["backendRefs"],
            json!([{ "name": "web-canary", "port": 80 }])
        );
        assert_eq!(splits(&matched).len(), 2);
        assert_eq!(stripped(&matched), before);
    }

    #[test]
    fn a_mirror_in_a_rule_another_writer_changed_is_kept_listed_not_forgotten() {
        let before = route();
        let found = splits(&before);
        let mut mirrored = before.clone();
        let added = add_mirror(&mut mirrored, &found[0], 100);
        added::write(&mut mirrored, std::slice::from_ref(&added));
        mirrored["spec"]["rules"][0]["matches"][0]["path"]["value"] = json!("/v2");
        let s = spec(SPEC);
        let kept = strip(&mut mirrored, &s.stable, &s.canary, "shop");
        assert_eq!(kept, [added]);
        assert_eq!(
            mirrored["spec"]["rules"][0]["filters"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn a_route_is_in_force_once_every_parent_accepts_the_generation() {
        let status = |g: i64, accepted: &str, reason: &str| {
            json!({ "status": { "parents": [{
                "parentRef": { "name": "edge" },
                "conditions": [
                    { "type": "Accepted", "status": accepted, "observedGeneration": g, "reason": reason, "message": "weight too large" },
                    { "type": "ResolvedRefs", "status": "True", "observedGeneration": g }
                ]
            }] } })
        };
        assert_eq!(in_force(&json!({}), 3), Ok(false));
        assert_eq!(in_force(&status(2, "True", "Accepted"), 3), Ok(false));
        assert_eq!(in_force(&status(3, "True", "Accepted"), 3), Ok(true));
        assert_eq!(in_force(&status(3, "False", "Pending"), 3), Ok(false));
        let refused = in_force(&status(3, "False", "UnsupportedValue"), 3).unwrap_err();
        assert_eq!(
            refused.message,
            "gateway `edge` reports Accepted=False (UnsupportedValue): weight too large"
        );
        assert!(!refused.transient);
        // A refusal of an older generation is history, not an answer.
        assert_eq!(
            in_force(&status(2, "False", "UnsupportedValue"), 3),
            Ok(false)
        );
    }
}
