//! `rollgate run PLAN`: a real rollout, in wall time, journaled; SIGINT/SIGTERM roll it back.

use super::{exit, on_github, validated, Io};
use crate::clock::Clock;
use crate::compile::compile;
use crate::event::{Mode, Stamped};
use crate::expr::eval::{interpolate, Contexts};
use crate::journal::{self, lock, Header, Journal};
use crate::providers::notifiers::Notifier;
use crate::report::outbound::{Delivered, Deliveries, Outbound};
use crate::runner::{self, prepare::real_contexts, Setup};
use chrono::Utc;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

pub struct Args<'a> {
    pub plan: &'a str,
    pub inputs: &'a [String],
    pub json: bool,
    pub state_dir: &'a str,
    /// The deployment environment, for `github` providers that name none.
    pub environment: &'a str,
}

/// What a real run (a new one, or one being resumed) is made of.
pub(super) struct RealRun {
    /// The runtime it runs in; GitHub was already asked for the pull request in it.
    pub rt: tokio::runtime::Runtime,
    pub plan: crate::plan::Plan,
    pub graph: crate::graph::StepGraph,
    pub providers: crate::providers::Providers,
    pub contexts: serde_json::Value,
    /// When the run first started, and how long ago that was (zero for a new run).
    pub started_at: chrono::DateTime<Utc>,
    pub already: std::time::Duration,
    pub journal: Arc<Journal>,
    pub run_id: String,
    /// The run's directory in the journal, where decisions for it are written.
    pub run_dir: std::path::PathBuf,
    /// The deployment environment, for `github` providers that name none.
    pub environment: String,
    pub github: Vec<on_github::Connected>,
}

/// The runtime a real run (or a rehearsal's post to GitHub) runs in, and what `build` makes
/// inside it: providers are built there because the GitHub client starts a task when built.
pub(super) fn built_in<T>(
    build: impl FnOnce() -> T,
) -> std::io::Result<(tokio::runtime::Runtime, T)> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let built = {
        let _inside = rt.enter();
        build()
    };
    Ok((rt, built))
}

/// The plan's `github` providers connected to their pull request; or why the run cannot
/// start (said on `io.err`).
pub(super) fn connect(
    rt: &tokio::runtime::Runtime,
    plan: &crate::plan::Plan,
    graph: &crate::graph::StepGraph,
    providers: &crate::providers::Providers,
    io: &mut Io<'_>,
) -> std::io::Result<Option<Vec<on_github::Connected>>> {
    for note in &providers.notes {
        writeln!(io.err, "rollgate: {note}")?;
    }
    match rt.block_on(on_github::connect(plan, graph, &providers.github)) {
        Ok((connected, warnings)) => {
            for w in warnings {
                writeln!(io.err, "rollgate: {w}")?;
            }
            Ok(Some(connected))
        }
        Err(e) => {
            writeln!(io.err, "rollgate: {e}")?;
            Ok(None)
        }
    }
}

