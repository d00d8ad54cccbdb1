//! Istio routers: the `weight` of the stable and canary destinations in a VirtualService's
//! `http` routes, read and written through the Kubernetes API.
//!
//! Only those two weights change, in the named `http` routes (or every one that sends traffic
//! to both); everything else in the VirtualService is written back as it was read, with its
//! `resourceVersion`, and a write that lost a race (409 Conflict) is re-read and re-applied.
//! Each split route is captured by its identity (its name, else its matches and
//! destinations), so a rollback finds it wherever it sits. What rollgate adds (a header route,
//! a mirror) is listed in the VirtualService's `rollgate.dev/added` annotation and is all it
//! ever takes out. A change is in force once Istio reports the written generation observed
//! (when istiod's status reporting is on), or at once when it reports none. The subsets a
//! DestinationRule must define are checked before the first shift.

use super::added;
use super::kubernetes::{Kube, Resource};
use super::split::{self, Missed, Split};
use super::{TrafficError, TrafficRouter};
use crate::event::{Route, RouterState, RuleIdentity};
use crate::plan::provider::{Destination, Istio as Spec};
use async_trait::async_trait;
use serde_json::Value;
use std::time::Duration;

const GROUP: &str = "networking.istio.io";
/// The versions of Istio's networking API rollgate drives: v1 (Istio 1.22 on), v1beta1 before.
const VERSIONS: &[&str] = &["v1", "v1beta1"];
/// How long Istio may take to report a change observed when the plan does not say.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Istio {
    spec: Spec,
    kube: Kube,
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
            versions: VERSIONS,
            name: self.spec.virtual_service.clone(),
            namespace: self.spec.namespace.clone(),
            writes: true,
        }
    }

    fn splits(&self, vs: &Value, what: &str) -> Result<Vec<Split>, TrafficError> {
        let splits = split_routes(vs, &self.spec)?;
        if splits.is_empty() {
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
        Ok(splits)
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
            versions: VERSIONS,
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

    /// Writes the VirtualService, once rollgate's own additions are taken out, with `change`
    /// (given its name for messages and its split routes, returning what it added), and waits
    /// for Istio. What rollgate had added and could not take out (kept in the annotation) is
    /// noted in `missed`.
    async fn write(
        &self,
        missed: &Missed,
        change: impl Fn(&mut Value, &str, &[Split]) -> Result<Vec<Value>, TrafficError>,
    ) -> Result<(), TrafficError> {
        let started = tokio::time::Instant::now();
        let resource = self.resource();
        let written = self
            .kube
            .edit(
                &resource,
                |data, _, what| {
                    let mut added = strip(data, &self.spec);
                    missed.note_left(what, &added);
                    let splits = self.splits(data, what)?;
                    added.extend(change(data, what, &splits)?);
                    added::write(data, &added);
                    Ok(())
                },
                |_| Ok(()),
            )
            .await?;
        let generation = written.generation;
        let not_taken = format!("istiod did not report generation {generation} observed");
        self.kube
            .wait(
                &resource,
                (started, self.timeout().unwrap_or(DEFAULT_TIMEOUT)),
                &not_taken,
                |vs| observed(vs, generation),
            )
            .await
    }
}

#[async_trait]
impl TrafficRouter for Istio {
    async fn state(&self) -> Result<RouterState, TrafficError> {
        self.check_subsets().await?;
        let (mut vs, _, what) = self.kube.get(&self.resource()).await?;
        // What an earlier run added is not the VirtualService's own state.
        let _ = strip(&mut vs, &self.spec);
        let mut state = RouterState::default();
        for s in self.splits(&vs, &what)? {
            let (stable, canary) = (weight(&vs, &s, s.stable), weight(&vs, &s, s.canary));
            split::capture(&mut state, &what, &s, stable, canary);
        }
        Ok(state)
    }

    async fn apply(&self, route: &Route) -> Result<(), TrafficError> {
        match route {
            Route::Weight { percent } => {
                let canary = u32::from(*percent).min(100);
                self.write(&Missed::default(), |vs, _, splits| {
                    for s in splits {
                        set_weight(vs, s, s.stable, 100 - canary);
                        set_weight(vs, s, s.canary, canary);
                    }
                    Ok(Vec::new())
                })
                .await
            }
            Route::Mirror { percent } => {
                self.write(&Missed::default(), |vs, _, splits| {
                    splits.iter().map(|s| add_mirror(vs, s, *percent)).collect()
                })
                .await
            }
            Route::HeaderMatch { header, value } => {
                self.write(&Missed::default(), |vs, _, splits| {
                    Ok(vec![add_header_route(vs, &splits[0], header, value)])
                })
                .await
            }
        }
    }

    async fn restore(&self, state: &RouterState) -> Result<(), TrafficError> {
        split::by_identity(state)?;
        let missed = Missed::default();
        self.write(&missed, |vs, what, splits| {
            split::put_back(state, what, splits, &missed, |s, stable, canary| {
                set_weight(vs, s, s.stable, stable);
                set_weight(vs, s, s.canary, canary);
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

/// Takes out what the VirtualService's annotation says rollgate added: its own route (by the
/// name it gave it) and the mirrors it put on split routes. Returns what it could not take out
/// (a mirror on a route another writer changed), still rollgate's.
fn strip(vs: &mut Value, spec: &Spec) -> Vec<Value> {
    let listed = added::read(vs);
    added::write(vs, &[]);
    let mut kept = Vec::new();
    for a in &listed {
        if let Some(name) = a["route"].as_str() {
            if let Some(http) = vs.pointer_mut("/spec/http").and_then(Value::as_array_mut) {
                if let Some(i) = http.iter().position(|h| h["name"] == name) {
                    http.remove(i);
                }
            }
        }
    }
    for a in &listed {
        let Ok(identity) = serde_json::from_value::<RuleIdentity>(a["mirror"].clone()) else {
            continue;
        };
        let found = split_routes(vs, spec).unwrap_or_default();
        let Some(s) = found.iter().find(|s| s.identity == identity) else {
            kept.push(a.clone());
            continue;
        };
        if let Some(h) = vs["spec"]["http"][s.at].as_object_mut() {
            h.remove("mirror");
            h.remove("mirrorPercentage");
        }
    }
    kept
}

/// Mirrors `percent` of a split route's requests to its canary destination; what it added.
/// Refused when the route already mirrors (the owner's mirror is not rollgate's to replace).
fn add_mirror(vs: &mut Value, s: &Split, percent: u8) -> Result<Value, TrafficError> {
    let h = &mut vs["spec"]["http"][s.at];
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
    Ok(serde_json::json!({ "mirror": s.identity }))
}

/// Adds, first, a route that sends the split route's requests carrying `header: value` to the
/// canary alone, under a name no route has; what it added.
fn add_header_route(vs: &mut Value, s: &Split, header: &str, value: &str) -> Value {
    let shared = vs["spec"]["http"][s.at].clone();
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
    let http = vs
        .pointer("/spec/http")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let name = added::free_name(http.iter().filter_map(|h| h["name"].as_str()));
    let route = serde_json::json!({
        "name": name,
        "match": matches,
        "route": [{ "destination": shared["route"][s.canary]["destination"].clone() }]
    });
    if let Some(http) = vs.pointer_mut("/spec/http").and_then(Value::as_array_mut) {
        http.insert(0, route);
    }
    serde_json::json!({ "route": name })
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

/// A route's identity: its name, else its matches and destinations.
fn identity(h: &Value, entries: &[Value]) -> RuleIdentity {
    if let Some(name) = h["name"].as_str() {
        return RuleIdentity {
            name: Some(name.into()),
            matches: Value::Null,
            backends: Vec::new(),
            occurrence: 0,
        };
    }
    let mut backends: Vec<String> = entries
        .iter()
        .map(|e| {
            let d = &e["destination"];
            let mut s = d["host"].as_str().unwrap_or_default().to_string();
            if let Some(subset) = d["subset"].as_str() {
                s.push_str(&format!("/{subset}"));
            }
            if let Some(port) = d.pointer("/port/number").and_then(Value::as_u64) {
                s.push_str(&format!(":{port}"));
            }
            s
        })
        .collect();
    backends.sort();
    RuleIdentity {
        name: None,
        matches: h.get("match").cloned().unwrap_or(Value::Null),
        backends,
        occurrence: 0,
    }
}

/// The `http` routes to change: those named in the plan (each must send traffic to both
/// destinations, and to nothing else), or every one that sends traffic to both and nothing else.
fn split_routes(vs: &Value, spec: &Spec) -> Result<Vec<Split>, TrafficError> {
    let Some(http) = vs.pointer("/spec/http").and_then(Value::as_array) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (at, h) in http.iter().enumerate() {
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
            (Some(stable), Some(canary)) if entries.len() == 2 => out.push(Split {
                at,
                stable,
                canary,
                identity: identity(h, entries),
            }),
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
    split::number(&mut out);
    Ok(out)
}

/// A destination's weight: absent is 100 for a route's only destination, else 0.
fn weight(vs: &Value, s: &Split, entry: usize) -> u32 {
    vs.pointer(&format!("/spec/http/{}/route/{entry}/weight", s.at))
        .and_then(Value::as_u64)
        .map_or(0, |w| w.min(100) as u32)
}

fn set_weight(vs: &mut Value, s: &Split, entry: usize, weight: u32) {
    if let Some(e) = vs.pointer_mut(&format!("/spec/http/{}/route/{entry}", s.at)) {
        e["weight"] = Value::from(weight);
    }
}

/// Whether Istio has taken `generation`: reported observed when it reports status at all.
/// An analysis error on it is refused: the same configuration will not pass on a retry.
fn observed(vs: &Value, generation: i64) -> Result<bool, TrafficError> {
    if let Some(messages) = vs
        .pointer("/status/validationMessages")
        .and_then(Value::as_array)
    {
        if let Some(error) = messages
            .iter()
            .find(|m| m.pointer("/level").and_then(Value::as_str) == Some("ERROR"))
        {
            return Err(TrafficError::refused(format!(
                "Istio reports {}: {}",
                error
                    .pointer("/type/code")
                    .and_then(Value::as_str)
                    .unwrap_or("an error"),
                error
                    .pointer("/documentationUrl")
                    .and_then(Value::as_str)
                    .unwrap_or("")
            )));
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
        json!({ "metadata": { "name": "checkout" }, "spec": {
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
        let found = split_routes(&vs(), &spec(SPEC)).unwrap();
        assert_eq!(
            found
                .iter()
                .map(|s| (s.at, s.stable, s.canary))
                .collect::<Vec<_>>(),
            [(1, 0, 1)]
        );
        assert_eq!(found[0].identity.name.as_deref(), Some("primary"));
        let mut unnamed = vs();
        unnamed["spec"]["http"][1]
            .as_object_mut()
            .unwrap()
            .remove("name");
        let id = &split_routes(&unnamed, &spec(SPEC)).unwrap()[0].identity;
        assert_eq!(
            id.backends,
            [
                "checkout.prod.svc.cluster.local/canary",
                "checkout.prod.svc.cluster.local/stable"
            ]
        );
        let named = spec("{ virtual-service: checkout, routes: [internal], stable: { host: checkout, subset: stable }, canary: { host: checkout, subset: canary } }");
        let e = split_routes(&vs(), &named).unwrap_err();
        assert_eq!(e.message, "http route `internal` does not send traffic to both `checkout (subset stable)` and `checkout (subset canary)`");
        let mut three = vs();
        three["spec"]["http"][1]["route"]
            .as_array_mut()
            .unwrap()
            .push(json!({ "destination": { "host": "legacy" }, "weight": 0 }));
        assert!(split_routes(&three, &spec(SPEC))
            .unwrap_err()
            .message
            .contains("3 destinations"));
    }

    #[test]
    fn only_the_two_weights_change() {
        let before = vs();
        let s = &split_routes(&before, &spec(SPEC)).unwrap()[0];
        let mut after = before.clone();
        set_weight(&mut after, s, 0, 75);
        set_weight(&mut after, s, 1, 25);
        assert_eq!((weight(&after, s, 0), weight(&after, s, 1)), (75, 25));
        set_weight(&mut after, s, 0, 100);
        set_weight(&mut after, s, 1, 0);
        assert_eq!(after, before);
    }

    #[test]
    fn what_rollgate_adds_comes_out_exactly_and_nothing_of_the_users() {
        let s = spec(SPEC);
        // A route of the user's named like rollgate's, and their own mirror on it.
        let mut before = vs();
        before["spec"]["http"][0]["name"] = json!("rollgate-canary");
        before["spec"]["http"][0]["mirror"] = json!({ "host": "checkout", "subset": "canary" });
        let mut untouched = before.clone();
        strip(&mut untouched, &s);
        assert_eq!(untouched, before);

        let split = split_routes(&before, &s).unwrap();
        let mut mirrored = before.clone();
        let added = add_mirror(&mut mirrored, &split[0], 50).unwrap();
        added::write(&mut mirrored, &[added]);
        assert_eq!(mirrored["spec"]["http"][1]["mirror"]["subset"], "canary");
        assert_eq!(
            mirrored["spec"]["http"][1]["mirrorPercentage"],
            json!({ "value": 50.0 })
        );
        assert!(add_mirror(&mut mirrored.clone(), &split[0], 50)
            .unwrap_err()
            .message
            .contains("already mirrors"));
        strip(&mut mirrored, &s);
        assert_eq!(mirrored, before);

        let mut matched = before.clone();
        let added = add_header_route(&mut matched, &split[0], "x-canary", "always");
        added::write(&mut matched, &[added]);
        assert_eq!(
            matched["spec"]["http"][0],
            json!({ "name": "rollgate-canary-2", "match": [{ "headers": { "x-canary": { "exact": "always" } } }],
                    "route": [{ "destination": { "host": "checkout.prod.svc.cluster.local", "subset": "canary" } }] })
        );
        strip(&mut matched, &s);
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
        let e = observed(&invalid, 4).unwrap_err();
        assert!(e.message.starts_with("Istio reports IST0101"));
        assert!(!e.transient);
    }
}
