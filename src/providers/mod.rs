//! Providers, built in exactly one place from the plan's tagged provider enum, so every kind
//! is handled wherever providers are made.
//!
//! What exists today: for dry-runs, every router is [`traffic::Simulated`] and every metric
//! source replays the fixture; gates are decided by the fixture or `--approve`. For real runs,
//! `haproxy`, `gateway-api`, `istio` and `traffic-command` routers, `prometheus` and
//! `metrics-command` sources, chat notifiers, and `github` (PR comment, deployment statuses,
//! approvals from PR comments).

pub mod approvals;
pub mod metrics;
pub mod notifiers;
pub mod shell;
pub mod traffic;

use crate::fixture::Fixture;
use crate::plan::{Plan, Provider};
use approvals::{Approvals, ApprovePolicy};
use metrics::MetricSource;
use std::collections::BTreeMap;
use std::sync::Arc;
use traffic::TrafficRouter;

/// The providers a run uses, by the names the plan gives them.
pub struct Providers {
    pub routers: BTreeMap<String, Arc<dyn TrafficRouter>>,
    pub metrics: BTreeMap<String, Arc<dyn MetricSource>>,
    /// Where gate decisions come from.
    pub approvals: Option<Arc<dyn Approvals>>,
    /// Chat notifiers, for a real run's `notify`.
    pub notifiers: BTreeMap<String, Arc<dyn notifiers::Notifier>>,
    /// `github` providers the plan uses (in `notify.to` or a gate's `via`), for a real run.
    pub github: BTreeMap<String, Arc<crate::github::Link>>,
    /// What a real run leaves out, and why, to be said before it starts.
    pub notes: Vec<String>,
    /// Where a real run's commands run (see [`Places`]); the process's directory when absent.
    pub cwd: Option<std::path::PathBuf>,
}

/// Builds a dry-run's providers: simulated routers, the fixture as every metric source.
pub fn for_dry_run(plan: &Plan, fixture: Arc<Fixture>, approve: ApprovePolicy) -> Providers {
    let mut p = Providers {
        routers: BTreeMap::new(),
        metrics: BTreeMap::new(),
        approvals: Some(Arc::new(approvals::Scripted::new(
            fixture.events.clone(),
            approve,
        ))),
        notifiers: BTreeMap::new(),
        github: BTreeMap::new(),
        notes: Vec::new(),
        cwd: None,
    };
    for (name, provider) in &plan.providers {
        match provider {
            Provider::Haproxy(_)
            | Provider::GatewayApi(_)
            | Provider::Istio(_)
            | Provider::TrafficCommand(_) => {
                p.routers
                    .insert(name.clone(), Arc::new(traffic::Simulated::new()));
            }
            Provider::Prometheus(_) | Provider::MetricsCommand(_) => {
                p.metrics.insert(
                    name.clone(),
                    Arc::new(metrics::FixtureSource::new(name, fixture.clone())),
                );
            }
            // A dry-run records what it would send (events), so it needs no notifier; gates
            // are decided by the fixture whatever their `via`.
            Provider::Github(_)
            | Provider::Slack(_)
            | Provider::Teams(_)
            | Provider::Discord(_)
            | Provider::GoogleChat(_)
            | Provider::Webhook(_) => {}
        }
    }
    p
}

fn interpolate(s: &str, contexts: &serde_json::Value) -> String {
    crate::expr::eval::interpolate(s, &crate::expr::eval::Contexts::plain(contexts))
}

fn prometheus(
    spec: &crate::plan::provider::Prometheus,
    contexts: &serde_json::Value,
) -> Result<metrics::Prometheus, String> {
    let sub = |s: &str| interpolate(s, contexts);
    metrics::Prometheus::new(
        &sub(&spec.url),
        spec.token.as_deref().map(sub),
        spec.username.as_deref().map(sub),
        spec.password.as_deref().map(sub),
        spec.timeout.map(|d| d.0),
    )
}

/// The plan's Prometheus sources by name, for reading past ranges (`rollgate record`).
pub fn prometheus_sources(
    plan: &Plan,
    contexts: &serde_json::Value,
) -> Result<BTreeMap<String, metrics::Prometheus>, String> {
    let mut out = BTreeMap::new();
    for (name, provider) in &plan.providers {
        if let Provider::Prometheus(spec) = provider {
            let source = prometheus(spec, contexts)
                .map_err(|e| format!("metric source `{name}` (prometheus): {e}"))?;
            out.insert(name.clone(), source);
        }
    }
    Ok(out)
}

/// Whether the plan uses the `github` provider `name`: in `notify.to` or as a gate's `via`.
fn github_used(name: &str, plan: &Plan, graph: &crate::graph::StepGraph) -> bool {
    plan.notifies(name) || !graph.gates_via(name).is_empty()
}