/// Runs `go` (a new run, or a resume) in wall time with a real run's setup: cancelled by
/// SIGINT/SIGTERM or a rollback asked for (`rollgate rollback`, `/rollgate rollback` on the
/// PR), journaled, its events printed as they come, reported to chat and GitHub as it goes.
/// In a GitHub Actions job, the step's outputs and the job summary are written at the end.
pub(super) fn in_real_time<Fut: std::future::Future<Output = crate::event::Outcome>>(
    r: RealRun,
    json: bool,
    io: &mut Io<'_>,
    go: impl FnOnce(Setup, tokio::sync::mpsc::UnboundedSender<Stamped>) -> Fut,
) -> std::io::Result<crate::event::Outcome> {
    let plan = r.plan.clone();
    let run_id = r.run_id.clone();
    let run_dir = r.run_dir.clone();
    let rt = r.rt;
    let _inside = rt.enter();
    let (deliveries, delivered) = tokio::sync::mpsc::unbounded_channel();
    let github = on_github::start(
        &r.github,
        &on_github::RunInfo {
            plan: &plan,
            run_id: &run_id,
            environment: &r.environment,
        },
        &deliveries,
    );
    let mut outbound = github.outbound;
    if !r.providers.notifiers.is_empty() {
        outbound.push(Box::new(Notifying {
            plan: plan.name.clone(),
            chat: crate::report::chat::Chat::new(&plan),
            notifiers: r.providers.notifiers.clone(),
            transport: Arc::new(
                crate::providers::notifiers::Http::new().map_err(std::io::Error::other)?,
            ),
            deliveries: deliveries.clone(),
        }));
    }
    drop(deliveries);
    let mut sources = github.approvals;
    // Gates without `via` are decided from a terminal: `rollgate approve|reject RUN`.
    sources.insert(
        crate::plan::gate::CLI_APPROVALS.into(),
        Arc::new(crate::providers::approvals::Cli::new(run_dir.clone())),
    );
    let mut providers = r.providers;
    providers.approvals = Some(Arc::new(crate::providers::approvals::BySource { sources }));
    let recorder = Recorder {
        journal: r.journal.clone(),
        started_at: r.started_at,
    };
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let run = async move {
        let clock = Clock::resuming(r.started_at, r.already);
        let setup = Setup {
            plan: r.plan,
            graph: r.graph,
            providers,
            clock,
            mode: Mode::Run,
            contexts: r.contexts,
            cancel: on_signal(run_dir, github.commands),
            journal: Some(r.journal),
        };
        go(setup, tx).await
    };
    let reporting = Reporting {
        outbound,
        delivered,
        recorder,
        watchers: github.watchers,
    };
    let (outcome, events) = drive(&rt, run, rx, json, io, reporting);
    if let Some(actions) = crate::report::actions::Actions::from_env() {
        let view = crate::report::view::RunView::of(&plan, &events);
        crate::report::actions::write(&actions, &view, &run_id)?;
    }
    Ok(outcome)
}

/// The chat reporter of a run: each message the plan's `notify` calls for goes to its chat
/// targets, and a notify step's to the step's; each delivery in its own task.
struct Notifying {
    plan: String,
    chat: Option<crate::report::chat::Chat>,
    notifiers: BTreeMap<String, Arc<dyn Notifier>>,
    transport: Arc<dyn crate::providers::notifiers::Transport>,
    deliveries: Deliveries,
}

impl Outbound for Notifying {
    fn on(&mut self, e: &Stamped) {
        let (m, to) = match (&e.event, self.chat.as_mut()) {
            (crate::event::Event::NotificationAsked { step, to, message }, _) => (
                crate::report::chat::step_message(&self.plan, step, message),
                to.clone(),
            ),
            (_, Some(chat)) => match chat.message(e) {
                Some(m) => (m, chat.to().to_vec()),
                None => return,
            },
            (_, None) => return,
        };
        // Targets that are no chat (GitHub) are reported on by their own reporters.
        for (to, notifier) in to
            .into_iter()
            .filter_map(|t| self.notifiers.get(&t).map(|n| (t, n)))
        {
            let request = notifier.request(&m);
            let about = m.event.clone();
            let (transport, done) = (self.transport.clone(), self.deliveries.clone());
            tokio::spawn(async move {
                let result = transport.send(&request).await;
                let _ = done.send((to, about, result));
            });
        }
    }
}

/// Turns deliveries into journaled `notification-sent` events.
struct Recorder {
    journal: Arc<Journal>,
    started_at: chrono::DateTime<Utc>,
}

impl Recorder {
    fn record(&self, (to, about, result): Delivered) -> Stamped {
        let now = Utc::now();
        let e = Stamped {
            t: (now - self.started_at).num_milliseconds() as f64 / 1000.0,
            at: now,
            event: crate::event::Event::NotificationSent {
                to,
                about,
                attempts: result.as_ref().ok().copied(),
                error: result.err(),
            },
        };
        // A journal that cannot take it is the runner's to notice; this is a report.
        let _ = self.journal.append(&e);
        e
    }
}

/// The reporters that talk to services, and what comes back from them.
struct Reporting {
    outbound: Vec<Box<dyn Outbound>>,
    delivered: tokio::sync::mpsc::UnboundedReceiver<Delivered>,
    recorder: Recorder,
    /// Background readers to stop when the run ends.
    watchers: Vec<tokio::task::AbortHandle>,
}

/// How long, after the run ends, its last messages may still take to go out.
const LAST_MESSAGES: std::time::Duration = std::time::Duration::from_secs(30);

