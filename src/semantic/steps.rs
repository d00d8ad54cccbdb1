//! The DAG form: unique ids, `needs` that name real steps and form no loop, steps that can run,
//! and the whole fitting within `max-duration`.

use super::{path, Ctx};
use crate::diagnostics::{suggest, Code, Diagnostic};
use crate::expr::{parse, Expr};
use crate::plan::rollouts::rollouts;
use crate::plan::step::{Action, Condition};
use crate::plan::Duration;
use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::collections::HashMap;

/// The steps in an order where each comes after the steps it needs.
#[derive(Clone, Debug)]
pub struct StepOrder {
    /// Step indices, dependencies first.
    pub order: Vec<usize>,
    /// For each step index, the indices of the steps it needs directly.
    pub needs: Vec<Vec<usize>>,
    /// Step id → index.
    pub index: HashMap<String, usize>,
}

impl StepOrder {
    /// Whether step `step` needs the step with id `other`, directly or through others.
    /// Asked only for expressions that read `steps.<id>`, so a walk beats storing every
    /// step's ancestors (which grows quadratically with long chains of waves).
    pub fn needs_transitively(&self, step: usize, other: &str) -> bool {
        let Some(&target) = self.index.get(other) else {
            return false;
        };
        let mut seen = vec![false; self.needs.len()];
        let mut stack = self.needs[step].clone();
        while let Some(i) = stack.pop() {
            if i == target {
                return true;
            }
            if !std::mem::replace(&mut seen[i], true) {
                stack.extend(&self.needs[i]);
            }
        }
        false
    }
}

