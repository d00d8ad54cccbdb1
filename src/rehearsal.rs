//! A rehearsal (`rollgate dry-run`): a prepared plan ([`crate::runner::prepare`]) run on a
//! paused clock against its fixture, with the messages its `notify` would send recorded beside
//! the events that call for them. What a real run is to [`crate::live`], this is to a dry-run.

use crate::event::{Outcome, Stamped};
use crate::plan::Plan;
use crate::report::actions::{self, Actions};
use crate::report::chat::Chat;
use crate::report::view::RunView;
use crate::runner::{self, prepare::Prepared};

/// Runs `prepared` in virtual time; returns its outcome and every event, in order.
pub fn rehearse(prepared: Prepared, plan: &Plan) -> std::io::Result<(Outcome, Vec<Stamped>)> {
    // A paused clock: time jumps to the next timer whenever every task waits.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    // The clock is made inside the runtime (see `Prepared::setup`).
    let outcome = rt.block_on(async move { runner::run(prepared.setup(), tx).await });
    let mut events = Vec::new();
    let mut chat = Chat::new(plan);
    while let Ok(e) = rx.try_recv() {
        let message = chat.as_mut().and_then(|c| c.rehearse(&e));
        events.push(e);
        events.extend(message);
    }
    Ok((outcome, events))
}

/// A rehearsal that is a step of an Actions job: the step's outputs and job summary, and for a
/// plan reporting to GitHub, its PR comment (which needs the real secrets: the token). Returns
/// what happened to the comment, to be said; a comment not posted does not fail the rehearsal.
pub fn report_to_actions(
    job: &Actions,
    plan: &Plan,
    inputs: &[String],
    plan_source: &str,
    environment: &str,
    view: &RunView,
) -> std::io::Result<Vec<String>> {
    actions::write(job, view, "dry-run")?;
    if plan.github_notified().next().is_none() {
        return Ok(Vec::new());
    }
    Ok(
        match runner::prepare::real_contexts(plan, inputs, plan_source) {
            Ok(ctx) => tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?
                .block_on(crate::live::github::post_preview(
                    plan,
                    &ctx,
                    environment,
                    view,
                )),
            Err(e) => vec![format!("the rehearsal's PR comment is not posted: {e}")],
        },
    )
}
