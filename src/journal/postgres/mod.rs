//! The PostgreSQL store: runs kept in a database every machine can reach, so a run's journal
//! outlives the machine that ran it and locks hold across machines. Tables `rollgate_runs`
//! (each run's header), `rollgate_events` (every event, keyed by run and sequence, never two
//! alike), `rollgate_decisions` and `rollgate_locks`; their version is in `rollgate_schema`,
//! migrated on first use, and a newer schema than this rollgate knows is refused.
//!
//! A run is owned by the process driving it through a lease: `fence` counts its owners and
//! `lease_until` is when the current one's lease runs out unless renewed (every heartbeat).
//! Events are written only by the owner whose fence is current and whose lease has not run
//! out, and it checks the same before every router write, so an owner that was paused or cut
//! off past its lease writes nothing more, even after another took the run over.
//!
//! The store's calls are synchronous, like the directory's, so the runner appends an event and
//! moves on only once it is kept. They run on one thread of the store's own that owns the
//! connection (`postgres`' blocking client, which may not be driven from inside the run's
//! runtime), reconnecting when the connection was lost.

mod connection;
mod group_commit;
mod lease;
mod listen;
mod schema;

use super::store::{Held, Lease, Log, OpenError, Store, Terms, Written};
use super::{alive, this_host as host, Header, Record};
use crate::event::Stamped;
use chrono::{DateTime, Utc};
use connection::{connect, said, shown, Held as Leased, Job, Worker};
use group_commit::Commits;
use lease::{heartbeat, lost, Owned};
use listen::{listen, Signals};
use postgres::error::SqlState;
use postgres::Config;
use schema::migrate;
use std::collections::HashMap;
use std::io::{self, ErrorKind};
use std::sync::atomic::AtomicBool;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

/// Runs kept in PostgreSQL.
pub struct Postgres {
    worker: Arc<Worker>,
    /// Where every run's appends wait to be written together.
    commits: Arc<Commits>,
    terms: Terms,
    config: Config,
    /// Per run, the signal a written decision changes; the listening thread starts with the
    /// first run asked about.
    woken: Mutex<Option<Arc<Signals>>>,
}

impl Postgres {
    /// Connects to the database `url` names and migrates it; an error says where and why,
    /// never with the password.
    pub fn connect(url: &str, terms: Terms) -> Result<Postgres, OpenError> {
        let mut config: Config = url.parse().map_err(|e| {
            OpenError::Usage(format!("`--state`: not a PostgreSQL URL ({e}); e.g. `postgres://rollgate@db.internal/rollgate`"))
        })?;
        // A cut network must fail a call within seconds, not the system's minutes, so a run
        // knows its store is gone while its lease still says something; the URL may say else.
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(std::time::Duration::from_secs(5));
        }
        if config.get_tcp_user_timeout().is_none() {
            config.tcp_user_timeout(std::time::Duration::from_secs(10));
        }
        let shown = shown(&config);
        let listening = config.clone();
        let (jobs, take) = mpsc::channel::<Job>();
        let (ready, started) = mpsc::channel();
        let where_ = shown.clone();
        std::thread::Builder::new()
            .name("rollgate-store".into())
            .spawn(move || {
                let mut client = match connect(&config) {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = ready.send(Err(format!("cannot reach {where_}: {}", said(&e))));
                        return;
                    }
                };
                let migrated = migrate(&mut client, &where_);
                let ok = migrated.is_ok();
                let _ = ready.send(migrated);
                if !ok {
                    return;
                }
                for job in take {
                    // A connection the server dropped (a restart) is made again for the next
                    // call; the call that found it closed fails and says so.
                    if client.is_closed() {
                        if let Ok(c) = connect(&config) {
                            client = c;
                        }
                    }
                    job(&mut client);
                }
            })
            .map_err(|e| OpenError::Failed(format!("cannot start the store's thread: {e}")))?;
        let deadline = deadline(&terms);
        // Connecting and migrating have a bound too: a server that accepts and never answers
        // is not waited for.
        let opening = deadline.max(listening.get_connect_timeout().copied().unwrap_or_default());
        started
            .recv_timeout(opening * 2)
            .map_err(|_| {
                OpenError::Failed(format!(
                    "cannot reach {shown}: no answer within {}",
                    humantime::format_duration(opening * 2)
                ))
            })?
            .map_err(OpenError::Failed)?;
        let worker = Arc::new(Worker {
            jobs: Mutex::new(jobs),
            shown,
            fences: Mutex::new(HashMap::new()),
            deadline,
        });
        let beating = Arc::downgrade(&worker);
        std::thread::Builder::new()
            .name("rollgate-lease".into())
            .spawn(move || heartbeat(beating, terms))
            .map_err(|e| OpenError::Failed(format!("cannot start the leases' heartbeat: {e}")))?;
        Ok(Postgres {
            commits: Commits::new(worker.clone()),
            worker,
            terms,
            config: listening,
            woken: Mutex::new(None),
        })
    }
}

