//! Mermaid flowchart output, for READMEs and PR descriptions.

use super::{Edge, Role, StepGraph};
use petgraph::visit::EdgeRef;
use std::collections::BTreeSet;
use std::fmt::Write as _;

/// Mermaid labels are double-quoted; these characters would end or confuse them.
fn label(s: &str) -> String {
    s.replace('&', "#amp;")
        .replace('"', "#quot;")
        .replace('<', "#lt;")
        .replace('>', "#gt;")
}

pub fn to_mermaid(g: &StepGraph) -> String {
    let mut out = String::from("flowchart TD\n");
    for (gi, group) in g.groups.iter().enumerate() {
        let mut title = group.id.clone();
        if let Some(c) = &group.condition {
            title.push_str(&format!(" · if {c}"));
        }
        let _ = writeln!(out, "  subgraph g{gi}[\"{}\"]", label(&title));
        for n in g.graph.node_indices().filter(|n| g.graph[*n].group == gi) {
            let node = &g.graph[n];
            let text = format!("{}<br/>{}", label(&node.id), label(&node.kind.summary()));
            let shape = match node.role {
                Role::Rollout => format!("[\"{text}\"]"),
                Role::Rollback => format!("([\"{text}\"])"),
            };
            let _ = writeln!(out, "    n{}{shape}", n.index());
        }
        out.push_str("  end\n");
    }
    // Failure edges are drawn once per group, to keep large plans readable; JSON has them all.
    let mut failure_groups = BTreeSet::new();
    for e in g.graph.edge_references() {
        let (a, b) = (e.source().index(), e.target().index());
        match e.weight() {
            Edge::Then => {
                let _ = writeln!(out, "  n{a} --> n{b}");
            }
            Edge::OnFailure => {
                failure_groups.insert((g.graph[e.source()].group, g.graph[e.target()].group));
            }
        }
    }
    for (from, to) in failure_groups {
        let _ = writeln!(out, "  g{from} -. failure or trigger .-> g{to}");
    }
    out
}
