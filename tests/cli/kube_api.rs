//! A stand-in for a Kubernetes API server on loopback, for the routes rollgate drives (Gateway
//! API HTTPRoutes; Istio VirtualServices and DestinationRules), as no API server can run on
//! these machines. It behaves like the real one on the wire for what rollgate does: objects
//! with `resourceVersion` and `generation`; a `PUT` with a
//! stale `resourceVersion` is refused with 409 Conflict, a missing route with 404, a forbidden
//! one with 403, an object the HTTPRoute schema refuses with 422, each as a `metav1.Status`
//! body; the `status` a client sends is ignored, as with a status subresource. Every HTTPRoute
//! written is checked against the schema of the `gateway-api` crate's HTTPRoute type, and every
//! VirtualService against what Istio's validation checks of the fields rollgate writes (each
//! route's weights whole numbers summing to 100). A simulated controller reports each new
//! generation after a delay (a gateway's `Accepted` and `ResolvedRefs`, istiod's
//! `observedGeneration`), or rejects it, or never answers.

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the simulated gateway controller does with a new generation.
#[derive(Clone, Debug)]
pub enum Controller {
    /// Reports it accepted after this delay.
    Accepts(Duration),
    /// Reports `Accepted=False` with this reason and message for a generation whose first
    /// rule sends the canary more than `above` of its weight; accepts the others.
    Rejects {
        above: u64,
        reason: &'static str,
        message: &'static str,
    },
    /// Never reports.
    Silent,
}

#[derive(Default)]
struct State {
    /// Objects by (plural, namespace, name).
    objects: BTreeMap<Key, Value>,
    resource_version: u64,
    /// Every route body written, in order.
    writes: Vec<Value>,
    forbidden: bool,
    /// Answering 503 to everything, as an API server behind a load balancer that lost it.
    down: bool,
    /// The next this many writes get a 409 as if another writer had been first.
    conflicts: u32,
    controller: Option<Controller>,
    /// Every request answered: when, the method, the answer's code, and a PUT's body.
    log: Vec<Logged>,
    /// Answering 401 to everything, as for an expired token.
    unauthorized: bool,
    /// Answering every write with this code.
    refuse_writes: Option<u16>,
    /// The versions of each API group served, each with the resources (plurals) it has.
    served: BTreeMap<String, Vec<(String, Vec<String>)>>,
}

/// What a cluster with Gateway API 1.1 and Istio 1.22 serves.
fn served_by_default() -> BTreeMap<String, Vec<(String, Vec<String>)>> {
    let v = |version: &str, plurals: &[&str]| {
        (
            version.to_string(),
            plurals.iter().map(|p| p.to_string()).collect(),
        )
    };
    BTreeMap::from([
        (
            "gateway.networking.k8s.io".to_string(),
            vec![
                v("v1", &["gateways", "httproutes", "grpcroutes"]),
                v("v1beta1", &["gateways", "httproutes", "referencegrants"]),
            ],
        ),
        (
            "networking.istio.io".to_string(),
            vec![
                v("v1", &["virtualservices", "destinationrules"]),
                v("v1beta1", &["virtualservices", "destinationrules"]),
            ],
        ),
    ])
}

/// A request as the stand-in answered it.
#[derive(Clone, Debug)]
pub struct Logged {
    pub at: std::time::SystemTime,
    pub method: String,
    /// The path and query string.
    pub url: String,
    pub user_agent: Option<String>,
    pub code: u16,
    pub body: Option<Value>,
}

pub struct KubeApi {
    pub port: u16,
    state: Arc<Mutex<State>>,
}

type Key = (String, String, String);

fn key(plural: &str, ns: &str, name: &str) -> Key {
    (plural.into(), ns.into(), name.into())
}

