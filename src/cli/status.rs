//! `rollgate status [RUN]` and `rollgate history`: what the journals say.

use super::{exit, Exit, Failure, Io};
use crate::journal;
use crate::report::status::{history_json, history_text, status_json, status_text};

/// Show where a run stands (the latest when none is named)
///
/// Its state, last step, the gate or pause it waits at and how to decide it, and its routers.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  rollgate status\n  rollgate status 20260301T120000Z-4242 --json\n\nExit codes: 0 shown, 2 no such run."
)]
pub struct StatusArgs {
    /// The run (see `rollgate history`); the latest when absent.
    pub run: Option<String>,
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub state: super::state::State,
}

/// List the runs journaled here, oldest first, with their state
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:\n  rollgate history\n  rollgate history --json")]
pub struct HistoryArgs {
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub state: super::state::State,
}

fn pretty(v: &serde_json::Value) -> String {
    serde_json::to_string_pretty(v).expect("json")
}

pub fn history(a: HistoryArgs, io: &mut Io<'_>) -> Exit {
    let store = a.state.open()?;
    let runs = store.list()?;
    if a.json {
        writeln!(io.out, "{}", pretty(&history_json(&runs)))?;
    } else {
        write!(io.out, "{}", history_text(&runs, &store.location()))?;
    }
    Ok(exit::OK)
}

pub fn status(a: StatusArgs, io: &mut Io<'_>) -> Exit {
    let store = a.state.open()?;
    let record = journal::find(store.as_ref(), a.run.as_deref())?;
    let r = record.ok_or_else(|| {
        let at = store.location();
        Failure::usage(match &a.run {
            Some(id) => format!("no run `{id}` in {at}"),
            None => format!("no runs in {at}"),
        })
    })?;
    if a.json {
        writeln!(io.out, "{}", pretty(&status_json(&r)))?;
    } else {
        write!(io.out, "{}", status_text(&r))?;
    }
    Ok(exit::OK)
}
