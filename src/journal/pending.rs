//! A run's journal as the run writes it: each event goes to the store in order, and those the
//! store cannot take yet (a database restarting, a network cut) wait here, in order, until it
//! can. Nothing is dropped: what never got written is [`Pending::left`] for the caller to show.

use super::Log;
use crate::event::Stamped;
use std::collections::VecDeque;
use std::io::{self, ErrorKind};
use std::sync::{Arc, Mutex};

/// What writing came to.
#[derive(Clone, Debug, PartialEq)]
pub enum Kept {
    /// Every event so far is in the store.
    All,
    /// The store could not be reached; events wait.
    Unreachable(String),
    /// The store refused this process (another took the run over): events wait, for good.
    Lost(String),
}

/// Told how long each event the store took took to append.
pub type Timing = Arc<dyn Fn(std::time::Duration) + Send + Sync>;

/// Events on their way to a run's journal.
pub struct Pending {
    log: Arc<dyn Log>,
    waiting: Mutex<VecDeque<Stamped>>,
    timing: Option<Timing>,
}

impl Pending {
    pub fn new(log: Arc<dyn Log>) -> Pending {
        Pending {
            log,
            waiting: Mutex::new(VecDeque::new()),
            timing: None,
        }
    }

    /// The same, telling `timing` how long each append took.
    pub fn timed(self, timing: Option<Timing>) -> Pending {
        Pending { timing, ..self }
    }

    /// Writes `e` after every event still waiting.
    pub fn write(&self, e: &Stamped) -> Kept {
        let mut waiting = self.waiting.lock().expect("not poisoned");
        waiting.push_back(e.clone());
        self.flush(&mut waiting)
    }

    /// Queues `e` without trying the store: while it is known to be unreachable, so the run is
    /// not held up by each attempt.
    pub fn queue(&self, e: &Stamped) {
        self.waiting
            .lock()
            .expect("not poisoned")
            .push_back(e.clone());
    }

    /// Tries again to write what waits.
    pub fn retry(&self) -> Kept {
        self.flush(&mut self.waiting.lock().expect("not poisoned"))
    }

    /// Whether writing waits on another machine (see [`Log::waits`]).
    pub fn waits(&self) -> bool {
        self.log.waits()
    }

    /// How many events wait.
    pub fn waiting(&self) -> usize {
        self.waiting.lock().expect("not poisoned").len()
    }

    /// The events never written, in order.
    pub fn left(&self) -> Vec<Stamped> {
        self.waiting
            .lock()
            .expect("not poisoned")
            .iter()
            .cloned()
            .collect()
    }

    /// Makes what was written survive the machine going down (see [`Log::sync`]).
    pub fn sync(&self) -> io::Result<()> {
        self.log.sync()
    }

    fn flush(&self, waiting: &mut VecDeque<Stamped>) -> Kept {
        while let Some(e) = waiting.front() {
            let appending = std::time::Instant::now();
            match self.log.append(e) {
                Ok(()) => {
                    if let Some(told) = &self.timing {
                        told(appending.elapsed());
                    }
                    waiting.pop_front();
                }
                Err(e) if e.kind() == ErrorKind::PermissionDenied => {
                    return Kept::Lost(e.to_string())
                }
                Err(e) => return Kept::Unreachable(e.to_string()),
            }
        }
        Kept::All
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Event, Outcome};
    use std::sync::atomic::{AtomicU8, Ordering};

    /// A log whose store is up (0), unreachable (1) or refusing (2), keeping what it took.
    #[derive(Default)]
    struct Flaky {
        state: AtomicU8,
        kept: Mutex<Vec<f64>>,
    }

    impl Log for Flaky {
        fn append(&self, e: &Stamped) -> io::Result<()> {
            match self.state.load(Ordering::SeqCst) {
                0 => {
                    self.kept.lock().unwrap().push(e.t);
                    Ok(())
                }
                1 => Err(io::Error::other("connection refused")),
                _ => Err(io::Error::new(ErrorKind::PermissionDenied, "lease lost")),
            }
        }
        fn sync(&self) -> io::Result<()> {
            Ok(())
        }
    }

    fn at(t: f64) -> Stamped {
        Stamped {
            t,
            at: chrono::Utc::now(),
            event: Event::RunFinished {
                outcome: Outcome::Promoted,
                reason: None,
            },
        }
    }

    #[test]
    fn events_wait_in_order_while_the_store_is_away_and_none_is_lost() {
        let log = Arc::new(Flaky::default());
        let p = Pending::new(log.clone());
        assert_eq!(p.write(&at(1.0)), Kept::All);
        log.state.store(1, Ordering::SeqCst);
        assert_eq!(
            p.write(&at(2.0)),
            Kept::Unreachable("connection refused".into())
        );
        p.queue(&at(3.0));
        assert_eq!(p.waiting(), 2);
        log.state.store(0, Ordering::SeqCst);
        assert_eq!(p.retry(), Kept::All);
        assert_eq!(*log.kept.lock().unwrap(), vec![1.0, 2.0, 3.0]);
        assert!(p.left().is_empty());
    }

    #[test]
    fn a_refused_process_keeps_what_it_could_not_write() {
        let log = Arc::new(Flaky::default());
        let p = Pending::new(log.clone());
        log.state.store(2, Ordering::SeqCst);
        assert_eq!(p.write(&at(1.0)), Kept::Lost("lease lost".into()));
        p.queue(&at(2.0));
        assert_eq!(
            p.left().iter().map(|e| e.t).collect::<Vec<_>>(),
            vec![1.0, 2.0]
        );
    }
}
