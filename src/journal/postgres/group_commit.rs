//! Events appended by many runs at once, written together: every event queued while the
//! previous write was committing goes in one statement, so one commit (one wait for the disk)
//! keeps them all. Each append still returns only once its event is kept, or says why not, so
//! a run moves on exactly as it did with a commit of its own.

use super::connection::{said, Job, Worker};
use postgres::Client;
use std::collections::HashSet;
use std::io;
use std::sync::{Arc, Condvar, Mutex};

/// What became of one event: kept (`true`), refused because this process no longer holds the
/// run's lease (`false`), or the store could not be asked.
type Answer = io::Result<bool>;

/// Where an append waits for its answer.
type Told = (Mutex<Option<Answer>>, Condvar);

/// One event waiting to be written.
struct Appending {
    run_id: String,
    seq: i64,
    event: String,
    /// Written only while this lease is the run's current one; `None` for a run this process
    /// does not own (written as is).
    fence: Option<i64>,
    told: Arc<Told>,
}

/// The events a store's runs appended and that are not yet written: the next write on the
/// store's connection takes them all.
pub(super) struct Commits {
    worker: Arc<Worker>,
    queued: Mutex<Vec<Appending>>,
}

impl Commits {
    pub(super) fn new(worker: Arc<Worker>) -> Arc<Commits> {
        Arc::new(Commits {
            worker,
            queued: Mutex::new(Vec::new()),
        })
    }

    /// Appends `event` as run `run_id`'s `seq`-th and waits until it is committed.
    pub(super) fn append(
        self: &Arc<Self>,
        run_id: &str,
        seq: i64,
        event: String,
        fence: Option<i64>,
    ) -> Answer {
        let told: Arc<Told> = Arc::new((Mutex::new(None), Condvar::new()));
        let first = {
            let mut queued = self.queued.lock().expect("not poisoned");
            queued.push(Appending {
                run_id: run_id.to_string(),
                seq,
                event,
                fence,
                told: told.clone(),
            });
            queued.len() == 1
        };
        // The first to queue asks the connection's thread for a write; those queued after it,
        // before that write starts, are in it.
        if first {
            let commits = self.clone();
            let job: Job = Box::new(move |c| commits.write_queued(c));
            if self
                .worker
                .jobs
                .lock()
                .expect("not poisoned")
                .send(job)
                .is_err()
            {
                let gone = format!("the store at {} stopped", self.worker.shown);
                self.answer(self.take(), &Err(gone));
            }
        }
        let (answer, wake) = &*told;
        let deadline = std::time::Instant::now() + self.worker.deadline;
        let mut answer = answer.lock().expect("not poisoned");
        loop {
            if let Some(a) = answer.take() {
                return a;
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                // A stalled store: not waited for, as in every other call. Still queued, the
                // event is taken back (the run keeps it and appends it again); already in a
                // write, it may yet land, which appending it again tolerates.
                self.queued
                    .lock()
                    .expect("not poisoned")
                    .retain(|a| !Arc::ptr_eq(&a.told, &told));
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "the store at {} did not answer within {}",
                        self.worker.shown,
                        humantime::format_duration(self.worker.deadline)
                    ),
                ));
            }
            answer = wake.wait_timeout(answer, left).expect("not poisoned").0;
        }
    }

    /// Every queued event, leaving none.
    fn take(&self) -> Vec<Appending> {
        std::mem::take(&mut *self.queued.lock().expect("not poisoned"))
    }

    /// On the connection's thread: writes every queued event, then answers each.
    fn write_queued(&self, client: &mut Client) {
        let queued = self.take();
        if queued.is_empty() {
            return;
        }
        let written =
            write(client, &queued).map_err(|e| format!("{}: {}", self.worker.shown, said(&e)));
        self.answer(queued, &written);
    }

    /// Tells each of `queued` what came of it: kept if in `written`'s set, or the error.
    fn answer(&self, queued: Vec<Appending>, written: &Result<HashSet<(String, i64)>, String>) {
        for a in queued {
            let (answer, wake) = &*a.told;
            *answer.lock().expect("not poisoned") = Some(match written {
                Ok(kept) => Ok(kept.contains(&(a.run_id, a.seq))),
                Err(e) => Err(io::Error::other(e.clone())),
            });
            wake.notify_one();
        }
    }
}

/// Inserts `queued` in one statement; the (run, seq) of each one now kept. An event is
/// written while its fence is the run's: a lease that ran out while nobody took the run (a
/// stalled store) is still this process's, and taking the run over moves the fence.
fn write(
    client: &mut Client,
    queued: &[Appending],
) -> Result<HashSet<(String, i64)>, postgres::Error> {
    let ids: Vec<&str> = queued.iter().map(|a| a.run_id.as_str()).collect();
    let seqs: Vec<i64> = queued.iter().map(|a| a.seq).collect();
    let events: Vec<&str> = queued.iter().map(|a| a.event.as_str()).collect();
    let fences: Vec<Option<i64>> = queued.iter().map(|a| a.fence).collect();
    let inserted = client.query(
        "INSERT INTO rollgate_events (run_id, seq, event)
         SELECT q.run_id, q.seq, q.event
         FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bigint[]) AS q(run_id, seq, event, fence)
         JOIN rollgate_runs r ON r.run_id = q.run_id
         WHERE q.fence IS NULL OR r.fence = q.fence
         ON CONFLICT (run_id, seq) DO NOTHING
         RETURNING run_id, seq",
        &[&ids, &seqs, &events, &fences],
    )?;
    let mut kept: HashSet<(String, i64)> = inserted
        .iter()
        .map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1)))
        .collect();
    // A connection lost after a commit, before its answer, makes that attempt look failed:
    // an event already there, the same, is this one kept.
    let missing: Vec<&Appending> = queued
        .iter()
        .filter(|a| !kept.contains(&(a.run_id.clone(), a.seq)))
        .collect();
    if !missing.is_empty() {
        let ids: Vec<&str> = missing.iter().map(|a| a.run_id.as_str()).collect();
        let seqs: Vec<i64> = missing.iter().map(|a| a.seq).collect();
        let there = client.query(
            "SELECT e.run_id, e.seq, e.event FROM rollgate_events e
             JOIN unnest($1::text[], $2::bigint[]) AS m(run_id, seq)
               ON e.run_id = m.run_id AND e.seq = m.seq",
            &[&ids, &seqs],
        )?;
        for row in there {
            let (id, seq, event): (String, i64, String) = (row.get(0), row.get(1), row.get(2));
            if missing
                .iter()
                .any(|a| a.run_id == id && a.seq == seq && a.event == event)
            {
                kept.insert((id, seq));
            }
        }
    }
    Ok(kept)
}
