//! Everything a dry-run needs before it starts: contexts for expressions, the check that the
//! fixture answers every query, and the providers; shared by the CLI and the benchmark.

use super::{resolve_queries, Setup};
use crate::clock::Clock;
use crate::compile::compile;
use crate::diagnostics::{Code, Diagnostic};
use crate::event::Mode;
use crate::fixture::{Fixture, Scripted};
use crate::plan::input::InputType;
use crate::plan::{Plan, Scalar};
use crate::providers::{self, approvals::ApprovePolicy};
use crate::validate::Validated;
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// A dry-run ready to start; [`Prepared::setup`] makes its clock, inside the runtime that will
/// run it, so the clock reads that runtime's (paused) time from its first instant.
pub struct Prepared {
    plan: Plan,
    graph: crate::graph::StepGraph,
    providers: providers::Providers,
    contexts: Value,
    fixture: Arc<Fixture>,
}

impl Prepared {
    pub fn setup(self) -> Setup {
        let clock = Clock::starting_at(self.fixture.start);
        let cancel: super::Cancellation = match self
            .fixture
            .events
            .iter()
            .find(|e| e.what == Scripted::Cancel)
            .map(|e| e.at)
        {
            Some(at) => {
                let c = clock.clone();
                Box::pin(async move {
                    c.sleep_until(at).await;
                    crate::event::CANCELLED.to_string()
                })
            }
            None => super::never(),
        };
        Setup {
            plan: self.plan,
            graph: self.graph,
            providers: self.providers,
            clock,
            mode: Mode::DryRun,
            fixture: Some(self.fixture.path.clone()),
            contexts: self.contexts,
            cancel,
            journal: None,
            owner: None,
        }
    }
}

/// Why a dry-run cannot start.
pub enum NotReady {
    /// Inputs given wrongly or missing.
    Inputs(String),
    /// Queries the fixture does not answer, positioned in the plan.
    Queries(Vec<Diagnostic>),
}

/// Prepares a dry-run of `v` against `fixture`, with `inputs` as NAME=VALUE.
/// `approve` is the command line's choice, if it made one; else the fixture's; else all.
pub fn prepare(
    v: Validated,
    fixture: Arc<Fixture>,
    inputs: &[String],
    approve: Option<ApprovePolicy>,
) -> Result<Prepared, NotReady> {
    let from_fixture = fixture.approve_all.map(|all| {
        if all {
            ApprovePolicy::All
        } else {
            ApprovePolicy::None
        }
    });
    let approve = approve.or(from_fixture).unwrap_or(ApprovePolicy::All);
    // The fixture's inputs first, so the command line's win.
    let given: Vec<String> = fixture.inputs.iter().chain(inputs).cloned().collect();
    let contexts = contexts(&v.plan, &given).map_err(NotReady::Inputs)?;
    let missing = missing_queries(&v, &contexts, &fixture);
    if !missing.is_empty() {
        return Err(NotReady::Queries(missing));
    }
    let graph = compile(&v);
    let providers = providers::for_dry_run(&v.plan, fixture.clone(), approve);
    Ok(Prepared {
        plan: v.plan,
        graph,
        providers,
        contexts,
        fixture,
    })
}

/// `env`, `inputs`, `secrets` and `github` as a dry-run sees them: inputs from `--input` or
/// their defaults, no secrets, no GitHub event.
pub fn contexts(plan: &Plan, given: &[String]) -> Result<Value, String> {
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
    for (name, q) in resolve_queries(&v.plan, contexts) {
        for (at, query) in q.asked() {
            if fx.has_query(query) {
                continue;
            }
            let group = if at[0] == "samples" {
                "samples".to_string()
            } else {
                at.join(" ")
            };
            let path: Vec<String> = ["checks", name.as_str()]
                .iter()
                .chain(&at)
                .map(|s| s.to_string())
                .collect();
            out.push(
                Diagnostic::error(Code::MissingQuery, format!("{} has no answers for the {group} query of `{name}`: `{query}`", fx.path))
                    .at(Some(v.doc.span_of(&path)))
                    .help(format!("add it under `queries:` in {}, with Prometheus' range-query answer or `steps: [[0s, VALUE]]`", fx.path)),
            );
        }
    }
    out
}

/// The contexts of a real run (or of anything that talks to the plan's real services): the
/// inputs given, and each secret the plan's text reads.
pub fn real_contexts(plan: &Plan, given: &[String], plan_source: &str) -> Result<Value, String> {
    let mut c = contexts(plan, given)?;
    with_secrets(&mut c, plan_source)?;
    Ok(c)
}

/// Fills `secrets` for a real run: each `secrets.NAME` the plan reads comes from the
/// environment variable `NAME`; one that is not set is an error naming it.
fn with_secrets(contexts: &mut Value, plan_source: &str) -> Result<(), String> {
    let mut secrets = Map::new();
    for (i, _) in plan_source.match_indices("secrets.") {
        let name: String = plan_source[i + "secrets.".len()..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if name.is_empty() || secrets.contains_key(&name) {
            continue;
        }
        let value = std::env::var(&name).map_err(|_| {
            format!(
                "the plan reads `secrets.{name}`, and the environment variable `{name}` is not set"
            )
        })?;
        secrets.insert(name, Value::String(value));
    }
    contexts["secrets"] = Value::Object(secrets);
    Ok(())
}
