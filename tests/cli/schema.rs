//! The committed schema is the one the types generate, and the CLI prints it.

use crate::support::{rollgate, root};

#[test]
fn committed_schema_matches_the_types() {
    let generated = rollgate(&["schema"]).success().stdout;
    let committed =
        std::fs::read_to_string(root().join(rollgate::plan::schema::SCHEMA_PATH)).unwrap();
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

#[test]
fn readme_lists_every_diagnostic_code_and_example() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    for code in rollgate::diagnostics::Code::ALL {
        assert!(
            readme.contains(&format!("`{}`", code.as_str())),
            "README does not list `{}`",
            code.as_str()
        );
    }
    for plan in crate::support::files("workflows", "yaml") {
        let stem = plan
            .trim_start_matches("workflows/")
            .trim_end_matches(".yaml");
        assert!(
            readme.contains(&format!("`{stem}`")),
            "README does not mention the example `{stem}`"
        );
    }
}

#[test]
fn readme_tutorial_plan_validates_and_its_typo_reads_as_shown() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let tutorial = readme.split("## Write a first plan").nth(1).unwrap();
    let plan = first_yaml_block(tutorial);
    let shown = tutorial
        .split("```\nmy-plan.yaml")
        .nth(1)
        .map(|s| format!("my-plan.yaml{}", s.split("```").next().unwrap()))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("my-plan.yaml");
    std::fs::write(&file, plan).unwrap();
    let path = file.to_str().unwrap();
    crate::support::rollgate(&["validate", path]).success();
    std::fs::write(&file, plan.replace("    max: 1%", "    mxa: 1%")).unwrap();
    let run = crate::support::rollgate(&["validate", path]).invalid();
    assert!(
        run.stderr.replace(path, "my-plan.yaml").starts_with(&shown),
        "README shows:\n{shown}\nrollgate says:\n{}",
        run.stderr
    );
}

#[test]
fn readme_fixture_example_loads() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let section = readme.split("## Rehearse a plan").nth(1).unwrap();
    let example = first_yaml_block(section);
    let f = rollgate::fixture::parse("README.md", example).unwrap_or_else(|d| panic!("{d:#?}"));
    assert_eq!(f.queries().count(), 3);
    assert!(
        f.is_histogram("sum by (le) (http_request_duration_seconds_bucket{version=\"canary\"})")
    );
    assert_eq!(f.events.len(), 3);
}

#[test]
fn readme_documents_every_event() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let source = std::fs::read_to_string(root().join("src/event/mod.rs")).unwrap();
    let body = source
        .split("pub enum Event {")
        .nth(1)
        .unwrap()
        .split("\n}\n")
        .next()
        .unwrap();
    let variants: Vec<String> = body
        .lines()
        .filter_map(|l| l.strip_prefix("    "))
        .filter(|l| l.starts_with(|c: char| c.is_ascii_uppercase()))
        .map(|l| {
            l.split(|c: char| !c.is_ascii_alphanumeric())
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(variants.len() >= 15, "{variants:?}");
    for v in variants {
        let kebab: String = v
            .chars()
            .enumerate()
            .flat_map(|(i, c)| {
                if c.is_ascii_uppercase() && i > 0 {
                    vec!['-', c.to_ascii_lowercase()]
                } else {
                    vec![c.to_ascii_lowercase()]
                }
            })
            .collect();
        assert!(
            readme.contains(&format!("`{kebab}`")),
            "README's event table lacks `{kebab}`"
        );
    }
}

/// The first ```yaml block of `text`.
fn first_yaml_block(text: &str) -> &str {
    text.split("```yaml\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("a ```yaml block")
}
