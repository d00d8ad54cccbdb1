//! Where runs are kept: one trait for every store, so each command works the same whichever
//! is chosen. A store keeps each run's header and events (its journal), the decisions asked of
//! it from outside (`rollgate approve|reject|rollback`), and the concurrency groups' locks.
//! `open` picks the store a `--state` names.

use super::{Header, Record};
use crate::event::Stamped;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::io;
use std::sync::Arc;

/// A decision asked of a run from outside, as `rollgate approve|reject|rollback` writes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Written {
    /// `approve`, `reject` or `rollback`.
    pub decision: String,
    /// The gate it is for (step id or phase name); any waiting gate when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<String>,
    pub by: String,
}

/// A run's journal, open for appending.
pub trait Log: Send + Sync {
    /// Appends one event; it is kept (as the store keeps things) before this returns.
    fn append(&self, e: &Stamped) -> io::Result<()>;

    /// Makes what was appended survive the machine going down, not only the process: called
    /// before and after every router write.
    fn sync(&self) -> io::Result<()>;

    /// Whether appending waits on another machine (a database's commit), so that a caller
    /// sharing its thread with other work should wait off it.
    fn waits(&self) -> bool {
        false
    }
}

/// A concurrency group's lock, released when dropped.
pub trait Held: Send + Sync {}

/// A process's ownership of a run, renewed while it drives it and given up when dropped.
pub trait Lease: Send + Sync {
    /// `Ok` while this process still owns the run: checked before every router write, so an
    /// owner that was paused or cut off past its lease touches no router again. An error of
    /// kind `PermissionDenied` says another process holds the run; any other, that the store
    /// could not be asked.
    fn check(&self) -> io::Result<()>;

    /// Whether this process already found the lease gone (its heartbeat could not renew it):
    /// cheap, for watching.
    fn lost(&self) -> bool;
}

/// How long a lease lasts unless renewed, and how often its owner renews it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Terms {
    pub lease: std::time::Duration,
    pub heartbeat: std::time::Duration,
}

impl Default for Terms {
    fn default() -> Terms {
        Terms {
            lease: std::time::Duration::from_secs(15),
            heartbeat: std::time::Duration::from_secs(5),
        }
    }
}

pub trait Store: Send + Sync {
    /// Where runs are kept, for people: `.rollgate`.
    fn location(&self) -> String;

    /// Where one run is kept, for people: `.rollgate/runs/<id>`.
    fn location_of(&self, run_id: &str) -> String;

    /// An id for a new run started at `started`, free in this store.
    fn new_run_id(&self, started: DateTime<Utc>) -> String;

    /// Starts the journal of a new run; refused if a run of that id exists.
    fn create(&self, header: &Header) -> io::Result<Arc<dyn Log>>;

    /// Reopens a run's journal to append to it.
    fn reopen(&self, run_id: &str) -> io::Result<Arc<dyn Log>>;

    /// A run as its journal tells it.
    fn read(&self, run_id: &str) -> io::Result<Record>;

    /// Every run, oldest first.
    fn list(&self) -> io::Result<Vec<Record>>;

    /// Takes `group`'s lock for `run_id`, or says who holds it and what to do. With
    /// `take_over`, a lock `run_id` itself held when it stopped is taken back.
    fn lock(&self, group: &str, run_id: &str, take_over: bool) -> Result<Box<dyn Held>, String>;

    /// Writes a decision for a run.
    fn ask(&self, run_id: &str, w: &Written) -> io::Result<()>;

    /// A run's unused decisions, oldest first, each with its id.
    fn asked(&self, run_id: &str) -> Vec<(String, Written)>;

    /// Marks a decision used.
    fn spend(&self, run_id: &str, id: &str);

    /// Makes this process the run's owner, if no other process holds its lease.
    fn claim(&self, run_id: &str) -> Result<Arc<dyn Lease>, String>;

    /// A signal that changes whenever a decision is written for the run, where the store can
    /// tell at once (PostgreSQL's LISTEN/NOTIFY); `None` where it cannot, and the run looks.
    fn decisions_woken(&self, run_id: &str) -> Option<tokio::sync::watch::Receiver<u64>>;
}

/// Why a store could not be opened.
#[derive(Debug)]
pub enum OpenError {
    /// What `--state` says is not a store.
    Usage(String),
    /// It is one, and cannot be reached or used (down, refused, a newer schema).
    Failed(String),
}
