//! `rollgate dry-run PLAN --fixture FILE`: rehearse a plan against recorded metrics in virtual time.

use super::{exit, validated, Exit, Failure, Io};
use crate::diagnostics::{Code, Diagnostic};
use crate::providers::approvals::ApprovePolicy;
use crate::report::actions::{self, Actions};
use crate::report::expectation::verify;
use crate::runner::prepare;
use std::path::Path;
use std::sync::Arc;

/// Rehearse a plan against recorded metrics, in virtual time
///
/// Routers are simulated and commands and messages only recorded; the fixture's answers and
/// scripted events (approvals, cancellations, outages) are replayed, so a two-hour plan takes a
/// moment.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  rollgate dry-run workflows/haproxy-canary.yaml --fixture fixtures/metrics/haproxy-canary/healthy.yaml\n  rollgate dry-run plan.yaml --fixture f.yaml --approve none --json\n  rollgate dry-run plan.yaml --fixture f.yaml --github-preview preview/\n\nExit codes: 0 promoted, 3 rolled back, 4 aborted, 5 a router refused, 2 invalid plan or fixture, 1 other failure (the fixture's `expect` not met)."
)]
pub struct Args {
    /// The plan file.
    pub plan: String,
    /// The metrics (and scripted events) to replay.
    #[arg(long)]
    pub fixture: String,
    /// What happens at gates the fixture's events do not decide: approve at once, or let them
    /// time out [default: the fixture's `approve`, else all].
    #[arg(long, value_enum)]
    pub approve: Option<Approve>,
    /// A plan input, NAME=VALUE; repeat for several.
    #[arg(long = "input", value_name = "NAME=VALUE")]
    pub inputs: Vec<String>,
    /// One JSON event per line instead of the report.
    #[arg(long)]
    pub json: bool,
    /// Write what a GitHub Actions job would produce into DIR: the step's outputs, the job
    /// summary and the pull-request comment.
    #[arg(long, value_name = "DIR")]
    pub github_preview: Option<String>,
    /// With a fixture that has `expect`: exit 0 when the plan did what it expects, whatever
    /// the outcome (1 when it did not), so a CI job can rehearse the failures too.
    #[arg(long)]
    pub pass_when_expected: bool,
    /// The environment the pull-request comment is for (one comment per plan and environment).
    #[arg(long, default_value = crate::github::DEFAULT_ENVIRONMENT)]
    pub environment: String,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Approve {
    All,
    None,
}

pub fn run(a: Args, io: &mut Io<'_>) -> Exit {
    let v = validated(&a.plan)?;
    let fixture_source = std::fs::read_to_string(&a.fixture).map_err(|e| {
        let d = Diagnostic::error(Code::Io, format!("cannot read the fixture: {e}"));
        Failure::invalid(&a.fixture, "", vec![d])
    })?;
    let fx = crate::fixture::parse(&a.fixture, &fixture_source)
        .map_err(|diags| Failure::invalid(&a.fixture, &fixture_source, diags))?;
    let fx = Arc::new(fx);
    let source = v.doc.source.clone();
    let plan = v.plan.clone();
    let approve = a.approve.map(|a| match a {
        Approve::All => ApprovePolicy::All,
        Approve::None => ApprovePolicy::None,
    });
    let prepared = prepare::prepare(v, fx.clone(), &a.inputs, approve).map_err(|e| match e {
        prepare::NotReady::Inputs(e) => Failure::usage(e),
        prepare::NotReady::Queries(missing) => Failure::invalid(&a.plan, &source, missing),
    })?;
    let (outcome, events) = crate::rehearsal::rehearse(prepared, &plan)?;
    if a.json {
        for e in &events {
            writeln!(io.out, "{}", crate::report::json::line(e))?;
        }
    } else {
        write!(
            io.out,
            "{}",
            crate::report::summary::rehearsal(&plan, &events)
        )?;
    }
    let view = crate::report::view::RunView::of(&plan, &events);
    if let Some(actions) = Actions::from_env() {
        let said = crate::rehearsal::report_to_actions(
            &actions,
            &plan,
            &a.inputs,
            &source,
            &a.environment,
            &view,
        )?;
        for s in said {
            writeln!(io.err, "rollgate: {s}")?;
        }
    }
    if let Some(dir) = &a.github_preview {
        let env = &a.environment;
        let said = actions::preview(Path::new(dir), &view, "dry-run", env, plan.uses_github())?;
        writeln!(io.err, "{said}")?;
    }
    match fx.expect.as_ref().map(|e| verify(e, &events)) {
        Some(Ok(got)) => {
            if !a.json {
                writeln!(io.out, "as the fixture expects: {got}")?;
            }
            if a.pass_when_expected {
                return Ok(exit::OK);
            }
        }
        Some(Err(differs)) => {
            let fixture = &a.fixture;
            let said =
                format!("{fixture}: the plan did not do what the fixture expects: {differs}\n");
            return Err(Failure::text(exit::FAILURE, said));
        }
        _ => {}
    }
    Ok(outcome.exit_code())
}
