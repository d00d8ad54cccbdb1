//! Markdown for GitHub: the job summary and the pull-request comment, rendered from a
//! [`RunView`] through handlebars templates shipped in `templates/`.

use super::view::RunView;
use handlebars::Handlebars;
use serde::Serialize;

const SUMMARY: &str = include_str!("../../templates/summary.md.hbs");
const PR_COMMENT: &str = include_str!("../../templates/pr-comment.md.hbs");

/// The hidden line that finds a plan's comment for an environment again, to edit it in place.
pub fn marker(plan: &str, environment: &str) -> String {
    format!(
        "<!-- rollgate:{}:{} -->",
        plan.replace("--", "- -"),
        environment.replace("--", "- -")
    )
}

/// Text stays text in Markdown: HTML is escaped.
pub fn escaped(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The job summary of a step whose plan, fixture or inputs were refused: nothing ran.
pub fn invalid_summary(plan: &str, problems: &str) -> String {
    format!(
        "## rollgate: `{}` is invalid\n\nNothing ran: no router was touched and no metric was read. Fix these and run the job again:\n\n{problems}\nOutcome: **invalid**.\n",
        plan.replace('`', "'")
    )
}

/// Table cells stay cells, and text stays text: `|` and HTML are escaped.
fn escape(s: &str) -> String {
    escaped(s).replace('|', "\\|")
}

fn engine() -> Handlebars<'static> {
    let mut h = Handlebars::new();
    h.set_strict_mode(true);
    h.register_escape_fn(escape);
    h.register_template_string("summary", SUMMARY)
        .expect("the shipped summary template parses");
    h.register_template_string("pr-comment", PR_COMMENT)
        .expect("the shipped comment template parses");
    h
}

/// The job summary (`GITHUB_STEP_SUMMARY`).
pub fn summary(view: &RunView) -> String {
    engine()
        .render("summary", view)
        .expect("the summary template renders every view")
}

#[derive(Serialize)]
struct Comment<'a> {
    #[serde(flatten)]
    view: &'a RunView,
    environment: &'a str,
    marker: String,
    pr_commands: bool,
}

/// The pull-request comment, beginning with its [`marker`]. `pr_commands`: whether the run
/// reads `/rollgate` commands from the pull request (its plan has a `github` provider).
pub fn pr_comment(view: &RunView, environment: &str, pr_commands: bool) -> String {
    let c = Comment {
        view,
        environment,
        marker: marker(&view.plan, environment),
        pr_commands,
    };
    // The marker is an HTML comment: rendered raw, the rest escaped.
    engine()
        .render("pr-comment", &c)
        .expect("the comment template renders every view")
        .replacen(&escape(&c.marker), &c.marker, 1)
}

/// Begins one rehearsal's part of a preview comment: the commit rehearsed, the fixture replayed.
fn rehearsal_marker(sha: &str, fixture: &str) -> String {
    let safe = |s: &str| s.replace("--", "- -");
    format!(
        "<!-- rollgate-rehearsal:{}:{} -->",
        safe(sha),
        safe(fixture)
    )
}

