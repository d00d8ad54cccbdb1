//! rollgate as a GitHub Actions step: the environment the runner sets, temp files for
//! `GITHUB_OUTPUT` and `GITHUB_STEP_SUMMARY`, and what lands in them; annotations, masking,
//! `--github-preview`, and `action.yml` with its sample workflow.

use crate::support::root;
use std::process::Command;

/// `rollgate ARGS` in the repository root with Actions' environment pointing into `dir`.
fn in_actions(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_rollgate"))
        .args(args)
        .current_dir(root())
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", dir.join("output"))
        .env("GITHUB_STEP_SUMMARY", dir.join("summary"))
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

fn read(p: std::path::PathBuf) -> String {
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn the_action_rehearses_a_plan_and_writes_outputs_and_the_job_summary() {
    let dir = tempfile::tempdir().unwrap();
    let out = in_actions(
        dir.path(),
        &["action"],
        &[
            ("ROLLGATE_PLAN", "workflows/haproxy-canary.yaml"),
            ("ROLLGATE_MODE", "dry-run"),
            (
                "ROLLGATE_FIXTURE",
                "fixtures/metrics/haproxy-canary/error-spike-at-25.yaml",
            ),
            ("ROLLGATE_INPUTS", "version=v2.0.1\n\n"),
        ],
    );
    // It rolled back, as the fixture expects: the rehearsal step passes.
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("as the fixture expects: rolled-back"));
    let outputs = read(dir.path().join("output"));
    assert!(outputs.starts_with("outcome=rolled-back\nrun-id=dry-run\nfinal-weight=0\nreport<<ROLLGATE_EOF\n## rollgate: checkout-api canary (dry-run): Rolled back\n"), "{outputs}");
    assert!(outputs.ends_with("\nROLLGATE_EOF\n"), "{outputs}");
    let summary = read(dir.path().join("summary"));
    for want in [
        "## rollgate: checkout-api canary (dry-run): Rolled back",
        "> **Rolled back: error-rate 8% &gt; critical 2% at canary-25.observe**",
        "> check `error-rate`, its last interval: canary 8%, baseline 0.2%; judged by max 1%, critical 2x, +0.5pp vs baseline",
        "| 0s | edge | 0% | 5% |",
        "| `error-rate` | 8% | 0.2% | critical: 8% &gt; critical 2% | threshold |",
        "> verification on stable after the rollback: passed",
        "Outcome: **Rolled back** after 14m00s of virtual time; canary weight now 0%.", // 12 min, then 2 of verification
    ] {
        assert!(summary.contains(want), "missing {want:?} in:\n{summary}");
    }
}

#[test]
fn a_preview_shows_the_outputs_summary_and_pr_comment_a_job_would_produce() {
    let dir = tempfile::tempdir().unwrap();
    let preview = dir.path().join("preview");
    let out = Command::new(env!("CARGO_BIN_EXE_rollgate"))
        .args([
            "dry-run",
            "workflows/statistical-canary.yaml",
            "--fixture",
            "fixtures/metrics/statistical-canary/canary-errors-2x.yaml",
            "--environment",
            "production",
            "--github-preview",
        ])
        .arg(&preview)
        .current_dir(root())
        .env_remove("GITHUB_ACTIONS")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let comment = read(preview.join("pr-comment.md"));
    assert!(
        comment.starts_with("<!-- rollgate:checkout statistical canary:production -->\n### 🔴 rollgate · checkout statistical canary · production · preview (dry-run)\n"),
        "{comment}"
    );
    for want in [
        "**Rolled back** · edge at 0% · 34m00s",
        "> [!CAUTION]",
        "e-value 185 ≥ 100",
        "| `errors` | 1.92% | 0.331% | fail |",
        "| `latency` | 219ms | 227ms | pass |",
    ] {
        assert!(comment.contains(want), "missing {want:?} in:\n{comment}");
    }
    assert!(read(preview.join("outputs.txt")).starts_with("outcome=rolled-back\n"));
    assert!(read(preview.join("summary.md")).contains("| `errors` | 1.92% | 0.331% | fail: "));
    assert!(String::from_utf8_lossy(&out.stderr).contains("GitHub preview in"));
}

#[test]
fn plan_errors_are_annotated_on_their_lines() {
    let dir = tempfile::tempdir().unwrap();
    let out = in_actions(
        dir.path(),
        &["validate", "fixtures/bad-plans/misspelled-key.yaml"],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("::error file=fixtures/bad-plans/misspelled-key.yaml,line=7,col=5,"),
        "{stdout}"
    );
    assert!(stdout.contains(",title=unknown-key::"), "{stdout}");
    assert!(stdout.contains("%0Ahelp: did you mean"), "{stdout}");
}

#[test]
fn a_refused_step_still_says_invalid_in_its_outputs_and_lists_why_in_the_job_summary() {
    // An invalid plan, through the action.
    let dir = tempfile::tempdir().unwrap();
    let plan = "fixtures/bad-plans/misspelled-key.yaml";
    let out = in_actions(
        dir.path(),
        &["action"],
        &[("ROLLGATE_PLAN", plan), ("ROLLGATE_MODE", "run")],
    );
    assert_eq!(out.status.code(), Some(2));
    let outputs = read(dir.path().join("output"));
    assert!(
        outputs.starts_with("outcome=invalid\nrun-id=\nfinal-weight=\nreport<<ROLLGATE_EOF\n## rollgate: `fixtures/bad-plans/misspelled-key.yaml` is invalid\n"),
        "{outputs}"
    );
    let summary = read(dir.path().join("summary"));
    for want in [
        "Nothing ran: no router was touched and no metric was read.",
        "- `fixtures/bad-plans/misspelled-key.yaml:7:5` error `unknown-key`: ",
        "  fix: did you mean",
        "Outcome: **invalid**.",
    ] {
        assert!(summary.contains(want), "missing {want:?} in:\n{summary}");
    }
    // The annotations are still there, on stdout.
    assert!(String::from_utf8_lossy(&out.stdout)
        .starts_with("::error file=fixtures/bad-plans/misspelled-key.yaml,line=7,"));

    // A fixture with a mistake, in a rehearsal: it is named, at its line, annotated too.
    let fixture = dir.path().join("bad-fixture.yaml");
    std::fs::write(&fixture, "queries:\n  q: { steps: [[5m, 1], [1m, 2]] }\n").unwrap();
    let out = in_actions(
        dir.path(),
        &[
            "dry-run",
            "workflows/linear.yaml",
            "--fixture",
            fixture.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    let outputs = read(dir.path().join("output"));
    let last = outputs.rsplit("outcome=").next().unwrap();
    assert!(last.starts_with("invalid\n"), "{outputs}");
    assert!(
        last.contains(&format!("- `{}:2:", fixture.display())),
        "{outputs}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("::error file="));

    // An input missing from the step.
    let out = in_actions(
        dir.path(),
        &["action"],
        &[
            ("ROLLGATE_PLAN", "workflows/linear.yaml"),
            ("ROLLGATE_MODE", "dry-run"),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let summary = read(dir.path().join("summary"));
    assert!(
        summary.ends_with("`mode: dry-run` replays a fixture; give the action's `fixture` input\n\nOutcome: **invalid**.\n\n"),
        "{summary}"
    );
}

#[test]
fn secrets_are_masked_and_never_written_to_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.yaml");
    std::fs::write(
        &plan,
        "name: masked\nproviders:\n  router: { kind: traffic-command, set: 'true' }\n  prom: { kind: prometheus, url: 'http://127.0.0.1:1', token: '${{ secrets.ROLLGATE_TEST_KEY }}' }\ninterval: 100ms\nchecks:\n  errors: { source: prom, canary: errors, max: 1% }\nstrategy:\n  canary: { weights: [100], observe: 200ms }\n",
    )
    .unwrap();
    let state = dir.path().join("state");
    let out = in_actions(
        dir.path(),
        &[
            "run",
            plan.to_str().unwrap(),
            "--state-dir",
            state.to_str().unwrap(),
        ],
        &[("ROLLGATE_TEST_KEY", "s3cr3t-v4lue")],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    // Prometheus is not there: the run is refused before any weight moves.
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("::add-mask::s3cr3t-v4lue\n"), "{stdout}");
    assert_eq!(
        stdout.matches("s3cr3t-v4lue").count(),
        1,
        "only in the mask: {stdout}"
    );
    let outputs = read(dir.path().join("output"));
    assert!(outputs.starts_with("outcome=failed\nrun-id=2"), "{outputs}");
    assert!(outputs.contains("final-weight=0\n"), "{outputs}");
    for entry in crate::support::walk(&state) {
        assert!(
            !read(entry.clone()).contains("s3cr3t-v4lue"),
            "{}",
            entry.display()
        );
    }
    assert!(!read(dir.path().join("summary")).contains("s3cr3t-v4lue"));
}

#[test]
fn the_action_declares_what_the_sample_workflow_uses() {
    let load = |p: &str| {
        rollgate::plan::load::load(p, &std::fs::read_to_string(root().join(p)).unwrap())
            .unwrap_or_else(|d| panic!("{p}: {d:?}"))
            .value
    };
    let action = load("action.yml");
    let keys =
        |v: &serde_json::Value| -> Vec<String> { v.as_object().unwrap().keys().cloned().collect() };
    assert_eq!(
        keys(&action["inputs"]),
        [
            "plan",
            "mode",
            "fixture",
            "inputs",
            "environment",
            "github-token"
        ]
    );
    assert_eq!(
        keys(&action["outputs"]),
        ["outcome", "run-id", "final-weight", "report"]
    );
    assert_eq!(action["runs"]["using"], "composite");
    // The last step calls the CLI and nothing else.
    let steps = action["runs"]["steps"].as_array().unwrap();
    assert_eq!(steps.last().unwrap()["run"], "rollgate action");
    // The sample uses the action at this version's release tag: a prebuilt binary, no compile.
    let deploy = load("workflows/github/deploy.yml");
    let ours = concat!("rollgate/rollgate@v", env!("CARGO_PKG_VERSION"));
    let mut used = 0;
    for step in deploy["jobs"]["rollout"]["steps"].as_array().unwrap() {
        let Some(uses) = step["uses"].as_str().filter(|u| u.starts_with("rollgate/")) else {
            continue;
        };
        assert_eq!(uses, ours);
        used += 1;
        for k in keys(&step["with"]) {
            assert!(
                action["inputs"].get(&k).is_some(),
                "the sample passes `{k}`"
            );
        }
    }
    assert_eq!(used, 4, "three rehearsals and the rollout");
}
