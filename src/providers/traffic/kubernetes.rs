//! What the Kubernetes routers share: the client (a kubeconfig and its context, exec
//! credential plugins, or the pod's service account), finding which version of a resource the
//! cluster serves, reading a namespaced object, editing it with optimistic concurrency (a 409
//! is re-read and re-applied), waiting until the cluster has taken a change, and API errors
//! said so a person can act on them. Every request says who it is: `User-Agent:
//! rollgate/VERSION`, and every write `fieldManager=rollgate`.

use super::TrafficError;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, PostParams};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

/// Writes that lose a race to another writer are re-read and re-applied this many times.
const CONFLICT_RETRIES: u32 = 5;
/// How long one request to the API server may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How often an object is read while waiting for the cluster to take a change.
const POLL: Duration = Duration::from_millis(200);
/// The manager rollgate's writes are recorded under in `managedFields`.
pub const FIELD_MANAGER: &str = "rollgate";

/// The cluster a router talks to, connected on first use (reading the config may run an exec
/// credential plugin).
pub struct Kube {
    context: Option<String>,
    client: tokio::sync::OnceCell<Result<Connected, TrafficError>>,
    /// The version each kind is served at, found once.
    versions: Mutex<BTreeMap<&'static str, &'static str>>,
}

#[derive(Clone)]
struct Connected {
    client: kube::Client,
    /// Whose credentials it uses, for messages: "kubeconfig user `ci` (context `prod`)".
    who: String,
    /// Where its CA comes from, for messages about TLS.
    cluster: String,
}

