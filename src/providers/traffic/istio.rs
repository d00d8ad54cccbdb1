//! Istio routers: the `weight` of the stable and canary destinations in a VirtualService's
//! `http` routes, read and written through the Kubernetes API.
//!
//! Only those two weights change, in the named `http` routes (or every one that sends traffic
//! to both); everything else in the VirtualService is written back as it was read, with its
//! `resourceVersion`, and a write that lost a race (409 Conflict) is re-read and re-applied. A
//! change is in force once Istio reports the written generation observed (when istiod's
//! status reporting is on), or at once when it reports none. The subsets a DestinationRule
//! must define are checked before the first shift.

use super::kubernetes::{capture, captured, Kube, Resource};
use super::{TrafficError, TrafficRouter};
use crate::event::{Route, RouterState};
use crate::plan::provider::{Destination, Istio as Spec};
use async_trait::async_trait;
use serde_json::Value;
use std::time::Duration;

const GROUP: &str = "networking.istio.io";
/// How long Istio may take to report a change observed when the plan does not say.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Istio {
    spec: Spec,
    kube: Kube,
}

/// An `http` route that sends traffic to both destinations: its index, and the positions of the
/// two destinations in its `route` list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Shared {
    http: usize,
    stable: usize,
    canary: usize,
}

impl Istio {
    pub fn new(spec: Spec) -> Istio {
        let kube = Kube::new(spec.context.clone());
        Istio { spec, kube }
    }

    fn resource(&self) -> Resource {
        Resource {
            group: GROUP,
            kind: "VirtualService",
            plural: "virtualservices",
            name: self.spec.virtual_service.clone(),
            namespace: self.spec.namespace.clone(),
            writes: true,
        }
    }

    fn shared(&self, vs: &Value, what: &str) -> Result<Vec<Shared>, TrafficError> {
        let shared = shared_routes(vs, &self.spec)?;
        if shared.is_empty() {
            let which = if self.spec.routes.is_empty() {
                "no `http` route".to_string()
            } else {
                format!("none of the `http` routes {}", self.spec.routes.join(", "))
            };
            return Err(TrafficError::refused(format!(
                "{what}: {which} sends traffic to both `{}` and `{}`: add the canary as a destination (weight 0) beside stable",
                show(&self.spec.stable),
                show(&self.spec.canary)
            )));
        }
        Ok(shared)
    }

    /// Refuses the run before anything moves when the DestinationRule lacks a subset.
    async fn check_subsets(&self) -> Result<(), TrafficError> {
        let Some(rule) = &self.spec.destination_rule else {
            return Ok(());
        };
        let resource = Resource {
            group: GROUP,
            kind: "DestinationRule",
            plural: "destinationrules",
            name: rule.clone(),
            namespace: self.spec.namespace.clone(),
            writes: false,
        };
        let (dr, _, what) = self.kube.get(&resource).await?;
        let defined: Vec<&str> = dr
            .pointer("/spec/subsets")
            .and_then(Value::as_array)
            .map(|s| s.iter().filter_map(|x| x["name"].as_str()).collect())
            .unwrap_or_default();
        for d in [&self.spec.stable, &self.spec.canary] {
            if let Some(subset) = d.subset() {
                if !defined.contains(&subset) {
                    return Err(TrafficError::refused(format!(
                        "{what} defines no subset `{subset}` (it has: {}): define it, or name the subset the DestinationRule has",
                        if defined.is_empty() { "none".into() } else { defined.join(", ") }
                    )));
                }
            }
        }
        Ok(())
    }

    /// Writes the VirtualService, once rollgate's own additions (a header route, a mirror to the
    /// canary) are taken out, with `change` (given its shared routes), and waits for Istio.
    async fn write(
        &self,
        change: impl Fn(&mut Value, &[Shared]) -> Result<(), TrafficError>,
    ) -> Result<(), TrafficError> {
        let resource = self.resource();
        let written = self
            .kube
            .edit(
                &resource,
                |data, _, what| {
                    strip(data, &self.spec.canary);
                    let shared = self.shared(data, what)?;
                    change(data, &shared)
                },
                |_| Ok(()),
            )
            .await?;
        let timeout = self.spec.timeout.map(|d| d.0).unwrap_or(DEFAULT_TIMEOUT);
        let generation = written.generation;
        let not_taken = format!("istiod did not report generation {generation} observed");
        self.kube
            .wait(&resource, timeout, &not_taken, |vs| {
                observed(vs, generation)
            })
            .await
    }
}