/// How long one call to the store may take before the store counts as unreachable: a third
/// of the lease (so a stall is seen while the lease still holds), from 1 s to 10 s.
fn deadline(terms: &Terms) -> std::time::Duration {
    (terms.lease / 3).clamp(
        std::time::Duration::from_secs(1),
        std::time::Duration::from_secs(10),
    )
}

/// How long reading every run (`history`, the service's listing) may take.
const LISTING: std::time::Duration = std::time::Duration::from_secs(60);

/// Whether a run's lease is held now, as a column of `rollgate_runs`.
const LEASED: &str = "coalesce(lease_until > now(), false)";

/// A run's journal in the database: each event a row at the next sequence number.
struct Events {
    worker: Arc<Worker>,
    commits: Arc<Commits>,
    run_id: String,
    next: Mutex<i64>,
}

impl Log for Events {
    fn append(&self, e: &Stamped) -> io::Result<()> {
        let event = serde_json::to_string(e).expect("events serialize");
        let mut next = self.next.lock().expect("not poisoned");
        let (run_id, seq) = (self.run_id.clone(), *next);
        let fence = self
            .worker
            .fences
            .lock()
            .expect("not poisoned")
            .get(&self.run_id)
            .map(|held| held.fence);
        let written = self.commits.append(&run_id, seq, event, fence)?;
        if !written {
            return Err(lost(&self.run_id));
        }
        *next += 1;
        Ok(())
    }

    /// Each event was committed as it was appended.
    fn sync(&self) -> io::Result<()> {
        Ok(())
    }

    /// Each append waits for a commit on another machine.
    fn waits(&self) -> bool {
        true
    }
}

/// A concurrency group's row, deleted when dropped, only while it still names this holder's
/// fence: a process that lost its run to another does not free the group the other holds.
struct Locked {
    worker: Arc<Worker>,
    group: String,
    run_id: String,
    fence: i64,
}

impl Held for Locked {}

impl Drop for Locked {
    fn drop(&mut self) {
        let (group, run_id, fence) = (self.group.clone(), self.run_id.clone(), self.fence);
        let _ = self.worker.call(move |c| {
            c.execute(
                "DELETE FROM rollgate_locks WHERE grp = $1 AND run_id = $2 AND fence = $3",
                &[&group, &run_id, &fence],
            )
        });
    }
}

fn header_of(run_id: &str, text: &str) -> io::Result<Header> {
    serde_json::from_str(text).map_err(|e| {
        io::Error::new(
            ErrorKind::InvalidData,
            format!("the header of run {run_id}: {e}"),
        )
    })
}

impl Store for Postgres {
    fn location(&self) -> String {
        self.worker.shown.clone()
    }

    fn location_of(&self, run_id: &str) -> String {
        format!("{} (run {run_id})", self.worker.shown)
    }

    /// The first of [`crate::journal::run_ids`] no run has.
    fn new_run_id(&self, started: DateTime<Utc>) -> String {
        let mut ids = crate::journal::run_ids(started);
        let base = ids.next().expect("ids go on");
        let pattern = format!("{base}%");
        let taken: Vec<String> = self
            .worker
            .call(move |c| {
                let rows = c.query(
                    "SELECT run_id FROM rollgate_runs WHERE run_id LIKE $1",
                    &[&pattern],
                )?;
                Ok(rows.iter().map(|r| r.get(0)).collect())
            })
            .unwrap_or_default();
        std::iter::once(base)
            .chain(ids)
            .find(|id| !taken.contains(id))
            .expect("some count is free")
    }

    fn create(&self, header: &Header) -> io::Result<Arc<dyn Log>> {
        let text = serde_json::to_string_pretty(header).expect("headers serialize");
        let run_id = header.run_id.clone();
        let inserted = self.worker.call(move |c| {
            match c.execute(
                "INSERT INTO rollgate_runs (run_id, header) VALUES ($1, $2)",
                &[&run_id, &text],
            ) {
                Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => Ok(false),
                done => done.map(|_| true),
            }
        })?;
        if !inserted {
            return Err(io::Error::new(
                ErrorKind::AlreadyExists,
                format!(
                    "a run `{}` already exists in {}",
                    header.run_id, self.worker.shown
                ),
            ));
        }
        Ok(Arc::new(Events {
            worker: self.worker.clone(),
            commits: self.commits.clone(),
            run_id: header.run_id.clone(),
            next: Mutex::new(0),
        }))
    }

