//! A run's lease held by this process: its fence, renewed every heartbeat, checked before
//! every router write, given up when dropped.

use super::connection::Worker;
use crate::journal::store::{Lease, Terms};
use std::io::{self, ErrorKind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// Why an owner may write no more.
pub(super) fn lost(run_id: &str) -> io::Error {
    io::Error::new(
        ErrorKind::PermissionDenied,
        format!("this process no longer owns run {run_id}: its lease ran out (another process may have taken the run over); it stops without touching a router"),
    )
}

/// A run's lease held by this process: renewed every heartbeat on a thread of its own until
/// dropped, when it is given up.
pub(super) struct Owned {
    pub(super) worker: Arc<Worker>,
    pub(super) run_id: String,
    pub(super) fence: i64,
    pub(super) lease: Duration,
    pub(super) lost: Arc<AtomicBool>,
    /// Set to stop the heartbeat, which waits on it.
    pub(super) stop: Arc<(Mutex<bool>, Condvar)>,
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
        if renew(&self.worker, &self.run_id, self.fence, self.lease)? == 0 {
            self.lost.store(true, Ordering::SeqCst);
            return Err(lost(&self.run_id));
        }
        Ok(())
    }
}

/// Extends the lease of the owner holding `fence`; 0 when another process holds the run.
fn renew(worker: &Worker, run_id: &str, fence: i64, lease: Duration) -> io::Result<u64> {
    let (id, lease) = (run_id.to_string(), lease.as_secs_f64());
    worker.call(move |c| {
        c.execute(
            "UPDATE rollgate_runs SET lease_until = now() + make_interval(secs => $3)
             WHERE run_id = $1 AND fence = $2",
            &[&id, &fence, &lease],
        )
    })
}

impl Drop for Owned {
    fn drop(&mut self) {
        let (stopped, wake) = &*self.stop;
        *stopped.lock().expect("not poisoned") = true;
        wake.notify_all();
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

/// Renews the lease every heartbeat until stopped, or until it finds the lease gone.
pub(super) fn heartbeat(
    worker: Arc<Worker>,
    run_id: String,
    fence: i64,
    terms: Terms,
    lost: Arc<AtomicBool>,
    stop: Arc<(Mutex<bool>, Condvar)>,
) {
    let (stopped, wake) = &*stop;
    let mut done = stopped.lock().expect("not poisoned");
    loop {
        done = wake
            .wait_timeout(done, terms.heartbeat)
            .expect("not poisoned")
            .0;
        if *done {
            return;
        }
        let renewed = renew(&worker, &run_id, fence, terms.lease);
        // Unreachable: tried again next beat. A lease that ran out meanwhile is taken back
        // then, unless another process took the run.
        if let Ok(0) = renewed {
            lost.store(true, Ordering::SeqCst);
            return;
        }
    }
}
