//! `rollgate record`: a run's metric answers (`--run`, finished or still going), or a past
//! range of Prometheus (`PLAN --from --to`), saved as a fixture that `dry-run` replays.

use super::{exit, runtime, validated, Exit, Failure, Io};
use crate::fixture::record::{self, Recording};
use crate::runner::prepare::real_contexts;
use chrono::Utc;
use std::path::Path;

/// Save metric answers as a fixture that `dry-run` replays
///
/// A run's own answers (`--run RUN`, finished or still going), or a plan's queries over a past
/// range of Prometheus (`PLAN --from T --to T`). From a run, the fixture expects the run's
/// outcome.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  rollgate record --run 20260301T120000Z-4242 --out fixtures/metrics/incident.yaml\n  rollgate record plan.yaml --from now-1h --to now --out last-hour.yaml\n  rollgate record plan.yaml --from 2026-03-01T12:00:00Z --to 2026-03-01T13:00:00Z --step 30s\n\nExit codes: 0 recorded, 2 bad usage or invalid plan, 1 nothing to record or Prometheus failed."
)]
pub struct Args {
    /// The plan whose queries to read over `--from`..`--to`.
    #[arg(conflicts_with = "run", required_unless_present = "run")]
    pub plan: Option<String>,
    /// A run's id (see `rollgate history`): record the answers it got.
    #[arg(long)]
    pub run: Option<String>,
    /// Start of the range: `now`, `now-1h`, or RFC 3339.
    #[arg(long, requires = "plan", conflicts_with = "run")]
    pub from: Option<String>,
    /// End of the range.
    #[arg(long, requires = "plan", conflicts_with = "run")]
    pub to: Option<String>,
    /// Time between samples in the range [default: the plan's `interval`].
    #[arg(long, requires = "plan", conflicts_with = "run")]
    pub step: Option<String>,
    /// A plan input, NAME=VALUE, for queries that use `${{ inputs.* }}`.
    #[arg(long = "input", value_name = "NAME=VALUE")]
    pub inputs: Vec<String>,
    /// Where to write the fixture (a new file) [default: stdout].
    #[arg(long, short)]
    pub out: Option<String>,
    #[command(flatten)]
    pub state: super::state::State,
}

pub fn run(a: Args, io: &mut Io<'_>) -> Exit {
    if let Some(out) = &a.out {
        if Path::new(out).exists() {
            return Err(Failure::usage(format!(
                "{out} exists; record to a new file (a fixture is not overwritten)"
            )));
        }
    }
    let (recording, plan) = match (&a.run, &a.plan) {
        (Some(run_id), _) => {
            let store = a.state.open()?;
            match store.read(run_id) {
                Ok(run) => (record::from_journal(&run), run.header.plan.clone()),
                Err(e) => {
                    let at = store.location();
                    return Err(Failure::usage(format!("no run `{run_id}` in {at} ({e}); `rollgate history` lists the runs")));
                }
            }
        }
        (None, Some(plan)) => (past(plan, &a)?, plan.to_string()),
        (None, None) => return Err(Failure::usage("say what to record: `--run RUN` (a run's own answers) or `PLAN --from T --to T` (a past range of Prometheus)")),
    };
    let recording = recording.map_err(Failure::failed)?;
    let text = recording.to_yaml();
    match &a.out {
        Some(out) => {
            std::fs::write(out, &text)?;
            writeln!(
                io.err,
                "recorded {} queries into {out}; replay them: rollgate dry-run {plan} --fixture {out}",
                recording.queries.len()
            )?;
        }
        None => write!(io.out, "{text}")?,
    }
    Ok(exit::OK)
}

/// A past range of the plan's Prometheus queries, or the failure that says why not.
fn past(plan: &str, a: &Args) -> Result<Result<Recording, String>, Failure> {
    let (Some(from), Some(to)) = (&a.from, &a.to) else {
        return Err(Failure::usage("recording a plan's past needs `--from` and `--to`, e.g. `--from now-1h --to now`; a run's own answers: `--run RUN`"));
    };
    let v = validated(plan)?;
    let (range, step) =
        record::range(from, to, a.step.as_deref(), &v.plan, Utc::now()).map_err(Failure::usage)?;
    let ctx = real_contexts(&v.plan, &a.inputs, &v.doc.source).map_err(Failure::usage)?;
    Ok(runtime()?.block_on(record::from_prometheus(
        &v.plan, plan, &ctx, &a.inputs, range, step,
    )))
}