    fn reopen(&self, run_id: &str) -> io::Result<Arc<dyn Log>> {
        let id = run_id.to_string();
        let next: i64 = self.worker.call(move |c| {
            c.query_one(
                "SELECT coalesce(max(seq) + 1, 0) FROM rollgate_events WHERE run_id = $1",
                &[&id],
            )
            .map(|r| r.get(0))
        })?;
        Ok(Arc::new(Events {
            worker: self.worker.clone(),
            commits: self.commits.clone(),
            run_id: run_id.to_string(),
            next: Mutex::new(next),
        }))
    }

    fn read(&self, run_id: &str) -> io::Result<Record> {
        let id = run_id.to_string();
        let (header, events) = self.worker.call(move |c| {
            let header: Option<(String, bool)> = c
                .query_opt(
                    &format!("SELECT header, {LEASED} FROM rollgate_runs WHERE run_id = $1"),
                    &[&id],
                )?
                .map(|r| (r.get(0), r.get(1)));
            let events: Vec<String> = c
                .query(
                    "SELECT event FROM rollgate_events WHERE run_id = $1 ORDER BY seq",
                    &[&id],
                )?
                .iter()
                .map(|r| r.get(0))
                .collect();
            Ok((header, events))
        })?;
        let Some((header, owned)) = header else {
            return Err(io::Error::new(
                ErrorKind::NotFound,
                format!("no run `{run_id}` in {}", self.worker.shown),
            ));
        };
        Ok(Record {
            header: header_of(run_id, &header)?,
            events: events
                .iter()
                .filter_map(|e| serde_json::from_str(e).ok())
                .collect(),
            owned: Some(owned),
        })
    }

