//! Phases and single steps → typed graph steps.

use super::node;
use crate::event::Route;
use crate::graph::{Node, Role, StepKind};
use crate::plan::rollouts::{default_router, Rollout};
use crate::plan::step::{Action, Step};
use crate::plan::{Duration, Plan};

/// How often checks are evaluated when nothing says.
pub const DEFAULT_INTERVAL: Duration = Duration(std::time::Duration::from_secs(60));

fn all_checks(plan: &Plan) -> Vec<String> {
    plan.checks.keys().cloned().collect()
}

pub fn router_of<'a>(plan: &'a Plan, named: Option<&'a str>) -> String {
    named
        .or_else(|| default_router(plan))
        .expect("semantic checks found a router")
        .to_string()
}

/// The steps of one rollout, ids prefixed with `prefix` (`eu.` for a step, empty for the plan).
pub fn rollout(plan: &Plan, r: &Rollout, prefix: &str) -> Vec<Node> {
    let router = || router_of(plan, r.router.as_ref().map(|(n, _)| n.as_str()));
    let mut out = Vec::new();
    for site in &r.phases {
        let ph = &site.phase;
        let id = |kind: &str| format!("{prefix}{}.{kind}", ph.name);
        let at = |kind: crate::graph::StepKind| {
            node(id(kind.name()), kind, Role::Rollout, Some(ph.name.clone()))
        };
        let routes = [
            ph.weight.map(|w| Route::Weight { percent: w.0 }),
            ph.mirror.map(|m| Route::Mirror { percent: m.0 }),
            ph.match_.as_ref().map(|m| Route::HeaderMatch {
                header: m.header.clone(),
                value: m.value.clone(),
            }),
        ];
        for (k, route) in routes.into_iter().flatten().enumerate() {
            let mut n = at(StepKind::Shift {
                router: router(),
                route,
            });
            if k > 0 {
                n.id = format!("{}-{k}", n.id);
            }
            out.push(n);
        }
        if let Some(observe) = ph.observe {
            let checks = ph.checks.clone().unwrap_or_else(|| all_checks(plan));
            let interval = ph.interval.or(plan.interval).unwrap_or(DEFAULT_INTERVAL);
            out.push(at(StepKind::Observe {
                duration: observe,
                interval,
                checks: checks.clone(),
            }));
            if !checks.is_empty() || ph.min_score.is_some() {
                out.push(at(StepKind::Evaluate {
                    checks,
                    min_score: ph.min_score,
                    pass_score: ph.pass_score,
                }));
            }
        }
        if let Some(gate) = &ph.gate {
            out.push(at(StepKind::Gate { gate: gate.clone() }));
        }
    }
    out
}

/// The one graph step of a non-rollout user step.
pub fn single(plan: &Plan, id: &str, step: &Step, action: &Action) -> Node {
    let kind = match action {
        Action::Shift(s) => StepKind::Shift {
            router: router_of(plan, s.router.as_deref()),
            route: Route::Weight {
                percent: s.weight.0,
            },
        },
        Action::Observe(o) => StepKind::Observe {
            duration: o.duration,
            interval: o.interval.or(plan.interval).unwrap_or(DEFAULT_INTERVAL),
            checks: o.checks.clone().unwrap_or_else(|| all_checks(plan)),
        },
        Action::Gate(g) => StepKind::Gate { gate: g.clone() },
        Action::Notify(n) => StepKind::Notify {
            to: n.to.clone(),
            message: n.message.clone(),
        },
        Action::Run(command) => StepKind::Run {
            command: command.clone(),
            env: step
                .env
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        },
        Action::Rollout(_) => unreachable!("rollouts expand into several steps"),
    };
    node(id.to_string(), kind, Role::Rollout, None)
}