impl KubeApi {
    pub fn start(controller: Controller) -> KubeApi {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("a loopback port"));
        let port = server.server_addr().to_ip().expect("an IP address").port();
        let state = Arc::new(Mutex::new(State {
            controller: Some(controller),
            resource_version: 1000,
            served: served_by_default(),
            ..State::default()
        }));
        for _ in 0..4 {
            let (server, state) = (server.clone(), state.clone());
            std::thread::spawn(move || {
                for request in server.incoming_requests() {
                    serve(request, &state);
                }
            });
        }
        KubeApi { port, state }
    }

    /// Adds an HTTPRoute as a user would have it: `spec` as given, accepted by its gateway.
    pub fn put_route(&self, ns: &str, name: &str, spec: Value) {
        let status = status(1, "True", "Accepted", "");
        let kind = ("httproutes", "gateway.networking.k8s.io/v1", "HTTPRoute");
        self.put(kind, ns, name, spec, status);
    }

    /// Adds a GRPCRoute, accepted by its gateway.
    pub fn put_grpc_route(&self, ns: &str, name: &str, spec: Value) {
        let status = status(1, "True", "Accepted", "");
        let kind = ("grpcroutes", "gateway.networking.k8s.io/v1", "GRPCRoute");
        self.put(kind, ns, name, spec, status);
    }

    /// Adds an Istio object (`virtualservices`, `destinationrules`), taken by istiod.
    pub fn put_istio(&self, plural: &str, kind: &str, ns: &str, name: &str, spec: Value) {
        let status = json!({ "observedGeneration": 1 });
        self.put(
            (plural, "networking.istio.io/v1", kind),
            ns,
            name,
            spec,
            status,
        );
    }

    /// Adds an object of (plural, apiVersion, kind).
    fn put(
        &self,
        (plural, api_version, kind): (&str, &str, &str),
        ns: &str,
        name: &str,
        spec: Value,
        status: Value,
    ) {
        let mut s = self.state.lock().unwrap();
        s.resource_version += 1;
        let object = json!({
            "apiVersion": api_version,
            "kind": kind,
            "metadata": {
                "name": name, "namespace": ns, "uid": format!("uid-{name}"),
                "resourceVersion": s.resource_version.to_string(), "generation": 1,
                "creationTimestamp": "2026-03-01T12:00:00Z"
            },
            "spec": spec,
            "status": status
        });
        s.objects.insert(key(plural, ns, name), object);
    }

    pub fn route(&self, ns: &str, name: &str) -> Value {
        self.object("httproutes", ns, name)
    }

    pub fn object(&self, plural: &str, ns: &str, name: &str) -> Value {
        self.state.lock().unwrap().objects[&key(plural, ns, name)].clone()
    }

    /// Another writer's change to the route's spec, as `kubectl edit` would make it.
    pub fn edit_route(&self, ns: &str, name: &str, edit: impl FnOnce(&mut Value)) {
        let mut s = self.state.lock().unwrap();
        s.resource_version += 1;
        let rv = s.resource_version.to_string();
        let route = s.objects.get_mut(&key("httproutes", ns, name)).unwrap();
        edit(&mut route["spec"]);
        route["metadata"]["resourceVersion"] = rv.into();
        let g = route["metadata"]["generation"].as_i64().unwrap() + 1;
        route["metadata"]["generation"] = g.into();
        route["status"] = status(g, "True", "Accepted", "");
    }

    /// The weights of the route's first rule's backendRefs, by name.
    pub fn weights(&self, ns: &str, name: &str) -> Vec<(String, u64)> {
        let route = self.route(ns, name);
        route["spec"]["rules"][0]["backendRefs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let w = r["weight"].as_u64().unwrap_or(1);
                (r["name"].as_str().unwrap().to_string(), w)
            })
            .collect()
    }

    /// Every request answered, in order.
    pub fn log(&self) -> Vec<Logged> {
        self.state.lock().unwrap().log.clone()
    }

    pub fn writes(&self) -> Vec<Value> {
        self.state.lock().unwrap().writes.clone()
    }

    pub fn set_down(&self, down: bool) {
        self.state.lock().unwrap().down = down;
    }

    pub fn forbid(&self) {
        self.state.lock().unwrap().forbidden = true;
    }

    /// What the simulated controller does with the generations written from now on.
    pub fn set_controller(&self, controller: Controller) {
        self.state.lock().unwrap().controller = Some(controller);
    }

    /// Answers every write with `code` (422 Invalid: a webhook or schema that refuses it).
    pub fn refuse_writes(&self, code: u16) {
        self.state.lock().unwrap().refuse_writes = Some(code);
    }

    /// Answers 401 to everything, as an API server does for an expired token.
    pub fn unauthorize(&self) {
        self.state.lock().unwrap().unauthorized = true;
    }

    /// Serves `group` at these versions only, each with its resources.
    pub fn serve_only(&self, group: &str, versions: &[(&str, &[&str])]) {
        let versions = versions
            .iter()
            .map(|(v, ps)| (v.to_string(), ps.iter().map(|p| p.to_string()).collect()))
            .collect();
        self.state
            .lock()
            .unwrap()
            .served
            .insert(group.into(), versions);
    }

    /// Another writer's change to any object's spec, as `kubectl edit` would make it.
    pub fn edit_object(&self, plural: &str, ns: &str, name: &str, edit: impl FnOnce(&mut Value)) {
        let mut s = self.state.lock().unwrap();
        s.resource_version += 1;
        let rv = s.resource_version.to_string();
        let object = s.objects.get_mut(&key(plural, ns, name)).unwrap();
        edit(&mut object["spec"]);
        object["metadata"]["resourceVersion"] = rv.into();
        let g = object["metadata"]["generation"].as_i64().unwrap() + 1;
        object["metadata"]["generation"] = g.into();
        if plural == "virtualservices" {
            object["status"] = json!({ "observedGeneration": g });
        } else {
            object["status"] = status(g, "True", "Accepted", "");
        }
    }

    pub fn conflict_next(&self, times: u32) {
        self.state.lock().unwrap().conflicts = times;
    }

    /// A kubeconfig whose current context is this server, namespace `ns`, as a bearer token user.
    pub fn kubeconfig(&self, dir: &Path, ns: &str) -> std::path::PathBuf {
        let path = dir.join("kubeconfig");
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n  - name: standin\n    cluster: {{ server: 'http://127.0.0.1:{}' }}\nusers:\n  - name: rollgate\n    user: {{ token: test-token }}\ncontexts:\n  - name: standin\n    context: {{ cluster: standin, user: rollgate, namespace: {ns} }}\ncurrent-context: standin\n",
            self.port
        );
        std::fs::write(&path, text).unwrap();
        path
    }
}

