//! `rollgate action`: what `action.yml` calls. It reads the step's inputs from the
//! environment the action sets (`ROLLGATE_PLAN`, `ROLLGATE_MODE`, `ROLLGATE_FIXTURE`,
//! `ROLLGATE_INPUTS` one NAME=VALUE per line, `ROLLGATE_ENVIRONMENT`) and runs `run` or
//! `dry-run`, so the action's YAML holds no logic.

use super::{dry_run, exit, run as real, Io};

pub fn run(io: &mut Io<'_>) -> std::io::Result<i32> {
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    let plan = var("ROLLGATE_PLAN");
    if plan.trim().is_empty() {
        writeln!(io.err, "rollgate: the action's `plan` input is empty; give the plan's path, e.g. `plan: rollouts/checkout.yaml`")?;
        return Ok(exit::INVALID);
    }
    let inputs: Vec<String> = var("ROLLGATE_INPUTS")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    let environment = Some(var("ROLLGATE_ENVIRONMENT"))
        .filter(|e| !e.is_empty())
        .unwrap_or_else(|| super::DEFAULT_ENVIRONMENT.into());
    match var("ROLLGATE_MODE").as_str() {
        "" | "run" => real::run(
            real::Args {
                plan: &plan,
                inputs: &inputs,
                json: false,
                state_dir: crate::journal::DEFAULT_DIR,
                environment: &environment,
            },
            io,
        ),
        "dry-run" => {
            let fixture = var("ROLLGATE_FIXTURE");
            if fixture.trim().is_empty() {
                writeln!(io.err, "rollgate: `mode: dry-run` replays a fixture; give the action's `fixture` input")?;
                return Ok(exit::INVALID);
            }
            dry_run::run(
                dry_run::Args {
                    plan: &plan,
                    fixture: &fixture,
                    approve: None,
                    inputs: &inputs,
                    json: false,
                    github_preview: None,
                    environment: &environment,
                },
                io,
            )
        }
        other => {
            writeln!(
                io.err,
                "rollgate: the action's `mode` is `run` or `dry-run`, not `{other}`"
            )?;
            Ok(exit::INVALID)
        }
    }
}
