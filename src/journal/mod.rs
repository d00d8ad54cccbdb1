//! The journal is the state of a run: its header (what was run: the plan, its SHA-256, the
//! inputs, the process) and every event the runner emits, kept before the runner moves on. A
//! run killed at any moment leaves a journal that says what it did, including each router's
//! state before its first shift, so `rollgate resume` can put it back. Where journals are kept
//! is a [`Store`]: a directory (`dir`, the default) behind one trait.

pub mod dir;
mod open;
mod pending;
pub mod postgres;
pub mod store;

pub use open::open;
pub use pending::{Kept, Pending, Timing};
pub use store::{Held, Lease, Log, OpenError, Store, Terms, Written};

use crate::event::RouterState;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io;
use std::path::Path;

/// Where runs are kept, relative to the working directory, unless `--state` says otherwise.
pub const DEFAULT_DIR: &str = ".rollgate";

/// A gate a run waits at, or a pause it holds in, as its journal tells.
#[derive(Clone, Debug, PartialEq)]
pub struct WaitingGate {
    pub step: String,
    pub approvers: Vec<String>,
    /// Where its decision comes from: `cli`, or a `github` provider's name.
    pub via: String,
    /// Set when the run is paused rather than at a gate.
    pub paused: Option<Paused>,
}

/// Why a run holds, and what may follow.
#[derive(Clone, Debug, PartialEq)]
pub struct Paused {
    pub reason: String,
    /// False when only a rollback can follow (its rollback was refused).
    pub can_continue: bool,
    /// When the pause ends by itself, and how (`rollback` or `continue`).
    pub until: Option<DateTime<Utc>>,
    pub on_timeout: String,
}

/// What was run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Header {
    pub run_id: String,
    /// The plan's path as given.
    pub plan: String,
    /// The plan's absolute path, so `resume` and `rollback` work from any directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_file: Option<String>,
    /// SHA-256 of the plan's text: `resume` refuses a plan that changed since.
    pub plan_sha256: String,
    /// The plan's text, for a plan sent to `rollgate serve` in a request rather than read
    /// from a file: kept with the run, so any process can take it over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_source: Option<String>,
    pub inputs: Vec<String>,
    pub started_at: DateTime<Utc>,
    pub pid: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<String>,
    /// The deployment environment it ran for (`--environment`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// The machine it ran on, where `pid` means something.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// The directory it was started in: its commands run there, wherever it is taken over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<String>,
}

/// This machine's name.
pub fn this_host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

