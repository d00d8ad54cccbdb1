//! What the Kubernetes routers share: the client (a kubeconfig and its context, exec
//! credential plugins, or the pod's service account), reading a namespaced object, editing it
//! with optimistic concurrency (a 409 is re-read and re-applied), waiting until the cluster
//! has taken a change, and API errors said so a person can act on them.

use super::TrafficError;
use crate::event::RouterState;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, PostParams};
use serde_json::Value;
use std::time::Duration;

/// Writes that lose a race to another writer are re-read and re-applied this many times.
const CONFLICT_RETRIES: u32 = 5;
/// How long one request to the API server may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How often an object is read while waiting for the cluster to take a change.
const POLL: Duration = Duration::from_millis(200);

/// The cluster a router talks to, connected on first use (reading the config may run an exec
/// credential plugin).
pub struct Kube {
    context: Option<String>,
    client: tokio::sync::OnceCell<Result<kube::Client, String>>,
}

/// A namespaced object of a custom resource, version v1.
pub struct Resource {
    pub group: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
    pub name: String,
    /// The context's namespace when absent.
    pub namespace: Option<String>,
    /// Whether rollgate writes it (`update`) or only reads it (`get`).
    pub writes: bool,
}

/// What a write left in force.
pub struct Written {
    pub generation: i64,
}

impl Kube {
    pub fn new(context: Option<String>) -> Kube {
        Kube {
            context,
            client: tokio::sync::OnceCell::new(),
        }
    }

    async fn client(&self) -> Result<kube::Client, TrafficError> {
        let made = self
            .client
            .get_or_init(|| async {
                let mut config = match &self.context {
                    Some(context) => {
                        let options = kube::config::KubeConfigOptions {
                            context: Some(context.clone()),
                            ..Default::default()
                        };
                        kube::Config::from_kubeconfig(&options)
                            .await
                            .map_err(|e| format!("kubeconfig context `{context}`: {e}"))?
                    }
                    None => kube::Config::infer().await.map_err(|e| {
                        format!("no Kubernetes configuration ({e}): set KUBECONFIG, name a `context`, or run in a pod with a service account")
                    })?,
                };
                // The runner retries and says so (`router-retrying`); kube's own silent retries
                // of 503s, backing off for minutes, would hide an API server that is down.
                config.default_retry = false;
                config.read_timeout = Some(REQUEST_TIMEOUT);
                kube::Client::try_from(config).map_err(|e| format!("the Kubernetes client: {e}"))
            })
            .await;
        made.clone().map_err(TrafficError::refused)
    }

