//! The compiled plan: a petgraph DAG of typed steps, the only thing the runner needs.
//!
//! `Then` edges order the rollout; `OnFailure` edges lead from every step that can fail (a shift,
//! an observation, a verdict, a gate, a command) to the rollback path, which restores the
//! routers, runs the rollback hook, verifies and notifies. Triggers watch the whole run.

mod dot;
mod mermaid;

pub use dot::to_dot;
pub use mermaid::to_mermaid;

use crate::event::Route;
use crate::plan::gate::Gate;
use crate::plan::trigger::Trigger;
use crate::plan::Duration;
use petgraph::graph::{DiGraph, NodeIndex};
use serde::Serialize;

/// What a step does.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "type")]
pub enum StepKind {
    /// Set a router's routing.
    Shift { router: String, route: Route },
    /// Watch checks for at least `duration`, evaluating every `interval`; fails early on a
    /// critical bound or `failure-limit` consecutive failures.
    Observe {
        duration: Duration,
        interval: Duration,
        checks: Vec<String>,
    },
    /// Decide whether the observation passed: every check passes, and the health score reaches
    /// `min_score`; or, with `pass_score`, the score alone decides (Kayenta's pass/marginal).
    Evaluate {
        checks: Vec<String>,
        min_score: Option<f64>,
        pass_score: Option<f64>,
    },
    /// Wait for an approval.
    Gate { gate: Gate },
    /// Run a shell command.
    Run {
        command: String,
        env: Vec<(String, String)>,
    },
    /// Send a message.
    Notify { to: Vec<String>, message: String },
    /// Put a router back in the state captured before the run's first shift.
    Restore { router: String },
}

impl StepKind {
    pub fn name(&self) -> &'static str {
        match self {
            StepKind::Shift { .. } => "shift",
            StepKind::Observe { .. } => "observe",
            StepKind::Evaluate { .. } => "evaluate",
            StepKind::Gate { .. } => "gate",
            StepKind::Run { .. } => "run",
            StepKind::Notify { .. } => "notify",
            StepKind::Restore { .. } => "restore",
        }
    }

    /// Whether a failure of this step rolls the rollout back.
    pub fn can_fail(&self) -> bool {
        !matches!(self, StepKind::Notify { .. } | StepKind::Restore { .. })
    }

    /// One line for people: `shift edge → 25%`.
    pub fn summary(&self) -> String {
        match self {
            StepKind::Shift { router, route } => match route {
                Route::Weight { percent } => format!("shift {router} → {percent}%"),
                Route::Mirror { percent } => format!("mirror {percent}% on {router}"),
                Route::HeaderMatch { header, value } => {
                    format!("route {header}: {value} on {router}")
                }
            },
            StepKind::Observe {
                duration,
                interval,
                checks,
            } => {
                if checks.is_empty() {
                    format!("wait {duration}")
                } else {
                    format!("observe {duration} every {interval}: {}", checks.join(", "))
                }
            }
            StepKind::Evaluate {
                checks,
                min_score,
                pass_score,
            } => match (min_score, pass_score) {
                (Some(m), Some(p)) => {
                    format!(
                        "evaluate {} (score ≥ {p}; < {m} rolls back)",
                        checks.join(", ")
                    )
                }
                (Some(s), None) => format!("evaluate {} (score ≥ {s})", checks.join(", ")),
                _ => format!("evaluate {}", checks.join(", ")),
            },
            StepKind::Gate { gate } => format!(
                "approval by {} (timeout {} → {:?})",
                gate.approvers.join(", "),
                gate.timeout,
                gate.on_timeout
            )
            .to_lowercase(),
            StepKind::Run { command, .. } => format!("run {command}"),
            StepKind::Notify { to, .. } => format!("notify {}", to.join(", ")),
            StepKind::Restore { router } => format!("restore {router}"),
        }
    }
}

/// Whether a step moves the rollout forward or takes it back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Rollout,
    Rollback,
}

