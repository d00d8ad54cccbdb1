//! `rollgate status [RUN]` and `rollgate history`: what the journals say.

use super::{exit, Exit, Failure, Io};
use crate::journal;
use crate::report::status::{history_json, history_text, status_json, status_text};
use std::path::Path;

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
    /// Where runs are journaled.
    #[arg(long, default_value = crate::journal::DEFAULT_DIR)]
    pub state_dir: String,
}

/// List the runs journaled here, oldest first, with their state
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:\n  rollgate history\n  rollgate history --json")]
pub struct HistoryArgs {
    #[arg(long)]
    pub json: bool,
    /// Where runs are journaled.
    #[arg(long, default_value = crate::journal::DEFAULT_DIR)]
    pub state_dir: String,
}

fn pretty(v: &serde_json::Value) -> String {
    serde_json::to_string_pretty(v).expect("json")
}

pub fn history(a: HistoryArgs, io: &mut Io<'_>) -> Exit {
    let runs = journal::list(Path::new(&a.state_dir))?;
    if a.json {
        writeln!(io.out, "{}", pretty(&history_json(&runs)))?;
    } else {
        write!(io.out, "{}", history_text(&runs, &a.state_dir))?;
    }
    Ok(exit::OK)
}

pub fn status(a: StatusArgs, io: &mut Io<'_>) -> Exit {
    let record = journal::find(Path::new(&a.state_dir), a.run.as_deref())?;
    let state_dir = &a.state_dir;
    let r = record.ok_or_else(|| {
        Failure::usage(match &a.run {
            Some(id) => format!("no run `{id}` under {state_dir}/runs"),
            None => format!("no runs under {state_dir}/runs"),
        })
    })?;
    if a.json {
        writeln!(io.out, "{}", pretty(&status_json(&r)))?;
    } else {
        write!(io.out, "{}", status_text(&r))?;
    }
    Ok(exit::OK)
}
