//! A run's lease held by this process: its fence, renewed every heartbeat (one statement for
//! every run the process owns, on one thread per store), checked before every router write,
//! given up when dropped.

use super::connection::Worker;
use crate::journal::store::{Lease, Terms};
use std::collections::HashSet;
use std::io::{self, ErrorKind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// Why an owner may write no more.
pub(super) fn lost(run_id: &str) -> io::Error {
    io::Error::new(
        ErrorKind::PermissionDenied,
        format!("this process no longer owns run {run_id}: its lease ran out (another process may have taken the run over); it stops without touching a router"),
    )
}

/// A run's lease held by this process: renewed by the store's heartbeat until dropped, when it
/// is given up.
pub(super) struct Owned {
    pub(super) worker: Arc<Worker>,
    pub(super) run_id: String,
    pub(super) fence: i64,
    pub(super) lease: Duration,
    pub(super) lost: Arc<AtomicBool>,
}

impl Lease for Owned {
    fn lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }

    /// Renews the lease as it checks it: a router write that follows has a whole lease before
    /// anyone may take the run over. A lease that ran out while the store was unreachable is
    /// taken back if nobody took the run meanwhile (the fence is still this process's).
    fn check(&self) -> io::Result<()> {
        if self.lost.load(Ordering::SeqCst) {
            return Err(lost(&self.run_id));
        }
        let owned = [(self.run_id.clone(), self.fence)];
        if renew(&self.worker, &owned, self.lease)?.is_empty() {
            self.lost.store(true, Ordering::SeqCst);
            return Err(lost(&self.run_id));
        }
        Ok(())
    }
}

/// Extends the lease of each (run, fence) whose fence is still current, in one statement; the
/// runs renewed (another process holds the others).
fn renew(worker: &Worker, owned: &[(String, i64)], lease: Duration) -> io::Result<HashSet<String>> {
    let (ids, fences): (Vec<String>, Vec<i64>) = owned.iter().cloned().unzip();
    let lease = lease.as_secs_f64();
    worker.call(move |c| {
        let rows = c.query(
            "UPDATE rollgate_runs r SET lease_until = now() + make_interval(secs => $3)
             FROM unnest($1::text[], $2::bigint[]) AS o(run_id, fence)
             WHERE r.run_id = o.run_id AND r.fence = o.fence
             RETURNING r.run_id",
            &[&ids, &fences, &lease],
        )?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    })
}

impl Drop for Owned {
    fn drop(&mut self) {
        self.worker
            .fences
            .lock()
            .expect("not poisoned")
            .remove(&self.run_id);
        let (id, fence) = (self.run_id.clone(), self.fence);
        let _ = self.worker.call(move |c| {
            c.execute(
                "UPDATE rollgate_runs SET lease_until = NULL WHERE run_id = $1 AND fence = $2",
                &[&id, &fence],
            )
        });
    }
}

/// Renews, every heartbeat, the lease of every run this process owns, in one statement, until
/// the store is dropped; a run whose lease another process took is marked lost. An unreachable
/// store is tried again next beat; a lease that ran out meanwhile is taken back then, unless
/// another process took the run.
pub(super) fn heartbeat(worker: Weak<Worker>, terms: Terms) {
    loop {
        std::thread::sleep(terms.heartbeat);
        let Some(worker) = worker.upgrade() else {
            return;
        };
        let owned: Vec<(String, i64)> = worker
            .fences
            .lock()
            .expect("not poisoned")
            .iter()
            .map(|(id, held)| (id.clone(), held.fence))
            .collect();
        if owned.is_empty() {
            continue;
        }
        let Ok(renewed) = renew(&worker, &owned, terms.lease) else {
            continue;
        };
        let fences = worker.fences.lock().expect("not poisoned");
        for (id, fence) in owned.iter().filter(|(id, _)| !renewed.contains(id)) {
            // Still the same lease (not given up and claimed again meanwhile).
            if let Some(held) = fences.get(id).filter(|h| h.fence == *fence) {
                held.lost.store(true, Ordering::SeqCst);
            }
        }
    }
}
