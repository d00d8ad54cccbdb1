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
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('|', "\\|")
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
