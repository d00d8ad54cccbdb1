//! The plan's schema as people meet it in an editor: the real yaml-language-server (npm),
//! driven over stdio by `tests/node/yaml-ls.mjs` as VS Code's YAML extension drives it, on the
//! shipped plans and on a plan with mistakes.

use crate::support::{files, node_client, reported_files, root};
use serde_json::Value;
use std::path::Path;

/// What the language server says of each file: `spec` as `tests/node/yaml-ls.mjs` reads it.
fn language_server(spec: Value) -> Vec<Value> {
    let dir = tempfile::tempdir().unwrap();
    let spec_file = dir.path().join("spec.json");
    std::fs::write(&spec_file, spec.to_string()).unwrap();
    let args = [spec_file.as_os_str()];
    reported_files(&node_client(
        "yaml-ls.mjs",
        "yaml-language-server",
        &args,
        &root(),
    ))
}

/// A plan in a temporary directory, pointing at the repository's schema.
fn plan(dir: &Path, name: &str, body: &str) -> String {
    let schema = root().join("schemas/rollout.schema.json");
    let path = dir.join(name);
    let text = format!(
        "# yaml-language-server: $schema=file://{}\n{body}",
        schema.display()
    );
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// Keys named by the plan's author (a provider, a check, an input, a variable), whose hover is
/// what such an entry is rather than the name itself.
fn named_by_the_author(path: &[Value]) -> bool {
    matches!(
        path.last().and_then(Value::as_str),
        Some("providers" | "checks" | "inputs" | "env")
    ) && path.len() == 1
}

#[test]
fn shipped_plans_are_clean_and_every_key_explains_itself() {
    let plans = files("workflows", "yaml");
    let spec = serde_json::json!({
        "files": plans.iter().map(|p| serde_json::json!({ "path": p, "hoverKeys": true })).collect::<Vec<_>>()
    });
    let mut hovered = 0;
    for f in language_server(spec) {
        let path = f["path"].as_str().unwrap();
        assert_eq!(f["diagnostics"], serde_json::json!([]), "{path}");
        for h in f["hovers"].as_array().unwrap() {
            let key = h["key"].as_str().unwrap();
            let text = h["text"].as_str().unwrap();
            let at = format!("{path}:{}: `{key}`", h["line"].as_u64().unwrap() + 1);
            let (heading, rest) = text.split_once("\n\n").unwrap_or((text, ""));
            assert!(!heading.contains("rollgate rollout plan"), "{at}: {text}");
            let description = rest.split("\n\n").next().unwrap_or("");
            assert!(description.len() > 10, "{at} has no description: {text}");
            if named_by_the_author(h["path"].as_array().unwrap()) {
                assert!(
                    ["#### Check", "#### Input", "#### Scalar"].contains(&heading)
                        || heading.ends_with(" provider"),
                    "{at}: {heading}"
                );
            } else {
                assert_eq!(heading, format!("#### {key}"), "{at}: {text}");
            }
            hovered += 1;
        }
    }
    assert!(hovered > 900, "{hovered} keys hovered");
}

#[test]
fn a_key_with_a_fixed_list_of_values_says_what_the_key_means_and_what_the_value_does() {
    let dir = tempfile::tempdir().unwrap();
    let path = plan(
        dir.path(),
        "plan.yaml",
        "name: x\nproviders:\n  prom: { kind: prometheus, url: 'http://127.0.0.1:9090' }\nchecks:\n  latency: { source: prom, canary: q, max: 1s, unit: seconds }\n  errors:\n    source: prom\n    canary: q\n    max: 1%\n    on-no-data: hold\n    \n\nphases:\n  - { name: a, weight: 5, observe: 10m }\n",
    );
    let spec = serde_json::json!({ "files": [{ "path": path, "hoverKeys": true, "completeAt": [[11, 4], [12, 0]] }] });
    let f = &language_server(spec)[0];
    let hover = |key: &str| {
        f["hovers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["key"] == key)
            .unwrap()["text"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let on_no_data = hover("on-no-data");
    assert!(
        on_no_data
            .starts_with("#### on-no-data\n\nWhat no data (empty result, NaN, source down) means."),
        "{on_no_data}"
    );
    // The chosen value first, then the others.
    assert!(
        on_no_data.contains("Allowed Values:\n\n* `hold`: Hold the current weight"),
        "{on_no_data}"
    );
    assert!(hover("unit").starts_with("#### unit\n\nWhat the queries return"));
    // Completing a key writes `key: `, as for any key with a type.
    for (at, key, insert) in [
        (0, "unit", "unit: "),
        (0, "method", "method: "),
        (0, "baseline", "baseline: "),
        (1, "strategy", "strategy:\n"),
    ] {
        let items = f["completions"][at]["items"].as_array().unwrap();
        let item = items
            .iter()
            .find(|i| i["label"] == key)
            .unwrap_or_else(|| panic!("no `{key}` among {items:?}"));
        assert!(
            item["insertText"].as_str().unwrap().starts_with(insert),
            "{key}: {item}"
        );
    }
}

#[test]
fn mistakes_are_flagged_on_their_lines_in_words() {
    let dir = tempfile::tempdir().unwrap();
    let path = plan(
        dir.path(),
        "bad.yaml",
        "name: x\nproviders:\n  prom: { kind: prometheus, url: 'http://127.0.0.1:9090' }\nchecks:\n  errors: { source: prom, canary: q, max: 1%, method: sequental }\nphases:\n  - { name: a, weight: 5, observe: 10 minutes }\n  - name: b\n    wieght: 50\n",
    );
    let f = &language_server(serde_json::json!({ "files": [{ "path": path }] }))[0];
    let said: Vec<(u64, String)> = f["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["line"].as_u64().unwrap() + 1,
                d["message"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let on = |line: u64, text: &str| said.iter().any(|(l, m)| *l == line && m.contains(text));
    // Lines count the modeline.
    assert!(
        on(6, "Valid values: \"threshold\", \"sequential\""),
        "{said:?}"
    );
    assert!(
        on(8, "Not a duration: write a whole number and a unit"),
        "{said:?}"
    );
    assert!(on(10, "Property wieght is not allowed."), "{said:?}");
    assert!(
        !said.iter().any(|(_, m)| m.contains("^\\s*")),
        "a raw pattern is shown: {said:?}"
    );
}
