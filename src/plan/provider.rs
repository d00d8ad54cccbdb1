//! Named providers a plan talks to: traffic routers, metric sources, approval and notification
//! targets. One tagged enum, so every place that handles providers matches every kind.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A provider, chosen by its `kind`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Provider {
    /// HAProxy, driven through its runtime API (admin socket) by setting server weights.
    Haproxy(Haproxy),
    /// Kubernetes Gateway API: the weights of the stable and canary backends in HTTPRoutes (or GRPCRoutes), set through the Kubernetes API; nothing else in the routes changes.
    GatewayApi(GatewayApi),
    /// Istio: the weights of the stable and canary destinations in a VirtualService's `http` routes, set through the Kubernetes API; nothing else in the route changes.
    Istio(Istio),
    /// Any router or cloud CLI: your program is run with the target weights.
    TrafficCommand(TrafficCommand),
    /// Prometheus' HTTP API.
    Prometheus(Prometheus),
    /// Any metric source: your program prints a number or a Prometheus-style JSON result.
    MetricsCommand(MetricsCommand),
    /// GitHub: the pull-request comment, deployment statuses and approvals from PR comments.
    Github(Github),
    /// A Slack incoming webhook.
    Slack(ChatWebhook),
    /// A Microsoft Teams workflow webhook.
    Teams(ChatWebhook),
    /// A Discord webhook.
    Discord(ChatWebhook),
    /// A Google Chat webhook.
    GoogleChat(ChatWebhook),
    /// A generic webhook: a JSON body, optionally signed with HMAC-SHA256.
    Webhook(Webhook),
}

/// What a provider can be used for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Router,
    Metrics,
    Approvals,
    Notifications,
}

impl Role {
    pub fn noun(self) -> &'static str {
        match self {
            Role::Router => "traffic router",
            Role::Metrics => "metric source",
            Role::Approvals => "approval source",
            Role::Notifications => "notification target",
        }
    }
}

/// Ways of routing beyond weighted splits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Capability {
    /// Copy (shadow) a share of requests to the canary; its answers are discarded.
    Mirror,
    /// Send requests that carry a given header value to the canary.
    HeaderMatch,
}

impl Provider {
    pub fn kind(&self) -> &'static str {
        match self {
            Provider::Haproxy(_) => "haproxy",
            Provider::GatewayApi(_) => "gateway-api",
            Provider::Istio(_) => "istio",
            Provider::TrafficCommand(_) => "traffic-command",
            Provider::Prometheus(_) => "prometheus",
            Provider::MetricsCommand(_) => "metrics-command",
            Provider::Github(_) => "github",
            Provider::Slack(_) => "slack",
            Provider::Teams(_) => "teams",
            Provider::Discord(_) => "discord",
            Provider::GoogleChat(_) => "google-chat",
            Provider::Webhook(_) => "webhook",
        }
    }

    pub fn has_role(&self, role: Role) -> bool {
        match self {
            Provider::Haproxy(_)
            | Provider::GatewayApi(_)
            | Provider::Istio(_)
            | Provider::TrafficCommand(_) => role == Role::Router,
            Provider::Prometheus(_) | Provider::MetricsCommand(_) => role == Role::Metrics,
            Provider::Github(_) => matches!(role, Role::Approvals | Role::Notifications),
            Provider::Slack(_)
            | Provider::Teams(_)
            | Provider::Discord(_)
            | Provider::GoogleChat(_)
            | Provider::Webhook(_) => role == Role::Notifications,
        }
    }

    /// Routing beyond weights that this router can do; empty for non-routers.
    pub fn capabilities(&self) -> Vec<Capability> {
        match self {
            // HAProxy's runtime API changes server weights only; mirroring needs SPOE and header
            // routing needs config changes, neither of which a rollout should make behind your back.
            Provider::Haproxy(_) => vec![],
            // One added rule (Gateway API) or route (Istio), removed again on promotion or rollback.
            Provider::GatewayApi(_) | Provider::Istio(_) => {
                vec![Capability::Mirror, Capability::HeaderMatch]
            }
            Provider::TrafficCommand(c) => c.supports.clone(),
            Provider::Prometheus(_)
            | Provider::MetricsCommand(_)
            | Provider::Github(_)
            | Provider::Slack(_)
            | Provider::Teams(_)
            | Provider::Discord(_)
            | Provider::GoogleChat(_)
            | Provider::Webhook(_) => vec![],
        }
    }
}

/// One or several server names.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Servers {
    /// One server.
    One(String),
    /// Several servers sharing the side's weight.
    Many(Vec<String>),
}

/// HAProxy through its runtime API.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Haproxy {
    /// The admin socket: a unix socket path (`/run/haproxy/admin.sock`) or `host:port`.
    pub socket: String,
    /// The backend holding the stable and canary servers.
    pub backend: String,
    /// The stable server(s) in the backend.
    pub stable: Servers,
    /// The canary server(s) in the backend.
    pub canary: Servers,
    /// How long one runtime-API command may take before it is retried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<super::units::Duration>,
}