/// A namespaced object of a custom resource.
pub struct Resource {
    pub group: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
    /// The versions rollgate can drive, best first; the first the cluster serves is used.
    pub versions: &'static [&'static str],
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
            versions: Mutex::new(BTreeMap::new()),
        }
    }

    async fn connected(&self) -> Result<Connected, TrafficError> {
        self.client.get_or_init(|| self.connect()).await.clone()
    }

    async fn connect(&self) -> Result<Connected, TrafficError> {
        let mut config = match &self.context {
            Some(context) => {
                let options = kube::config::KubeConfigOptions {
                    context: Some(context.clone()),
                    ..Default::default()
                };
                kube::Config::from_kubeconfig(&options).await.map_err(|e| {
                    TrafficError::refused(format!("kubeconfig context `{context}`: {e}"))
                })?
            }
            None => kube::Config::infer().await.map_err(|e| {
                TrafficError::refused(format!("no Kubernetes configuration ({e}): set KUBECONFIG, name a `context`, or run in a pod with a service account"))
            })?,
        };
        // The runner retries and says so (`router-retrying`); kube's own silent retries
        // of 503s, backing off for minutes, would hide an API server that is down.
        config.default_retry = false;
        config.read_timeout = Some(REQUEST_TIMEOUT);
        config.headers.push((
            http::header::USER_AGENT,
            http::HeaderValue::from_static(concat!("rollgate/", env!("CARGO_PKG_VERSION"))),
        ));
        let (who, cluster) = whose(self.context.as_deref());
        let client = kube::Client::try_from(config)
            .map_err(|e| TrafficError::refused(format!("the Kubernetes client: {e}")))?;
        Ok(Connected {
            client,
            who,
            cluster,
        })
    }

    /// The version of `r`'s kind the cluster serves, the first of `r.versions` it does, found
    /// once by discovery; refused, saying what the cluster serves, when it serves none.
    async fn version(&self, c: &Connected, r: &Resource) -> Result<&'static str, TrafficError> {
        if let Some(v) = self.versions.lock().expect("not poisoned").get(r.kind) {
            return Ok(v);
        }
        for v in r.versions {
            let listed = c
                .client
                .list_api_group_resources(&format!("{}/{v}", r.group))
                .await;
            match listed {
                Ok(list) if list.resources.iter().any(|x| x.name == r.plural) => {
                    self.versions
                        .lock()
                        .expect("not poisoned")
                        .insert(r.kind, v);
                    return Ok(v);
                }
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(c.error(e, &format!("discover {}", r.group), r, "")),
            }
        }
        let served = match c.client.list_api_groups().await {
            Ok(groups) => groups
                .groups
                .into_iter()
                .find(|g| g.name == r.group)
                .map(|g| {
                    let vs: Vec<String> = g.versions.into_iter().map(|v| v.version).collect();
                    format!("it serves {} only as {}", r.group, vs.join(", "))
                })
                .unwrap_or_else(|| format!("it has no {} API at all", r.group)),
            Err(e) => return Err(c.error(e, "list API groups", r, "")),
        };
        Err(TrafficError::refused(format!(
            "the cluster does not serve {} at {}/{} ({served}): rollgate drives {} as {}; install or upgrade the CRDs",
            r.kind,
            r.group,
            r.versions.join(" or "),
            r.plural,
            r.versions
                .iter()
                .map(|v| format!("{}/{v}", r.group))
                .collect::<Vec<_>>()
                .join(" or "),
        )))
    }

    /// The object's API and namespace, and how messages name it: `HTTPRoute shop/web`.
    async fn api(
        &self,
        r: &Resource,
    ) -> Result<(Api<DynamicObject>, Connected, String, String), TrafficError> {
        let c = self.connected().await?;
        let version = self.version(&c, r).await?;
        let ns = r
            .namespace
            .clone()
            .unwrap_or_else(|| c.client.default_namespace().to_string());
        let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(r.group, version, r.kind));
        let what = format!("{} {ns}/{}", r.kind, r.name);
        let api = Api::namespaced_with(c.client.clone(), &ns, &resource);
        Ok((api, c, ns, what))
    }

    /// The whole object (`metadata`, `spec`, `status`), its namespace and how messages name it.
    pub async fn get(&self, r: &Resource) -> Result<(Value, String, String), TrafficError> {
        let (api, c, ns, what) = self.api(r).await?;
        let obj = api
            .get(&r.name)
            .await
            .map_err(|e| c.error(e, "get", r, &ns))?;
        Ok((whole(&obj), ns, what))
    }

    /// Reads the object, changes it with `change` (given the whole object, its namespace and
    /// its name for messages) and writes it back whole, with its `resourceVersion`; re-reads
    /// and re-applies when another writer was first. `shape` checks what would be written.
    /// Nothing is written when the change changes nothing.
    pub async fn edit(
        &self,
        r: &Resource,
        change: impl Fn(&mut Value, &str, &str) -> Result<(), TrafficError>,
        shape: impl Fn(&Value) -> Result<(), String>,
    ) -> Result<Written, TrafficError> {
        let (api, c, ns, what) = self.api(r).await?;
        let params = PostParams {
            field_manager: Some(FIELD_MANAGER.into()),
            ..PostParams::default()
        };
        for _ in 0..CONFLICT_RETRIES {
            let obj = api
                .get(&r.name)
                .await
                .map_err(|e| c.error(e, "get", r, &ns))?;
            let read = whole(&obj);
            let mut data = read.clone();
            change(&mut data, &ns, &what)?;
            if data == read {
                let generation = obj.metadata.generation.unwrap_or_default();
                return Ok(Written { generation });
            }
            shape(&data).map_err(|e| {
                TrafficError::refused(format!(
                    "{what}: the changed object would not be a valid {}: {e}",
                    r.kind
                ))
            })?;
            let changed: DynamicObject = serde_json::from_value(data)
                .map_err(|e| TrafficError::refused(format!("{what}: the changed object: {e}")))?;
            match api.replace(&r.name, &params, &changed).await {
                Ok(written) => {
                    let generation = written.metadata.generation.unwrap_or_default();
                    return Ok(Written { generation });
                }
                // Another writer changed it since it was read: read it again.
                Err(kube::Error::Api(s)) if s.code == 409 => continue,
                Err(e) => return Err(c.error(e, "update", r, &ns)),
            }
        }
        Err(TrafficError::transient(format!(
            "{what} kept changing under rollgate's writes ({CONFLICT_RETRIES} conflicts in a row)"
        )))
    }

    /// Reads the object until `ready` says the change is in force (`Ok(true)`) or refused
    /// (`Err`, transient or not as `ready` says), until the shift's `timeout` (which began at
    /// `started`) is spent; `not_taken` says what did not happen then ("its gateway did not
    /// accept generation 4").
    pub async fn wait(
        &self,
        r: &Resource,
        (started, timeout): (tokio::time::Instant, Duration),
        not_taken: &str,
        ready: impl Fn(&Value) -> Result<bool, TrafficError>,
    ) -> Result<(), TrafficError> {
        let deadline = started + timeout;
        loop {
            let (data, _, what) = self.get(r).await?;
            match ready(&data) {
                Ok(true) => return Ok(()),
                Ok(false) => {}
                Err(e) => {
                    return Err(TrafficError {
                        message: format!("{what}: {}", e.message),
                        ..e
                    })
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(TrafficError::transient(format!(
                    "{what}: {not_taken} within {}",
                    humantime::format_duration(timeout)
                )));
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            tokio::time::sleep(POLL.min(left)).await;
        }
    }
}

/// A dynamic object as one JSON value: `apiVersion`, `kind`, `metadata`, `spec`, `status`.
fn whole(obj: &DynamicObject) -> Value {
    serde_json::to_value(obj).unwrap_or_default()
}

/// Whose credentials the client uses and where its cluster's CA comes from, for messages.
fn whose(context: Option<&str>) -> (String, String) {
    let Ok(config) = kube::config::Kubeconfig::read() else {
        return (
            "the pod's service account".into(),
            "the service account's ca.crt".into(),
        );
    };
    let name = context
        .map(str::to_string)
        .or(config.current_context.clone())
        .unwrap_or_default();
    let found = config
        .contexts
        .iter()
        .find(|c| c.name == name)
        .and_then(|c| c.context.clone());
    let user = found
        .as_ref()
        .and_then(|c| c.user.clone())
        .unwrap_or_default();
    let cluster = found.map(|c| c.cluster).unwrap_or_default();
    (
        format!("kubeconfig user `{user}` of context `{name}`"),
        format!("kubeconfig cluster `{cluster}`"),
    )
}

impl Connected {
    /// A Kubernetes API error, said so a person can act on it; transient only where a retry
    /// can help (the server unreachable or failing, 408, 409, 429).
    fn error(&self, e: kube::Error, verb: &str, r: &Resource, ns: &str) -> TrafficError {
        let (kind, name, group, plural) = (r.kind, &r.name, r.group, r.plural);
        let verbs = if r.writes { "get,update" } else { "get" };
        match e {
            kube::Error::Api(s) if s.code == 404 => TrafficError::refused(format!(
                "no {kind} `{name}` in namespace `{ns}`: check the router's settings and `namespace`"
            )),
            kube::Error::Api(s) if s.code == 401 => TrafficError::refused(format!(
                "the Kubernetes API did not accept the credentials of {} (401 {}: {}): its token or client certificate has expired, was revoked, or is for another cluster; log in again or renew it",
                self.who, s.reason, s.message
            )),
            kube::Error::Api(s) if s.code == 403 => TrafficError::refused(format!(
                "the Kubernetes API refused to {verb} {kind} `{ns}/{name}` for {} ({}): rollgate needs `{}` on `{plural}` in `{group}`, namespace `{ns}`; a Role that grants it: `kubectl create role rollgate -n {ns} --verb={verbs} --resource={plural}.{group}`",
                self.who,
                s.message,
                verbs.replace(',', "` and `"),
            )),
            kube::Error::Api(s) if matches!(s.code, 408 | 409 | 429) || s.code >= 500 => {
                TrafficError::transient(format!(
                    "{kind} {ns}/{name}: {verb} failed: {} ({} {})",
                    s.message, s.code, s.reason
                ))
            }
            kube::Error::Api(s) => TrafficError::refused(format!(
                "{kind} {ns}/{name}: the API server refused to {verb} it: {} ({} {})",
                s.message, s.code, s.reason
            )),
            other => match tls_failure(&other) {
                Some(why) => TrafficError::refused(format!(
                    "the Kubernetes API server's TLS certificate did not verify ({why}): give {} the CA that signed it (`certificate-authority-data` or `certificate-authority`)",
                    self.cluster
                )),
                None => TrafficError::transient(format!(
                    "the Kubernetes API did not answer ({verb} {kind} {ns}/{name}): {}",
                    chain(&other)
                )),
            },
        }
    }
}

/// The rustls error somewhere in `e`'s causes, if a TLS handshake failed.
fn tls_failure(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if let Some(t) = c.downcast_ref::<rustls::Error>() {
            return Some(t.to_string());
        }
        // An io::Error's `source` skips what it wraps (hyper-rustls wraps tokio-rustls' io
        // error, which wraps rustls'), so what it holds is looked into instead.
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            if let Some(inner) = io.get_ref() {
                cause = Some(inner);
                continue;
            }
        }
        cause = c.source();
    }
    None
}

/// An error and its causes in one line: "client error (Connect): tcp connect error: …".
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut said = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let s = c.to_string();
        if !said.contains(&s) {
            said = format!("{said}: {s}");
        }
        cause = c.source();
    }
    said
}
