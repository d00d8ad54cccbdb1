//! `rollgate dry-run`: plans rehearsed against fixtures in virtual time, asserted through the
//! JSON events the real binary prints.

use crate::support::{rollgate, Run};
use serde_json::Value;

fn events(run: &Run) -> Vec<Value> {
    run.stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn dry_run(plan: &str, fixture: &str, extra: &[&str]) -> (i32, Vec<Value>) {
    let mut args = vec!["dry-run", plan, "--fixture", fixture, "--json"];
    args.extend(extra);
    let run = rollgate(&args);
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    let code = run.code;
    (code, events(&run))
}

fn weights(events: &[Value]) -> Vec<u64> {
    events
        .iter()
        .filter(|e| e["event"] == "weight-shifted")
        .filter_map(|e| e["to"]["percent"].as_u64())
        .collect()
}

fn of<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["event"] == kind).collect()
}

#[test]
fn a_healthy_canary_walks_every_phase_and_is_promoted() {
    let (code, ev) = dry_run(
        "workflows/haproxy-canary.yaml",
        "fixtures/metrics/haproxy-canary/healthy.yaml",
        &[],
    );
    assert_eq!(code, 0);
    assert_eq!(weights(&ev), vec![5, 25, 50, 100]);
    let last = ev.last().unwrap();
    assert_eq!(
        (last["event"].as_str(), last["outcome"].as_str()),
        (Some("run-finished"), Some("promoted"))
    );
    // Four phases of 10 minutes, in virtual time.
    assert_eq!(last["t"], 2400.0);
    assert!(of(&ev, "check-evaluated")
        .iter()
        .all(|e| e["verdict"] == "pass"));
    assert_eq!(
        of(&ev, "check-evaluated").len(),
        4 * 20 * 2,
        "two checks every 30 s for 40 minutes"
    );
}

#[test]
fn an_error_spike_at_25_percent_rolls_back_naming_check_value_and_threshold() {
    let (code, ev) = dry_run(
        "workflows/haproxy-canary.yaml",
        "fixtures/metrics/haproxy-canary/error-spike-at-25.yaml",
        &[],
    );
    assert_eq!(code, 3);
    assert_eq!(
        weights(&ev),
        vec![5, 25, 0],
        "back to the state before the first shift, and nothing after"
    );
    let rb = of(&ev, "rollback-started");
    assert_eq!(rb.len(), 1);
    let reason = &rb[0]["reason"];
    assert_eq!(reason["check"], "error-rate");
    assert_eq!(reason["value"], 0.08);
    assert_eq!(reason["step"], "canary-25.observe");
    assert_eq!(
        reason["threshold"],
        "max 1%, critical 2x, +0.5pp vs baseline"
    );
    assert_eq!(
        rb[0]["t"], 720.0,
        "the first evaluation after the spike at 12m"
    );
    assert_eq!(
        of(&ev, "rollback-finished")[0]["verified"],
        true,
        "stable is healthy after the rollback"
    );
    assert_eq!(ev.last().unwrap()["outcome"], "rolled-back");
}

