//! Routers: a router's stable and canary must be two different things, or no shift could move
//! a single request.

use super::Ctx;
use crate::diagnostics::{Code, Diagnostic};
use crate::plan::provider::{Provider, Servers};

pub(super) fn check(ctx: &Ctx<'_>, out: &mut Vec<Diagnostic>) {
    for (name, provider) in &ctx.plan.providers {
        let Some((what, help)) = same(provider) else {
            continue;
        };
        out.push(
            Diagnostic::error(
                Code::SameBackend,
                format!("router `{name}` sends stable and canary to the same {what}"),
            )
            .at(ctx.span(&["providers", name.as_str(), "canary"]))
            .help(help),
        );
    }
}

/// What stable and canary share, and how to tell them apart; `None` when they differ.
fn same(provider: &Provider) -> Option<(String, &'static str)> {
    match provider {
        Provider::Haproxy(h) => {
            let names = |s: &Servers| match s {
                Servers::One(n) => vec![n.clone()],
                Servers::Many(ns) => ns.clone(),
            };
            let stable = names(&h.stable);
            let both = names(&h.canary).into_iter().find(|c| stable.contains(c))?;
            Some((
                format!("server `{both}`"),
                "each side needs its own servers in the backend",
            ))
        }
        Provider::GatewayApi(g) => {
            let ports_differ =
                matches!((g.stable.port(), g.canary.port()), (Some(a), Some(b)) if a != b);
            (g.stable.service() == g.canary.service() && !ports_differ).then(|| {
                let service = g.canary.service();
                (format!("Service `{service}`"), "name the canary's own Service (or, for one Service with two ports, `{ service, port }` on each side)")
            })
        }
        Provider::Istio(i) => {
            let subsets_differ =
                matches!((i.stable.subset(), i.canary.subset()), (Some(a), Some(b)) if a != b);
            (i.stable.host() == i.canary.host() && !subsets_differ).then(|| {
                let host = i.canary.host();
                (format!("destination `{host}`"), "give each side a `subset` its DestinationRule defines (`{ host, subset }`), or name the canary's own host")
            })
        }
        Provider::TrafficCommand(_)
        | Provider::Prometheus(_)
        | Provider::MetricsCommand(_)
        | Provider::Github(_)
        | Provider::Slack(_)
        | Provider::Teams(_)
        | Provider::Discord(_)
        | Provider::GoogleChat(_)
        | Provider::Webhook(_) => None,
    }
}
