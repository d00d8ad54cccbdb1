//! Every shipped example validates, points editors at the schema, and the set covers the
//! rollouts our users described.

use crate::support::{files, rollgate, root};

#[test]
fn every_workflow_validates() {
    let plans = files("workflows", "yaml");
    assert!(plans.len() >= 8, "the examples are missing: {plans:?}");
    for plan in &plans {
        let run = rollgate(&["validate", plan]).success();
        assert!(
            run.stdout.contains(&format!("{plan}: valid")),
            "{}",
            run.stdout
        );
        assert!(
            !run.stderr.contains("warning"),
            "{plan} has warnings:\n{}",
            run.stderr
        );
    }
}

#[test]
fn every_workflow_points_editors_at_the_schema() {
    for plan in files("workflows", "yaml") {
        let text = std::fs::read_to_string(root().join(&plan)).unwrap();
        assert!(
            text.starts_with("# yaml-language-server: $schema=../schemas/rollout.schema.json\n"),
            "{plan} lacks the schema modeline on its first line"
        );
    }
}

#[test]
fn validate_takes_several_plans_and_reports_each() {
    let run = rollgate(&[
        "validate",
        "workflows/linear.yaml",
        "fixtures/bad-plans/misspelled-key.yaml",
    ])
    .invalid();
    assert!(run.stdout.contains("workflows/linear.yaml: valid"));
    assert!(run
        .stderr
        .contains("fixtures/bad-plans/misspelled-key.yaml:7:5: error[unknown-key]"));
}

fn graph_json(plan: &str) -> serde_json::Value {
    serde_json::from_str(
        &rollgate(&["graph", plan, "--format", "json"])
            .success()
            .stdout,
    )
    .unwrap()
}

fn ids(g: &serde_json::Value) -> Vec<String> {
    g["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn scenario_model_config_compiles_to_its_stages() {
    let g = graph_json("workflows/model-config-rollout.yaml");
    let ids = ids(&g);
    let order: Vec<&str> = [
        "validation.shift",
        "canary-1.shift",
        "canary-5.shift",
        "canary-25.shift",
        "canary-50.shift",
        "canary-50.gate",
        "full.shift",
    ]
    .into_iter()
    .collect();
    let positions: Vec<usize> = order
        .iter()
        .map(|id| {
            ids.iter()
                .position(|i| i == id)
                .unwrap_or_else(|| panic!("{id} missing from {ids:?}"))
        })
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "stages out of order: {ids:?}"
    );
    assert_eq!(g["max_duration"], "1h");
    // Gradual rollback steps exist for the trigger that asks for them, then the snapshot restore.
    for id in [
        "rollback.config-router.shift-50",
        "rollback.config-router.shift-1",
        "rollback.config-router.restore",
        "rollback.run",
        "rollback.verify.evaluate",
    ] {
        assert!(ids.iter().any(|i| i == id), "{id} missing from {ids:?}");
    }
}

#[test]
fn scenario_orchestrator_steps_up_by_twenty_and_rolls_back_twenty_a_minute() {
    let g = graph_json("workflows/orchestrator-canary.yaml");
    let weights: Vec<u64> = g["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["type"] == "shift" && n["role"] == "rollout")
        .map(|n| n["route"]["percent"].as_u64().unwrap())
        .collect();
    assert_eq!(weights, vec![0, 5, 20, 40, 60, 80, 100]);
    let back: Vec<&str> = g["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["role"] == "rollback")
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        back,
        vec![
            "rollback.lb.shift-80",
            "rollback.lb.hold-80",
            "rollback.lb.shift-60",
            "rollback.lb.hold-60",
            "rollback.lb.shift-40",
            "rollback.lb.hold-40",
            "rollback.lb.shift-20",
            "rollback.lb.hold-20",
            "rollback.lb.restore"
        ]
    );
    assert_eq!(g["triggers"].as_array().unwrap().len(), 4);
}

#[test]
fn scenario_mesh_runs_environments_in_sequence_with_mirror_and_header_match() {
    let g = graph_json("workflows/mesh-environments.yaml");
    let groups: Vec<&str> = g["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        groups,
        vec!["staging", "prod-eu", "prod-us", "announce", "rollback"]
    );
    // Staging mirrors, then routes by header, and only then takes all traffic.
    let staging: Vec<String> = g["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["type"] == "shift" && n["router"] == "staging")
        .filter(|n| !n["id"].as_str().unwrap().starts_with("rollback."))
        .map(|n| match n["route"]["type"].as_str().unwrap() {
            "weight" => format!("weight {}", n["route"]["percent"]),
            other => other.to_string(),
        })
        .collect();
    assert_eq!(staging, ["mirror", "header-match", "weight 100"]);
    let ids = ids(&g);
    assert!(
        ids.contains(&"rollback.gate".to_string()) && ids.contains(&"rollback.run".to_string())
    );
    assert_eq!(g["concurrency"], "rollout-${{ inputs.service }}");
}

#[test]
fn waves_wait_for_their_needs() {
    let g = graph_json("workflows/multi-region-waves.yaml");
    let groups = g["groups"].as_array().unwrap();
    let needs = |id: &str| -> Vec<String> {
        let gi = groups.iter().find(|x| x["id"] == id).unwrap();
        gi["needs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| {
                groups[n.as_u64().unwrap() as usize]["id"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    };
    assert_eq!(needs("sign-off"), vec!["ap-south"]);
    assert_eq!(needs("eu-west"), vec!["sign-off"]);
    assert_eq!(needs("us-east"), vec!["sign-off"]);
    assert_eq!(needs("announce"), vec!["eu-west", "us-east"]);
}
