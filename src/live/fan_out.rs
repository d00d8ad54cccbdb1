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
    /// little time and finishes every reporter; how it ended (its outcome, or `None` when it
    /// was handed over) with every event.
    pub async fn drive(
        mut self,
        run: impl Future<Output = Option<Outcome>>,
        mut events: UnboundedReceiver<Stamped>,
        mut delivered: UnboundedReceiver<Delivered>,
        recorder: Recorder,
        watchers: Vec<tokio::task::AbortHandle>,
    ) -> std::io::Result<Option<Driven>> {
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
        Ok(outcome.map(|outcome| Driven {
            outcome,
            events: self.events,
            warnings,
            unwritten: Vec::new(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::Deliveries;
    use crate::event::Event;
    use crate::journal::dir::Dir;
    use crate::journal::{Header, Store};
    use std::sync::{Arc, Mutex};

    /// Writes down what it sees: each event's name, then `finish` with how many it was given.
    struct Watcher(Arc<Mutex<Vec<String>>>);

    fn name(e: &Stamped) -> String {
        serde_json::to_value(e).unwrap()["event"]
            .as_str()
            .unwrap()
            .to_string()
    }

    impl Reporter for Watcher {
        fn on(&mut self, e: &Stamped) {
            self.0.lock().unwrap().push(name(e));
        }
        fn finish(&mut self, events: &[Stamped]) -> std::io::Result<()> {
            self.0
                .lock()
                .unwrap()
                .push(format!("finish {}", events.len()));
            Ok(())
        }
    }

    /// A service: for each step that starts, a delivery made in the background.
    struct Service(Deliveries, Arc<Mutex<Vec<String>>>);

    impl Reporter for Service {
        fn on(&mut self, e: &Stamped) {
            self.1.lock().unwrap().push(name(e));
            if let Event::StepStarted { step, .. } = &e.event {
                let (done, step) = (self.0.clone(), step.clone());
                tokio::spawn(async move {
                    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
                    let _ = done.send(("chat".into(), step, Ok(1)));
                });
            }
        }
    }

    fn at(event: Event) -> Stamped {
        Stamped {
            t: 0.0,
            at: chrono::Utc::now(),
            event,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn every_event_reaches_every_reporter_and_deliveries_are_journaled_before_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let header = Header {
            run_id: "r1".into(),
            plan: "p.yaml".into(),
            plan_file: None,
            plan_sha256: "0".into(),
            plan_source: None,
            inputs: Vec::new(),
            started_at: chrono::Utc::now(),
            pid: std::process::id(),
            concurrency: None,
            environment: None,
            host: None,
            dir: None,
        };
        let store = Dir::new(dir.path());
        let journal = store.create(&header).unwrap();
        let (shown, served) = (Arc::default(), Arc::default());
        let (deliveries, delivered) = tokio::sync::mpsc::unbounded_channel();
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let run = async move {
            for step in ["a", "b"] {
                let started = Event::StepStarted {
                    step: step.into(),
                    kind: "shift",
                };
                tx.send(at(started)).unwrap();
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
            Some(Outcome::Promoted)
        };
        let fan_out = FanOut {
            services: vec![Box::new(Service(deliveries, Arc::clone(&served)))],
            reporters: vec![Box::new(Watcher(Arc::clone(&shown)))],
            events: Vec::new(),
        };
        let recorder = Recorder {
            journal: Arc::new(crate::journal::Pending::new(journal.clone())),
            started_at: header.started_at,
        };
        let driven = fan_out
            .drive(run, rx, delivered, recorder, Vec::new())
            .await
            .unwrap()
            .expect("not handed over");
        assert_eq!(driven.outcome, Outcome::Promoted);
        assert!(driven.warnings.is_empty(), "{:?}", driven.warnings);
        // The service saw the runner's events; the deliveries came after the run and reached
        // only the reporters that show the run, which were finished with all of it.
        assert_eq!(*served.lock().unwrap(), ["step-started", "step-started"]);
        assert_eq!(
            *shown.lock().unwrap(),
            [
                "step-started",
                "step-started",
                "notification-sent",
                "notification-sent",
                "finish 4"
            ]
        );
        let journaled = store.read("r1").unwrap().events;
        let sent: Vec<_> = journaled
            .iter()
            .filter(|e| e["event"] == "notification-sent")
            .map(|e| e["about"].as_str().unwrap())
            .collect();
        assert_eq!(sent, ["a", "b"]);
    }
}