    fn list(&self) -> io::Result<Vec<Record>> {
        let (runs, events) = self.worker.call_within(LISTING, |c| {
            let runs: Vec<(String, String, bool)> = c
                .query(
                    &format!("SELECT run_id, header, {LEASED} FROM rollgate_runs ORDER BY run_id"),
                    &[],
                )?
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2)))
                .collect();
            let events: Vec<(String, String)> = c
                .query(
                    "SELECT run_id, event FROM rollgate_events ORDER BY run_id, seq",
                    &[],
                )?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect();
            Ok((runs, events))
        })?;
        // Ordered by run, so each run's events are one stretch, taken in one pass.
        let mut by_run: HashMap<String, Vec<serde_json::Value>> = HashMap::new();
        for (run_id, event) in events {
            if let Ok(e) = serde_json::from_str(&event) {
                by_run.entry(run_id).or_default().push(e);
            }
        }
        runs.into_iter()
            .map(|(run_id, header, owned)| {
                Ok(Record {
                    header: header_of(&run_id, &header)?,
                    events: by_run.remove(&run_id).unwrap_or_default(),
                    owned: Some(owned),
                })
            })
            .collect()
    }

    fn lock(&self, group: &str, run_id: &str, take_over: bool) -> Result<Box<dyn Held>, String> {
        let (grp, id, on, pid) = (
            group.to_string(),
            run_id.to_string(),
            host(),
            std::process::id() as i32,
        );
        // This process's fence on the run, when it holds its lease (a run taken over does;
        // a new run locks its group before it is first claimed, at fence 0).
        let fence = self
            .worker
            .fences
            .lock()
            .expect("not poisoned")
            .get(run_id)
            .map(|h| h.fence);
        let owner = fence.is_some();
        let fence = fence.unwrap_or(0);
        // Taken, or who holds it: (run, host, pid).
        let holder = self
            .worker
            .call(move |c| {
                let mut tx = c.transaction()?;
                let taken = tx.execute(
                    "INSERT INTO rollgate_locks (grp, run_id, host, pid, fence) VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (grp) DO NOTHING",
                    &[&grp, &id, &on, &pid, &fence],
                )? == 1;
                if taken {
                    tx.commit()?;
                    return Ok(None);
                }
                let row = tx.query_one(
                    "SELECT run_id, host, pid FROM rollgate_locks WHERE grp = $1 FOR UPDATE",
                    &[&grp],
                )?;
                let holder: (String, String, i32) = (row.get(0), row.get(1), row.get(2));
                // A run being taken over takes back the lock it held when it stopped: this
                // process now holds its lease, or its process, on this machine, is gone.
                let stopped = owner || (holder.1 == on && !alive(holder.2 as u32));
                if take_over && holder.0 == id && stopped {
                    tx.execute(
                        "UPDATE rollgate_locks SET host = $2, pid = $3, fence = $4 WHERE grp = $1",
                        &[&grp, &on, &pid, &fence],
                    )?;
                    tx.commit()?;
                    return Ok(None);
                }
                Ok(Some(holder))
            })
            .map_err(|e| e.to_string())?;
        match holder {
            None => Ok(Box::new(Locked {
                worker: self.worker.clone(),
                group: group.to_string(),
                run_id: run_id.to_string(),
                fence,
            })),
            Some((id, on, pid)) => Err(crate::journal::held_by(
                group,
                &id,
                Some(&on),
                Some(pid as u32),
            )),
        }
    }

    fn ask(&self, run_id: &str, w: &Written) -> io::Result<()> {
        let (id, text) = (
            run_id.to_string(),
            serde_json::to_string(w).expect("decisions serialize"),
        );
        self.worker.call(move |c| {
            c.execute(
                "INSERT INTO rollgate_decisions (run_id, decision) VALUES ($1, $2)",
                &[&id, &text],
            )?;
            // The run is woken at once, wherever it runs.
            c.execute("SELECT pg_notify('rollgate_decisions', $1)", &[&id])
        })?;
        Ok(())
    }

    fn asked(&self, run_id: &str) -> Vec<(String, Written)> {
        let id = run_id.to_string();
        let rows: Vec<(i64, String)> = self
            .worker
            .call(move |c| {
                Ok(c.query(
                    "SELECT id, decision FROM rollgate_decisions WHERE run_id = $1 AND NOT used ORDER BY id",
                    &[&id],
                )?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect())
            })
            .unwrap_or_default();
        rows.into_iter()
            .filter_map(|(id, text)| Some((id.to_string(), serde_json::from_str(&text).ok()?)))
            .collect()
    }

    fn claim(&self, run_id: &str) -> Result<Arc<dyn Lease>, String> {
        let (id, lease) = (run_id.to_string(), self.terms.lease.as_secs_f64());
        let claimed = self
            .worker
            .call(move |c| {
                let row = c.query_opt(
                    "UPDATE rollgate_runs SET fence = fence + 1,
                         lease_until = now() + make_interval(secs => $2)
                     WHERE run_id = $1 AND (lease_until IS NULL OR lease_until <= now())
                     RETURNING fence",
                    &[&id, &lease],
                )?;
                let held_until: Option<String> = match row {
                    Some(_) => None,
                    None => c
                        .query_opt(
                            "SELECT to_char(lease_until AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') FROM rollgate_runs WHERE run_id = $1",
                            &[&id],
                        )?
                        .and_then(|r| r.get(0)),
                };
                Ok((row.map(|r| r.get::<_, i64>(0)), held_until))
            })
            .map_err(|e| e.to_string())?;
        let fence = match claimed {
            (Some(fence), _) => fence,
            (None, Some(until)) => return Err(format!("run {run_id} is owned by another process, whose lease runs until {until} UTC unless it stops renewing it")),
            (None, None) => return Err(format!("no run `{run_id}` in {}", self.worker.shown)),
        };
        let lost = Arc::new(AtomicBool::new(false));
        self.worker.fences.lock().expect("not poisoned").insert(
            run_id.to_string(),
            Leased {
                fence,
                lost: lost.clone(),
            },
        );
        Ok(Arc::new(Owned {
            worker: self.worker.clone(),
            run_id: run_id.to_string(),
            fence,
            lease: self.terms.lease,
            lost,
        }))
    }

    fn decisions_woken(&self, run_id: &str) -> Option<tokio::sync::watch::Receiver<u64>> {
        let mut woken = self.woken.lock().expect("not poisoned");
        if woken.is_none() {
            let senders = Arc::new(Mutex::new(HashMap::new()));
            let (config, to) = (self.config.clone(), senders.clone());
            std::thread::Builder::new()
                .name("rollgate-listen".into())
                .spawn(move || listen(config, to))
                .ok()?;
            *woken = Some(senders);
        }
        let senders = woken.as_ref().expect("started");
        let mut senders = senders.lock().expect("not poisoned");
        let tx = senders
            .entry(run_id.to_string())
            .or_insert_with(|| tokio::sync::watch::channel(0).0);
        Some(tx.subscribe())
    }

    fn spend(&self, _run_id: &str, id: &str) {
        let Ok(id) = id.parse::<i64>() else { return };
        let _ = self.worker.call(move |c| {
            c.execute(
                "UPDATE rollgate_decisions SET used = true WHERE id = $1",
                &[&id],
            )
        });
    }
}
