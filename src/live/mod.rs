//! A real run: the runner on wall time against real routers and metric sources, its journal,
//! and its reporters. What `rollgate run`, `rollgate resume`, `rollgate rollback` of a stopped
//! run and the GitHub Action share: [`start`] a new run or [`take_over`] a stopped one, then
//! [`LiveRun::drive`] it, which fans every event out to the reporters (terminal or JSON, job
//! summary, PR comment, deployment, chat) and journals what comes back from them.
//!
//! Nothing here prints or exits, and nothing assumes one run per process: each run owns its
//! providers, channels and lock, and process signals stop it only when asked to
//! ([`Signals`]). The journal is written by the runner itself, before it moves on: it is the
//! state a stopped run is taken over from, not a report that may lag.

mod chat;
pub mod decide;
mod error;
mod fan_out;
pub mod github;
mod recorder;
mod start;
mod stop;
mod take_over;

pub use error::Error;
pub use start::{start, validated, validated_text, NewRun};
pub use stop::{terminated, Signals};
pub use take_over::{take_over, Resumable, Then};

use crate::clock::Clock;
use crate::event::{Mode, Outcome, Stamped};
use crate::graph::StepGraph;
use crate::journal::{Held, Lease, Log, Pending, Store};
use crate::plan::Plan;
use crate::providers::approvals::{BySource, Cli};
use crate::providers::Providers;
use crate::report::Reporter;
use crate::runner::{self, Journaled, Setup, TakeOver};
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::Duration;

/// A real run ready to go: built, connected to GitHub, holding its concurrency lock, its
/// journal open.
pub struct LiveRun {
    pub plan: Plan,
    pub graph: StepGraph,
    pub providers: Providers,
    pub contexts: serde_json::Value,
    /// When the run first started, and how long ago that was (zero for a new run).
    pub started_at: DateTime<Utc>,
    pub already: Duration,
    pub journal: Arc<dyn Log>,
    /// This process's ownership of the run, held for as long as it drives it.
    pub lease: Arc<dyn Lease>,
    pub run_id: String,
    /// Where the run is kept, and decisions for it are written.
    pub store: Arc<dyn Store>,
    /// The deployment environment, for `github` providers that name none.
    pub environment: String,
    pub github: Vec<github::Connected>,
    /// What the user should know before it starts: what the run leaves out, and why.
    pub warnings: Vec<String>,
    /// A new run, or one taken over.
    pub how: How,
    /// Held for as long as the run goes.
    _lock: Option<Box<dyn Held>>,
    /// Told how long each journal append took (a service's telemetry).
    pub append_timing: Option<crate::journal::Timing>,
}

/// Whether a live run starts from the beginning or takes over a stopped one.
pub enum How {
    New,
    TakenOver { from: Journaled, then: TakeOver },
}

/// How a driven run ended.
pub struct Driven {
    pub outcome: Outcome,
    /// Every event, the runner's and the deliveries' (`notification-sent`), in order.
    pub events: Vec<Stamped>,
    /// What went wrong after the run that did not change its outcome.
    pub warnings: Vec<String>,
    /// Events the store never took (it stayed unreachable, or another process took the run
    /// over), in order: the caller shows them, so none is lost.
    pub unwritten: Vec<Stamped>,
}

/// How long, after the run ends, its last messages may still take to go out.
const LAST_MESSAGES: Duration = Duration::from_secs(30);

impl LiveRun {
    /// Runs it in wall time until it ends: cancelled by someone asking for a rollback
    /// (`rollgate rollback`, `/rollgate rollback` on the PR) or by `signals`, its gates decided
    /// from the terminal or the PR. `reporters` are shown every event and finished at the end;
    /// the run adds its own (PR comment, deployment, chat) from its plan.
    pub async fn drive(
        self,
        reporters: Vec<Box<dyn Reporter + '_>>,
        signals: Signals,
    ) -> std::io::Result<Driven> {
        let driven = self
            .drive_until(reporters, signals, std::future::pending())
            .await?;
        Ok(driven.expect("a run never handed over ends"))
    }