/// Prints events as they come while `run` goes, then returns its outcome. On a terminal a
/// status line under the events shows where the run is, redrawn every second. Reporters that
/// talk to services see each event and deliver in the background; the last deliveries get a
/// little time after the run ends.
fn drive<F: std::future::Future<Output = crate::event::Outcome>>(
    rt: &tokio::runtime::Runtime,
    run: F,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<Stamped>,
    json: bool,
    io: &mut Io<'_>,
    reporting: Reporting,
) -> (crate::event::Outcome, Vec<Stamped>) {
    let Reporting {
        mut outbound,
        mut delivered,
        recorder,
        watchers,
    } = reporting;
    let live = io.tty && !json;
    let mut seen = Vec::new();
    let mut status = crate::report::terminal::Live::default();
    let mut lines = crate::report::terminal::Lines::default();
    let started = std::time::Instant::now();
    // The status line is cleared before each event line and drawn again after it.
    const CLEAR: &str = "\r\x1b[2K";
    let mut show = |e: Option<&Stamped>, io: &mut Io<'_>| {
        if live {
            let _ = write!(io.out, "{CLEAR}");
        }
        if let Some(e) = e {
            let line = if json {
                Some(crate::report::json::line(e))
            } else {
                lines.line(e)
            };
            if let Some(l) = line {
                let _ = writeln!(io.out, "{l}");
            }
            status.update(e);
        }
        if live {
            let _ = write!(io.out, "{}", status.line(started.elapsed().as_secs_f64()));
        }
        let _ = io.out.flush();
    };
    let outcome = rt.block_on(async {
        tokio::pin!(run);
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
        // An event (from the runner, or a delivery journaled) is shown and kept; nothing
        // redraws the status line.
        let mut take = |e: Option<Stamped>, io: &mut Io<'_>| {
            show(e.as_ref(), io);
            seen.extend(e);
        };
        let outcome = loop {
            tokio::select! {
                Some(e) = rx.recv() => {
                    for o in outbound.iter_mut() {
                        o.on(&e);
                    }
                    take(Some(e), io);
                }
                Some(d) = delivered.recv() => take(Some(recorder.record(d)), io),
                _ = tick.tick(), if live => take(None, io),
                outcome = &mut run => {
                    while let Ok(e) = rx.try_recv() {
                        for o in outbound.iter_mut() {
                            o.on(&e);
                        }
                        take(Some(e), io);
                    }
                    break outcome;
                }
            }
        };
        // Reporters and watchers let go of their senders; once every delivery in flight is
        // done, the channel closes.
        drop(outbound);
        for w in watchers {
            w.abort();
        }
        let deadline = tokio::time::sleep(LAST_MESSAGES);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                d = delivered.recv() => match d {
                    Some(d) => take(Some(recorder.record(d)), io),
                    None => break,
                },
                _ = &mut deadline => {
                    let _ = writeln!(io.err, "rollgate: notifications still going out after {}s; not waiting longer", LAST_MESSAGES.as_secs());
                    break;
                }
            }
        }
        outcome
    });
    if live {
        let _ = write!(io.out, "{CLEAR}");
        let _ = io.out.flush();
    }
    (outcome, seen)
}

/// Completes on SIGINT or SIGTERM (what a cancelled CI job sends), or when someone asks for a
/// rollback (`rollgate rollback RUN`, or `/rollgate rollback` on the pull request), with why.
fn on_signal(
    run_dir: std::path::PathBuf,
    prs: Vec<Arc<crate::github::commands::Commands>>,
) -> runner::Cancellation {
    Box::pin(async move {
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => runner::CANCELLED.to_string(),
            _ = term => runner::CANCELLED.to_string(),
            why = crate::providers::approvals::cli::rollback_requested(run_dir) => why,
            why = from_a_pr(prs) => why,
        }
    })
}

/// Completes when a writer comments `/rollgate rollback` on any of the pull requests.
async fn from_a_pr(prs: Vec<Arc<crate::github::commands::Commands>>) -> String {
    // Polled here rather than spawned, so nothing outlives the run holding a PR's watcher.
    let mut asked: Vec<_> = prs
        .iter()
        .map(|c| Box::pin(c.rollback_requested()))
        .collect();
    std::future::poll_fn(|cx| {
        asked
            .iter_mut()
            .find_map(|f| match std::future::Future::poll(f.as_mut(), cx) {
                std::task::Poll::Ready(why) => Some(why),
                std::task::Poll::Pending => None,
            })
            .map_or(std::task::Poll::Pending, std::task::Poll::Ready)
    })
    .await
}

