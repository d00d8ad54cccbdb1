//! `rollgate run PLAN`: a real rollout, in wall time, journaled; SIGINT/SIGTERM roll it back.

use super::{exit, validated, Io};
use crate::compile::compile;
use crate::expr::eval::{interpolate, Contexts};
use crate::journal::{self, lock, Header, Journal};
use crate::runner::events::{Mode, Stamped};
use crate::runner::{
    self,
    clock::Clock,
    prepare::{contexts, with_secrets},
    Setup,
};
use chrono::Utc;
use std::path::Path;
use std::sync::Arc;

pub struct Args<'a> {
    pub plan: &'a str,
    pub inputs: &'a [String],
    pub json: bool,
    pub state_dir: &'a str,
}

/// What a real run (a new one, or one being resumed) is made of.
pub(super) struct RealRun {
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
}

/// Runs `go` (a new run, or a resume) in wall time with a real run's setup: cancelled by
/// SIGINT/SIGTERM, journaled, its events printed as they come. In a GitHub Actions job, the
/// step's outputs and the job summary are written at the end.
pub(super) fn in_real_time<Fut: std::future::Future<Output = runner::events::Outcome>>(
    r: RealRun,
    json: bool,
    io: &mut Io<'_>,
    go: impl FnOnce(Setup, tokio::sync::mpsc::UnboundedSender<Stamped>) -> Fut,
) -> std::io::Result<runner::events::Outcome> {
    let plan = r.plan.clone();
    let run_id = r.run_id.clone();
    let run_dir = r.run_dir.clone();
    let mut providers = r.providers;
    // Gates are decided from a terminal: `rollgate approve|reject RUN`.
    providers.approvals = Some(std::sync::Arc::new(crate::providers::approvals::Cli::new(
        run_dir.clone(),
    )));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let chat = match crate::report::chat::Chat::new(&plan, &providers.notifiers) {
        Some(chat) => Some(Notifying {
            chat,
            transport: Arc::new(
                crate::providers::notifiers::Http::new().map_err(std::io::Error::other)?,
            ),
            journal: r.journal.clone(),
            started_at: r.started_at,
        }),
        None => None,
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
            cancel: on_signal(run_dir),
            journal: Some(r.journal),
        };
        go(setup, tx).await
    };
    let (outcome, events) = drive(&rt, run, rx, json, io, chat);
    if let Some(actions) = crate::report::actions::Actions::from_env() {
        let view = crate::report::view::RunView::of(&plan, &events);
        crate::report::actions::write(&actions, &view, &run_id)?;
    }
    Ok(outcome)
}

/// The chat reporter of a run and how its messages go out.
struct Notifying {
    chat: crate::report::chat::Chat,
    transport: Arc<dyn crate::providers::notifiers::Transport>,
    journal: Arc<Journal>,
    started_at: chrono::DateTime<Utc>,
}

/// How long, after the run ends, its last messages may still take to go out.
const LAST_MESSAGES: std::time::Duration = std::time::Duration::from_secs(30);

/// A delivery's result: to whom, about what, and the attempts it took or why it failed.
type Delivered = (String, String, Result<u32, String>);

impl Notifying {
    /// Sends the message `e` calls for, if any, to every target, each in its own task.
    fn on(&mut self, e: &Stamped, done: &tokio::sync::mpsc::UnboundedSender<Delivered>) -> usize {
        let Some(m) = self.chat.message(e) else {
            return 0;
        };
        for (to, notifier) in self.chat.targets() {
            let request = notifier.request(&m);
            let (to, about) = (to.clone(), m.event.name().to_string());
            let (transport, done) = (self.transport.clone(), done.clone());
            tokio::spawn(async move {
                let result = transport.send(&request).await;
                let _ = done.send((to, about, result));
            });
        }
        self.chat.targets().len()
    }

    /// The delivery as an event, journaled.
    fn record(&self, (to, about, result): Delivered) -> Stamped {
        let now = Utc::now();
        let e = Stamped {
            t: (now - self.started_at).num_milliseconds() as f64 / 1000.0,
            at: now,
            event: runner::events::Event::NotificationSent {
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

/// Prints events as they come while `run` goes, then returns its outcome. On a terminal a
/// status line under the events shows where the run is, redrawn every second. The plan's chat
/// messages go out in the background; the last ones get a little time after the run ends.
fn drive<F: std::future::Future<Output = runner::events::Outcome>>(
    rt: &tokio::runtime::Runtime,
    run: F,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<Stamped>,
    json: bool,
    io: &mut Io<'_>,
    mut chat: Option<Notifying>,
) -> (runner::events::Outcome, Vec<Stamped>) {
    let live = io.tty && !json;
    let mut seen = Vec::new();
    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel::<Delivered>();
    let mut pending = 0usize;
    let mut status = crate::report::terminal::Live::default();
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
                crate::report::terminal::line(e)
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
    // An event from the runner, or a delivery from the chat reporter: shown and kept; an event
    // may call for messages, which go out in the background. Nothing: the status line redrawn.
    let mut take = |got: Option<Result<Stamped, Delivered>>, io: &mut Io<'_>| {
        let e = match got {
            None => {
                show(None, io);
                return pending;
            }
            Some(Ok(e)) => {
                if let Some(c) = chat.as_mut() {
                    pending += c.on(&e, &done_tx);
                }
                e
            }
            Some(Err(d)) => {
                pending -= 1;
                match &chat {
                    Some(c) => c.record(d),
                    None => return pending,
                }
            }
        };
        show(Some(&e), io);
        seen.push(e);
        pending
    };
    let outcome = rt.block_on(async {
        tokio::pin!(run);
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
        let mut left = 0;
        let outcome = loop {
            tokio::select! {
                Some(e) = rx.recv() => left = take(Some(Ok(e)), io),
                Some(d) = done_rx.recv() => left = take(Some(Err(d)), io),
                _ = tick.tick(), if live => left = take(None, io),
                outcome = &mut run => {
                    while let Ok(e) = rx.try_recv() {
                        left = take(Some(Ok(e)), io);
                    }
                    break outcome;
                }
            }
        };
        let deadline = tokio::time::sleep(LAST_MESSAGES);
        tokio::pin!(deadline);
        while left > 0 {
            tokio::select! {
                Some(d) = done_rx.recv() => left = take(Some(Err(d)), io),
                _ = &mut deadline => {
                    let _ = writeln!(io.err, "rollgate: {left} notification(s) still going out after {}s; not waiting longer", LAST_MESSAGES.as_secs());
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
/// rollback (`rollgate rollback RUN`), with why.
fn on_signal(run_dir: std::path::PathBuf) -> runner::Cancellation {
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
        }
    })
}

pub fn run(a: Args<'_>, io: &mut Io<'_>) -> std::io::Result<i32> {
    let Some(v) = validated(a.plan, io)? else {
        return Ok(exit::INVALID);
    };
    let ctx = match contexts(&v.plan, a.inputs)
        .and_then(|mut c| with_secrets(&mut c, &v.doc.source).map(|_| c))
    {
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
    let providers = match crate::providers::for_run(&v.plan, &graph, &ctx) {
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
        plan_sha256: journal::sha256(&v.doc.source),
        inputs: a.inputs.to_vec(),
        started_at: started,
        pid: std::process::id(),
        concurrency: group,
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
    };
    let outcome = in_real_time(run, a.json, io, runner::run)?;
    if outcome == runner::events::Outcome::RouterFailed {
        writeln!(io.err, "rollgate: a router failed (see above); the run was rolled back as far as the routers allowed. Check the router before running again.")?;
    }
    Ok(outcome.exit_code())
}
