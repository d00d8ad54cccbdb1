//! Every broken plan in fixtures/bad-plans yields exactly its snapshot diagnostics, in both
//! formats, and together they cover every error class.

use crate::support::{files, rollgate, root};
use rollgate::diagnostics::Code;
use std::collections::BTreeSet;

#[test]
fn every_bad_plan_yields_its_snapshot() {
    let plans = files("fixtures/bad-plans", "yaml");
    assert!(plans.len() >= 25, "only {} bad plans", plans.len());
    let mut seen = BTreeSet::new();
    for plan in &plans {
        let human = rollgate(&["validate", plan]);
        let json = rollgate(&["validate", plan, "--format", "json"]);
        assert_eq!(
            human.code, json.code,
            "{plan}: formats disagree on the exit code"
        );
        let diags: Vec<serde_json::Value> = serde_json::from_str(&json.stdout).unwrap();
        assert!(!diags.is_empty(), "{plan}: no diagnostics");
        // The JSON list and the human report are the same diagnostics.
        for d in &diags {
            let header = format!(
                "{}:{}:{}: {}[{}]: {}",
                d["file"].as_str().unwrap(),
                d["line"],
                d["column"],
                d["severity"].as_str().unwrap(),
                d["code"].as_str().unwrap(),
                d["message"].as_str().unwrap()
            );
            assert!(
                human.stderr.contains(&header),
                "{plan}: `{header}` missing from\n{}",
                human.stderr
            );
            seen.insert(d["code"].as_str().unwrap().to_string());
        }
        let stem = plan
            .rsplit('/')
            .next()
            .unwrap()
            .trim_end_matches(".yaml")
            .to_string();
        let snapshot = format!(
            "exit code: {}\n\n{}\n{}",
            human.code, human.stderr, json.stdout
        );
        insta::with_settings!({
            snapshot_path => root().join("fixtures/bad-plans/expected"),
            prepend_module_to_snapshot => false,
            omit_expression => true,
        }, {
            insta::assert_snapshot!(stem, snapshot);
        });
    }
    // Unreadable files and fixtures have their own tests.
    let elsewhere = [Code::Io, Code::BadFixture, Code::MissingQuery];
    let missing: Vec<&str> = Code::ALL
        .iter()
        .filter(|c| !elsewhere.contains(c))
        .map(|c| c.as_str())
        .filter(|c| !seen.contains(*c))
        .collect();
    assert!(
        missing.is_empty(),
        "error classes without a bad plan: {missing:?}"
    );
}

#[test]
fn unreadable_files_are_diagnostics_too() {
    let run = rollgate(&["validate", "fixtures/bad-plans/no-such-plan.yaml"]).invalid();
    assert!(
        run.stderr
            .contains("fixtures/bad-plans/no-such-plan.yaml: error[io]: cannot read the plan"),
        "{}",
        run.stderr
    );
    let dir = tempfile::tempdir().unwrap();
    let latin1 = dir.path().join("latin1.yaml");
    std::fs::write(&latin1, b"name: caf\xe9\n").unwrap();
    let run = rollgate(&["validate", latin1.to_str().unwrap()]).invalid();
    assert!(
        run.stderr
            .contains("error[not-text]: the file is not UTF-8 text (invalid byte at offset 9)"),
        "{}",
        run.stderr
    );
}
