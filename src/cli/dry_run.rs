//! `rollgate dry-run PLAN --fixture FILE`: rehearse a plan against recorded metrics in virtual time.

use super::{exit, report, Io};
use crate::compile::compile;
use crate::diagnostics::{render_human, Code, Diagnostic};
use crate::fixture::{self, Fixture, Scripted};
use crate::plan::input::InputType;
use crate::plan::{Plan, Scalar};
use crate::providers::{self, approvals::ApprovePolicy};
use crate::runner::{self, clock::Clock, events::Mode, Setup};
use crate::validate::{validate_file, Validated};
use serde_json::{json, Map, Value};
use std::sync::Arc;

pub struct Args<'a> {
    pub plan: &'a str,
    pub fixture: &'a str,
    pub approve: ApprovePolicy,
    pub inputs: &'a [String],
    pub json: bool,
}

/// `env`, `inputs`, `secrets` and `github` as a dry-run sees them: inputs from `--input` or
/// their defaults, no secrets, no GitHub event.
fn contexts(plan: &Plan, given: &[String]) -> Result<Value, String> {
    let mut inputs = Map::new();
    for raw in given {
        let (k, v) = raw
            .split_once('=')
            .ok_or_else(|| format!("`--input {raw}`: write NAME=VALUE"))?;
        let Some(decl) = plan.inputs.get(k) else {
            let names: Vec<&str> = plan.inputs.keys().map(String::as_str).collect();
            return Err(format!(
                "the plan has no input `{k}`; {}",
                crate::diagnostics::suggest(k, &names, "its inputs: ", "it declares none")
            ));
        };
        let value = match decl.type_ {
            InputType::Number => v
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number)
                .ok_or_else(|| format!("input `{k}` is a number, not `{v}`"))?,
            InputType::Boolean => v
                .parse::<bool>()
                .map(Value::Bool)
                .map_err(|_| format!("input `{k}` is true or false, not `{v}`"))?,
            InputType::Choice
                if !decl
                    .options
                    .as_deref()
                    .unwrap_or_default()
                    .iter()
                    .any(|o| o == v) =>
            {
                return Err(format!(
                    "input `{k}` is one of {}, not `{v}`",
                    decl.options.as_deref().unwrap_or_default().join(", ")
                ));
            }
            InputType::String | InputType::Choice => Value::String(v.to_string()),
        };
        inputs.insert(k.to_string(), value);
    }
    for (k, decl) in &plan.inputs {
        if !inputs.contains_key(k) {
            match &decl.default {
                Some(d) => {
                    inputs.insert(k.clone(), d.clone());
                }
                None if decl.required => {
                    return Err(format!("input `{k}` is required: pass `--input {k}=VALUE`"))
                }
                None => {}
            }
        }
    }
    let env: Map<String, Value> = plan
        .env
        .iter()
        .map(|(k, v)| {
            let v = match v {
                Scalar::String(s) => Value::String(s.clone()),
                Scalar::Number(n) => json!(n),
                Scalar::Bool(b) => Value::Bool(*b),
            };
            (k.clone(), v)
        })
        .collect();
    Ok(json!({ "env": env, "inputs": inputs, "secrets": {}, "github": {}, "steps": {} }))
}

/// Every query the plan will ask must be in the fixture; each missing one points at the check.
fn missing_queries(v: &Validated, contexts: &Value, fx: &Fixture) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (name, q) in runner::resolve_queries(&v.plan, contexts) {
        let asked = [
            ("canary", Some(&q.canary)),
            ("baseline", q.baseline.as_ref()),
            ("samples", q.samples.as_ref()),
        ];
        for (group, query) in asked {
            let Some(query) = query.filter(|q| !fx.has_query(q)) else {
                continue;
            };
            let path: Vec<String> = if group == "samples" {
                vec![
                    "checks".into(),
                    name.clone(),
                    "samples".into(),
                    "canary".into(),
                ]
            } else {
                vec!["checks".into(), name.clone(), group.into()]
            };
            out.push(
                Diagnostic::error(Code::MissingQuery, format!("{} has no answers for the {group} query of `{name}`: `{query}`", fx.path))
                    .at(Some(v.doc.span_of(&path)))
                    .help(format!("add it under `queries:` in {}, with Prometheus' range-query answer or `steps: [[0s, VALUE]]`", fx.path)),
            );
        }
    }
    out
}

pub fn run(a: Args<'_>, io: &mut Io<'_>) -> std::io::Result<i32> {
    let v = match validate_file(a.plan) {
        Ok(v) => v,
        Err(diags) => {
            report(
                a.plan,
                &std::fs::read_to_string(a.plan).unwrap_or_default(),
                &diags,
                io,
            )?;
            return Ok(exit::INVALID);
        }
    };
    let fx_source = match std::fs::read_to_string(a.fixture) {
        Ok(s) => s,
        Err(e) => {
            writeln!(
                io.err,
                "{}: error[io]: cannot read the fixture: {e}",
                a.fixture
            )?;
            return Ok(exit::INVALID);
        }
    };
    let fx = match fixture::parse(a.fixture, &fx_source) {
        Ok(f) => Arc::new(f),
        Err(diags) => {
            write!(io.err, "{}", render_human(a.fixture, &fx_source, &diags))?;
            return Ok(exit::INVALID);
        }
    };
    let contexts = match contexts(&v.plan, a.inputs) {
        Ok(c) => c,
        Err(e) => {
            writeln!(io.err, "rollgate: {e}")?;
            return Ok(exit::INVALID);
        }
    };
    let missing = missing_queries(&v, &contexts, &fx);
    if !missing.is_empty() {
        report(a.plan, &v.doc.source, &missing, io)?;
        return Ok(exit::INVALID);
    }
    let graph = compile(&v);
    let cancel_at = fx
        .events
        .iter()
        .find(|e| e.what == Scripted::Cancel)
        .map(|e| e.at);
    let providers = providers::for_dry_run(&v.plan, fx.clone(), a.approve);
    // A paused clock: time jumps to the next timer whenever every task waits. The run's clock
    // is made inside the runtime, so that it reads paused time from its first instant.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let outcome = rt.block_on(async {
        let setup = Setup {
            providers,
            plan: v.plan,
            graph,
            clock: Clock::starting_at(fx.start),
            mode: Mode::DryRun,
            contexts,
            cancel_at,
        };
        runner::run(setup, tx).await
    });
    let mut events = Vec::new();
    while let Ok(e) = rx.try_recv() {
        if a.json {
            writeln!(io.out, "{}", crate::report::json::line(&e))?;
        } else if let Some(l) = crate::report::terminal::line(&e) {
            writeln!(io.out, "{l}")?;
        }
        events.push(e);
    }
    if !a.json {
        write!(io.out, "{}", crate::report::summary::render(&events))?;
    }
    if let Some(expect) = &fx.expect {
        match crate::report::expectation::verify(expect, &events) {
            Ok(got) if !a.json => writeln!(io.out, "as the fixture expects: {got}")?,
            Ok(_) => {}
            Err(differs) => {
                writeln!(
                    io.err,
                    "{}: the plan did not do what the fixture expects: {differs}",
                    a.fixture
                )?;
                return Ok(exit::FAILURE);
            }
        }
    }
    Ok(outcome.exit_code())
}
