//! GitHub Actions: when rollgate runs as a step (`GITHUB_ACTIONS=true`), it writes the step's
//! outputs to `GITHUB_OUTPUT` and a rich job summary to `GITHUB_STEP_SUMMARY`, annotates plan
//! errors on their lines, and masks secret values. `--github-preview DIR` writes the same files
//! (and the pull-request comment's body) to DIR, to see them before any job runs.

use super::markdown;
use super::view::RunView;
use super::Reporter;
use crate::event::Stamped;
use crate::plan::Plan;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Where the runner wants a step's outputs and summary, when rollgate runs in Actions.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Actions {
    pub output: Option<PathBuf>,
    pub summary: Option<PathBuf>,
}

impl Actions {
    /// From the environment the Actions runner sets; `None` outside Actions.
    pub fn from_env() -> Option<Actions> {
        (std::env::var("GITHUB_ACTIONS").as_deref() == Ok("true")).then(|| Actions {
            output: std::env::var_os("GITHUB_OUTPUT").map(PathBuf::from),
            summary: std::env::var_os("GITHUB_STEP_SUMMARY").map(PathBuf::from),
        })
    }
}

/// The step's outputs: `outcome`, `run-id`, `final-weight`, `report` (the `summary`'s markdown).
pub fn outputs(view: &RunView, run_id: &str, summary: &str) -> Vec<(&'static str, String)> {
    vec![
        ("outcome", view.outcome.clone()),
        ("run-id", run_id.to_string()),
        ("final-weight", view.final_weight.to_string()),
        ("report", summary.to_string()),
    ]
}

/// `GITHUB_OUTPUT`'s syntax: `name=value`, or a heredoc with a delimiter the value cannot hold.
pub fn output_lines(pairs: &[(&str, String)]) -> String {
    let mut out = String::new();
    for (name, value) in pairs {
        if value.contains('\n') {
            let mut delimiter = String::from("ROLLGATE_EOF");
            while value.contains(&delimiter) {
                delimiter.push('_');
            }
            out += &format!("{name}<<{delimiter}\n{value}\n{delimiter}\n");
        } else {
            out += &format!("{name}={value}\n");
        }
    }
    out
}

fn append(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?
        .write_all(text.as_bytes())
}

/// Appends the outputs and the summary where Actions wants them.
pub fn write(actions: &Actions, view: &RunView, run_id: &str) -> std::io::Result<()> {
    let summary = markdown::summary(view);
    append_all(actions, &outputs(view, run_id, &summary), summary)
}

/// A step whose plan, fixture or inputs were refused still says so where a workflow looks:
/// `outcome=invalid` (no run id, no weight: nothing ran) and `summary` as the job summary.
pub fn write_invalid(actions: &Actions, summary: String) -> std::io::Result<()> {
    let outputs = [
        ("outcome", "invalid".to_string()),
        ("run-id", String::new()),
        ("final-weight", String::new()),
        ("report", summary.clone()),
    ];
    append_all(actions, &outputs, summary)
}

fn append_all(
    actions: &Actions,
    outputs: &[(&str, String)],
    summary: String,
) -> std::io::Result<()> {
    if let Some(p) = &actions.output {
        append(p, &output_lines(outputs))?;
    }
    if let Some(p) = &actions.summary {
        append(p, &(summary + "\n"))?;
    }
    Ok(())
}

/// The reporter of a run that is a step of an Actions job: when it ends, the step's outputs
/// and the job summary.
pub struct StepReport {
    actions: Actions,
    plan: Plan,
    run_id: String,
}

impl StepReport {
    pub fn new(actions: Actions, plan: &Plan, run_id: &str) -> StepReport {
        StepReport {
            actions,
            plan: plan.clone(),
            run_id: run_id.to_string(),
        }
    }
}

impl Reporter for StepReport {
    fn on(&mut self, _: &Stamped) {}

    fn finish(&mut self, events: &[Stamped]) -> std::io::Result<()> {
        write(
            &self.actions,
            &RunView::of(&self.plan, events),
            &self.run_id,
        )
    }
}

/// Writes what a job would get into `dir`: `outputs.txt`, `summary.md`, `pr-comment.md`; returns
/// what to tell the user. `pr_commands`: whether the plan reads `/rollgate` commands from the
/// pull request.
pub fn preview(
    dir: &Path,
    view: &RunView,
    run_id: &str,
    environment: &str,
    pr_commands: bool,
) -> std::io::Result<String> {
    std::fs::create_dir_all(dir)?;
    let summary = markdown::summary(view);
    std::fs::write(
        dir.join("outputs.txt"),
        output_lines(&outputs(view, run_id, &summary)),
    )?;
    std::fs::write(dir.join("summary.md"), summary)?;
    std::fs::write(
        dir.join("pr-comment.md"),
        markdown::pr_comment(view, environment, pr_commands),
    )?;
    Ok(format!("GitHub preview in {}: outputs.txt (the step's outputs), summary.md (the job summary), pr-comment.md (the pull-request comment)", dir.display()))
}

/// The commands that keep every secret's value (the `secrets` context) out of the job's log.
pub fn masks(contexts: &serde_json::Value) -> String {
    let secrets = contexts["secrets"]
        .as_object()
        .into_iter()
        .flat_map(|s| s.values());
    secrets.filter_map(|v| v.as_str()).map(mask).collect()
}

/// The command that keeps `value` out of the job's log from now on.
pub fn mask(value: &str) -> String {
    // One command per line of a multi-line secret.
    value
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| format!("::add-mask::{l}\n"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_use_a_heredoc_for_several_lines() {
        let text = output_lines(&[
            ("outcome", "promoted".into()),
            ("report", "a\nROLLGATE_EOF\nb".into()),
        ]);
        assert_eq!(
            text,
            "outcome=promoted\nreport<<ROLLGATE_EOF_\na\nROLLGATE_EOF\nb\nROLLGATE_EOF_\n"
        );
        assert_eq!(
            mask("s3cr3t\nline2\n"),
            "::add-mask::s3cr3t\n::add-mask::line2\n"
        );
    }
}
