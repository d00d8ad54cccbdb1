//! `rollgate approve|reject|rollback [RUN]`: decisions for a running run from a terminal. The
//! decision is written into the run's journal directory, where the run reads it.

use super::{exit, Io};
use crate::journal;
use crate::providers::approvals::cli::{self as decisions, may_decide, Written};
use std::path::Path;

/// What to decide.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Approve,
    Reject,
    Rollback,
}

pub struct Args<'a> {
    pub kind: Kind,
    pub run: Option<&'a str>,
    pub gate: Option<&'a str>,
    pub by: Option<&'a str>,
    pub state_dir: &'a str,
}

pub fn run(a: Args<'_>, io: &mut Io<'_>) -> std::io::Result<i32> {
    let root = Path::new(a.state_dir);
    let record = match a.run {
        Some(id) => journal::read(root, id).ok(),
        None => journal::list(root)?
            .into_iter()
            .rev()
            .find(|r| r.outcome().is_none() && journal::alive(r.header.pid)),
    };
    let Some(record) = record else {
        let which = a
            .run
            .map(|r| format!("run `{r}`"))
            .unwrap_or("running run".into());
        writeln!(
            io.err,
            "rollgate: no {which} under {}/runs; `rollgate history` lists the runs",
            a.state_dir
        )?;
        return Ok(exit::INVALID);
    };
    let id = &record.header.run_id;
    if let Some(outcome) = record.outcome() {
        writeln!(io.err, "rollgate: run {id} already finished: {outcome}")?;
        return Ok(exit::FAILURE);
    }
    if !journal::alive(record.header.pid) {
        writeln!(io.err, "rollgate: run {id} is not running (it stopped without finishing); `rollgate resume {id}` takes it over")?;
        return Ok(exit::FAILURE);
    }
    let by =
        a.by.map(str::to_string)
            .or_else(|| std::env::var("USER").ok())
            .unwrap_or_else(|| "unknown".into());
    let run_dir = root.join("runs").join(id);
    let decision = match a.kind {
        Kind::Rollback => "rollback",
        Kind::Approve => "approve",
        Kind::Reject => "reject",
    };
    if a.kind != Kind::Rollback {
        let Some(journal::WaitingGate {
            step,
            approvers,
            via,
        }) = record.waiting_gate()
        else {
            writeln!(
                io.err,
                "rollgate: run {id} waits at no gate (it is at {})",
                record.last_step().unwrap_or("its start")
            )?;
            return Ok(exit::FAILURE);
        };
        if let Some(g) = a.gate {
            if !crate::graph::names_step(&step, g) {
                writeln!(io.err, "rollgate: run {id} waits at `{step}`, not `{g}`")?;
                return Ok(exit::FAILURE);
            }
        }
        if via != crate::plan::gate::CLI_APPROVALS {
            writeln!(io.err, "rollgate: `{step}` of run {id} takes its decision from pull-request comments (`via: {via}`): comment `/rollgate {decision}` on the pull request; `rollgate rollback` still works from here")?;
            return Ok(exit::FAILURE);
        }
        if !may_decide(&approvers, &by) {
            writeln!(io.err, "rollgate: {by} is not among the approvers of `{step}` ({}); `--by` says who decides", approvers.join(", "))?;
            return Ok(exit::FAILURE);
        }
        decisions::write(
            &run_dir,
            &Written {
                decision: decision.into(),
                gate: Some(step.clone()),
                by: by.clone(),
            },
        )?;
        let done = if a.kind == Kind::Approve {
            "approved"
        } else {
            "rejected"
        };
        writeln!(io.out, "{done} `{step}` of run {id} as {by}")?;
    } else {
        decisions::write(
            &run_dir,
            &Written {
                decision: decision.into(),
                gate: None,
                by: by.clone(),
            },
        )?;
        writeln!(io.out, "asked run {id} to roll back, as {by}")?;
    }
    Ok(exit::OK)
}
