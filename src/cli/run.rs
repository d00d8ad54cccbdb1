//! `rollgate run PLAN`: a real rollout, in wall time, journaled; SIGINT/SIGTERM roll it back.

use super::{runtime, Exit, Failure, Io};
use crate::event::Outcome;
use crate::live::{self, LiveRun, NewRun, Signals};
use crate::report::actions::{Actions, StepReport};
use crate::report::console::Console;
use crate::report::Reporter;

/// Run a plan for real against its routers and metric sources, in wall time
///
/// Journaled, and rolled back on SIGINT/SIGTERM or `rollgate rollback`. Gates are decided by
/// `rollgate approve|reject` or `/rollgate` comments on the pull request; the run is reported
/// to the PR comment, GitHub deployments and chat as it goes.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  rollgate run workflows/linear.yaml\n  rollgate run plan.yaml --input release=v1.4.2 --json\n\nExit codes: 0 promoted, 3 rolled back, 4 aborted, 5 a router refused a shift (rolled back as far as it allowed), 2 invalid plan or one run cannot do yet, 1 other failure (a held concurrency group, a rollback rate limit)."
)]
pub struct Args {
    /// The plan file.
    pub plan: String,
    /// A plan input, NAME=VALUE; repeat for several.
    #[arg(long = "input", value_name = "NAME=VALUE")]
    pub inputs: Vec<String>,
    /// One JSON event per line.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub state: super::state::State,
    /// The deployment environment (GitHub deployment and PR comment), for `github` providers
    /// that name none.
    #[arg(long, default_value = crate::github::DEFAULT_ENVIRONMENT)]
    pub environment: String,
}

pub fn run(a: Args, io: &mut Io<'_>) -> Exit {
    let (v, contexts) = live::validated(&a.plan, &a.inputs)?;
    // In a GitHub Actions job, the secrets' values are masked in the log before anything runs.
    if Actions::from_env().is_some() {
        write!(io.out, "{}", crate::report::actions::masks(&contexts))?;
    }
    let asked = NewRun {
        plan: &a.plan,
        source: None,
        inputs: &a.inputs,
        store: a.state.open()?,
        environment: &a.environment,
    };
    let rt = runtime()?;
    let live = rt.block_on(live::start(&asked, v, contexts))?;
    writeln!(
        io.err,
        "run {}: journal in {}",
        live.run_id,
        live.store.location_of(&live.run_id)
    )?;
    let driven = drive(&rt, live, a.json, io)?;
    if driven.outcome == Outcome::RouterFailed {
        writeln!(
            io.err,
            "rollgate: {}",
            crate::report::terminal::router_failed_words(&driven.events)
        )?;
    }
    Ok(driven.outcome.exit_code())
}

/// Drives a live run (a new one, or one taken over) with the command line's reporters: the
/// terminal (or JSON lines) and, in an Actions job, the step's outputs and job summary.
pub(super) fn drive(
    rt: &tokio::runtime::Runtime,
    live: LiveRun,
    json: bool,
    io: &mut Io<'_>,
) -> Result<live::Driven, Failure> {
    for w in &live.warnings {
        writeln!(io.err, "rollgate: {w}")?;
    }
    // The console finishes first: its status line is cleared before the job summary is written.
    let mut reporters: Vec<Box<dyn Reporter + '_>> =
        vec![Box::new(Console::new(&mut *io.out, json, io.tty))];
    if let Some(actions) = Actions::from_env() {
        reporters.push(Box::new(StepReport::new(actions, &live.plan, &live.run_id)));
    }
    let store = live.store.location_of(&live.run_id);
    let driven = rt.block_on(live.drive(reporters, Signals::StopTheRun))?;
    for w in &driven.warnings {
        writeln!(io.err, "rollgate: {w}")?;
    }
    if !driven.unwritten.is_empty() {
        writeln!(
            io.err,
            "rollgate: {} events could not be written to {store}; here they are, one JSON object a line:",
            driven.unwritten.len()
        )?;
        for e in &driven.unwritten {
            writeln!(
                io.err,
                "{}",
                serde_json::to_string(e).expect("events serialize")
            )?;
        }
    }
    Ok(driven)
}
