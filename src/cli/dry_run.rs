//! `rollgate dry-run PLAN --fixture FILE`: rehearse a plan against recorded metrics in virtual time.

use super::{exit, report, validated, Io};
use crate::diagnostics::render_human;
use crate::fixture;
use crate::providers::approvals::ApprovePolicy;
use crate::runner::{self, prepare};
use std::sync::Arc;

pub struct Args<'a> {
    pub plan: &'a str,
    pub fixture: &'a str,
    pub approve: Option<ApprovePolicy>,
    pub inputs: &'a [String],
    pub json: bool,
    /// Write what a GitHub job would get (outputs, summary, PR comment) into this directory.
    pub github_preview: Option<&'a str>,
    /// The environment the PR comment is for.
    pub environment: &'a str,
}

pub fn run(a: Args<'_>, io: &mut Io<'_>) -> std::io::Result<i32> {
    let Some(v) = validated(a.plan, io)? else {
        return Ok(exit::INVALID);
    };
    let fx_source = match std::fs::read_to_string(a.fixture) {
        Ok(s) => s,
        Err(e) => {
            writeln!(
                io.err,
                "{}: error[io]: cannot read the fixture: {e}",
                a.fixture
            )?;
            return Ok(exit::INVALID);
        }
    };
    let fx = match fixture::parse(a.fixture, &fx_source) {
        Ok(f) => Arc::new(f),
        Err(diags) => {
            write!(io.err, "{}", render_human(a.fixture, &fx_source, &diags))?;
            return Ok(exit::INVALID);
        }
    };
    let source = v.doc.source.clone();
    let plan = v.plan.clone();
    let prepared = match prepare::prepare(v, fx.clone(), a.inputs, a.approve) {
        Ok(p) => p,
        Err(prepare::NotReady::Inputs(e)) => {
            writeln!(io.err, "rollgate: {e}")?;
            return Ok(exit::INVALID);
        }
        Err(prepare::NotReady::Queries(missing)) => {
            report(a.plan, &source, &missing, io)?;
            return Ok(exit::INVALID);
        }
    };
    // A paused clock: time jumps to the next timer whenever every task waits.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    // The clock is made inside the runtime (see `Prepared::setup`).
    let outcome = rt.block_on(async move { runner::run(prepared.setup(), tx).await });
    let mut events = Vec::new();
    // What the plan's `notify` would send, recorded beside the event that calls for it.
    let mut chat = crate::report::chat::Chat::new(&plan);
    let mut lines = crate::report::terminal::Lines::default();
    while let Ok(e) = rx.try_recv() {
        let message = chat.as_mut().and_then(|c| c.rehearse(&e));
        for e in std::iter::once(e).chain(message) {
            if a.json {
                writeln!(io.out, "{}", crate::report::json::line(&e))?;
            } else if let Some(l) = lines.line(&e) {
                writeln!(io.out, "{l}")?;
            }
            events.push(e);
        }
    }
    if !a.json {
        write!(io.out, "{}", crate::report::summary::render(&events))?;
    }
    let view = crate::report::view::RunView::of(&plan, &events);
    if let Some(actions) = crate::report::actions::Actions::from_env() {
        crate::report::actions::write(&actions, &view, "dry-run")?;
        // A plan reporting to GitHub gets its rehearsal's comment on the PR; that needs the
        // real secrets (the token), which a rehearsal otherwise does not read.
        if plan.github_notified().next().is_some() {
            match prepare::real_contexts(&plan, a.inputs, &source) {
                Ok(ctx) => super::on_github::post_preview(&plan, &ctx, a.environment, &view, io)?,
                Err(e) => writeln!(
                    io.err,
                    "rollgate: the rehearsal's PR comment is not posted: {e}"
                )?,
            }
        }
    }
    if let Some(dir) = a.github_preview {
        crate::report::actions::preview(
            std::path::Path::new(dir),
            &view,
            "dry-run",
            a.environment,
            plan.uses_github(),
        )?;
        writeln!(
            io.err,
            "GitHub preview in {dir}: outputs.txt (the step's outputs), summary.md (the job summary), pr-comment.md (the pull-request comment)"
        )?;
    }
    if let Some(expect) = &fx.expect {
        match crate::report::expectation::verify(expect, &events) {
            Ok(got) if !a.json => writeln!(io.out, "as the fixture expects: {got}")?,
            Ok(_) => {}
            Err(differs) => {
                writeln!(
                    io.err,
                    "{}: the plan did not do what the fixture expects: {differs}",
                    a.fixture
                )?;
                return Ok(exit::FAILURE);
            }
        }
    }
    Ok(outcome.exit_code())
}
