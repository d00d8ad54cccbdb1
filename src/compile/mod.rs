//! Plan → [`StepGraph`]: phases expand into shift/observe/evaluate/gate steps, user steps keep
//! their `needs`, and the rollback path is wired to every step that can fail.

pub mod expand;
mod rollback;

use crate::graph::{Edge, Group, Node, Role, StepGraph};
use crate::plan::rollouts::rollouts;
use crate::plan::step::Action;
use crate::validate::Validated;
use petgraph::graph::{DiGraph, NodeIndex};

/// Builds the graph while keeping ids unique and groups' first and last steps.
pub(crate) struct Builder {
    graph: DiGraph<Node, Edge>,
    groups: Vec<Group>,
}

impl Builder {
    /// Adds a chain of steps as one group; returns the group's index.
    fn chain(&mut self, group: Group, nodes: Vec<Node>) -> usize {
        let gi = self.groups.len();
        let mut prev: Option<NodeIndex> = None;
        let mut first = None;
        for mut n in nodes {
            n.group = gi;
            let idx = self.graph.add_node(n);
            first.get_or_insert(idx);
            if let Some(p) = prev {
                self.graph.add_edge(p, idx, Edge::Then);
            }
            prev = Some(idx);
        }
        let (entry, exit) = (
            first.expect("a group has steps"),
            prev.expect("a group has steps"),
        );
        self.groups.push(Group {
            entry: entry.index(),
            exit: exit.index(),
            ..group
        });
        gi
    }
}

fn node(id: String, kind: crate::graph::StepKind, role: Role, phase: Option<String>) -> Node {
    Node {
        id,
        kind,
        role,
        group: 0,
        phase,
    }
}

/// Compiles a validated plan.
pub fn compile(v: &Validated) -> StepGraph {
    let plan = &v.plan;
    let mut b = Builder {
        graph: DiGraph::new(),
        groups: Vec::new(),
    };
    let plan_rollouts = rollouts(plan, &v.actions);
    if plan.steps.is_empty() {
        let r = &plan_rollouts[0];
        let nodes = expand::rollout(plan, r, "");
        b.chain(Group::named("rollout"), nodes);
    } else {
        // Groups are added in dependency order so `needs` always point backwards.
        let mut group_of = vec![0usize; plan.steps.len()];
        for &i in &v.order.order {
            let step = &plan.steps[i];
            let nodes = match &v.actions[i] {
                Action::Rollout(_) => {
                    let r = plan_rollouts
                        .iter()
                        .find(|r| r.step == Some(i))
                        .expect("rollouts cover rollout steps");
                    expand::rollout(plan, r, &format!("{}.", step.id))
                }
                other => vec![expand::single(plan, &step.id, step, other)],
            };
            let needs: Vec<usize> = v.order.needs[i].iter().map(|&k| group_of[k]).collect();
            let group = Group {
                condition: step.if_.as_ref().map(|c| c.expression()),
                timeout: step.timeout,
                needs: needs.clone(),
                ..Group::named(&step.id)
            };
            let gi = b.chain(group, nodes);
            group_of[i] = gi;
            for n in needs {
                let (from, to) = (
                    NodeIndex::new(b.groups[n].exit),
                    NodeIndex::new(b.groups[gi].entry),
                );
                b.graph.add_edge(from, to, Edge::Then);
            }
        }
    }
    let rollback = rollback::wire(plan, &mut b);
    StepGraph {
        name: plan.name.clone(),
        graph: b.graph,
        groups: b.groups,
        triggers: plan.triggers.clone(),
        rollback,
        max_duration: plan.max_duration,
        concurrency: plan.concurrency.as_ref().map(|c| c.group().to_string()),
        pause_via: plan.pause.source().to_string(),
    }
}