/// `rollgate run plan.yaml` in `dir`, against the stand-in through `dir/kubeconfig` (see
/// [`KubeApi::kubeconfig`]), outside Actions.
pub fn rollgate_run(dir: &Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_rollgate"));
    cmd.args(["run", "plan.yaml", "--state-dir", "state"])
        .current_dir(dir)
        .env("KUBECONFIG", dir.join("kubeconfig"))
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_REPOSITORY");
    cmd
}

/// A route's status as one gateway `edge` reports it.
fn status(generation: i64, accepted: &str, reason: &str, message: &str) -> Value {
    json!({ "parents": [{
        "parentRef": { "group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "edge" },
        "controllerName": "example.com/gateway-controller",
        "conditions": [
            { "type": "Accepted", "status": accepted, "reason": reason, "message": message,
              "observedGeneration": generation, "lastTransitionTime": "2026-03-01T12:00:00Z" },
            { "type": "ResolvedRefs", "status": "True", "reason": "ResolvedRefs", "message": "",
              "observedGeneration": generation, "lastTransitionTime": "2026-03-01T12:00:00Z" }
        ]
    }] })
}

/// A `metav1.Status` failure body, as the API server sends it.
fn failure(code: u16, reason: &str, message: String) -> (u16, Value) {
    let body = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Failure", "message": message, "reason": reason, "code": code
    });
    (code, body)
}

/// What the route's CRD schema (the gateway-api crate's types) says of it.
fn schema_errors(route: &Value) -> Option<String> {
    static HTTP: std::sync::OnceLock<jsonschema::Validator> = std::sync::OnceLock::new();
    static GRPC: std::sync::OnceLock<jsonschema::Validator> = std::sync::OnceLock::new();
    let compile = |schema: schemars::Schema| {
        jsonschema::validator_for(&serde_json::to_value(schema).unwrap()).unwrap()
    };
    let validator =
        match route["kind"].as_str() {
            Some("GRPCRoute") => GRPC
                .get_or_init(|| compile(schemars::schema_for!(gateway_api::grpcroutes::GrpcRoute))),
            _ => HTTP
                .get_or_init(|| compile(schemars::schema_for!(gateway_api::httproutes::HttpRoute))),
        };
    let errors: Vec<String> = validator
        .iter_errors(route)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    (!errors.is_empty()).then(|| errors.join("; "))
}

fn serve(mut request: tiny_http::Request, state: &Arc<Mutex<State>>) {
    let url = request.url().to_string();
    let path = url.split('?').next().unwrap_or_default().to_string();
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
    let user_agent = request
        .headers()
        .iter()
        .find(|h| h.field.equiv("User-Agent"))
        .map(|h| h.value.to_string());
    let mut body = String::new();
    let _ = request.as_reader().read_to_string(&mut body);
    let (code, answer) = answer(request.method(), &path, query, &body, state);
    let method = request.method().to_string();
    let sent = (method == "PUT")
        .then(|| serde_json::from_str(&body).ok())
        .flatten();
    // A plain-text answer (the API server's `404 page not found`) goes as text.
    let (content_type, text) = match &answer {
        Value::String(t) => ("text/plain; charset=utf-8", format!("{t}\n")),
        other => ("application/json", other.to_string()),
    };
    let header = tiny_http::Header::from_bytes("Content-Type", content_type).unwrap();
    let response = tiny_http::Response::from_string(text)
        .with_status_code(code)
        .with_header(header);
    // Logged as answered, before the client can act on the answer.
    state.lock().unwrap().log.push(Logged {
        at: std::time::SystemTime::now(),
        method,
        url,
        user_agent,
        code,
        body: sent,
    });
    let _ = request.respond(response);
}