pub fn run(a: Args<'_>, io: &mut Io<'_>) -> std::io::Result<i32> {
    let Some(v) = validated(a.plan, io)? else {
        return Ok(exit::INVALID);
    };
    let ctx = match real_contexts(&v.plan, a.inputs, &v.doc.source) {
        Ok(c) => c,
        Err(e) => {
            writeln!(io.err, "rollgate: {e}")?;
            return Ok(exit::INVALID);
        }
    };
    // In a GitHub Actions job, the secrets' values are masked in the log before anything runs.
    if crate::report::actions::Actions::from_env().is_some() {
        if let Some(secrets) = ctx["secrets"].as_object() {
            for value in secrets.values().filter_map(|v| v.as_str()) {
                write!(io.out, "{}", crate::report::actions::mask(value))?;
            }
        }
    }
    let graph = compile(&v);
    let (rt, built) = built_in(|| crate::providers::for_run(&v.plan, &graph, &ctx))?;
    let providers = match built {
        Ok(p) => p,
        Err(missing) => {
            writeln!(
                io.err,
                "rollgate: `rollgate run` cannot run {} yet:",
                a.plan
            )?;
            for m in missing {
                writeln!(io.err, "  - {m}")?;
            }
            writeln!(
                io.err,
                "  = help: rehearse it with `rollgate dry-run {} --fixture FILE`",
                a.plan
            )?;
            return Ok(exit::INVALID);
        }
    };
    let root = Path::new(a.state_dir);
    let started = Utc::now();
    // rollback.max-per-hour and cool-down, from the journals of this plan's earlier runs.
    let rb = &v.plan.rollback;
    if let Err(why) = journal::rollback_policy_allows(
        root,
        &v.plan.name,
        rb.max_per_hour,
        rb.cool_down.map(|d| d.0),
        started,
    ) {
        writeln!(io.err, "rollgate: {why}")?;
        return Ok(exit::FAILURE);
    }
    let Some(github) = connect(&rt, &v.plan, &graph, &providers, io)? else {
        return Ok(exit::FAILURE);
    };
    let run_id = format!(
        "{}-{}",
        started.format("%Y%m%dT%H%M%SZ"),
        std::process::id()
    );
    let group = v
        .plan
        .concurrency
        .as_ref()
        .map(|c| interpolate(c.group(), &Contexts::plain(&ctx)));
    let _lock = match &group {
        Some(g) => match lock::acquire(root, g, &run_id) {
            Ok(l) => Some(l),
            Err(why) => {
                writeln!(io.err, "rollgate: {why}")?;
                return Ok(exit::FAILURE);
            }
        },
        None => None,
    };
    let header = Header {
        run_id: run_id.clone(),
        plan: a.plan.to_string(),
        plan_file: std::fs::canonicalize(a.plan)
            .ok()
            .map(|p| p.display().to_string()),
        plan_sha256: journal::sha256(&v.doc.source),
        inputs: a.inputs.to_vec(),
        started_at: started,
        pid: std::process::id(),
        concurrency: group,
        environment: Some(a.environment.to_string()),
    };
    let journal = Arc::new(Journal::create(root, &header)?);
    writeln!(
        io.err,
        "run {run_id}: journal in {}",
        root.join("runs").join(&run_id).display()
    )?;
    let run = RealRun {
        plan: v.plan,
        graph,
        providers,
        contexts: ctx,
        started_at: started,
        already: std::time::Duration::ZERO,
        journal,
        run_dir: root.join("runs").join(&run_id),
        run_id: run_id.clone(),
        rt,
        environment: a.environment.to_string(),
        github,
    };
    let outcome = in_real_time(run, a.json, io, runner::run)?;
    if outcome == crate::event::Outcome::RouterFailed {
        // A router that refused the first shift left nothing to roll back.
        let moved = journal::read(root, &run_id)
            .map(|r| r.events.iter().any(|e| e["event"] == "weight-shifted"))
            .unwrap_or(true);
        let then = if moved {
            "the run was rolled back as far as the routers allowed"
        } else {
            "nothing had moved"
        };
        writeln!(
            io.err,
            "rollgate: a router failed (see above); {then}. Check the router before running again."
        )?;
    }
    Ok(outcome.exit_code())
}