#[async_trait]
impl TrafficRouter for Istio {
    async fn state(&self) -> Result<RouterState, TrafficError> {
        self.check_subsets().await?;
        let (mut vs, _, what) = self.kube.get(&self.resource()).await?;
        // What an earlier run left behind is not the VirtualService's own state.
        strip(&mut vs, &self.spec.canary);
        let mut state = RouterState::default();
        let shared = self.shared(&vs, &what)?;
        for s in &shared {
            let (stable, canary) = (weight(&vs, s.http, s.stable), weight(&vs, s.http, s.canary));
            capture(&mut state, &format!("http#{}", s.http), stable, canary);
        }
        Ok(state)
    }

    async fn apply(&self, route: &Route) -> Result<(), TrafficError> {
        match route {
            Route::Weight { percent } => {
                let canary = u32::from(*percent).min(100);
                self.write(|vs, shared| {
                    for s in shared {
                        set_weight(vs, s.http, s.stable, 100 - canary);
                        set_weight(vs, s.http, s.canary, canary);
                    }
                    Ok(())
                })
                .await
            }
            Route::Mirror { percent } => {
                self.write(|vs, shared| {
                    for s in shared {
                        add_mirror(vs, s, *percent)?;
                    }
                    Ok(())
                })
                .await
            }
            Route::HeaderMatch { header, value } => {
                self.write(|vs, shared| {
                    add_header_route(vs, &shared[0], header, value);
                    Ok(())
                })
                .await
            }
        }
    }

    async fn restore(&self, state: &RouterState) -> Result<(), TrafficError> {
        self.write(|vs, shared| {
            for s in shared {
                if let Some((stable, canary)) = captured(state, &format!("http#{}", s.http)) {
                    set_weight(vs, s.http, s.stable, stable);
                    set_weight(vs, s.http, s.canary, canary);
                }
            }
            Ok(())
        })
        .await
    }
}

/// The name of the `http` route rollgate adds for a header match, and takes out again.
const OWN_ROUTE: &str = "rollgate-canary";

/// Takes out what rollgate added: its header route, and mirrors to the canary.
fn strip(vs: &mut Value, canary: &Destination) {
    let Some(http) = vs.pointer_mut("/spec/http").and_then(Value::as_array_mut) else {
        return;
    };
    http.retain(|h| h["name"] != OWN_ROUTE);
    for h in http.iter_mut() {
        let mirrors_canary = h
            .get("mirror")
            .is_some_and(|m| is(&serde_json::json!({ "destination": m }), canary));
        if let (true, Some(h)) = (mirrors_canary, h.as_object_mut()) {
            h.remove("mirror");
            h.remove("mirrorPercentage");
        }
    }
}

/// Mirrors `percent` of a shared route's requests to its canary destination; refused when the
/// route already mirrors elsewhere.
fn add_mirror(vs: &mut Value, s: &Shared, percent: u8) -> Result<(), TrafficError> {
    let h = &mut vs["spec"]["http"][s.http];
    if let Some(theirs) = h.get("mirror") {
        return Err(TrafficError::refused(format!(
            "http route `{}` already mirrors to `{}`; rollgate will not replace it",
            h["name"].as_str().unwrap_or_default(),
            theirs["host"].as_str().unwrap_or("?")
        )));
    }
    let canary = h["route"][s.canary]["destination"].clone();
    h["mirror"] = canary;
    h["mirrorPercentage"] = serde_json::json!({ "value": f64::from(percent) });
    Ok(())
}

/// Adds, first, a route that sends the shared route's requests carrying `header: value` to the
/// canary alone.
fn add_header_route(vs: &mut Value, s: &Shared, header: &str, value: &str) {
    let shared = vs["spec"]["http"][s.http].clone();
    let matches: Vec<Value> = match shared["match"].as_array() {
        Some(ms) if !ms.is_empty() => ms.clone(),
        _ => vec![serde_json::json!({})],
    }
    .into_iter()
    .map(|mut m| {
        m["headers"][header] = serde_json::json!({ "exact": value });
        m
    })
    .collect();
    let route = serde_json::json!({
        "name": OWN_ROUTE,
        "match": matches,
        "route": [{ "destination": shared["route"][s.canary]["destination"].clone() }]
    });
    if let Some(http) = vs.pointer_mut("/spec/http").and_then(Value::as_array_mut) {
        http.insert(0, route);
    }
}