/// A `github` provider for a real run: the repository and commit from the environment Actions
/// sets, the token from the provider (usually a secret) or `GITHUB_TOKEN`.
fn github(
    spec: &crate::plan::provider::Github,
    contexts: &serde_json::Value,
) -> Result<crate::github::Link, String> {
    let vars = std::env::vars().collect();
    let context = crate::github::context::from_vars(&vars)?;
    let token = spec
        .token
        .as_deref()
        .map(|t| interpolate(t, contexts))
        .or_else(|| vars.get("GITHUB_TOKEN").cloned())
        .filter(|t| !t.trim().is_empty())
        .ok_or("no token: give the provider `token: ${{ secrets.GITHUB_TOKEN }}`, or set GITHUB_TOKEN (the Action passes its `github-token` input)")?;
    Ok(crate::github::Link {
        client: Arc::new(crate::github::client::Client::new(&context, &token)?),
        context,
        environment: spec
            .environment
            .as_deref()
            .map(|e| interpolate(e, contexts)),
        poll: spec
            .poll
            .map(|d| d.0)
            .unwrap_or(crate::github::DEFAULT_POLL),
    })
}

/// The `github` providers in the plan's `notify.to`, for a rehearsal in an Actions job to post
/// its PR comment. Built inside a runtime, like a real run's.
pub fn github_reporters(
    plan: &Plan,
    contexts: &serde_json::Value,
) -> Result<BTreeMap<String, crate::github::Link>, String> {
    plan.github_notified()
        .map(|(name, g)| {
            let link = github(g, contexts).map_err(|e| format!("`{name}` (github): {e}"))?;
            Ok((name.clone(), link))
        })
        .collect()
}

/// A gateway-api router's settings with `${{ }}` filled in.
fn gateway_api(
    spec: &crate::plan::provider::GatewayApi,
    sub: &dyn Fn(&str) -> String,
) -> crate::plan::provider::GatewayApi {
    use crate::plan::provider::{Backend, RouteRef};
    let backend = |b: &Backend| match b {
        Backend::Service(s) => Backend::Service(sub(s)),
        Backend::Port { service, port } => Backend::Port {
            service: sub(service),
            port: *port,
        },
    };
    crate::plan::provider::GatewayApi {
        routes: spec
            .routes
            .iter()
            .map(|r| RouteRef {
                name: sub(&r.name),
                namespace: r.namespace.as_deref().map(sub),
                kind: r.kind,
            })
            .collect(),
        namespace: spec.namespace.as_deref().map(sub),
        stable: backend(&spec.stable),
        canary: backend(&spec.canary),
        context: spec.context.as_deref().map(sub),
        timeout: spec.timeout,
    }
}

/// An istio router's settings with `${{ }}` filled in.
fn istio(
    spec: &crate::plan::provider::Istio,
    sub: &dyn Fn(&str) -> String,
) -> crate::plan::provider::Istio {
    use crate::plan::provider::Destination;
    let destination = |d: &Destination| match d {
        Destination::Host(h) => Destination::Host(sub(h)),
        Destination::Subset { host, subset } => Destination::Subset {
            host: sub(host),
            subset: sub(subset),
        },
    };
    crate::plan::provider::Istio {
        virtual_service: sub(&spec.virtual_service),
        namespace: spec.namespace.as_deref().map(sub),
        routes: spec.routes.iter().map(|r| sub(r)).collect(),
        stable: destination(&spec.stable),
        canary: destination(&spec.canary),
        destination_rule: spec.destination_rule.as_deref().map(sub),
        context: spec.context.as_deref().map(sub),
        timeout: spec.timeout,
    }
}

/// Where a real run's relative paths point: a path in the plan (an HAProxy socket) is taken
/// from the plan file's directory, and commands run in the directory the run was started in,
/// wherever it is later resumed, rolled back or reaped (both kept in its journal).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Places {
    pub plan_dir: Option<std::path::PathBuf>,
    pub work_dir: Option<std::path::PathBuf>,
}

impl Places {
    /// `path` as the plan means it: against the plan's directory when relative.
    pub fn path(&self, path: &str) -> String {
        // A plan sent as text has no directory of its own: the run's is the next best.
        match self.plan_dir.as_ref().or(self.work_dir.as_ref()) {
            Some(dir) if std::path::Path::new(path).is_relative() => {
                dir.join(path).display().to_string()
            }
            _ => path.to_string(),
        }
    }
}

/// The plan's `env`, as the environment of its commands.
pub fn plan_env(contexts: &serde_json::Value) -> BTreeMap<String, String> {
    contexts["env"]
        .as_object()
        .map(|env| {
            env.iter()
                .map(|(k, v)| (k.clone(), crate::expr::eval::to_text(v)))
                .collect()
        })
        .unwrap_or_default()
}

/// A provider's command with its `${{ }}` bound to variables, and the variables it runs with:
/// the plan's `env`, then the expressions' values (never shell text).
fn script(command: &str, contexts: &serde_json::Value) -> shell::Script {
    let ctx = crate::expr::eval::Contexts::plain(contexts);
    let (text, values) = crate::expr::shell_bind::bind(command, &ctx);
    let mut env = plan_env(contexts);
    env.extend(values);
    shell::Script { text, env }
}

