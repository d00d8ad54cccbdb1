//! `graph` output is valid for the tools that read it: Graphviz parses the DOT, Mermaid's own
//! parser accepts the flowchart, and the JSON is a DAG whose edges name real steps.

use crate::support::{files, rollgate, root, tool};
use std::collections::{HashMap, HashSet};
use std::process::Command;

#[test]
fn dot_output_is_accepted_by_graphviz() {
    let dot = tool("dot", "apt-get install -y graphviz");
    for plan in files("workflows", "yaml") {
        let out = rollgate(&["graph", &plan, "--format", "dot"])
            .success()
            .stdout;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("g.dot");
        std::fs::write(&file, &out).unwrap();
        let r = Command::new(&dot).arg("-Tsvg").arg(&file).output().unwrap();
        assert!(
            r.status.success(),
            "{plan}: graphviz rejects the DOT: {}",
            String::from_utf8_lossy(&r.stderr)
        );
        assert!(
            String::from_utf8_lossy(&r.stdout).contains("<svg"),
            "{plan}: no SVG rendered"
        );
        assert!(
            r.stderr.is_empty(),
            "{plan}: graphviz warns: {}",
            String::from_utf8_lossy(&r.stderr)
        );
    }
}

#[test]
fn mermaid_output_is_accepted_by_mermaid() {
    let node = tool("node", "apt-get install -y nodejs");
    let checker = root().join("tests/node/mermaid.mjs");
    assert!(
        root().join("tests/node/node_modules/mermaid").is_dir(),
        "run `npm ci --prefix tests/node` (the README's test command does)"
    );
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec![checker.to_string_lossy().to_string()];
    for (i, plan) in files("workflows", "yaml").iter().enumerate() {
        let out = rollgate(&["graph", plan, "--format", "mermaid"])
            .success()
            .stdout;
        let file = dir.path().join(format!("{i}.mmd"));
        std::fs::write(&file, out).unwrap();
        args.push(file.to_string_lossy().to_string());
    }
    // The checker must also reject broken input, or its "ok" would mean nothing.
    let broken = dir.path().join("broken.mmd");
    std::fs::write(&broken, "flowchart TD\n  a[\"unclosed\n").unwrap();
    let r = Command::new(&node).args(&args).output().unwrap();
    let report = String::from_utf8_lossy(&r.stdout);
    assert!(
        r.status.success(),
        "mermaid rejects the output:\n{report}{}",
        String::from_utf8_lossy(&r.stderr)
    );
    assert_eq!(
        report.lines().filter(|l| l.starts_with("ok ")).count(),
        args.len() - 1,
        "{report}"
    );
    let r = Command::new(&node)
        .arg(&args[0])
        .arg(&broken)
        .output()
        .unwrap();
    assert!(
        !r.status.success(),
        "the mermaid checker accepted broken input"
    );
}

#[test]
fn json_output_is_a_dag_of_named_steps() {
    for plan in files("workflows", "yaml") {
        let g: serde_json::Value = serde_json::from_str(
            &rollgate(&["graph", &plan, "--format", "json"])
                .success()
                .stdout,
        )
        .unwrap();
        let ids: Vec<&str> = g["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["id"].as_str().unwrap())
            .collect();
        let unique: HashSet<&str> = ids.iter().copied().collect();
        assert_eq!(unique.len(), ids.len(), "{plan}: duplicate step ids");
        let mut next: HashMap<&str, Vec<&str>> = HashMap::new();
        for e in g["edges"].as_array().unwrap() {
            let (a, b) = (e["from"].as_str().unwrap(), e["to"].as_str().unwrap());
            assert!(
                unique.contains(a) && unique.contains(b),
                "{plan}: edge {a} → {b} names a missing step"
            );
            next.entry(a).or_default().push(b);
        }
        // Kahn's algorithm consumes every node only if there is no cycle.
        let mut indeg: HashMap<&str, usize> = ids.iter().map(|i| (*i, 0)).collect();
        next.values()
            .flatten()
            .for_each(|b| *indeg.get_mut(b).unwrap() += 1);
        let mut ready: Vec<&str> = indeg
            .iter()
            .filter(|(_, d)| **d == 0)
            .map(|(i, _)| *i)
            .collect();
        let mut seen = 0;
        while let Some(n) = ready.pop() {
            seen += 1;
            for b in next.get(n).into_iter().flatten() {
                let d = indeg.get_mut(b).unwrap();
                *d -= 1;
                if *d == 0 {
                    ready.push(b);
                }
            }
        }
        assert_eq!(seen, ids.len(), "{plan}: the graph has a cycle");
        let rollback = g["rollback"]
            .as_str()
            .expect("every example shifts traffic, so it has a rollback path");
        let failing = g["edges"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "on-failure")
            .count();
        assert!(failing > 0, "{plan}: nothing leads to {rollback}");
        assert!(g["edges"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "on-failure")
            .all(|e| e["to"] == rollback));
    }
}

#[test]
fn graph_of_an_invalid_plan_prints_diagnostics_and_exits_2() {
    let run = rollgate(&["graph", "fixtures/bad-plans/weights-decrease.yaml"]).invalid();
    assert!(run.stdout.is_empty());
    assert!(run.stderr.contains("error[weights-decrease]"));
}
