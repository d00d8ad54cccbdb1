//! `rollgate action`: what `action.yml` calls. It reads the step's inputs from the environment
//! the action sets and runs `run` or `dry-run`, so the action's YAML holds no logic.

use super::{dry_run, run as real, Exit, Failure, Io};

/// Run `run` or `dry-run` with a GitHub Action step's inputs (what `action.yml` calls)
///
/// The inputs are read from ROLLGATE_PLAN, ROLLGATE_MODE (`run` or `dry-run`),
/// ROLLGATE_FIXTURE, ROLLGATE_INPUTS (one NAME=VALUE per line) and ROLLGATE_ENVIRONMENT.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  ROLLGATE_PLAN=plan.yaml rollgate action\n  ROLLGATE_PLAN=plan.yaml ROLLGATE_MODE=dry-run ROLLGATE_FIXTURE=f.yaml rollgate action\n\nExit codes: those of `run` or `dry-run`; 2 when an input is missing or wrong."
)]
pub struct Args {}

pub fn run(io: &mut Io<'_>) -> Exit {
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    let plan = var("ROLLGATE_PLAN");
    if plan.trim().is_empty() {
        return Err(Failure::usage("the action's `plan` input is empty; give the plan's path, e.g. `plan: rollouts/checkout.yaml`"));
    }
    let inputs: Vec<String> = var("ROLLGATE_INPUTS")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    let environment = Some(var("ROLLGATE_ENVIRONMENT"))
        .filter(|e| !e.is_empty())
        .unwrap_or_else(|| crate::github::DEFAULT_ENVIRONMENT.into());
    match var("ROLLGATE_MODE").as_str() {
        "" | "run" => real::run(
            real::Args {
                plan,
                inputs,
                json: false,
                state: super::state::State::from_env()?,
                environment,
            },
            io,
        ),
        "dry-run" => {
            let fixture = var("ROLLGATE_FIXTURE");
            if fixture.trim().is_empty() {
                return Err(Failure::usage(
                    "`mode: dry-run` replays a fixture; give the action's `fixture` input",
                ));
            }
            dry_run::run(
                dry_run::Args {
                    plan,
                    fixture,
                    approve: None,
                    inputs,
                    json: false,
                    github_preview: None,
                    environment,
                    // A rehearsal step tests the plan: one against a failing fixture passes
                    // when the plan rolls back as the fixture expects.
                    pass_when_expected: true,
                },
                io,
            )
        }
        other => Err(Failure::usage(format!(
            "the action's `mode` is `run` or `dry-run`, not `{other}`"
        ))),
    }
}