#[test]
fn the_report_explains_the_outcome() {
    let run = rollgate(&[
        "dry-run",
        "workflows/haproxy-canary.yaml",
        "--fixture",
        "fixtures/metrics/haproxy-canary/error-spike-at-25.yaml",
    ]);
    assert_eq!(run.code, 3);
    assert!(
        run.stdout
            .contains("ROLLBACK (immediate): error-rate 8% > critical 2% at canary-25.observe"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("outcome: Rolled back after 14m00s of virtual time"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("error-rate         ▁"),
        "a chart per check:\n{}",
        run.stdout
    );
}

#[test]
fn a_fixture_missing_a_query_is_refused_before_anything_moves() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("empty.yaml");
    std::fs::write(&f, "start: 2026-03-01T12:00:00Z\nqueries: {}\n").unwrap();
    let run = rollgate(&[
        "dry-run",
        "workflows/haproxy-canary.yaml",
        "--fixture",
        f.to_str().unwrap(),
    ])
    .invalid();
    assert!(run.stdout.is_empty());
    assert!(
        run.stderr
            .contains("workflows/haproxy-canary.yaml:53:13: error[missing-query]"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(
            "has no answers for the canary query of `p95-latency`: `histogram_quantile(0.95"
        ),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("= help: add it under `queries:`"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_bad_fixture_names_the_file_the_query_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("bad.yaml");
    std::fs::write(&f, "start: 2026-03-01T12:00:00Z\nqueries:\n  q:\n    data: { resultType: matrix, result: [{ metric: {}, values: [[1772366460, \"0.1\"], [1772366400, \"NaN\"]] }] }\n").unwrap();
    let path = f.to_str().unwrap();
    let run = rollgate(&[
        "dry-run",
        "workflows/haproxy-canary.yaml",
        "--fixture",
        path,
    ])
    .invalid();
    assert!(run.stderr.contains(&format!("{path}:4:")), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("error[bad-fixture]: the samples of `q` are not in time order"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("sort the samples by time"),
        "{}",
        run.stderr
    );
}

#[test]
fn gates_follow_the_fixture_or_the_approve_policy() {
    // model-config waits for approval at canary-50; nobody answers, and its timeout rolls back.
    let dir = tempfile::tempdir().unwrap();
    let plan = "workflows/model-config-rollout.yaml";
    let q = serde_json::from_str::<Value>(
        &rollgate(&["graph", plan, "--format", "json"])
            .success()
            .stdout,
    )
    .unwrap();
    assert!(q["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n["id"] == "canary-50.gate"));
    let fixture = dir.path().join("f.yaml");
    let run = rollgate(&[
        "dry-run",
        plan,
        "--fixture",
        fixture.to_str().unwrap(),
        "--input",
        "model=m2",
    ])
    .invalid();
    assert!(
        run.stderr.contains("error[io]: cannot read the fixture"),
        "{}",
        run.stderr
    );
    std::fs::write(
        &fixture,
        healthy_fixture_for(plan, &["--input", "model=m2"]),
    )
    .unwrap();
    let (code, ev) = dry_run(
        plan,
        fixture.to_str().unwrap(),
        &["--input", "model=m2", "--approve", "none"],
    );
    assert_eq!(code, 3);
    let decided = of(&ev, "gate-decided");
    assert_eq!(
        (decided[0]["step"].as_str(), decided[0]["decision"].as_str()),
        (Some("canary-50.gate"), Some("timed-out"))
    );
    let (code, ev) = dry_run(
        plan,
        fixture.to_str().unwrap(),
        &["--input", "model=m2", "--approve", "all"],
    );
    assert_eq!(code, 0);
    assert_eq!(weights(&ev), vec![0, 1, 5, 25, 50, 100]);
}

/// A fixture answering every query the plan asks with a small healthy value, built from the
/// `missing-query` diagnostics (which list each query exactly as the plan states it).
fn healthy_fixture_for(plan: &str, extra: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.yaml");
    std::fs::write(&empty, "start: 2026-03-01T12:00:00Z\nqueries: {}\n").unwrap();
    let mut args = vec![
        "dry-run",
        plan,
        "--fixture",
        empty.to_str().unwrap(),
        "--json",
    ];
    args.extend(extra);
    let run = rollgate(&args);
    let mut queries = std::collections::BTreeMap::new();
    for line in run
        .stderr
        .lines()
        .filter(|l| l.contains("error[missing-query]"))
    {
        let query = line
            .rsplit_once(": `")
            .unwrap()
            .1
            .trim_end_matches('`')
            .to_string();
        let value = if line.contains("of `success-rate`") {
            "0.999"
        } else if line.contains("of `quality-rating`") {
            "4.5"
        } else if line.contains("samples query") {
            "5000"
        } else {
            "0.001"
        };
        queries.entry(query).or_insert(value);
    }
    let mut out = String::from("start: 2026-03-01T12:00:00Z\nqueries:\n");
    for (query, value) in queries {
        out += &format!(
            "  '{}': {{ steps: [[0s, {value}]] }}\n",
            query.replace('\'', "''")
        );
    }
    out
}

#[test]
fn every_shipped_fixture_does_what_it_expects() {
    let dirs: Vec<_> = std::fs::read_dir(crate::support::root().join("fixtures/metrics"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    assert!(!dirs.is_empty());
    let mut checked = 0;
    for dir in dirs {
        let plan_name = dir.file_name().unwrap().to_string_lossy().to_string();
        let plan = format!("workflows/{plan_name}.yaml");
        assert!(
            crate::support::root().join(&plan).is_file(),
            "fixtures/metrics/{plan_name}/ has no plan {plan}"
        );
        for fixture in crate::support::files(&format!("fixtures/metrics/{plan_name}"), "yaml") {
            let text = std::fs::read_to_string(crate::support::root().join(&fixture)).unwrap();
            let expect = rollgate::fixture::parse(&fixture, &text)
                .unwrap()
                .expect
                .unwrap_or_else(|| {
                    panic!("{fixture} says nothing about what it should produce (`expect:`)")
                });
            let code = match expect.outcome.as_str() {
                "promoted" => 0,
                "rolled-back" => 3,
                _ => 4,
            };
            let run = rollgate(&["dry-run", &plan, "--fixture", &fixture]);
            assert_eq!(run.code, code, "{fixture}:\n{}{}", run.stdout, run.stderr);
            assert!(
                run.stdout.contains("as the fixture expects:"),
                "{fixture}:\n{}",
                run.stdout
            );
            checked += 1;
        }
    }
    // Every example plan is rehearsed: healthy, and at least one way of going wrong.
    for plan in crate::support::files("workflows", "yaml") {
        let stem = plan
            .trim_start_matches("workflows/")
            .trim_end_matches(".yaml");
        let fixtures = crate::support::files(&format!("fixtures/metrics/{stem}"), "yaml");
        assert!(
            fixtures.len() >= 2 && fixtures.iter().any(|f| f.ends_with("/healthy.yaml")),
            "{plan} needs a healthy fixture and a failing one in fixtures/metrics/{stem}/"
        );
    }
    assert!(checked >= 16, "only {checked} fixtures");
}

#[test]
fn a_plan_that_does_not_do_what_its_fixture_expects_fails_the_dry_run() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("f.yaml");
    let healthy = std::fs::read_to_string(
        crate::support::root().join("fixtures/metrics/haproxy-canary/healthy.yaml"),
    )
    .unwrap();
    std::fs::write(
        &f,
        healthy.replace(
            "expect: { outcome: promoted }",
            "expect: { outcome: rolled-back, at: canary-25 }",
        ),
    )
    .unwrap();
    let run = rollgate(&[
        "dry-run",
        "workflows/haproxy-canary.yaml",
        "--fixture",
        f.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("the plan did not do what the fixture expects: expected rolled-back at canary-25, got promoted"), "{}", run.stderr);
}

#[test]
fn the_sequential_test_rolls_back_a_doubled_error_rate_and_says_why() {
    let plan = "workflows/statistical-canary.yaml";
    let (code, ev) = dry_run(
        plan,
        "fixtures/metrics/statistical-canary/canary-errors-2x.yaml",
        &[],
    );
    assert_eq!(code, 3);
    let reason = &of(&ev, "rollback-started")[0]["reason"];
    assert_eq!(reason["check"], "errors");
    let e = &reason["evidence"];
    assert!(e["e_value"].as_f64().unwrap() >= 100.0, "{e}");
    assert_eq!(e["bound"], 100.0);
    assert!(e["ratio"].as_f64().unwrap() > 1.5, "{e}");
    assert!(reason["message"].as_str().unwrap().contains("e-value"));
    // Every evaluation says how it was judged and with what evidence.
    let evaluated = of(&ev, "check-evaluated");
    assert!(evaluated.iter().all(|e| e["method"] == "sequential"));
    assert!(evaluated
        .iter()
        .skip(2)
        .all(|e| e["evidence"]["e_value"].is_number()));
}

#[test]
fn latency_is_judged_from_whole_histograms_of_any_layout() {
    for (fixture, bound) in [
        ("canary-p99-plus-20", 0.25),
        ("canary-p99-plus-20-other-buckets", 0.3),
    ] {
        let (code, ev) = dry_run(
            "workflows/statistical-canary.yaml",
            &format!("fixtures/metrics/statistical-canary/{fixture}.yaml"),
            &[],
        );
        assert_eq!(code, 3, "{fixture}");
        let reason = &of(&ev, "rollback-started")[0]["reason"];
        assert_eq!(reason["check"], "latency");
        // The leading comparison: canary requests slower than one of its bucket bounds against
        // the baseline's slower than that bound less the 10% tolerance.
        let slower = &reason["evidence"]["slower"];
        assert_eq!(slower["canary_than"], bound, "{fixture}: {slower}");
        let baseline_than = slower["baseline_than"].as_f64().unwrap();
        assert!((baseline_than - bound / 1.1).abs() < 1e-9, "{slower}");
        let message = reason["message"].as_str().unwrap();
        assert!(
            message.contains(" of canary requests slower than ") && message.contains("e-value"),
            "{message}"
        );
        // Every evaluation after the zero point is judged, the value being the interval's p90.
        let latency: Vec<_> = of(&ev, "check-evaluated")
            .into_iter()
            .filter(|e| e["check"] == "latency")
            .collect();
        assert!(latency
            .iter()
            .all(|e| e["method"] == "sequential" && e["evidence"]["e_value"].is_number()));
        let p90 = latency[0]["value"].as_f64().unwrap();
        assert!((0.15..0.35).contains(&p90), "{fixture}: p90 {p90}");
    }
    // A healthy canary with the same histograms promotes.
    let (code, _) = dry_run(
        "workflows/statistical-canary.yaml",
        "fixtures/metrics/statistical-canary/healthy.yaml",
        &[],
    );
    assert_eq!(code, 0);
}

#[test]
fn an_incident_on_both_versions_is_not_the_canarys_fault() {
    let (code, ev) = dry_run(
        "workflows/statistical-canary.yaml",
        "fixtures/metrics/statistical-canary/incident-on-both-versions.yaml",
        &[],
    );
    assert_eq!(code, 0);
    // The canary's own error rate rose tenfold for a quarter of an hour; the baseline's too.
    let peak = of(&ev, "check-evaluated")
        .iter()
        .filter(|e| e["check"] == "errors")
        .filter_map(|e| e["value"].as_f64())
        .fold(0.0, f64::max);
    assert!(peak > 0.03, "{peak}");
}

#[test]
fn mann_whitney_judges_each_window_and_reports_its_statistic() {
    let (code, ev) = dry_run(
        "workflows/judged-canary.yaml",
        "fixtures/metrics/judged-canary/cpu-regression.yaml",
        &[],
    );
    // CPU weighs 1 of 5: its High makes the score 0.8, marginal, and the rollout pauses; nobody
    // continues it, so it rolls back when the pause times out.
    assert_eq!(code, 3);
    let paused = of(&ev, "paused")[0];
    assert!(paused["reason"]["message"]
        .as_str()
        .unwrap()
        .contains("health score 0.80 is marginal, below pass 0.95 (failing: cpu)"));
    let finished = of(&ev, "run-finished")[0];
    assert!(finished["reason"]["message"].as_str().unwrap().ends_with(
        "(failing: cpu) at canary-25.evaluate; paused, and nobody continued it within 30m"
    ));
    let judged: Vec<&Value> = of(&ev, "check-evaluated")
        .into_iter()
        .filter(|e| e["method"] == "mann-whitney" && e["check"] == "cpu")
        .collect();
    // One judgment per window: canary-10 passes, canary-25 finds the canary High.
    assert_eq!(judged.len(), 2, "{judged:?}");
    assert_eq!(judged[0]["verdict"], "pass");
    assert_eq!(judged[1]["verdict"], "fail");
    assert!(judged[1]["p_value"].as_f64().unwrap() < 0.01);
    assert_eq!(
        judged[1]["statistic"], 100.0,
        "all ten canary values above stable's"
    );
    // The z-test on failures judged each window too, and passed.
    assert!(of(&ev, "check-evaluated")
        .iter()
        .filter(|e| e["method"] == "z-test")
        .all(|e| e["verdict"] == "pass"));
}

#[test]
fn a_rehearsal_records_the_messages_the_plan_would_send_to_chat() {
    // `notify: { to: [gh, chat], on: [gate-waiting, rolled-back, promoted] }`: the chat gets
    // the events it listens to; `gh` keeps the PR comment (see --github-preview) instead.
    let (code, events) = dry_run(
        "workflows/multi-region-waves.yaml",
        "fixtures/metrics/multi-region-waves/errors-in-second-wave.yaml",
        &[],
    );
    assert_eq!(code, 3);
    let told = of(&events, "notification-skipped");
    let messages: Vec<&str> = told
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages.len(), 2, "{messages:#?}");
    assert_eq!(
        messages[0],
        "api multi-region waves: waiting for approval: sign-off waits for approval by my-org/sre."
    );
    assert!(
        messages[1].starts_with(
            "api multi-region waves: rolled back: Rolled back: error-rate 1.5% > max 1%"
        ),
        "{}",
        messages[1]
    );
    assert!(told.iter().all(|e| e["to"] == serde_json::json!(["chat"])));
}

#[test]
fn while_a_trigger_holds_the_run_the_other_triggers_still_roll_it_back() {
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.yaml");
    std::fs::write(
        &plan,
        "name: held\nproviders:\n  edge: { kind: traffic-command, set: 'true' }\n  prom: { kind: prometheus, url: 'http://127.0.0.1:9090' }\ninterval: 1m\nchecks:\n  errors: { source: prom, canary: errors, max: 90% }\ntriggers:\n  - { check: errors, above: 5%, then: pause }\n  - { check: errors, above: 20%, then: rollback }\npause: { timeout: 1h }\nstrategy:\n  canary: { weights: [25, 100], observe: 10m }\n",
    )
    .unwrap();
    let fixture = dir.path().join("f.yaml");
    std::fs::write(
        &fixture,
        "start: 2026-03-01T12:00:00Z\nqueries:\n  errors:\n    steps: [[0s, 0.01], [3m, 0.1], [10m, 0.3]]\n",
    )
    .unwrap();
    let (code, ev) = dry_run(plan.to_str().unwrap(), fixture.to_str().unwrap(), &[]);
    assert_eq!(code, 3, "{ev:#?}");
    assert_eq!(of(&ev, "paused").len(), 1, "the pause fires once");
    let fired: Vec<&Value> = of(&ev, "trigger-fired");
    assert_eq!(fired.len(), 2, "{fired:?}");
    let finished = of(&ev, "run-finished")[0];
    let why = finished["reason"]["message"].as_str().unwrap();
    assert!(why.starts_with("trigger: errors 30%, above 20%"), "{why}");
    assert!(
        finished["t"].as_f64().unwrap() < 3600.0,
        "rolled back by the trigger, not by the pause's hour"
    );
    assert_eq!(weights(&ev), [25, 0], "held at 25% until the rollback");
}

#[test]
fn a_rollbacks_figures_agree_everywhere_and_say_what_they_cover() {
    use rollgate::analysis::threshold::show;
    use rollgate::plan::check::Unit;
    let (plan, fixture) = (
        "workflows/statistical-canary.yaml",
        "fixtures/metrics/statistical-canary/canary-errors-2x.yaml",
    );
    let (_, all) = dry_run(plan, fixture, &[]);
    let reason = &all
        .iter()
        .find(|e| e["event"] == "rollback-started")
        .unwrap()["reason"];
    let evaluated = all
        .iter()
        .rfind(|e| e["event"] == "check-evaluated" && e["check"] == "errors")
        .unwrap();
    // The event that decided and the reason carry the same figures.
    assert_eq!(reason["value"], evaluated["value"]);
    assert_eq!(reason["baseline"], evaluated["baseline"]);
    assert_eq!(reason["evidence"], evaluated["evidence"]);
    let f = |v: &Value| show(v.as_f64().unwrap(), Unit::Ratio);
    let over_the_run = format!(
        "{} vs baseline {} over the run so far",
        f(&reason["evidence"]["canary_rate"]),
        f(&reason["evidence"]["baseline_rate"])
    );
    let last_interval = format!(
        "its last interval: canary {}, baseline {}",
        f(&reason["value"]),
        f(&reason["baseline"])
    );
    assert!(
        reason["message"].as_str().unwrap().contains(&over_the_run),
        "{reason}"
    );
    // The terminal, the job summary and the PR comment say the same, labelled.
    let dir = tempfile::tempdir().unwrap();
    let preview = dir.path().to_str().unwrap();
    let terminal = rollgate(&[
        "dry-run",
        plan,
        "--fixture",
        fixture,
        "--github-preview",
        preview,
    ]);
    assert!(
        terminal.stdout.contains(&over_the_run),
        "{}",
        terminal.stdout
    );
    for file in ["summary.md", "pr-comment.md"] {
        let text = std::fs::read_to_string(dir.path().join(file)).unwrap();
        assert!(text.contains(&over_the_run), "{file}: {text}");
        assert!(text.contains(&last_interval), "{file}: {text}");
        assert!(text.contains("canary (last interval)"), "{file}: {text}");
    }
}
