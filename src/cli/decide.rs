//! `rollgate approve|reject|continue|rollback [RUN]`: decisions for a run from a terminal. A
//! decision for a running run is written into its journal directory, where the run reads it;
//! `rollback` of a run that is no longer running takes it over and puts its routers back.

use super::{exit, Io};
use crate::journal::{self, Record, WaitingGate};
use crate::providers::approvals::cli::{self as decisions, may_decide, Written};
use std::path::Path;

/// What to decide.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Approve,
    Reject,
    /// Lift a pause.
    Continue,
    /// `promoted`: also put back a run that was promoted.
    Rollback {
        promoted: bool,
    },
}

impl Kind {
    fn word(self) -> &'static str {
        match self {
            Kind::Approve => "approve",
            Kind::Reject => "reject",
            Kind::Continue => "continue",
            Kind::Rollback { .. } => "rollback",
        }
    }
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
    let by =
        a.by.map(str::to_string)
            .or_else(|| std::env::var("USER").ok())
            .unwrap_or_else(|| "unknown".into());
    let id = record.header.run_id.clone();
    let running = record.outcome().is_none() && journal::alive(record.header.pid);
    if let Kind::Rollback { promoted } = a.kind {
        if !running {
            return put_back(&record, &by, promoted, a.state_dir, io);
        }
    } else if let Some(outcome) = record.outcome() {
        writeln!(io.err, "rollgate: run {id} already finished: {outcome}")?;
        return Ok(exit::FAILURE);
    } else if !running {
        writeln!(io.err, "rollgate: run {id} is not running (it stopped without finishing); `rollgate resume {id}` takes it over")?;
        return Ok(exit::FAILURE);
    }
    let run_dir = root.join("runs").join(&id);
    if let Kind::Rollback { .. } = a.kind {
        decisions::write(
            &run_dir,
            &Written {
                decision: "rollback".into(),
                gate: None,
                by: by.clone(),
            },
        )?;
        writeln!(io.out, "asked run {id} to roll back, as {by}")?;
        return Ok(exit::OK);
    }
    let step = match decidable(&record, a.kind, a.gate, &by) {
        Ok(step) => step,
        Err(why) => {
            writeln!(io.err, "rollgate: {why}")?;
            return Ok(exit::FAILURE);
        }
    };
    // A pause is lifted by its approval, as a gate is approved.
    let decision = match a.kind {
        Kind::Reject => "reject",
        _ => "approve",
    };
    decisions::write(
        &run_dir,
        &Written {
            decision: decision.into(),
            gate: Some(step.clone()),
            by: by.clone(),
        },
    )?;
    let done = match a.kind {
        Kind::Approve => "approved",
        Kind::Reject => "rejected",
        _ => "continued",
    };
    writeln!(io.out, "{done} `{step}` of run {id} as {by}")?;
    Ok(exit::OK)
}

/// The step a decision of `kind` by `by` is for, or why it cannot be made.
fn decidable(r: &Record, kind: Kind, gate: Option<&str>, by: &str) -> Result<String, String> {
    let id = &r.header.run_id;
    let word = kind.word();
    let Some(WaitingGate {
        step,
        approvers,
        via,
        paused,
    }) = r.waiting_gate()
    else {
        let at = r.last_step().unwrap_or("its start");
        return Err(match kind {
            Kind::Continue => format!("run {id} is not paused (it is at {at})"),
            _ => format!("run {id} waits at no gate (it is at {at})"),
        });
    };
    match (&paused, kind) {
        (Some(p), Kind::Approve | Kind::Reject) => {
            return Err(format!("run {id} is paused at `{step}` ({}), not waiting at a gate: `rollgate continue {id}` lets it go on, `rollgate rollback {id}` rolls it back", p.reason));
        }
        (None, Kind::Continue) => {
            return Err(format!("run {id} is not paused: it waits at gate `{step}`; `rollgate approve {id}` or `rollgate reject {id}` decides it"));
        }
        (Some(p), _) if !p.can_continue => {
            return Err(format!("run {id} holds at `{step}` because its rollback was refused; it cannot continue the rollout: `rollgate rollback {id}` rolls it back now"));
        }
        _ => {}
    }
    if let Some(g) = gate {
        if !crate::graph::names_step(&step, g) {
            return Err(format!("run {id} waits at `{step}`, not `{g}`"));
        }
    }
    if via != crate::plan::gate::CLI_APPROVALS {
        return Err(format!("`{step}` of run {id} takes its decision from pull-request comments (`via: {via}`): comment `/rollgate {word}` on the pull request; `rollgate rollback` still works from here"));
    }
    if !may_decide(&approvers, by) {
        return Err(format!(
            "{by} is not among the approvers of `{step}` ({}); `--by` says who decides",
            approvers.join(", ")
        ));
    }
    Ok(step)
}

/// `rollgate rollback RUN` of a run that is not running: one that stopped without finishing is
/// taken over and rolled back; one that ended with a router off its captured state is put
/// back (a promoted one only when asked with `--promoted`).
fn put_back(
    r: &Record,
    by: &str,
    promoted: bool,
    state_dir: &str,
    io: &mut Io<'_>,
) -> std::io::Result<i32> {
    let id = &r.header.run_id;
    let why = format!("{}{by}", crate::runner::REQUESTED);
    let Some(outcome) = r.outcome() else {
        return super::resume::take_over(
            id,
            state_dir,
            false,
            super::resume::Then::RollBack(why),
            io,
        );
    };
    if outcome == "promoted" && !promoted {
        writeln!(io.err, "rollgate: run {id} was promoted: its routers are where the rollout put them; `rollgate rollback {id} --promoted` puts them back as they were before it")?;
        return Ok(exit::FAILURE);
    }
    if outcome != "promoted" && r.left_off().is_none() {
        writeln!(
            io.out,
            "run {id} ended {outcome} with every router at its state before the run; nothing to put back"
        )?;
        return Ok(exit::OK);
    }
    let why = format!("{why} after the run ended {outcome}");
    super::resume::take_over(id, state_dir, false, super::resume::Then::PutBack(why), io)
}
