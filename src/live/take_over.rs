//! Taking over a run that stopped without finishing (killed, crashed, the machine went away):
//! put its routers back as they were before its first shift, or carry it on when its plan says
//! `resume: continue`. A rollback asked of a run that is not running takes it over the same way.

use super::{github, Error, How, LiveRun};
use crate::compile::compile;
use crate::journal::{self, Store};
use crate::providers::Places;
use crate::runner::{prepare::real_contexts, Journaled, TakeOver};
use crate::validate::validate;
use chrono::Utc;
use std::sync::Arc;

/// What taking over a run does.
pub enum Then {
    /// As the plan's `resume` says (a run that stopped without finishing).
    Resume,
    /// Roll back a run that stopped without finishing, for this reason.
    RollBack(String),
    /// Put back the routers of a run that ended, for this reason.
    PutBack(String),
    /// Roll back, for this reason, a run this process drove whose task ended without finishing
    /// it (it panicked): this process knows nobody drives it, though its pid is alive.
    Recover(String),
}

/// A run to take over, or why there is nothing to do.
pub enum Resumable {
    Live(Box<LiveRun>),
    /// It already finished: what to tell the user.
    Finished(String),
}

/// Takes run `run_id` in `store` over. Inside the runtime it will run in.
pub async fn take_over(
    run_id: &str,
    store: Arc<dyn Store>,
    then: Then,
) -> Result<Resumable, Error> {
    let record = store.read(run_id).map_err(|e| {
        Error::Usage(format!(
            "no run `{run_id}` in {} ({e}); `rollgate history` lists the runs",
            store.location()
        ))
    })?;
    // A run that finished but left a router off its state is not done with: it is put back.
    let then = match (record.outcome(), then) {
        (Some(outcome), Then::Resume | Then::RollBack(_) | Then::Recover(_)) => {
            match record.left_off() {
                Some(off) => Then::PutBack(format!("run {run_id} ended {outcome} but left {off}")),
                None => {
                    return Ok(Resumable::Finished(format!(
                        "run {run_id} already finished: {outcome}; nothing to resume"
                    )))
                }
            }
        }
        (_, then) => then,
    };
    match (record.outcome(), &then) {
        (None, _) if record.owned == Some(true) => {
            return Err(Error::Failed(format!("run {run_id} is owned by another process, which renews its lease; stop it with SIGTERM or `rollgate rollback {run_id}`, or take it over once its lease runs out")));
        }
        (None, Then::Resume | Then::RollBack(_) | Then::PutBack(_)) if record.driven() => {
            if let Some(host) = record
                .header
                .host
                .as_ref()
                .filter(|h| **h != journal::this_host())
            {
                return Err(Error::Failed(format!("run {run_id} ran on {host} (pid {}), where this machine cannot tell whether it still runs; take it over from {host}, or stop it there with SIGTERM or `rollgate rollback {run_id}`", record.header.pid)));
            }
            return Err(Error::Failed(format!("run {run_id} is still running (pid {}); stop it with SIGTERM or `rollgate rollback {run_id}`, which roll it back", record.header.pid)));
        }
        _ => {}
    }
    let plan_path = record.plan_file().to_string();
    let sha = &record.header.plan_sha256;
    let source = match &record.header.plan_source {
        Some(text) => text.clone(),
        None => std::fs::read_to_string(&plan_path).map_err(|e| {
            Error::Failed(format!("cannot read {plan_path}, the plan run {run_id} ran: {e}; put the plan back there (SHA-256 {sha}) to take the run over"))
        })?,
    };
    if journal::sha256(&source) != *sha {
        return Err(Error::Failed(format!("{plan_path} changed since run {run_id} started; restore the plan it ran (SHA-256 {sha}) to take the run over")));
    }
    let v = validate(&plan_path, &source).map_err(|_| {
        Error::Failed(format!("{plan_path} no longer validates with this rollgate; take run {run_id} over with the version that started it"))
    })?;
    let contexts =
        real_contexts(&v.plan, &record.header.inputs, &v.doc.source).map_err(Error::Failed)?;
    let graph = compile(&v);
    // Relative paths as the run that started it meant them, from wherever this is.
    let places = Places {
        plan_dir: std::path::Path::new(&plan_path)
            .parent()
            .map(std::path::Path::to_path_buf)
            .filter(|_| record.header.plan_source.is_none()),
        // Gone on this machine, commands run where this process does rather than not at all.
        work_dir: record
            .header
            .dir
            .as_ref()
            .map(std::path::PathBuf::from)
            .filter(|d| d.is_dir()),
    };
    let providers =
        crate::providers::for_run(&v.plan, &graph, &contexts, &places).map_err(|missing| {
            Error::Failed(format!(
                "cannot take run {run_id} over: {}",
                missing.join("; ")
            ))
        })?;
    // Owned first: the group's lock is then this process's to take back, from any machine.
    let lease = store.claim(run_id).map_err(Error::Failed)?;
    let lock = match &record.header.concurrency {
        Some(g) => Some(store.lock(g, run_id, true).map_err(Error::Failed)?),
        None => None,
    };
    let journal = store.reopen(run_id)?;
    let from = Journaled {
        routers: record.routers(),
        died_at: record.last_step().map(str::to_string),
        done_steps: record.done_steps(),
        rolling_back: record.rolling_back(),
    };
    // The resumed run keeps the original's time: `max-duration` counts from its start.
    let already = (Utc::now() - record.header.started_at)
        .to_std()
        .unwrap_or_default();
    let (github, warnings) = github::connect(&v.plan, &graph, &providers)
        .await
        .map_err(Error::Failed)?;
    Ok(Resumable::Live(Box::new(LiveRun {
        github,
        environment: record
            .header
            .environment
            .clone()
            .unwrap_or_else(|| crate::github::DEFAULT_ENVIRONMENT.into()),
        plan: v.plan,
        graph,
        providers,
        contexts,
        started_at: record.header.started_at,
        already,
        journal,
        lease,
        run_id: run_id.to_string(),
        store,
        warnings,
        how: How::TakenOver {
            from,
            then: match then {
                Then::Resume if record.handed_over() => TakeOver::CarryOn,
                Then::Resume => TakeOver::AsPlanned,
                Then::RollBack(why) | Then::Recover(why) => TakeOver::RollBack(why),
                Then::PutBack(why) => TakeOver::PutBack(why),
            },
        },
        _lock: lock,
        append_timing: None,
    })))
}