/// VirtualService checks Istio's validation makes of what rollgate writes: each route's
/// weights are whole numbers from 0 to 100 that sum to 100.
fn virtual_service_errors(vs: &Value) -> Option<String> {
    let http = vs["spec"]["http"].as_array()?;
    let errors: Vec<String> = http
        .iter()
        .enumerate()
        .filter_map(|(i, h)| {
            let route = h["route"].as_array()?;
            if route.len() < 2 {
                return None;
            }
            let weights: Vec<Option<u64>> = route.iter().map(|r| r["weight"].as_u64()).collect();
            let total: u64 = weights.iter().flatten().sum();
            (weights.iter().any(|w| w.is_none_or(|w| w > 100)) || total != 100)
                .then(|| format!("spec.http[{i}]: total destination weight {total} != 100"))
        })
        .collect();
    (!errors.is_empty()).then(|| errors.join("; "))
}

/// `/apis/{group}/{version}/namespaces/{ns}/{plural}/{name}` as (group, version, plural, ns,
/// name).
fn parse(path: &str) -> Option<(&str, &str, &str, &str, &str)> {
    let parts: Vec<&str> = path.strip_prefix("/apis/")?.split('/').collect();
    match parts.as_slice() {
        [group, version, "namespaces", ns, plural, name] => {
            Some((group, version, plural, ns, name))
        }
        _ => None,
    }
}

/// Discovery, as every authenticated client may read it: `/apis` (an APIGroupList) and
/// `/apis/{group}/{version}` (an APIResourceList); `None` for any other path.
fn discovery(path: &str, s: &State) -> Option<(u16, Value)> {
    let rest = path.strip_prefix("/apis")?;
    if rest.is_empty() || rest == "/" {
        let groups: Vec<Value> = s
            .served
            .iter()
            .map(|(g, versions)| {
                let vs: Vec<Value> = versions
                    .iter()
                    .map(|(v, _)| json!({ "groupVersion": format!("{g}/{v}"), "version": v }))
                    .collect();
                json!({ "name": g, "versions": vs, "preferredVersion": vs[0] })
            })
            .collect();
        return Some((
            200,
            json!({ "kind": "APIGroupList", "apiVersion": "v1", "groups": groups }),
        ));
    }
    let parts: Vec<&str> = rest.trim_matches('/').split('/').collect();
    let [group, version] = parts.as_slice() else {
        return None;
    };
    let plurals = s
        .served
        .get(*group)
        .and_then(|vs| vs.iter().find(|(v, _)| v == version))
        .map(|(_, ps)| ps.clone());
    Some(match plurals {
        None => (404, json!("404 page not found")),
        Some(ps) => {
            let resources: Vec<Value> = ps
                .iter()
                .map(|p| json!({ "name": p, "singularName": "", "namespaced": true, "kind": kind_of(p), "verbs": ["get", "list", "update", "patch", "watch"] }))
                .collect();
            (
                200,
                json!({ "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": format!("{group}/{version}"), "resources": resources }),
            )
        }
    })
}

fn kind_of(plural: &str) -> &'static str {
    match plural {
        "httproutes" => "HTTPRoute",
        "grpcroutes" => "GRPCRoute",
        "gateways" => "Gateway",
        "referencegrants" => "ReferenceGrant",
        "virtualservices" => "VirtualService",
        "destinationrules" => "DestinationRule",
        _ => "Unknown",
    }
}

