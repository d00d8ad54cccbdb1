//! `rollgate resume RUN`: take over a run that stopped without finishing and put its routers
//! back, or carry it on when its plan says `resume: continue`.

use super::{exit, run::drive, runtime, Exit, Io};
use crate::journal::Store;
use crate::live::{self, Resumable, Then};
use std::sync::Arc;

/// Take over a run that stopped without finishing and put its routers back
///
/// A run killed, crashed or left by its machine has its routers put back as they were before
/// its first shift, or is carried on when its plan says `resume: continue`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  rollgate resume 20260301T120000Z-4242\n  rollgate resume 20260301T120000Z-4242 --json\n\nExit codes: 0 nothing to resume, or promoted, 3 rolled back, 4 aborted, 5 a router refused, 2 no such run, 1 other failure (still running, the plan changed)."
)]
pub struct Args {
    /// The run's id (see `rollgate history`).
    pub run: String,
    /// One JSON event per line.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub state: super::state::State,
}

pub fn run(a: Args, io: &mut Io<'_>) -> Exit {
    take_over(&a.run, a.state.open()?, a.json, Then::Resume, io)
}

/// Takes a run over and drives it to its end.
pub(super) fn take_over(
    run_id: &str,
    store: Arc<dyn Store>,
    json: bool,
    then: Then,
    io: &mut Io<'_>,
) -> Exit {
    let rt = runtime()?;
    match rt.block_on(live::take_over(run_id, store, then))? {
        Resumable::Finished(said) => {
            writeln!(io.out, "{said}")?;
            Ok(exit::OK)
        }
        Resumable::Live(live) => Ok(drive(&rt, *live, json, io)?.outcome.exit_code()),
    }
}
