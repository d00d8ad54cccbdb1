//! `rollgate approve|reject|continue|rollback [RUN]`: decisions for a run from a terminal.

use super::{resume::take_over, who, Exit, Io};
use crate::journal::Store;
pub use crate::live::decide::Kind;
use crate::live::decide::{decide, Decided, Decision};
use std::sync::Arc;

// What `approve`, `reject` and `continue` take (each says what it is where it is declared).
#[derive(clap::Args, Debug)]
pub struct GateArgs {
    /// The run (see `rollgate history`); the latest running run when absent.
    pub run: Option<String>,
    /// The gate (step id or phase name) this is for; refused if the run waits elsewhere.
    #[arg(long)]
    pub gate: Option<String>,
    /// Who decides; one of the gate's approvers [default: $USER].
    #[arg(long)]
    pub by: Option<String>,
    #[command(flatten)]
    pub state: super::state::State,
}

/// Put a run's routers back as they were before it
///
/// A running run rolls back now, whatever it is doing; a run that stopped, or ended with a
/// router off that state, is taken over and put back.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  rollgate rollback\n  rollgate rollback 20260301T120000Z-4242 --by alice\n  rollgate rollback 20260301T120000Z-4242 --promoted\n\nExit codes: 0 asked (a running run) or nothing to put back, 3 put back, 5 a router refused, 1 other failure."
)]
pub struct RollbackArgs {
    /// The run (see `rollgate history`); the latest running run when absent.
    pub run: Option<String>,
    /// Who asks [default: $USER].
    #[arg(long)]
    pub by: Option<String>,
    /// Also put back a run that was promoted (its routers go back to before it).
    #[arg(long)]
    pub promoted: bool,
    #[command(flatten)]
    pub state: super::state::State,
}

impl GateArgs {
    pub fn run(self, kind: Kind, io: &mut Io<'_>) -> Exit {
        let by = who(self.by);
        let (run, gate) = (self.run.as_deref(), self.gate.as_deref());
        let store = self.state.open()?;
        let d = Decision {
            kind,
            run,
            gate,
            by: &by,
            store: store.as_ref(),
        };
        say(&d, &store, io)
    }
}

impl RollbackArgs {
    pub fn run(self, io: &mut Io<'_>) -> Exit {
        let by = who(self.by);
        let kind = Kind::Rollback {
            promoted: self.promoted,
        };
        let store = self.state.open()?;
        say(
            &Decision {
                kind,
                run: self.run.as_deref(),
                gate: None,
                by: &by,
                store: store.as_ref(),
            },
            &store,
            io,
        )
    }
}

/// Decides, and says what came of it; a run no longer running is taken over.
fn say(d: &Decision<'_>, store: &Arc<dyn Store>, io: &mut Io<'_>) -> Exit {
    match decide(d)? {
        Decided::Said(said) => {
            writeln!(io.out, "{said}")?;
            Ok(super::exit::OK)
        }
        Decided::TakeOver { run_id, then } => take_over(&run_id, store.clone(), false, then, io),
    }
}
