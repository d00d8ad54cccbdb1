//! `rollgate resume RUN`: take over a run that stopped without finishing (killed, crashed, the
//! machine went away) and put its routers back as they were before its first shift, or carry
//! it on when its plan says `resume: continue`. `rollgate rollback RUN` of a run that is not
//! running takes it over the same way, to roll it back or put its routers back.

use super::run::{in_real_time, RealRun};
use super::{exit, Io, DEFAULT_ENVIRONMENT};
use crate::compile::compile;
use crate::journal::{self, lock, Journal};
use crate::runner::{self, prepare::real_contexts};
use crate::validate::validate;
use chrono::Utc;
use std::path::Path;
use std::sync::Arc;

/// What taking over a run does.
pub enum Then {
    /// As the plan's `resume` says (a run that stopped without finishing).
    Resume,
    /// Roll back a run that stopped without finishing, for this reason.
    RollBack(String),
    /// Put back the routers of a run that ended, for this reason.
    PutBack(String),
}

pub fn run(run_id: &str, state_dir: &str, json: bool, io: &mut Io<'_>) -> std::io::Result<i32> {
    take_over(run_id, state_dir, json, Then::Resume, io)
}

pub fn take_over(
    run_id: &str,
    state_dir: &str,
    json: bool,
    then: Then,
    io: &mut Io<'_>,
) -> std::io::Result<i32> {
    let root = Path::new(state_dir);
    let record = match journal::read(root, run_id) {
        Ok(r) => r,
        Err(e) => {
            writeln!(io.err, "rollgate: no run `{run_id}` under {state_dir}/runs ({e}); `rollgate history` lists the runs")?;
            return Ok(exit::INVALID);
        }
    };
    match (record.outcome(), &then) {
        (Some(outcome), Then::Resume | Then::RollBack(_)) => {
            let hint = record
                .left_off()
                .map(|off| format!("; it left {off}: `rollgate rollback {run_id}` puts it back"))
                .unwrap_or_default();
            writeln!(
                io.out,
                "run {run_id} already finished: {outcome}; nothing to resume{hint}"
            )?;
            return Ok(exit::OK);
        }
        (None, _) if journal::alive(record.header.pid) => {
            writeln!(io.err, "rollgate: run {run_id} is still running (pid {}); stop it with SIGTERM or `rollgate rollback {run_id}`, which roll it back", record.header.pid)?;
            return Ok(exit::FAILURE);
        }
        _ => {}
    }
    let plan_path = record.plan_file().to_string();
    let source = match std::fs::read_to_string(&plan_path) {
        Ok(s) => s,
        Err(e) => {
            writeln!(
                io.err,
                "rollgate: cannot read {plan_path}, the plan run {run_id} ran: {e}; put the plan back there (SHA-256 {}) to take the run over",
                record.header.plan_sha256
            )?;
            return Ok(exit::FAILURE);
        }
    };
    if journal::sha256(&source) != record.header.plan_sha256 {
        writeln!(io.err, "rollgate: {plan_path} changed since run {run_id} started; restore the plan it ran (SHA-256 {}) to take the run over", record.header.plan_sha256)?;
        return Ok(exit::FAILURE);
    }
    let v = match validate(&plan_path, &source) {
        Ok(v) => v,
        Err(_) => {
            writeln!(io.err, "rollgate: {plan_path} no longer validates with this rollgate; take run {run_id} over with the version that started it")?;
            return Ok(exit::FAILURE);
        }
    };
    let ctx = match real_contexts(&v.plan, &record.header.inputs, &v.doc.source) {
        Ok(c) => c,
        Err(e) => {
            writeln!(io.err, "rollgate: {e}")?;
            return Ok(exit::FAILURE);
        }
    };
    let graph = compile(&v);
    let (rt, built) = super::run::built_in(|| crate::providers::for_run(&v.plan, &graph, &ctx))?;
    let providers = match built {
        Ok(p) => p,
        Err(missing) => {
            writeln!(
                io.err,
                "rollgate: cannot take run {run_id} over: {}",
                missing.join("; ")
            )?;
            return Ok(exit::FAILURE);
        }
    };
    let _lock = match &record.header.concurrency {
        Some(g) => match lock::take_over(root, g, run_id) {
            Ok(l) => Some(l),
            Err(why) => {
                writeln!(io.err, "rollgate: {why}")?;
                return Ok(exit::FAILURE);
            }
        },
        None => None,
    };
    let journal = Arc::new(Journal::reopen(root, run_id)?);
    let from = runner::Journaled {
        routers: record.routers(),
        died_at: record.last_step().map(str::to_string),
        done_steps: record.done_steps(),
        rolling_back: record.rolling_back(),
    };
    // The resumed run keeps the original's time: `max-duration` counts from its start.
    let already = (Utc::now() - record.header.started_at)
        .to_std()
        .unwrap_or_default();
    let started_at = record.header.started_at;
    let Some(github) = super::run::connect(&rt, &v.plan, &graph, &providers, io)? else {
        return Ok(exit::FAILURE);
    };
    let run = RealRun {
        rt,
        github,
        environment: record
            .header
            .environment
            .clone()
            .unwrap_or_else(|| DEFAULT_ENVIRONMENT.into()),
        plan: v.plan,
        graph,
        providers,
        contexts: ctx,
        started_at,
        already,
        journal,
        run_id: run_id.to_string(),
        run_dir: root.join("runs").join(run_id),
    };
    let how = match then {
        Then::Resume => runner::TakeOver::AsPlanned,
        Then::RollBack(why) => runner::TakeOver::RollBack(why),
        Then::PutBack(why) => runner::TakeOver::PutBack(why),
    };
    let outcome = in_real_time(run, json, io, move |setup, tx| {
        runner::resume(setup, from, how, tx)
    })?;
    Ok(outcome.exit_code())
}
