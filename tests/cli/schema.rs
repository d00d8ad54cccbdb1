//! The committed schema is the one the types generate, and the CLI prints it.

use crate::support::{rollgate, root};

#[test]
fn committed_schema_matches_the_types() {
    let generated = rollgate(&["schema"]).success().stdout;
    let committed = std::fs::read_to_string(root().join("schemas/rollout.schema.json")).unwrap();
    assert!(
        generated == committed,
        "schemas/rollout.schema.json is stale: run `cargo run -q -- schema > schemas/rollout.schema.json`"
    );
    let v: serde_json::Value = serde_json::from_str(&committed).unwrap();
    assert_eq!(v["$schema"], "https://json-schema.org/draft/2020-12/schema");
}

#[test]
fn help_shows_examples_and_usage_errors_exit_2() {
    let run = rollgate(&["--help"]).success();
    assert!(
        run.stdout.contains("Examples:")
            && run.stdout.contains("rollgate validate workflows/*.yaml")
    );
    let run = rollgate(&["graph", "--help"]).success();
    assert!(run.stdout.contains("mermaid") && run.stdout.contains("dot"));
    rollgate(&["graph", "workflows/linear.yaml", "--format", "png"]).invalid();
    rollgate(&["validate"]).invalid();
    rollgate(&["frobnicate"]).invalid();
}
