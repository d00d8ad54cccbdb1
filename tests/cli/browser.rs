//! What people see on GitHub, drawn in a real browser: a rehearsal's job summary and PR comment
//! rendered from Markdown in Debian's Chromium (headless, through playwright-core), their
//! Mermaid charts drawn by Mermaid 11 and parsed by Mermaid 10.9 (`tests/node/render-markdown.mjs`).

use crate::support::{node_client, reported_files, root, tool};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A rehearsal's GitHub preview: `summary.md` and `pr-comment.md` in the returned directory.
fn preview(dir: &Path, plan: &str, fixture: &str) -> PathBuf {
    let out = dir.join(Path::new(fixture).file_stem().unwrap());
    // The HAProxy plan asks which version it rolls out.
    let inputs: &[&str] = match plan.contains("haproxy") {
        true => &["--input", "version=v2"],
        false => &[],
    };
    let run = Command::new(env!("CARGO_BIN_EXE_rollgate"))
        .args(["dry-run", plan, "--fixture", fixture])
        .args(inputs)
        .arg("--github-preview")
        .arg(&out)
        .current_dir(root())
        .env_remove("GITHUB_ACTIONS")
        .output()
        .unwrap();
    assert!(
        out.join("summary.md").is_file(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    out
}

/// Each file as the browser drew it.
fn render(dir: &Path, files: &[PathBuf]) -> Vec<Value> {
    tool("chromium", "apt-get install -y chromium");
    let shots = dir.join("screenshots");
    let mut args = vec![shots.as_os_str()];
    args.extend(files.iter().map(|f| f.as_os_str()));
    reported_files(&node_client(
        "render-markdown.mjs",
        "playwright-core",
        &args,
        &root(),
    ))
}

#[test]
fn summaries_and_comments_draw_a_chart_per_check_and_say_why_in_plain_words() {
    let dir = tempfile::tempdir().unwrap();
    let rehearsals = [
        (
            "workflows/statistical-canary.yaml",
            "fixtures/metrics/statistical-canary/canary-errors-2x.yaml",
            2,
        ),
        (
            "workflows/haproxy-canary.yaml",
            "fixtures/metrics/haproxy-canary/error-spike-at-25.yaml",
            2,
        ),
        (
            "workflows/haproxy-canary.yaml",
            "fixtures/metrics/haproxy-canary/healthy.yaml",
            2,
        ),
    ];
    let mut files = Vec::new();
    for (plan, fixture, _) in rehearsals {
        let out = preview(dir.path(), plan, fixture);
        files.push(out.join("summary.md"));
        files.push(out.join("pr-comment.md"));
    }
    let drawn = render(dir.path(), &files);
    for (f, (_, fixture, checks)) in drawn.chunks(2).zip(rehearsals) {
        for page in f {
            let path = page["path"].as_str().unwrap();
            let charts = page["charts"].as_array().unwrap();
            assert_eq!(charts.len(), checks, "{path}: {charts:?}");
            for c in charts {
                assert_eq!(c["error"], Value::Null, "{path}: {c}");
                assert_eq!(c["drawn"], true, "{path}: {c}");
                // The canary and the baseline at least, over several minutes.
                assert!(c["lines"].as_u64().unwrap() >= 2, "{path}: {c}");
                assert!(c["points"].as_u64().unwrap() >= 5, "{path}: {c}");
            }
            for parsed in page["mermaid10"].as_array().unwrap() {
                assert_eq!(
                    parsed,
                    &Value::Null,
                    "{path}: Mermaid 10 cannot parse a chart"
                );
            }
            let text = page["text"].as_str().unwrap();
            assert!(
                text.contains(&format!("rollgate replayed the fixture {fixture}")),
                "{path}: {text}"
            );
        }
    }
    // The sequential test's rollback, in words, with its statistic below.
    let text = drawn[0]["text"].as_str().unwrap();
    assert!(
        text.contains("Rolled back: errors at 2.1× stable's (1.03% against 0.5%) over 33 minutes; a false alarm this strong comes from fewer than 1 in 185 healthy canaries"),
        "{text}"
    );
    assert!(text.contains("e-value 185 ≥ 100"), "{text}");
    // The threshold rollback's chart draws its bounds too: canary, baseline, max, critical.
    assert_eq!(drawn[2]["charts"][0]["lines"], 4, "{}", drawn[2]);
}

#[test]
fn a_chart_that_does_not_draw_is_seen() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.md");
    std::fs::write(
        &broken,
        "# x\n\n```mermaid\nxychart-beta\n    line [1, oops]\n```\n",
    )
    .unwrap();
    let drawn = render(dir.path(), &[broken]);
    let chart = &drawn[0]["charts"][0];
    assert!(
        chart["drawn"] == false || chart["error"] != Value::Null,
        "{chart}"
    );
    assert_ne!(drawn[0]["mermaid10"][0], Value::Null);
}
