//! Graphviz DOT output.

use super::{Edge, Role, StepGraph};
use petgraph::visit::EdgeRef;
use std::collections::BTreeSet;
use std::fmt::Write as _;

fn quote(s: &str) -> String {
    format!(
        "\"{}\"",
        s.replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n")
    )
}

pub fn to_dot(g: &StepGraph) -> String {
    let mut out = format!("digraph {} {{\n  compound=true;\n  rankdir=TB;\n  node [shape=box, fontname=\"Helvetica\"];\n", quote(&g.name));
    for (gi, group) in g.groups.iter().enumerate() {
        let mut title = group.id.clone();
        if let Some(c) = &group.condition {
            title.push_str(&format!(" · if {c}"));
        }
        let _ = writeln!(
            out,
            "  subgraph cluster_{gi} {{\n    label={};",
            quote(&title)
        );
        for n in g.graph.node_indices().filter(|n| g.graph[*n].group == gi) {
            let node = &g.graph[n];
            let style = match node.role {
                Role::Rollout => "",
                Role::Rollback => ", style=rounded, color=firebrick",
            };
            let _ = writeln!(
                out,
                "    n{} [label={}{style}];",
                n.index(),
                quote(&format!("{}\n{}", node.id, node.kind.summary()))
            );
        }
        out.push_str("  }\n");
    }
    let mut failure_groups = BTreeSet::new();
    for e in g.graph.edge_references() {
        match e.weight() {
            Edge::Then => {
                let _ = writeln!(out, "  n{} -> n{};", e.source().index(), e.target().index());
            }
            Edge::OnFailure => {
                failure_groups.insert((g.graph[e.source()].group, g.graph[e.target()].group));
            }
        }
    }
    // One dashed edge per group into the rollback path (the JSON form lists every one).
    for (from, to) in failure_groups {
        let (a, b) = (g.groups[from].exit, g.groups[to].entry);
        let _ = writeln!(out, "  n{a} -> n{b} [style=dashed, color=firebrick, label=\"failure or trigger\", ltail=cluster_{from}, lhead=cluster_{to}];");
    }
    out.push_str("}\n");
    out
}