/// The preview comment with this rehearsal's part put in, given the comment's text now. A job
/// that rehearses several fixtures (the failing ones too) shows each, in the order they ran:
/// the parts of other fixtures rehearsed at the same commit are kept, a part of this fixture
/// is replaced, and those of earlier commits are dropped.
pub fn preview_comment(
    existing: Option<&str>,
    view: &RunView,
    environment: &str,
    sha: &str,
) -> String {
    let whole = pr_comment(view, environment, true);
    let (marker, body) = whole.split_once('\n').unwrap_or((&whole, ""));
    let ours = rehearsal_marker(sha, &view.fixture);
    let this_commit = rehearsal_marker(sha, "");
    let this_commit = this_commit.trim_end_matches(" -->");
    let mut parts: Vec<String> = Vec::new();
    let mut placed = false;
    for part in existing
        .unwrap_or("")
        .split("\n<!-- rollgate-rehearsal:")
        .skip(1)
    {
        let part = format!("<!-- rollgate-rehearsal:{part}");
        if part.starts_with(&format!("{ours}\n")) {
            parts.push(format!("{ours}\n{}", body.trim_end()));
            placed = true;
        } else if part.starts_with(this_commit) {
            parts.push(part.trim_end().to_string());
        }
    }
    if !placed {
        parts.push(format!("{ours}\n{}", body.trim_end()));
    }
    format!("{marker}\n{}\n", parts.join("\n\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample_runs;

    fn view(events: &[crate::event::Stamped]) -> RunView {
        RunView::of(&sample_runs::plan(), events)
    }

    #[test]
    fn job_summary_of_a_rollback_by_the_sequential_test() {
        let v = view(&sample_runs::rolled_back_by_the_sequential_test());
        insta::assert_snapshot!(summary(&v));
    }

    #[test]
    fn job_summary_of_a_rehearsal_names_its_fixture_and_virtual_time() {
        let events = sample_runs::rehearsed(
            sample_runs::rolled_back_by_the_sequential_test(),
            "fixtures/metrics/checkout/errors-2x.yaml",
        );
        insta::assert_snapshot!(summary(&view(&events)));
    }

    #[test]
    fn pr_comment_of_a_rehearsal_names_its_fixture_and_virtual_time() {
        let events = sample_runs::rehearsed(
            sample_runs::promoted(),
            "fixtures/metrics/checkout/healthy.yaml",
        );
        insta::assert_snapshot!(pr_comment(&view(&events), "production", true));
    }

    #[test]
    fn a_preview_comment_keeps_every_fixture_rehearsed_at_its_commit() {
        let rehearsal = |fixture: &str| {
            view(&sample_runs::rehearsed(
                sample_runs::rolled_back_by_the_sequential_test(),
                fixture,
            ))
        };
        let (healthy, spike) = (rehearsal("f/healthy.yaml"), rehearsal("f/spike.yaml"));
        let one = preview_comment(None, &healthy, "prod", "abc");
        assert!(one.starts_with(&format!(
            "{}\n<!-- rollgate-rehearsal:abc:f/healthy.yaml -->\n### ",
            marker("checkout canary", "prod")
        )));
        let two = preview_comment(Some(&one), &spike, "prod", "abc");
        let parts = |c: &str| {
            c.lines()
                .filter(|l| l.starts_with("<!-- rollgate-rehearsal:"))
                .map(str::to_string)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            parts(&two),
            [
                "<!-- rollgate-rehearsal:abc:f/healthy.yaml -->",
                "<!-- rollgate-rehearsal:abc:f/spike.yaml -->"
            ]
        );
        assert_eq!(two.matches("A rehearsal, not a rollout").count(), 2);
        // The same fixture again replaces its part; a new commit starts over.
        assert_eq!(preview_comment(Some(&two), &healthy, "prod", "abc"), two);
        let next = preview_comment(Some(&two), &spike, "prod", "def");
        assert_eq!(
            parts(&next),
            ["<!-- rollgate-rehearsal:def:f/spike.yaml -->"]
        );
        // A real run's comment (no parts) is replaced.
        let real = pr_comment(&view(&sample_runs::promoted()), "prod", true);
        assert_eq!(
            parts(&preview_comment(Some(&real), &spike, "prod", "abc")).len(),
            1
        );
    }

    #[test]
    fn job_summary_of_a_gate_that_timed_out() {
        insta::assert_snapshot!(summary(&view(&sample_runs::gate_timed_out())));
    }

    #[test]
    fn pr_comment_of_a_rollback_by_the_sequential_test() {
        let v = view(&sample_runs::rolled_back_by_the_sequential_test());
        insta::assert_snapshot!(pr_comment(&v, "production", true));
    }

    #[test]
    fn pr_comment_of_a_gate_that_timed_out() {
        let v = view(&sample_runs::gate_timed_out());
        insta::assert_snapshot!(pr_comment(&v, "production", true));
    }

    #[test]
    fn pr_comment_of_a_promotion() {
        insta::assert_snapshot!(pr_comment(
            &view(&sample_runs::promoted()),
            "production",
            true
        ));
    }

    #[test]
    fn pr_comment_while_waiting_at_the_gate() {
        let events = sample_runs::gate_timed_out();
        let waiting: Vec<_> = events
            .iter()
            .take_while(|e| !matches!(e.event, crate::event::Event::GateDecided { .. }))
            .cloned()
            .collect();
        insta::assert_snapshot!(pr_comment(&view(&waiting), "production", true));
    }
}
