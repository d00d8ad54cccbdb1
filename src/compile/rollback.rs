//! The rollback path: one chain, entered from every rollout step that can fail.

use super::{expand, node, Builder};
use crate::event::Route;
use crate::graph::{Edge, Group, Role, StepKind};
use crate::plan::rollback::RollbackMode;
use crate::plan::trigger::TriggerAction;
use crate::plan::Plan;
use petgraph::graph::NodeIndex;

/// Adds the rollback path and its `OnFailure` edges; returns its entry, if anything shifts.
pub fn wire(plan: &Plan, b: &mut Builder) -> Option<NodeIndex> {
    // Routers in the order the rollout first touches them, with the highest weight each reaches.
    let mut routers: Vec<(String, u8)> = Vec::new();
    for n in b.graph.node_weights() {
        if let StepKind::Shift { router, route } = &n.kind {
            let w = match route {
                Route::Weight { percent } => *percent,
                Route::Mirror { .. } | Route::HeaderMatch { .. } => 0,
            };
            match routers.iter_mut().find(|(r, _)| r == router) {
                Some((_, max)) => *max = (*max).max(w),
                None => routers.push((router.clone(), w)),
            }
        }
    }
    if routers.is_empty() {
        return None;
    }
    let rb = &plan.rollback;
    // Gradual steps are part of the path when the policy or any trigger rolls back gradually;
    // the runner skips them on an immediate rollback.
    let gradual = rb.mode == RollbackMode::Gradual
        || plan
            .triggers
            .iter()
            .any(|t| t.then == TriggerAction::Rollback && t.mode == Some(RollbackMode::Gradual));
    let mut nodes = Vec::new();
    let id = |s: String| format!("rollback.{s}");
    if let Some(g) = &rb.gate {
        nodes.push(node(
            id("gate".into()),
            StepKind::Gate { gate: g.clone() },
            Role::Rollback,
            None,
        ));
    }
    // Undo the latest router first: later waves depend on earlier ones being healthy.
    for (router, top) in routers.iter().rev() {
        if gradual {
            let every = rb.every.unwrap_or(expand::DEFAULT_INTERVAL);
            let verify_checks = rb
                .verify
                .as_ref()
                .and_then(|v| v.checks.clone())
                .unwrap_or_default();
            for w in rb.gradual_weights(*top).into_iter().filter(|w| *w > 0) {
                nodes.push(node(
                    id(format!("{router}.shift-{w}")),
                    StepKind::Shift {
                        router: router.clone(),
                        route: Route::Weight { percent: w },
                    },
                    Role::Rollback,
                    None,
                ));
                nodes.push(node(
                    id(format!("{router}.hold-{w}")),
                    StepKind::Observe {
                        duration: every,
                        interval: plan.interval.unwrap_or(expand::DEFAULT_INTERVAL),
                        checks: verify_checks.clone(),
                    },
                    Role::Rollback,
                    None,
                ));
            }
        }
        nodes.push(node(
            id(format!("{router}.restore")),
            StepKind::Restore {
                router: router.clone(),
            },
            Role::Rollback,
            None,
        ));
    }
    if let Some(cmd) = &rb.run {
        nodes.push(node(
            id("run".into()),
            StepKind::Run {
                command: cmd.clone(),
                env: vec![],
            },
            Role::Rollback,
            None,
        ));
    }
    if let Some(v) = &rb.verify {
        let checks = v
            .checks
            .clone()
            .unwrap_or_else(|| plan.checks.keys().cloned().collect());
        let interval = plan.interval.unwrap_or(expand::DEFAULT_INTERVAL);
        nodes.push(node(
            id("verify.observe".into()),
            StepKind::Observe {
                duration: v.observe,
                interval,
                checks: checks.clone(),
            },
            Role::Rollback,
            None,
        ));
        nodes.push(node(
            id("verify.evaluate".into()),
            StepKind::Evaluate {
                checks,
                min_score: None,
                pass_score: None,
            },
            Role::Rollback,
            None,
        ));
    }
    let failing: Vec<NodeIndex> = b
        .graph
        .node_indices()
        .filter(|&n| b.graph[n].kind.can_fail())
        .collect();
    let gi = b.chain(Group::named("rollback"), nodes);
    let entry = NodeIndex::new(b.groups[gi].entry);
    for n in failing {
        b.graph.add_edge(n, entry, Edge::OnFailure);
    }
    Some(entry)
}