fn show(d: &Destination) -> String {
    match d.subset() {
        Some(subset) => format!("{} (subset {subset})", d.host()),
        None => d.host().to_string(),
    }
}

/// Whether a `route` entry's destination is `d`: the same host (or its short name) and subset.
fn is(entry: &Value, d: &Destination) -> bool {
    let dest = &entry["destination"];
    let host = dest["host"].as_str().unwrap_or_default();
    let short = host.split('.').next().unwrap_or_default();
    (host == d.host() || short == d.host()) && dest["subset"].as_str() == d.subset()
}

/// The `http` routes to change: those named in the plan (each must send traffic to both
/// destinations, and to nothing else), or every one that sends traffic to both and nothing else.
fn shared_routes(vs: &Value, spec: &Spec) -> Result<Vec<Shared>, TrafficError> {
    let Some(http) = vs.pointer("/spec/http").and_then(Value::as_array) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (i, h) in http.iter().enumerate() {
        let name = h["name"].as_str().unwrap_or_default();
        let named = spec.routes.iter().any(|r| r == name);
        if !spec.routes.is_empty() && !named {
            continue;
        }
        let entries = h["route"].as_array().map(Vec::as_slice).unwrap_or_default();
        let (stable, canary) = (
            entries.iter().position(|e| is(e, &spec.stable)),
            entries.iter().position(|e| is(e, &spec.canary)),
        );
        match (stable, canary) {
            (Some(stable), Some(canary)) if entries.len() == 2 => out.push(Shared { http: i, stable, canary }),
            (Some(_), Some(_)) => {
                return Err(TrafficError::refused(format!(
                    "http route `{name}` sends traffic to {} destinations; rollgate splits a route between stable and canary only",
                    entries.len()
                )))
            }
            _ if named => {
                return Err(TrafficError::refused(format!(
                    "http route `{name}` does not send traffic to both `{}` and `{}`",
                    show(&spec.stable),
                    show(&spec.canary)
                )))
            }
            _ => {}
        }
    }
    Ok(out)
}

/// A destination's weight: absent is 100 for a route's only destination, else 0.
fn weight(vs: &Value, http: usize, entry: usize) -> u32 {
    vs.pointer(&format!("/spec/http/{http}/route/{entry}/weight"))
        .and_then(Value::as_u64)
        .map_or(0, |w| w.min(100) as u32)
}

fn set_weight(vs: &mut Value, http: usize, entry: usize, weight: u32) {
    if let Some(e) = vs.pointer_mut(&format!("/spec/http/{http}/route/{entry}")) {
        e["weight"] = Value::from(weight);
    }
}

