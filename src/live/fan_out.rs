//! One fan-out of a run's events: each event the runner emits goes, in order, to every
//! reporter; each delivery a service reporter makes comes back as a journaled
//! `notification-sent` event for the reporters that show the run. A reporter never holds the
//! run up: those that talk to services send in the background.

use super::recorder::Recorder;
use super::{Driven, LAST_MESSAGES};
use crate::delivery::Delivered;
use crate::event::{Outcome, Stamped};
use crate::report::Reporter;
use std::future::Future;
use tokio::sync::mpsc::UnboundedReceiver;

pub(super) struct FanOut<'r> {
    /// Reporters that talk to services (PR comment, deployment, chat): they hold the senders
    /// of the deliveries, and are let go when the run ends so the last deliveries can finish.
    pub services: Vec<Box<dyn Reporter>>,
    /// Reporters that show the run (terminal, JSON, the job summary): they also see the
    /// deliveries, and are finished with every event at the end.
    pub reporters: Vec<Box<dyn Reporter + 'r>>,
    pub events: Vec<Stamped>,
}

impl FanOut<'_> {
    fn runner_event(&mut self, e: Stamped) {
        for r in self.services.iter_mut() {
            r.on(&e);
        }
        self.shown(e);
    }

    fn shown(&mut self, e: Stamped) {
        for r in self.reporters.iter_mut() {
            r.on(&e);
        }
        self.events.push(e);
    }

    fn tick(&mut self) {
        for r in self.reporters.iter_mut() {
            r.tick();
        }
    }

    /// Runs `run` to its end while fanning its events out, then gives the last deliveries a
    /// little time and finishes every reporter.
    pub async fn drive(
        mut self,
        run: impl Future<Output = Outcome>,
        mut events: UnboundedReceiver<Stamped>,
        mut delivered: UnboundedReceiver<Delivered>,
        recorder: Recorder,
        watchers: Vec<tokio::task::AbortHandle>,
    ) -> std::io::Result<Driven> {
        tokio::pin!(run);
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
        let outcome = loop {
            tokio::select! {
                Some(e) = events.recv() => self.runner_event(e),
                Some(d) = delivered.recv() => self.shown(recorder.record(d)),
                _ = tick.tick() => self.tick(),
                outcome = &mut run => {
                    while let Ok(e) = events.try_recv() {
                        self.runner_event(e);
                    }
                    break outcome;
                }
            }
        };
        // Service reporters and watchers let go of their senders; once every delivery in
        // flight is done, the channel closes.
        self.services.clear();
        for w in watchers {
            w.abort();
        }
        let mut warnings = Vec::new();
        let deadline = tokio::time::sleep(LAST_MESSAGES);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                d = delivered.recv() => match d {
                    Some(d) => self.shown(recorder.record(d)),
                    None => break,
                },
                _ = &mut deadline => {
                    warnings.push(format!("notifications still going out after {}s; not waiting longer", LAST_MESSAGES.as_secs()));
                    break;
                }
            }
        }
        for r in self.reporters.iter_mut() {
            r.finish(&self.events)?;
        }
        Ok(Driven {
            outcome,
            events: self.events,
            warnings,
        })
    }
}
