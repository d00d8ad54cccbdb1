//! Starting a new real run: the plan validated, its inputs and secrets read, its providers
//! built, the rollback rate limits and the concurrency group checked, GitHub connected, the
//! journal opened.

use super::{github, Error, How, LiveRun};
use crate::compile::compile;
use crate::expr::eval::{interpolate, Contexts};
use crate::journal::{self, Header, Store};
use crate::providers::Places;
use crate::runner::prepare::real_contexts;
use crate::validate::{validate, validate_file, Validated};
use chrono::Utc;
use std::sync::Arc;

/// What a new run is asked to be.
pub struct NewRun<'a> {
    /// The plan's path; its name when it came as text (`source`).
    pub plan: &'a str,
    /// The plan's text when it came from a request rather than a file: kept with the run.
    pub source: Option<&'a str>,
    pub inputs: &'a [String],
    /// Where runs are journaled.
    pub store: Arc<dyn Store>,
    /// The deployment environment, for `github` providers that name none.
    pub environment: &'a str,
}

/// The plan at `path`, validated, with its contexts (inputs, secrets); before anything else,
/// so a caller can keep the secrets' values out of its logs.
pub fn validated(path: &str, inputs: &[String]) -> Result<(Validated, serde_json::Value), Error> {
    let v = validate_file(path).map_err(|diagnostics| Error::Invalid {
        path: path.to_string(),
        source: std::fs::read_to_string(path).unwrap_or_default(),
        diagnostics,
    })?;
    let contexts = real_contexts(&v.plan, inputs, &v.doc.source).map_err(Error::Usage)?;
    Ok((v, contexts))
}

/// The same for a plan's text that came from somewhere other than a file (a request), named
/// `shown` in its diagnostics.
pub fn validated_text(
    shown: &str,
    source: &str,
    inputs: &[String],
) -> Result<(Validated, serde_json::Value), Error> {
    let v = validate(shown, source).map_err(|diagnostics| Error::Invalid {
        path: shown.to_string(),
        source: source.to_string(),
        diagnostics,
    })?;
    let contexts = real_contexts(&v.plan, inputs, &v.doc.source).map_err(Error::Usage)?;
    Ok((v, contexts))
}

/// Starts a new run of `v` (from [`validated`]). Inside the runtime it will run in: the
/// providers start tasks when built.
pub async fn start(
    asked: &NewRun<'_>,
    v: Validated,
    contexts: serde_json::Value,
) -> Result<LiveRun, Error> {
    let graph = compile(&v);
    let places = Places {
        plan_dir: match asked.source {
            Some(_) => None,
            None => std::fs::canonicalize(asked.plan)
                .ok()
                .and_then(|p| p.parent().map(std::path::Path::to_path_buf)),
        },
        work_dir: std::env::current_dir().ok(),
    };
    let providers = crate::providers::for_run(&v.plan, &graph, &contexts, &places).map_err(|missing| {
        let plan = asked.plan;
        let list: String = missing.iter().map(|m| format!("\n  - {m}")).collect();
        Error::Usage(format!("`rollgate run` cannot run {plan} yet:{list}\n  = help: rehearse it with `rollgate dry-run {plan} --fixture FILE`"))
    })?;
    let store = &asked.store;
    let started = Utc::now();
    // rollback.max-per-hour and cool-down, from the journals of this plan's earlier runs.
    let rb = &v.plan.rollback;
    journal::rollback_policy_allows(
        store.as_ref(),
        &v.plan.name,
        rb.max_per_hour,
        rb.cool_down.map(|d| d.0),
        started,
    )
    .map_err(Error::Failed)?;
    let (github, warnings) = github::connect(&v.plan, &graph, &providers)
        .await
        .map_err(Error::Failed)?;
    let run_id = store.new_run_id(started);
    let group = v
        .plan
        .concurrency
        .as_ref()
        .map(|c| interpolate(c.group(), &Contexts::plain(&contexts)));
    let lock = match &group {
        Some(g) => Some(store.lock(g, &run_id, false).map_err(Error::Failed)?),
        None => None,
    };
    let header = Header {
        run_id: run_id.clone(),
        plan: asked.plan.to_string(),
        plan_file: match asked.source {
            Some(_) => None,
            None => std::fs::canonicalize(asked.plan)
                .ok()
                .map(|p| p.display().to_string()),
        },
        plan_sha256: journal::sha256(&v.doc.source),
        plan_source: asked.source.map(str::to_string),
        inputs: asked.inputs.to_vec(),
        started_at: started,
        pid: std::process::id(),
        concurrency: group,
        environment: Some(asked.environment.to_string()),
        host: Some(journal::this_host()),
        dir: places.work_dir.map(|d| d.display().to_string()),
    };
    let journal = store.create(&header)?;
    let lease = store.claim(&run_id).map_err(Error::Failed)?;
    Ok(LiveRun {
        plan: v.plan,
        graph,
        providers,
        contexts,
        started_at: started,
        already: std::time::Duration::ZERO,
        journal,
        lease,
        store: store.clone(),
        run_id,
        environment: asked.environment.to_string(),
        github,
        warnings,
        how: How::New,
        _lock: lock,
        append_timing: None,
    })
}