/// Whether Istio has taken `generation`: reported observed when it reports status at all.
fn observed(vs: &Value, generation: i64) -> Result<bool, String> {
    if let Some(messages) = vs
        .pointer("/status/validationMessages")
        .and_then(Value::as_array)
    {
        if let Some(error) = messages
            .iter()
            .find(|m| m.pointer("/level").and_then(Value::as_str) == Some("ERROR"))
        {
            return Err(format!(
                "Istio reports {}: {}",
                error
                    .pointer("/type/code")
                    .and_then(Value::as_str)
                    .unwrap_or("an error"),
                error
                    .pointer("/documentationUrl")
                    .and_then(Value::as_str)
                    .unwrap_or("")
            ));
        }
    }
    Ok(match vs.pointer("/status/observedGeneration") {
        Some(g) => g.as_i64().unwrap_or_default() >= generation,
        None => true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(yaml: &str) -> Spec {
        let v = crate::plan::load::load("p.yaml", yaml).unwrap().value;
        serde_json::from_value(v).unwrap()
    }

    fn vs() -> Value {
        json!({ "spec": {
            "hosts": ["checkout"],
            "http": [
                { "name": "internal", "match": [{ "headers": { "x-internal": { "exact": "1" } } }],
                  "route": [{ "destination": { "host": "checkout-internal" } }] },
                { "name": "primary", "retries": { "attempts": 3 },
                  "route": [
                    { "destination": { "host": "checkout.prod.svc.cluster.local", "subset": "stable" }, "weight": 100 },
                    { "destination": { "host": "checkout.prod.svc.cluster.local", "subset": "canary" }, "weight": 0 }
                  ] }
            ]
        } })
    }

    const SPEC: &str = "{ virtual-service: checkout, stable: { host: checkout, subset: stable }, canary: { host: checkout, subset: canary } }";

    #[test]
    fn finds_the_routes_that_split_between_the_two_subsets() {
        let found = shared_routes(&vs(), &spec(SPEC)).unwrap();
        assert_eq!(
            found,
            [Shared {
                http: 1,
                stable: 0,
                canary: 1
            }]
        );
        let named = spec("{ virtual-service: checkout, routes: [internal], stable: { host: checkout, subset: stable }, canary: { host: checkout, subset: canary } }");
        let e = shared_routes(&vs(), &named).unwrap_err();
        assert_eq!(e.message, "http route `internal` does not send traffic to both `checkout (subset stable)` and `checkout (subset canary)`");
        let mut three = vs();
        three["spec"]["http"][1]["route"]
            .as_array_mut()
            .unwrap()
            .push(json!({ "destination": { "host": "legacy" }, "weight": 0 }));
        assert!(shared_routes(&three, &spec(SPEC))
            .unwrap_err()
            .message
            .contains("3 destinations"));
    }

    #[test]
    fn only_the_two_weights_change() {
        let before = vs();
        let mut after = before.clone();
        set_weight(&mut after, 1, 0, 75);
        set_weight(&mut after, 1, 1, 25);
        assert_eq!((weight(&after, 1, 0), weight(&after, 1, 1)), (75, 25));
        set_weight(&mut after, 1, 0, 100);
        set_weight(&mut after, 1, 1, 0);
        assert_eq!(after, before);
    }

    #[test]
    fn a_mirror_and_a_header_route_come_out_exactly_as_they_went_in() {
        let s = spec(SPEC);
        let before = vs();
        let shared = shared_routes(&before, &s).unwrap();
        let mut mirrored = before.clone();
        add_mirror(&mut mirrored, &shared[0], 50).unwrap();
        assert_eq!(mirrored["spec"]["http"][1]["mirror"]["subset"], "canary");
        assert_eq!(
            mirrored["spec"]["http"][1]["mirrorPercentage"],
            json!({ "value": 50.0 })
        );
        assert!(add_mirror(&mut mirrored.clone(), &shared[0], 50)
            .unwrap_err()
            .message
            .contains("already mirrors"));
        strip(&mut mirrored, &s.canary);
        assert_eq!(mirrored, before);

        let mut matched = before.clone();
        add_header_route(&mut matched, &shared[0], "x-canary", "always");
        assert_eq!(
            matched["spec"]["http"][0],
            json!({ "name": OWN_ROUTE, "match": [{ "headers": { "x-canary": { "exact": "always" } } }],
                    "route": [{ "destination": { "host": "checkout.prod.svc.cluster.local", "subset": "canary" } }] })
        );
        strip(&mut matched, &s.canary);
        assert_eq!(matched, before);
    }

    #[test]
    fn a_change_is_in_force_once_observed_or_when_istio_reports_no_status() {
        assert_eq!(observed(&json!({}), 4), Ok(true));
        assert_eq!(
            observed(&json!({ "status": { "observedGeneration": 3 } }), 4),
            Ok(false)
        );
        assert_eq!(
            observed(&json!({ "status": { "observedGeneration": 4 } }), 4),
            Ok(true)
        );
        let invalid = json!({ "status": { "observedGeneration": 4, "validationMessages": [
            { "level": "ERROR", "type": { "code": "IST0101" }, "documentationUrl": "https://istio.io/latest/docs/reference/config/analysis/ist0101/" }
        ] } });
        assert!(observed(&invalid, 4)
            .unwrap_err()
            .starts_with("Istio reports IST0101"));
    }
}
