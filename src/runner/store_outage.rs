//! Riding out a store that cannot be reached (a database restarting, a network cut). The run
//! keeps its events in order ([`Pending`]), writes no router while the store cannot confirm
//! this process still owns the run, and tries again every second; when the store answers, the
//! kept events are written and the run goes on. Once it has been gone for
//! `rollback.store-outage`, the run rolls back without that proof, saying so: a process that
//! cannot reach the store cannot have it taken from it by another that cannot reach it either,
//! and one that can only puts the same routers back (the default `resume` policy).
//!
//! [`Pending`]: crate::journal::Pending

use super::RunContext;
use crate::event::{Event, Reason, Stamped, STORE_GONE};
use crate::journal::Kept;
use crate::plan::rollback::DEFAULT_STORE_OUTAGE;
use crate::plan::Duration as Shown;
use std::io::ErrorKind;
use std::time::Duration;

/// How often an unreachable store is tried again.
pub(super) const RETRY: Duration = Duration::from_secs(1);

/// What asking the store came to.
enum Reach {
    /// It confirms this process owns the run, and holds every event.
    Owned,
    Unreachable,
    /// Another process holds the run: why.
    Lost(String),
}

/// The store stopped answering at `since` (run time).
pub(super) struct Outage {
    since: Duration,
}

impl RunContext {
    /// Writes `e` to the journal, or keeps it while the store is away; an event to emit after
    /// it when this changed whether the store is reachable.
    pub(super) fn write_journal(&self, e: &Stamped) -> Option<Event> {
        let j = self.journal.as_ref()?;
        if self.outage.lock().expect("not poisoned").is_some() {
            j.queue(e);
            return None;
        }
        let kept = match j.waits() {
            true => super::off_the_runtime(|| j.write(e)),
            false => j.write(e),
        };
        self.came_to(kept, 0)
    }

    /// What writing came to (`written` events that had waited): a lost run stops; an outage
    /// starts or ends.
    fn came_to(&self, kept: Kept, written: usize) -> Option<Event> {
        match kept {
            Kept::All => {
                let outage = self.outage.lock().expect("not poisoned").take()?;
                Some(Event::StoreReachable {
                    after: (self.clock.elapsed().saturating_sub(outage.since)).as_secs_f64(),
                    written,
                })
            }
            Kept::Unreachable(error) => self.unreachable(error),
            Kept::Lost(error) => {
                self.lost(error);
                None
            }
        }
    }

    /// Starts an outage, unless one is on.
    fn unreachable(&self, error: String) -> Option<Event> {
        let mut outage = self.outage.lock().expect("not poisoned");
        if outage.is_some() {
            return None;
        }
        *outage = Some(Outage {
            since: self.clock.elapsed(),
        });
        Some(Event::StoreUnreachable {
            error,
            rolls_back_after: self.store_outage().as_secs_f64(),
        })
    }

    fn lost(&self, error: String) {
        self.journal_error
            .lock()
            .expect("not poisoned")
            .get_or_insert(format!("cannot write the journal: {error}"));
    }

    fn store_outage(&self) -> Duration {
        self.plan
            .rollback
            .store_outage
            .map_or(DEFAULT_STORE_OUTAGE, |d| d.0)
    }

    /// Asks the store again: whether this process still owns the run (renewing its lease),
    /// then writes what waits.
    fn reach_store(&self) -> Reach {
        if let Some(owner) = &self.owner {
            if let Err(e) = super::off_the_runtime(|| owner.check()) {
                if e.kind() == ErrorKind::PermissionDenied {
                    self.lost(e.to_string());
                    return Reach::Lost(e.to_string());
                }
                if let Some(started) = self.unreachable(e.to_string()) {
                    self.emit(started);
                }
                return Reach::Unreachable;
            }
        }
        let Some(j) = &self.journal else {
            return Reach::Owned;
        };
        let waiting = j.waiting();
        let kept = super::off_the_runtime(|| j.retry());
        let written = waiting - j.waiting();
        let reach = match &kept {
            Kept::All => Reach::Owned,
            Kept::Unreachable(_) => Reach::Unreachable,
            Kept::Lost(e) => Reach::Lost(e.clone()),
        };
        if let Some(changed) = self.came_to(kept, written) {
            self.emit(changed);
        }
        reach
    }

    /// Why the run must roll back, once the store has been gone past `rollback.store-outage`.
    fn past_bound(&self) -> Option<Reason> {
        let since = self.outage.lock().expect("not poisoned").as_ref()?.since;
        let bound = self.store_outage();
        (self.clock.elapsed().saturating_sub(since) >= bound).then(|| {
            Reason::says(format!(
                "{STORE_GONE}{} (rollback.store-outage): rolling back without being able to prove this process still owns the run",
                Shown(bound)
            ))
        })
    }

    /// Waits until this process may write to a router: the store confirms it owns the run and
    /// holds every event so far. While the store cannot be reached, the router stays as it is;
    /// past the bound, a rollback's write (`restoring`) goes ahead unproven, and any other is
    /// refused.
    pub(super) async fn may_write_routers(&self, restoring: bool) -> Result<(), Reason> {
        loop {
            // Already past the bound, a rollback does not wait on the store again: a store
            // that stalls costs a whole deadline per call.
            if restoring && self.past_bound().is_some() {
                return Ok(());
            }
            match self.reach_store() {
                Reach::Owned => return Ok(()),
                Reach::Lost(why) => return Err(Reason::says(why)),
                Reach::Unreachable => {}
            }
            if let Some(gone) = self.past_bound() {
                return if restoring { Ok(()) } else { Err(gone) };
            }
            self.clock.sleep(RETRY).await;
        }
    }

    /// Completes, with why, once the store has been unreachable past `rollback.store-outage`;
    /// until then, tries it again every second.
    pub(super) async fn store_gone(&self) -> Reason {
        loop {
            self.clock.sleep(RETRY).await;
            if self.outage.lock().expect("not poisoned").is_none() {
                continue;
            }
            // Lost is for the steps to find (they stop at the next); unreachable, for the bound.
            let _ = self.reach_store();
            if let Some(gone) = self.past_bound() {
                return gone;
            }
        }
    }
}