    /// The same, until `hand_over` completes first: then the run stops where it is, without
    /// rolling back, journals `run-handed-over`, and gives up its lease (keeping its
    /// concurrency group held) for another process to take it over and carry it on. `None`
    /// when it was handed over.
    pub async fn drive_until(
        self,
        mut reporters: Vec<Box<dyn Reporter + '_>>,
        signals: Signals,
        hand_over: impl std::future::Future<Output = ()>,
    ) -> std::io::Result<Option<Driven>> {
        use tracing::Instrument;
        let span = tracing::info_span!("run", run_id = %self.run_id, plan = %self.plan.name);
        reporters.push(Box::new(crate::report::log::Logged));
        self.drive_in(reporters, signals, hand_over)
            .instrument(span)
            .await
    }

    async fn drive_in(
        self,
        reporters: Vec<Box<dyn Reporter + '_>>,
        signals: Signals,
        hand_over: impl std::future::Future<Output = ()>,
    ) -> std::io::Result<Option<Driven>> {
        let lock = self._lock;
        // Held until the hand-over is journaled: the runner's own copies go with it.
        let lease = self.lease.clone();
        let how = self.how;
        let (deliveries, delivered) = tokio::sync::mpsc::unbounded_channel();
        let github = github::start(
            &self.github,
            &github::RunInfo {
                plan: &self.plan,
                run_id: &self.run_id,
                environment: &self.environment,
            },
            &deliveries,
        );
        let mut services = github.reporters;
        if !self.providers.notifiers.is_empty() {
            let transport =
                crate::providers::notifiers::Http::new().map_err(std::io::Error::other)?;
            services.push(Box::new(chat::ChatReporter::new(
                &self.plan,
                self.providers.notifiers.clone(),
                Arc::new(transport),
                deliveries.clone(),
            )));
        }
        drop(deliveries);
        let mut sources = github.approvals;
        // Gates without `via` are decided from a terminal: `rollgate approve|reject RUN`.
        sources.insert(
            crate::plan::gate::CLI_APPROVALS.into(),
            Arc::new(Cli::new(self.store.clone(), &self.run_id)),
        );
        let mut providers = self.providers;
        providers.approvals = Some(Arc::new(BySource { sources }));
        let journal = Arc::new(Pending::new(self.journal).timed(self.append_timing));
        let recorder = recorder::Recorder {
            journal: journal.clone(),
            started_at: self.started_at,
        };
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let setup = Setup {
            plan: self.plan,
            graph: self.graph,
            providers,
            clock: Clock::resuming(self.started_at, self.already),
            mode: Mode::Run,
            fixture: None,
            contexts: self.contexts,
            cancel: stop::stop_when(
                self.store,
                self.run_id.clone(),
                self.lease.clone(),
                github.commands,
                signals,
            ),
            journal: Some(journal.clone()),
            owner: Some(self.lease),
        };
        let run = async move {
            let runner = async move {
                match how {
                    How::New => runner::run(setup, tx).await,
                    How::TakenOver { from, then } => runner::resume(setup, from, then, tx).await,
                }
            };
            tokio::select! {
                outcome = runner => Some(outcome),
                () = hand_over => None,
            }
        };
        let fan_out = fan_out::FanOut {
            services,
            reporters,
            events: Vec::new(),
        };
        let driven = fan_out
            .drive(run, rx, delivered, recorder, github.watchers)
            .await?;
        let Some(mut driven) = driven else {
            journal.write(&crate::event::Stamped {
                t: (Utc::now() - self.started_at).num_milliseconds() as f64 / 1000.0,
                at: Utc::now(),
                event: crate::event::Event::RunHandedOver {},
            });
            drop(lease);
            // The group stays held for the run: whoever takes it over takes the lock back.
            std::mem::forget(lock);
            return Ok(None);
        };
        drop((lease, lock));
        // A last try for what waited on an unreachable store.
        journal.retry();
        driven.unwritten = journal.left();
        Ok(Some(driven))
    }
}