/// One step of the graph.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Node {
    /// Unique in the graph: `canary-5.shift`, `eu.canary-5.observe`, `rollback.edge.restore`.
    pub id: String,
    #[serde(flatten)]
    pub kind: StepKind,
    pub role: Role,
    /// The group (user step, or the plan's rollout, or `rollback`) this step belongs to.
    pub group: usize,
    /// The phase this step came from, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
}

/// The kind of an edge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Edge {
    /// The target runs after the source succeeds (or as its `if:` says).
    Then,
    /// The target (the rollback path's entry) runs when the source fails.
    OnFailure,
}

/// A user step, the plan-level rollout, or the rollback path: what `needs`, `if` and `timeout`
/// apply to as a whole.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Group {
    pub id: String,
    /// The `if:` expression (without `${{ }}`), evaluated before the group's first step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// Other groups (by index) this one needs.
    pub needs: Vec<usize>,
    pub entry: usize,
    pub exit: usize,
}

impl Group {
    /// A group with no condition, timeout or needs; `entry` and `exit` are set when its steps
    /// are added.
    pub fn named(id: &str) -> Group {
        Group {
            id: id.to_string(),
            condition: None,
            timeout: None,
            needs: Vec::new(),
            entry: 0,
            exit: 0,
        }
    }
}

/// Whether step id `id` is the step, phase or group a person calls `name`: `canary-25` names
/// `canary-25.observe` and `eu.canary-25.gate`.
pub fn names_step(id: &str, name: &str) -> bool {
    id == name || id.starts_with(&format!("{name}.")) || id.contains(&format!(".{name}."))
}

/// A compiled plan.
#[derive(Clone, Debug)]
pub struct StepGraph {
    pub name: String,
    pub graph: DiGraph<Node, Edge>,
    pub groups: Vec<Group>,
    /// Watched for the whole run, during and between steps.
    pub triggers: Vec<Trigger>,
    /// The first step of the rollback path, when the plan shifts traffic.
    pub rollback: Option<NodeIndex>,
    pub max_duration: Option<Duration>,
    pub concurrency: Option<String>,
    /// Where a pause's decision comes from: `cli`, or a `github` provider's name.
    pub pause_via: String,
}

#[derive(Serialize)]
struct JsonEdge {
    from: String,
    to: String,
    kind: Edge,
}

#[derive(Serialize)]
struct JsonGraph<'a> {
    name: &'a str,
    nodes: Vec<&'a Node>,
    edges: Vec<JsonEdge>,
    groups: &'a [Group],
    triggers: &'a [Trigger],
    rollback: Option<&'a str>,
    max_duration: Option<Duration>,
    concurrency: Option<&'a str>,
}

impl StepGraph {
    /// The ids of the gates whose decision comes from `source` (`cli`, or a provider's name),
    /// and `pause` when a pause's does.
    pub fn gates_via(&self, source: &str) -> Vec<&str> {
        self.graph
            .node_weights()
            .filter(|n| matches!(&n.kind, StepKind::Gate { gate } if gate.source() == source))
            .map(|n| n.id.as_str())
            .chain((self.pause_via == source).then_some(crate::plan::pause::PAUSE))
            .collect()
    }

    /// The graph as JSON: nodes in order, edges by node id.
    pub fn to_json(&self) -> serde_json::Value {
        let g = &self.graph;
        let j = JsonGraph {
            name: &self.name,
            nodes: g.node_indices().map(|n| &g[n]).collect(),
            edges: g
                .edge_indices()
                .map(|e| {
                    let (a, b) = g.edge_endpoints(e).expect("edge exists");
                    JsonEdge {
                        from: g[a].id.clone(),
                        to: g[b].id.clone(),
                        kind: g[e],
                    }
                })
                .collect(),
            groups: &self.groups,
            triggers: &self.triggers,
            rollback: self.rollback.map(|n| g[n].id.as_str()),
            max_duration: self.max_duration,
            concurrency: self.concurrency.as_deref(),
        };
        serde_json::to_value(j).expect("graph serializes")
    }
}