/// Builds a real run's providers, or says what the plan uses that a real run cannot do yet.
/// `contexts` fill in `${{ }}` in providers' settings (URLs, tokens from `secrets`).
pub fn for_run(
    plan: &Plan,
    graph: &crate::graph::StepGraph,
    contexts: &serde_json::Value,
    places: &Places,
) -> Result<Providers, Vec<String>> {
    let mut p = Providers {
        routers: BTreeMap::new(),
        metrics: BTreeMap::new(),
        approvals: None,
        notifiers: BTreeMap::new(),
        github: BTreeMap::new(),
        notes: Vec::new(),
        cwd: places.work_dir.clone(),
    };
    let mut missing = Vec::new();
    let sub = |s: &str| interpolate(s, contexts);
    for (name, provider) in &plan.providers {
        match provider {
            Provider::TrafficCommand(spec) => {
                let (set, get) = (script(&spec.set, contexts), spec.get.as_deref().map(|g| script(g, contexts)));
                p.routers.insert(name.clone(), Arc::new(traffic::Command::new(spec.clone(), (set, get), p.cwd.clone())));
            }
            Provider::MetricsCommand(spec) => {
                let run = script(&spec.run, contexts);
                p.metrics.insert(name.clone(), Arc::new(metrics::Command::new(spec.clone(), run, p.cwd.clone())));
            }
            Provider::Haproxy(spec) => {
                // A unix socket's path is the plan's; `host:port` is not a path.
                let socket = sub(&spec.socket);
                let socket = if traffic::Haproxy::is_tcp(&socket) { socket } else { places.path(&socket) };
                let spec = crate::plan::provider::Haproxy { socket, backend: sub(&spec.backend), ..spec.clone() };
                p.routers.insert(name.clone(), Arc::new(traffic::Haproxy::new(spec)));
            }
            Provider::GatewayApi(spec) => {
                p.routers.insert(name.clone(), Arc::new(traffic::GatewayApi::new(gateway_api(spec, &sub))));
            }
            Provider::Istio(spec) => {
                p.routers.insert(name.clone(), Arc::new(traffic::Istio::new(istio(spec, &sub))));
            }
            Provider::Prometheus(spec) => match prometheus(spec, contexts) {
                Ok(source) => {
                    p.metrics.insert(name.clone(), Arc::new(source));
                }
                Err(e) => missing.push(format!("metric source `{name}` (prometheus): {e}")),
            },
            Provider::Slack(c) => {
                p.notifiers.insert(name.clone(), Arc::new(notifiers::Slack::new(sub(&c.webhook))));
            }
            Provider::Teams(c) => {
                p.notifiers.insert(name.clone(), Arc::new(notifiers::Teams::new(sub(&c.webhook))));
            }
            Provider::Discord(c) => {
                p.notifiers.insert(name.clone(), Arc::new(notifiers::Discord::new(sub(&c.webhook))));
            }
            Provider::GoogleChat(c) => {
                p.notifiers.insert(name.clone(), Arc::new(notifiers::GoogleChat::new(sub(&c.webhook))));
            }
            Provider::Webhook(w) => {
                p.notifiers.insert(name.clone(), Arc::new(notifiers::Webhook::new(sub(&w.url), w.secret.as_deref().map(sub))));
            }
            Provider::Github(g) if github_used(name, plan, graph) => match github(g, contexts) {
                Ok(link) => {
                    p.github.insert(name.clone(), Arc::new(link));
                }
                // A rollout driven by hand, away from GitHub, still runs; only its reports there
                // are left out. Gates that read PR comments cannot be.
                Err(_) if std::env::var_os("GITHUB_REPOSITORY").is_none() && graph.gates_via(name).is_empty() => p.notes.push(format!(
                    "`{name}` (github): not in a GitHub Actions job (GITHUB_REPOSITORY is not set), so no PR comment or deployment statuses"
                )),
                Err(e) => missing.push(format!("`{name}` (github): {e}")),
            },
            // Declared and not used: nothing to talk to.
            Provider::Github(_) => {}
        }
    }
    for n in graph.graph.node_weights() {
        // A notify step's message goes to chat; GitHub keeps the PR comment instead.
        if let crate::graph::StepKind::Notify { to, .. } = &n.kind {
            for t in to {
                if let Some(Provider::Github(_)) = plan.providers.get(t) {
                    missing.push(format!(
                        "step `{}` notifies `{t}` (github); a notify step's message goes to chat targets (slack, teams, discord, google-chat, webhook), and GitHub gets the PR comment from the plan's `notify:`",
                        n.id
                    ));
                }
            }
        }
    }
    missing.dedup();
    if missing.is_empty() {
        Ok(p)
    } else {
        Err(missing)
    }
}