    /// The object's API and namespace, and how messages name it: `HTTPRoute shop/web`.
    async fn api(
        &self,
        r: &Resource,
    ) -> Result<(Api<DynamicObject>, String, String), TrafficError> {
        let client = self.client().await?;
        let ns = r
            .namespace
            .clone()
            .unwrap_or_else(|| client.default_namespace().to_string());
        let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(r.group, "v1", r.kind));
        let what = format!("{} {ns}/{}", r.kind, r.name);
        Ok((Api::namespaced_with(client, &ns, &resource), ns, what))
    }

    /// The object's `spec` and `status` (and any other top-level field), its namespace and how
    /// messages name it.
    pub async fn get(&self, r: &Resource) -> Result<(Value, String, String), TrafficError> {
        let (api, ns, what) = self.api(r).await?;
        let obj = api
            .get(&r.name)
            .await
            .map_err(|e| api_error(e, "get", r, &ns))?;
        Ok((obj.data, ns, what))
    }

    /// Reads the object, changes it with `change` (given its namespace and name for messages)
    /// and writes it back whole, with its `resourceVersion`; re-reads and re-applies when
    /// another writer was first. `shape` checks what would be written. Nothing is written when
    /// the change changes nothing.
    pub async fn edit(
        &self,
        r: &Resource,
        change: impl Fn(&mut Value, &str, &str) -> Result<(), TrafficError>,
        shape: impl Fn(&DynamicObject) -> Result<(), String>,
    ) -> Result<Written, TrafficError> {
        let (api, ns, what) = self.api(r).await?;
        for _ in 0..CONFLICT_RETRIES {
            let mut obj = api
                .get(&r.name)
                .await
                .map_err(|e| api_error(e, "get", r, &ns))?;
            let mut data = obj.data.clone();
            change(&mut data, &ns, &what)?;
            if data == obj.data {
                let generation = obj.metadata.generation.unwrap_or_default();
                return Ok(Written { generation });
            }
            obj.data = data;
            shape(&obj).map_err(|e| {
                TrafficError::refused(format!(
                    "{what}: the changed object would not be a valid {}: {e}",
                    r.kind
                ))
            })?;
            match api.replace(&r.name, &PostParams::default(), &obj).await {
                Ok(written) => {
                    let generation = written.metadata.generation.unwrap_or_default();
                    return Ok(Written { generation });
                }
                // Another writer changed it since it was read: read it again.
                Err(kube::Error::Api(s)) if s.code == 409 => continue,
                Err(e) => return Err(api_error(e, "update", r, &ns)),
            }
        }
        Err(TrafficError::transient(format!(
            "{what} kept changing under rollgate's writes ({CONFLICT_RETRIES} conflicts in a row)"
        )))
    }

    /// Reads the object until `ready` says the change is in force (`Ok(true)`) or refused
    /// (`Err`, why), for at most `timeout`; `not_taken` says what did not happen then ("its
    /// gateway did not accept generation 4").
    pub async fn wait(
        &self,
        r: &Resource,
        timeout: Duration,
        not_taken: &str,
        ready: impl Fn(&Value) -> Result<bool, String>,
    ) -> Result<(), TrafficError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let (data, _, what) = self.get(r).await?;
            match ready(&data) {
                Ok(true) => return Ok(()),
                Ok(false) => {}
                Err(refusal) => return Err(TrafficError::transient(format!("{what}: {refusal}"))),
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(TrafficError::transient(format!(
                    "{what}: {not_taken} within {}",
                    humantime::format_duration(timeout)
                )));
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

/// Records the two weights at `at` (a rule or route) in a router's captured state; the first
/// pair captured gives the state's canary share.
pub fn capture(state: &mut RouterState, at: &str, stable: u32, canary: u32) {
    if state.servers.is_empty() {
        state.canary_weight = share(stable, canary);
    }
    state.servers.insert(format!("{at}/stable"), stable);
    state.servers.insert(format!("{at}/canary"), canary);
}

/// The two weights [`capture`] recorded at `at`, if it did.
pub fn captured(state: &RouterState, at: &str) -> Option<(u32, u32)> {
    let stable = state.servers.get(&format!("{at}/stable"))?;
    let canary = state.servers.get(&format!("{at}/canary"))?;
    Some((*stable, *canary))
}

/// The canary's share of the two weights, in percent.
fn share(stable: u32, canary: u32) -> u8 {
    let total = u64::from(stable) + u64::from(canary);
    if total == 0 {
        return 0;
    }
    ((u64::from(canary) * 100 + total / 2) / total) as u8
}

/// A Kubernetes API error, said so a person can act on it.
fn api_error(e: kube::Error, verb: &str, r: &Resource, ns: &str) -> TrafficError {
    let (kind, name, group, plural) = (r.kind, &r.name, r.group, r.plural);
    let (verbs, said) = match r.writes {
        true => ("get, update", "`get` and `update`"),
        false => ("get", "`get`"),
    };
    match e {
        kube::Error::Api(s) if s.code == 404 => TrafficError::refused(format!(
            "no {kind} `{name}` in namespace `{ns}`: check the router's settings and `namespace`"
        )),
        kube::Error::Api(s) if s.code == 401 || s.code == 403 => TrafficError::refused(format!(
            "the Kubernetes API refused to {verb} {kind} `{ns}/{name}` ({}): rollgate needs {said} on `{plural}` in `{group}`, namespace `{ns}`. A Role that grants it:\n{}",
            s.message,
            role(ns, group, plural, verbs)
        )),
        kube::Error::Api(s) => TrafficError::transient(format!(
            "{kind} {ns}/{name}: {verb} failed: {} ({} {})",
            s.message, s.code, s.reason
        )),
        other => TrafficError::transient(format!(
            "the Kubernetes API did not answer ({verb} {kind} {ns}/{name}): {other}"
        )),
    }
}

/// The Role that grants `verbs` (`get, update`) on `plural` of `group` in `ns`.
pub fn role(ns: &str, group: &str, plural: &str, verbs: &str) -> String {
    format!(
        "  apiVersion: rbac.authorization.k8s.io/v1\n  kind: Role\n  metadata: {{ name: rollgate, namespace: {ns} }}\n  rules:\n    - apiGroups: [{group}]\n      resources: [{plural}]\n      verbs: [{verbs}]"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_capture_keeps_each_pair_and_the_first_pairs_share() {
        let mut state = RouterState::default();
        capture(&mut state, "a", 90, 10);
        capture(&mut state, "b", 1, 1);
        assert_eq!(state.canary_weight, 10);
        assert_eq!(captured(&state, "b"), Some((1, 1)));
        assert_eq!(captured(&state, "c"), None);
        assert_eq!(share(90, 10), 10);
        assert_eq!(share(1, 1), 50);
        assert_eq!(share(0, 0), 0);
    }

    #[test]
    fn the_role_it_prints_is_yaml_a_cluster_takes() {
        let role = role(
            "shop",
            "gateway.networking.k8s.io",
            "httproutes",
            "get, update",
        );
        let v = crate::plan::load::load("role.yaml", &role).unwrap().value;
        assert_eq!(v["kind"], "Role");
        assert_eq!(v["rules"][0]["verbs"], serde_json::json!(["get", "update"]));
        assert_eq!(v["rules"][0]["apiGroups"][0], "gateway.networking.k8s.io");
        assert_eq!(v["metadata"]["namespace"], "shop");
    }
}