fn answer(
    method: &tiny_http::Method,
    path: &str,
    query: &str,
    body: &str,
    state: &Arc<Mutex<State>>,
) -> (u16, Value) {
    let mut s = state.lock().unwrap();
    if s.down {
        return failure(
            503,
            "ServiceUnavailable",
            "the server is currently unable to handle the request".into(),
        );
    }
    if s.unauthorized {
        return failure(401, "Unauthorized", "Unauthorized".into());
    }
    if let Some(found) = discovery(path, &s) {
        return found;
    }
    let Some((group, version, plural, ns, name)) = parse(path) else {
        return failure(
            404,
            "NotFound",
            format!("the server could not find the requested resource ({path})"),
        );
    };
    // A version or resource the cluster does not serve: the API server's plain 404.
    let served = s.served.get(group).is_some_and(|vs| {
        vs.iter()
            .any(|(v, ps)| v == version && ps.iter().any(|p| p == plural))
    });
    if !served {
        return (404, json!("404 page not found"));
    }
    let key = key(plural, ns, name);
    let resource = format!("{plural}.{group}");
    if s.forbidden {
        let verb = if *method == tiny_http::Method::Get {
            "get"
        } else {
            "update"
        };
        return failure(403, "Forbidden", format!("{resource} \"{name}\" is forbidden: User \"system:serviceaccount:ci:rollgate\" cannot {verb} resource \"{plural}\" in API group \"{group}\" in the namespace \"{ns}\""));
    }
    let Some(current) = s.objects.get(&key).cloned() else {
        return failure(404, "NotFound", format!("{resource} \"{name}\" not found"));
    };
    match method {
        tiny_http::Method::Get => {
            let mut current = current;
            current["apiVersion"] = format!("{group}/{version}").into();
            (200, current)
        }
        tiny_http::Method::Put => {
            let Ok(mut sent) = serde_json::from_str::<Value>(body) else {
                return failure(400, "BadRequest", "the body is not JSON".into());
            };
            let conflict = format!("Operation cannot be fulfilled on {resource} \"{name}\": the object has been modified; please apply your changes to the latest version and try again");
            if let Some(code) = s.refuse_writes {
                return failure(
                    code,
                    "Invalid",
                    format!("{resource} \"{name}\" is invalid: admission webhook \"validate.example.com\" denied the request"),
                );
            }
            if s.conflicts > 0 {
                s.conflicts -= 1;
                return failure(409, "Conflict", conflict);
            }
            if sent["metadata"]["resourceVersion"] != current["metadata"]["resourceVersion"] {
                return failure(409, "Conflict", conflict);
            }
            let invalid = match plural {
                "httproutes" | "grpcroutes" => schema_errors(&sent),
                "virtualservices" => virtual_service_errors(&sent),
                _ => Some(format!("rollgate has no business writing {resource}")),
            };
            if let Some(errors) = invalid {
                return failure(
                    422,
                    "Invalid",
                    format!("{resource} \"{name}\" is invalid: {errors}"),
                );
            }
            // The writer's fieldManager, as the API server records it in managedFields.
            let manager = query
                .split('&')
                .find_map(|p| p.strip_prefix("fieldManager="))
                .unwrap_or_default()
                .to_string();
            s.writes.push(sent.clone());
            sent["metadata"]["managedFields"] = json!([{ "manager": manager, "operation": "Update", "apiVersion": format!("{group}/{version}"), "fieldsType": "FieldsV1" }]);
            s.resource_version += 1;
            let mut generation = current["metadata"]["generation"].as_i64().unwrap();
            if sent["spec"] != current["spec"] {
                generation += 1;
            }
            sent["metadata"]["resourceVersion"] = s.resource_version.to_string().into();
            sent["metadata"]["generation"] = generation.into();
            // Status is the controller's, not the writer's.
            sent["status"] = current["status"].clone();
            s.objects.insert(key.clone(), sent.clone());
            let controller = s.controller.clone().unwrap();
            drop(s);
            let canary = sent["spec"]["rules"][0]["backendRefs"][1]["weight"]
                .as_u64()
                .or(sent["spec"]["http"][0]["route"][1]["weight"].as_u64())
                .unwrap_or(1);
            report(controller, canary, key, generation, state.clone());
            (200, sent)
        }
        _ => failure(
            405,
            "MethodNotAllowed",
            format!("{method} is not supported here"),
        ),
    }
}

/// The simulated gateway controller's report on `generation`.
fn report(
    controller: Controller,
    canary: u64,
    key: Key,
    generation: i64,
    state: Arc<Mutex<State>>,
) {
    let soon = Duration::from_millis(50);
    let (after, accepted, reason, message) = match controller {
        Controller::Silent => return,
        Controller::Accepts(after) => (after, "True", "Accepted", ""),
        Controller::Rejects {
            above,
            reason,
            message,
        } if canary > above => (soon, "False", reason, message),
        Controller::Rejects { .. } => (soon, "True", "Accepted", ""),
    };
    std::thread::spawn(move || {
        std::thread::sleep(after);
        let mut s = state.lock().unwrap();
        s.resource_version += 1;
        let rv = s.resource_version.to_string();
        let istio = key.0 == "virtualservices";
        if let Some(object) = s.objects.get_mut(&key) {
            if object["metadata"]["generation"] == generation {
                object["status"] = if istio {
                    json!({ "observedGeneration": generation })
                } else {
                    status(generation, accepted, reason, message)
                };
                object["metadata"]["resourceVersion"] = rv.into();
            }
        }
    });
}
