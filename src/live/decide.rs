//! Decisions about a run from outside it: approve or reject the gate it waits at, continue it
//! from a pause, roll it back. A decision for a running run is written into its journal
//! directory, where the run reads it; a rollback of a run that is no longer running means
//! taking it over ([`super::take_over`]) to roll it back or put its routers back.

use super::{Error, Then};
use crate::journal::{Record, Store, WaitingGate, Written};
use crate::providers::approvals::cli::may_decide;

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

/// A decision asked for.
pub struct Decision<'a> {
    pub kind: Kind,
    /// The run; the latest running run when `None`.
    pub run: Option<&'a str>,
    /// The gate (step id or phase name) it is for, when the decider says.
    pub gate: Option<&'a str>,
    /// Who decides.
    pub by: &'a str,
    pub store: &'a dyn Store,
}

/// What a decision came to.
pub enum Decided {
    /// Written for the running run, or nothing to do: what to tell the user.
    Said(String),
    /// The run is not running: take it over, then this.
    TakeOver { run_id: String, then: Then },
}

pub fn decide(d: &Decision<'_>) -> Result<Decided, Error> {
    let store = d.store;
    let record = match d.run {
        Some(id) => store.read(id).ok(),
        None => store
            .list()?
            .into_iter()
            .rev()
            .find(|r| r.outcome().is_none() && r.driven()),
    };
    let Some(record) = record else {
        let which = d
            .run
            .map(|r| format!("run `{r}`"))
            .unwrap_or("running run".into());
        return Err(Error::Usage(format!(
            "no {which} in {}; `rollgate history` lists the runs",
            store.location()
        )));
    };
    let by = d.by;
    let id = record.header.run_id.clone();
    let running = record.outcome().is_none() && record.driven();
    if let Kind::Rollback { promoted } = d.kind {
        if !running {
            return put_back(&record, by, promoted);
        }
    } else if let Some(outcome) = record.outcome() {
        return Err(Error::Failed(format!(
            "run {id} already finished: {outcome}"
        )));
    } else if !running {
        return Err(Error::Failed(format!("run {id} is not running (it stopped without finishing); `rollgate resume {id}` takes it over")));
    }
    if let Kind::Rollback { .. } = d.kind {
        store.ask(
            &id,
            &Written {
                decision: "rollback".into(),
                gate: None,
                by: by.to_string(),
            },
        )?;
        return Ok(Decided::Said(format!(
            "asked run {id} to roll back, as {by}"
        )));
    }
    let step = decidable(&record, d.kind, d.gate, by).map_err(Error::Failed)?;
    // A pause is lifted by its approval, as a gate is approved.
    let decision = match d.kind {
        Kind::Reject => "reject",
        _ => "approve",
    };
    store.ask(
        &id,
        &Written {
            decision: decision.into(),
            gate: Some(step.clone()),
            by: by.to_string(),
        },
    )?;
    let done = match d.kind {
        Kind::Approve => "approved",
        Kind::Reject => "rejected",
        _ => "continued",
    };
    Ok(Decided::Said(format!(
        "{done} `{step}` of run {id} as {by}"
    )))
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

/// A rollback of a run that is not running: one that stopped without finishing is taken over
/// and rolled back; one that ended with a router off its captured state is put back (a
/// promoted one only when asked with `promoted`).
fn put_back(r: &Record, by: &str, promoted: bool) -> Result<Decided, Error> {
    let id = &r.header.run_id;
    let why = format!("{}{by}", crate::event::REQUESTED);
    let Some(outcome) = r.outcome() else {
        return Ok(Decided::TakeOver {
            run_id: id.clone(),
            then: Then::RollBack(why),
        });
    };
    if outcome == "promoted" && !promoted {
        return Err(Error::Failed(format!("run {id} was promoted: its routers are where the rollout put them; `rollgate rollback {id} --promoted` puts them back as they were before it")));
    }
    if outcome != "promoted" && r.left_off().is_none() {
        return Ok(Decided::Said(format!(
            "run {id} ended {outcome} with every router at its state before the run; nothing to put back"
        )));
    }
    Ok(Decided::TakeOver {
        run_id: id.clone(),
        then: Then::PutBack(format!("{why} after the run ended {outcome}")),
    })
}