pub fn sha256(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A run as its journal tells it.
#[derive(Clone, Debug)]
pub struct Record {
    pub header: Header,
    /// The events, as JSON, in order; a last line cut short by a crash is left out.
    pub events: Vec<Value>,
    /// Whether a process holds the run's lease now, in a store with leases; `None` in one
    /// without, where the run's process is looked at instead.
    pub owned: Option<bool>,
}

impl Record {
    /// Whether some process may be driving the run now: it holds the run's lease, or (in a
    /// store without leases) its process is alive here, or runs on another machine, where this
    /// one cannot tell.
    pub fn driven(&self) -> bool {
        match (self.owned, &self.header.host) {
            (Some(owned), _) => owned,
            (None, Some(host)) if *host != this_host() => true,
            (None, _) => alive(self.header.pid),
        }
    }

    /// Its `run-finished` event, if the run finished.
    pub fn finished(&self) -> Option<&Value> {
        self.events
            .iter()
            .rev()
            .find(|e| e["event"] == "run-finished")
    }

    /// The outcome, if the run finished.
    pub fn outcome(&self) -> Option<&str> {
        self.finished().and_then(|e| e["outcome"].as_str())
    }

    /// The last step the run started.
    pub fn last_step(&self) -> Option<&str> {
        self.events
            .iter()
            .rev()
            .find(|e| e["event"] == "step-started")
            .and_then(|e| e["step"].as_str())
    }

    /// The steps that finished successfully.
    pub fn done_steps(&self) -> std::collections::BTreeSet<String> {
        self.events
            .iter()
            .filter(|e| e["event"] == "step-finished" && e["status"] == "succeeded")
            .filter_map(|e| e["step"].as_str().map(str::to_string))
            .collect()
    }

    /// The gate the run waits at, or the pause it holds in, with who may decide: the last
    /// `gate-waiting` or `paused` not yet decided.
    pub fn waiting_gate(&self) -> Option<WaitingGate> {
        let mut open = None;
        for e in &self.events {
            let waiting = |paused| WaitingGate {
                step: e["step"].as_str().unwrap_or_default().to_string(),
                approvers: e["approvers"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default(),
                via: e["via"]
                    .as_str()
                    .unwrap_or(crate::plan::gate::CLI_APPROVALS)
                    .to_string(),
                paused,
            };
            match e["event"].as_str() {
                Some("gate-waiting") => open = Some(waiting(None)),
                Some("paused") => {
                    let at = e["at"]
                        .as_str()
                        .and_then(|t| DateTime::parse_from_rfc3339(t).ok());
                    let timeout = e["timeout"].as_f64().unwrap_or_default();
                    open = Some(waiting(Some(Paused {
                        reason: e["reason"]["message"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string(),
                        can_continue: e["can_continue"].as_bool().unwrap_or(true),
                        until: at.map(|at| {
                            at.with_timezone(&Utc)
                                + chrono::Duration::milliseconds((timeout * 1000.0) as i64)
                        }),
                        on_timeout: e["on_timeout"].as_str().unwrap_or("rollback").to_string(),
                    })));
                }
                Some("gate-decided" | "pause-decided") => open = None,
                _ => {}
            }
        }
        open
    }

    /// The routers the journal says were left off their state before the run: (router, its
    /// canary weight before, the weight last set). A router read back after its last shift
    /// (`router-checked`) is off when any rule or server differed; otherwise the weight last
    /// set is compared with the one before.
    pub fn routers_off(&self) -> Vec<(String, u8, u8)> {
        let mut checked: BTreeMap<&str, bool> = BTreeMap::new();
        for e in &self.events {
            let router = e["router"].as_str().unwrap_or_default();
            match e["event"].as_str() {
                Some("weight-shifted") => {
                    checked.remove(router);
                }
                Some("router-checked") => {
                    let off = e["off"].as_array().is_some_and(|o| !o.is_empty());
                    checked.insert(router, off);
                }
                _ => {}
            }
        }
        self.routers()
            .into_iter()
            .filter_map(|(name, before, last)| {
                let w = last.unwrap_or(before.canary_weight);
                match checked.get(name.as_str()) {
                    Some(true) => Some((name, before.canary_weight, w)),
                    Some(false) => None,
                    None if w != before.canary_weight => Some((name, before.canary_weight, w)),
                    None => None,
                }
            })
            .collect()
    }

    /// For a run that ended without being promoted, the routers it left off their state
    /// before the run, for people: "edge at 25% (before the run: 0%)".
    pub fn left_off(&self) -> Option<String> {
        if self.outcome().is_none_or(|o| o == "promoted") {
            return None;
        }
        let off: Vec<String> = self
            .routers_off()
            .iter()
            .map(|(name, before, now)| format!("{name} at {now}% (before the run: {before}%)"))
            .collect();
        (!off.is_empty()).then(|| off.join(", "))
    }

    /// Where the plan the run ran is: its absolute path when the journal has it.
    pub fn plan_file(&self) -> &str {
        self.header
            .plan_file
            .as_deref()
            .unwrap_or(&self.header.plan)
    }

    /// Its plan's name, as `rollgate serve` takes it: the plan file's name without `.yaml`
    /// (a plan sent as text is kept under its own name).
    pub fn plan_name(&self) -> String {
        let file = std::path::Path::new(&self.header.plan)
            .file_name()
            .map(|f| f.to_string_lossy().to_string())
            .unwrap_or_default();
        file.strip_suffix(".yaml")
            .or_else(|| file.strip_suffix(".yml"))
            .unwrap_or(&file)
            .to_string()
    }

    /// Whether the process driving it handed it over (its last event), to be carried on.
    pub fn handed_over(&self) -> bool {
        self.events
            .last()
            .is_some_and(|e| e["event"] == "run-handed-over")
    }

    /// Whether the run had begun rolling back.
    pub fn rolling_back(&self) -> bool {
        self.events.iter().any(|e| e["event"] == "rollback-started")
    }

    /// Each router's state before the run's first shift on it, and the weight it was last set to.
    pub fn routers(&self) -> Vec<(String, RouterState, Option<u8>)> {
        let mut out: Vec<(String, RouterState, Option<u8>)> = Vec::new();
        for e in &self.events {
            let router = e["router"].as_str().unwrap_or_default().to_string();
            match e["event"].as_str() {
                Some("router-captured") => out.push((
                    router,
                    serde_json::from_value(e.clone()).unwrap_or_default(),
                    None,
                )),
                Some("weight-shifted") => {
                    if let (Some(r), Some(w)) = (
                        out.iter_mut().find(|r| r.0 == router),
                        e["to"]["percent"].as_u64(),
                    ) {
                        r.2 = Some(w as u8);
                    }
                }
                _ => {}
            }
        }
        out
    }
}

/// Run `id`'s record, or the latest run's when none is named; `None` when there is no such run.
pub fn find(store: &dyn Store, id: Option<&str>) -> io::Result<Option<Record>> {
    Ok(match id {
        Some(id) => store.read(id).ok(),
        None => store.list()?.pop(),
    })
}

/// Ids for a run started at `started`, in the order a store tries them: its time and this
/// process's id, then with a count (several runs started in one second, in one process).
pub fn run_ids(started: DateTime<Utc>) -> impl Iterator<Item = String> {
    let base = format!(
        "{}-{}",
        started.format("%Y%m%dT%H%M%SZ"),
        std::process::id()
    );
    (1..).map(move |n| match n {
        1 => base.clone(),
        n => format!("{base}-{n}"),
    })
}

/// Why a concurrency group cannot be taken, and what to do: held by `run_id`, whose process
/// `pid` runs on `on` (this machine when `None` or named so).
pub fn held_by(group: &str, run_id: &str, on: Option<&str>, pid: Option<u32>) -> String {
    let elsewhere = on.filter(|h| *h != this_host());
    match (elsewhere, pid) {
        (Some(on), pid) => {
            let pid = pid.map(|p| format!(", pid {p}")).unwrap_or_default();
            format!("concurrency group `{group}` is held by run {run_id} (on {on}{pid}); wait for it to finish, or `rollgate resume {run_id}` if it stopped")
        }
        (None, Some(pid)) if alive(pid) => format!(
            "concurrency group `{group}` is held by run {run_id} (pid {pid}); wait for it to finish"
        ),
        _ => format!("concurrency group `{group}` is held by run {run_id}, which stopped without finishing; `rollgate resume {run_id}` puts its routers back and releases the group"),
    }
}

/// Whether a process is alive (Linux: it has a /proc entry).
pub fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Whether the plan named `plan` may start now, given the rollbacks its earlier runs in
/// `store` ended in: at most `max_per_hour` in the last hour, and `cool_down` after the last one.
pub fn rollback_policy_allows(
    store: &dyn Store,
    plan: &str,
    max_per_hour: Option<u32>,
    cool_down: Option<std::time::Duration>,
    now: DateTime<Utc>,
) -> Result<(), String> {
    if max_per_hour.is_none() && cool_down.is_none() {
        return Ok(());
    }
    let rollbacks: Vec<DateTime<Utc>> = store
        .list()
        .map_err(|e| format!("cannot read the history in {}: {e}", store.location()))?
        .iter()
        .filter(|r| r.events.first().is_some_and(|e| e["plan"] == plan))
        .filter_map(|r| r.events.iter().rev().find(|e| e["event"] == "run-finished"))
        .filter(|e| matches!(e["outcome"].as_str(), Some("rolled-back" | "router-failed")))
        .filter_map(|e| {
            e["at"]
                .as_str()
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc))
        })
        .collect();
    let hour_ago = now - chrono::Duration::hours(1);
    let recent: Vec<&DateTime<Utc>> = rollbacks.iter().filter(|t| **t > hour_ago).collect();
    if let Some(max) = max_per_hour {
        if recent.len() >= max as usize {
            let oldest = recent.iter().min().expect("at least max ≥ 1 rollbacks");
            return Err(format!(
                "plan `{plan}` rolled back {} time{} in the last hour (rollback.max-per-hour: {max}); the next run may start after {}",
                recent.len(),
                if recent.len() == 1 { "" } else { "s" },
                (**oldest + chrono::Duration::hours(1)).format("%Y-%m-%d %H:%M:%S UTC")
            ));
        }
    }
    if let (Some(cd), Some(last)) = (cool_down, rollbacks.iter().max()) {
        let until = *last + chrono::Duration::from_std(cd).unwrap_or_default();
        if until > now {
            return Err(format!(
                "plan `{plan}` rolled back at {}; with rollback.cool-down {} the next run may start at {}",
                last.format("%H:%M:%S UTC"),
                crate::plan::Duration(cd),
                until.format("%Y-%m-%d %H:%M:%S UTC")
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(plan: &str, host: Option<&str>, pid: u32) -> Record {
        Record {
            header: Header {
                run_id: "r".into(),
                plan: plan.into(),
                plan_file: None,
                plan_sha256: sha256("x"),
                plan_source: None,
                inputs: vec![],
                started_at: Utc::now(),
                pid,
                concurrency: None,
                environment: None,
                host: host.map(str::to_string),
                dir: None,
            },
            events: vec![],
            owned: None,
        }
    }

    #[test]
    fn a_plan_is_named_by_its_file() {
        let name = |plan| run(plan, None, 1).plan_name();
        assert_eq!(name("/srv/plans/checkout.yaml"), "checkout");
        assert_eq!(name("plans/a.b.yml"), "a.b");
        assert_eq!(name("sent"), "sent");
    }

    #[test]
    fn a_process_elsewhere_may_be_running_and_one_here_is_looked_at() {
        let h = |host: Option<&str>, pid: u32| run("p.yaml", host, pid);
        let dead = 999_999_999;
        assert!(h(Some("elsewhere.invalid"), dead).driven());
        assert!(!h(Some(&this_host()), dead).driven());
        assert!(!h(None, dead).driven(), "older journals: this machine's");
        assert!(h(None, std::process::id()).driven());
        // Where the store keeps leases, the lease says, wherever the process ran.
        let leased = |owned| Record {
            owned: Some(owned),
            ..h(Some("elsewhere.invalid"), dead)
        };
        assert!(!leased(false).driven());
        assert!(leased(true).driven());
    }
}