/// HTTPRoutes (or GRPCRoutes) of the Gateway API whose backend weights the rollout sets.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct GatewayApi {
    /// The routes that send traffic to both backends. In every rule that references them, only the two backends' `weight` changes; other rules, filters, matches and fields are left as they are.
    #[schemars(length(min = 1))]
    pub routes: Vec<RouteRef>,
    /// The namespace of routes that name none; the kubeconfig context's namespace when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The stable backend: a Service name, or `{ service, port }` where the routes reference several ports of it.
    pub stable: Backend,
    /// The canary backend: a Service name, or `{ service, port }`.
    pub canary: Backend,
    /// The kubeconfig context to use; the current context (or the in-cluster service account) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// How long the gateway may take to accept a change (every parent `Accepted` and `ResolvedRefs`) before the shift fails (default 30s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<super::units::Duration>,
}

/// A Gateway API route.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RouteRef {
    /// The route's name.
    pub name: String,
    /// Its namespace; the provider's `namespace` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// `HTTPRoute` (default) or `GRPCRoute`.
    #[serde(default)]
    pub kind: RouteKind,
}

/// The kind of a Gateway API route.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum RouteKind {
    /// `gateway.networking.k8s.io/v1` HTTPRoute.
    #[default]
    HTTPRoute,
    /// `gateway.networking.k8s.io/v1` GRPCRoute.
    GRPCRoute,
}

/// A backend a route sends traffic to: a Service, and its port where the routes reference several.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged, deny_unknown_fields)]
pub enum Backend {
    /// A Service's name.
    Service(String),
    /// A Service and one of its ports.
    Port {
        /// The Service's name.
        service: String,
        /// The port the routes reference.
        port: u16,
    },
}

impl Backend {
    pub fn service(&self) -> &str {
        match self {
            Backend::Service(s) | Backend::Port { service: s, .. } => s,
        }
    }

    pub fn port(&self) -> Option<u16> {
        match self {
            Backend::Service(_) => None,
            Backend::Port { port, .. } => Some(*port),
        }
    }
}

/// An Istio VirtualService whose destination weights the rollout sets.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Istio {
    /// The VirtualService's name.
    pub virtual_service: String,
    /// Its namespace; the kubeconfig context's namespace when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The `http` routes, by `name`, whose weights change; every `http` route that references both destinations when absent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<String>,
    /// The stable destination: a host, or `{ host, subset }`.
    pub stable: Destination,
    /// The canary destination: a host, or `{ host, subset }`.
    pub canary: Destination,
    /// A DestinationRule that defines the destinations' subsets; checked before the first shift.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_rule: Option<String>,
    /// The kubeconfig context to use; the current context (or the in-cluster service account) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// How long Istio may take to take a change before the shift fails (default 30s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<super::units::Duration>,
}

/// An Istio destination.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged, deny_unknown_fields)]
pub enum Destination {
    /// A host (a Service name, or its full name).
    Host(String),
    /// A host and a subset of it that a DestinationRule defines.
    Subset {
        /// The destination's host: a Service name, or its full name (`checkout.shop.svc.cluster.local`).
        host: String,
        /// The subset's name, as the DestinationRule defines it.
        subset: String,
    },
}

impl Destination {
    pub fn host(&self) -> &str {
        match self {
            Destination::Host(h) | Destination::Subset { host: h, .. } => h,
        }
    }

    pub fn subset(&self) -> Option<&str> {
        match self {
            Destination::Host(_) => None,
            Destination::Subset { subset, .. } => Some(subset),
        }
    }
}

/// A router driven by your own programs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct TrafficCommand {
    /// Sets the split; run with `ROLLGATE_CANARY_WEIGHT` and `ROLLGATE_STABLE_WEIGHT` in its environment.
    pub set: String,
    /// Prints the current canary weight (0–100), to confirm a shift and to capture the state before the first one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub get: Option<String>,
    /// Routing beyond weights that your program implements.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub supports: Vec<Capability>,
}

/// Prometheus' HTTP API.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Prometheus {
    /// Base URL, e.g. `http://127.0.0.1:9090`.
    pub url: String,
    /// A bearer token, usually `${{ secrets.PROM_TOKEN }}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Basic-auth user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Basic-auth password, usually `${{ secrets.PROM_PASSWORD }}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// How long one query may take before it counts as no data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<super::units::Duration>,
}

/// A metric source driven by your own program.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct MetricsCommand {
    /// Run with the check's query in `ROLLGATE_QUERY`; prints a number or a Prometheus-style JSON result.
    pub run: String,
}

/// GitHub, through its REST API.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Github {
    /// The token, usually `${{ secrets.GITHUB_TOKEN }}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// The deployment environment name shown on the PR and in deployment statuses; the Action's `environment` input (or `--environment`) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// How often the pull request's comments are read for `/rollgate` commands (10s when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll: Option<super::units::Duration>,
}

/// A chat incoming webhook.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ChatWebhook {
    /// The webhook URL, usually `${{ secrets.SLACK_WEBHOOK }}` or similar.
    pub webhook: String,
}

/// A generic JSON webhook.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Webhook {
    /// Where events are POSTed.
    pub url: String,
    /// A secret to sign each body with HMAC-SHA256 (header `X-Rollgate-Signature`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}
