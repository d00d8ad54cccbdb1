//! `rollgate reap`: take over every run nobody drives any more and resume it by its plan's
//! `resume` policy (by default its routers go back through the rollback path).

use super::{exit, resume::take_over, Exit, Io};
use crate::journal::Store;
use crate::live::Then;

/// The exit code of a run whose router refused ([`crate::event::Outcome::exit_code`]).
const ROUTER_FAILED: i32 = 5;

/// Take over every run whose owner is gone, and resume it as its plan says
///
/// An orphan is a run that did not finish and that nobody owns: in PostgreSQL, its lease ran
/// out (its machine was lost, its job killed hard); in a directory, its process is gone. Run it
/// on a schedule from any machine that reaches the store.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  rollgate reap --state postgres://rollgate@db/rollgate\n  ROLLGATE_STATE=postgres://rollgate@db/rollgate rollgate reap --json\n\nExit codes: 0 no orphans, or each one put back or carried on as its plan says, 5 a router refused, 1 other failure (a plan changed, a run another process took first)."
)]
pub struct Args {
    /// One JSON event per line.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub state: super::state::State,
}

/// Runs that did not finish and that nobody owns now.
fn orphans(store: &dyn Store) -> std::io::Result<Vec<String>> {
    Ok(store
        .list()?
        .into_iter()
        .filter(|r| r.outcome().is_none() && !r.driven())
        .map(|r| r.header.run_id)
        .collect())
}

pub fn run(a: Args, io: &mut Io<'_>) -> Exit {
    let store = a.state.open()?;
    let found = orphans(store.as_ref())?;
    if found.is_empty() {
        writeln!(io.out, "no orphaned runs in {}", store.location())?;
        return Ok(exit::OK);
    }
    let mut worst = exit::OK;
    for id in found {
        writeln!(
            io.err,
            "rollgate: taking over run {id}, which nobody drives"
        )?;
        let code = match take_over(&id, store.clone(), a.json, Then::Resume, io) {
            // Put back (rolled back, 3) or carried on to its end (promoted 0, aborted 4) as
            // its plan says: what reaping is for.
            Ok(0 | 3 | 4) => exit::OK,
            Ok(code) => code,
            Err(failure) => {
                io.print(&failure.printed)?;
                exit::FAILURE
            }
        };
        // A router that refused (5) outweighs any other failure.
        if code != exit::OK && worst != ROUTER_FAILED {
            worst = code;
        }
    }
    Ok(worst)
}