/// What a constant `if:` is known to be, when it can be known without running.
fn constant(e: &Expr) -> Option<bool> {
    match e {
        Expr::Bool(b) => Some(*b),
        Expr::Call { name, args, .. } if name == "always" && args.is_empty() => Some(true),
        Expr::Not(inner) => constant(inner).map(|b| !b),
        Expr::Binary {
            op: "&&",
            left,
            right,
        } => match (constant(left), constant(right)) {
            (Some(false), _) | (_, Some(false)) => Some(false),
            (Some(true), Some(true)) => Some(true),
            _ => None,
        },
        Expr::Binary {
            op: "||",
            left,
            right,
        } => match (constant(left), constant(right)) {
            (Some(true), _) | (_, Some(true)) => Some(true),
            (Some(false), Some(false)) => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// Whether a condition runs the step even when a step it needs was skipped or failed.
fn runs_regardless(c: &Condition) -> bool {
    let text = c.expression();
    ["always()", "failure()", "cancelled()"]
        .iter()
        .any(|f| text.contains(f))
}

pub fn check(ctx: &Ctx<'_>, out: &mut Vec<Diagnostic>) -> Option<StepOrder> {
    let steps = &ctx.plan.steps;
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (i, s) in steps.iter().enumerate() {
        if let Some(first) = index.get(s.id.as_str()) {
            out.push(
                Diagnostic::error(
                    Code::DuplicateId,
                    format!(
                        "step id `{}` is used twice (first by step {})",
                        s.id,
                        first + 1
                    ),
                )
                .at(ctx.span(&path(&["steps", &i.to_string(), "id"])))
                .help("give each step its own id"),
            );
        } else {
            index.insert(&s.id, i);
        }
    }
    let ids: Vec<&str> = steps.iter().map(|s| s.id.as_str()).collect();
    let mut graph: DiGraph<usize, ()> = DiGraph::new();
    let nodes: Vec<NodeIndex> = (0..steps.len()).map(|i| graph.add_node(i)).collect();
    let mut broken = false;
    for (i, s) in steps.iter().enumerate() {
        let Some(needs) = &s.needs else { continue };
        let many = matches!(needs, crate::plan::step::Needs::Many(_));
        for (j, need) in needs.ids().iter().enumerate() {
            let at = if many {
                path(&["steps", &i.to_string(), "needs", &j.to_string()])
            } else {
                path(&["steps", &i.to_string(), "needs"])
            };
            match index.get(need.as_str()) {
                None => {
                    broken = true;
                    let help = suggest(need, &ids, "step ids: ", "");
                    out.push(
                        Diagnostic::error(
                            Code::UnknownNeed,
                            format!("step `{}` needs `{need}`, which is not a step", s.id),
                        )
                        .at(ctx.span(&at))
                        .help(help),
                    );
                }
                Some(&k) if k == i => {
                    broken = true;
                    out.push(
                        Diagnostic::error(Code::Cycle, format!("step `{}` needs itself", s.id))
                            .at(ctx.span(&at))
                            .help("remove it from its own `needs`"),
                    );
                }
                Some(&k) => {
                    graph.add_edge(nodes[k], nodes[i], ());
                }
            }
        }
    }
    for scc in tarjan_scc(&graph) {
        if scc.len() < 2 {
            continue;
        }
        broken = true;
        let mut members: Vec<usize> = scc.iter().map(|n| graph[*n]).collect();
        members.sort();
        let names: Vec<&str> = members.iter().map(|i| steps[*i].id.as_str()).collect();
        out.push(
            Diagnostic::error(
                Code::Cycle,
                format!("steps {} need each other in a loop", names.join(", ")),
            )
            .at(ctx.key_span(&path(&["steps", &members[0].to_string(), "needs"])))
            .help("a step can only need steps that come before it; remove one of these `needs`"),
        );
    }
    if broken {
        return None;
    }
    let order = stable_order(&graph);
    let needs: Vec<Vec<usize>> = steps
        .iter()
        .map(|s| {
            s.needs
                .iter()
                .flat_map(|n| n.ids())
                .map(|n| index[n.as_str()])
                .collect()
        })
        .collect();
    unreachable(ctx, &order, &index, out);
    max_duration(ctx, &order, &index, out);
    let index = index.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    Some(StepOrder {
        order,
        needs,
        index,
    })
}

/// A topological order that keeps the written order wherever `needs` allow, so graphs and
/// reports list steps as the user wrote them. The graph has no cycle (checked before).
fn stable_order(graph: &DiGraph<usize, ()>) -> Vec<usize> {
    let mut indegree: Vec<usize> = graph
        .node_indices()
        .map(|n| {
            graph
                .neighbors_directed(n, petgraph::Direction::Incoming)
                .count()
        })
        .collect();
    let mut ready: BinaryHeap<Reverse<usize>> = graph
        .node_indices()
        .filter(|n| indegree[n.index()] == 0)
        .map(|n| Reverse(n.index()))
        .collect();
    let mut order = Vec::with_capacity(indegree.len());
    while let Some(Reverse(i)) = ready.pop() {
        order.push(graph[NodeIndex::new(i)]);
        for next in graph.neighbors(NodeIndex::new(i)) {
            indegree[next.index()] -= 1;
            if indegree[next.index()] == 0 {
                ready.push(Reverse(next.index()));
            }
        }
    }
    order
}

fn unreachable(
    ctx: &Ctx<'_>,
    order: &[usize],
    index: &HashMap<&str, usize>,
    out: &mut Vec<Diagnostic>,
) {
    let steps = &ctx.plan.steps;
    let mut dead = vec![false; steps.len()];
    for &i in order {
        let s = &steps[i];
        let cond = s.if_.as_ref();
        let never = cond
            .and_then(|c| parse(&c.expression()).ok())
            .and_then(|e| constant(&e))
            == Some(false);
        let after_dead = s
            .needs
            .iter()
            .flat_map(|n| n.ids())
            .find(|n| dead[index[n.as_str()]]);
        if never {
            dead[i] = true;
            out.push(
                Diagnostic::warning(
                    Code::Unreachable,
                    format!("step `{}` never runs: its `if:` is always false", s.id),
                )
                .at(ctx.span(&path(&["steps", &i.to_string(), "if"])))
                .help("remove the step, or the condition that disables it"),
            );
        } else if let Some(d) = after_dead.filter(|_| !cond.is_some_and(runs_regardless)) {
            dead[i] = true;
            out.push(
                Diagnostic::warning(
                    Code::Unreachable,
                    format!(
                        "step `{}` never runs: it needs `{d}`, which never runs",
                        s.id
                    ),
                )
                .at(ctx.key_span(&path(&["steps", &i.to_string(), "needs"])))
                .help("remove the dependency, or add `if: always()` to run it anyway"),
            );
        }
    }
}

/// The longest chain of observation through the steps must fit within `max-duration`.
fn max_duration(
    ctx: &Ctx<'_>,
    order: &[usize],
    index: &HashMap<&str, usize>,
    out: &mut Vec<Diagnostic>,
) {
    let plan = ctx.plan;
    let Some(max) = plan.max_duration else { return };
    if plan.steps.is_empty() {
        return;
    }
    let mut own = vec![std::time::Duration::ZERO; plan.steps.len()];
    for r in rollouts(plan, ctx.actions) {
        if let Some(i) = r.step {
            own[i] = super::rollouts::observed(&r);
        }
    }
    for (i, a) in ctx.actions.iter().enumerate() {
        if let Action::Observe(o) = a {
            own[i] = o.duration.0;
        }
    }
    let mut finish = vec![std::time::Duration::ZERO; plan.steps.len()];
    for &i in order {
        let start = plan.steps[i]
            .needs
            .iter()
            .flat_map(|n| n.ids())
            .map(|n| finish[index[n.as_str()]])
            .max()
            .unwrap_or_default();
        finish[i] = start + own[i];
    }
    let longest = finish.iter().max().copied().unwrap_or_default();
    if longest > max.0 {
        out.push(
            Diagnostic::error(Code::ExceedsMaxDuration, format!("the longest chain of steps observes for at least {}, longer than `max-duration: {max}`", Duration(longest)))
                .at(ctx.span(&path(&["max-duration"])))
                .help("raise `max-duration`, run more steps side by side, or shorten their observation"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_conditions() {
        let c = |s: &str| constant(&parse(s).unwrap());
        assert_eq!(c("false"), Some(false));
        assert_eq!(c("!always()"), Some(false));
        assert_eq!(c("false && success()"), Some(false));
        assert_eq!(c("success()"), None);
        assert_eq!(c("inputs.x == 'a' || true"), Some(true));
    }
}
