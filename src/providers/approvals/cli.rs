//! Gate decisions from a terminal, for a real run: `rollgate approve|reject RUN` writes a
//! decision into the run's directory, and the waiting run reads it. A decision names who made
//! it; one by anyone not among the gate's approvers is ignored (and `rollgate approve` refuses
//! it up front). Each decision is used once: a later gate needs its own.

use super::Approvals;
use crate::clock::Clock;
use crate::event::Decision;
use crate::plan::Gate;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A decision as `rollgate approve|reject|rollback` writes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Written {
    /// `approve`, `reject` or `rollback`.
    pub decision: String,
    /// The gate it is for (step id or phase name); any waiting gate when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<String>,
    pub by: String,
}

/// Where a run's decisions are written.
pub fn dir(run_dir: &Path) -> PathBuf {
    run_dir.join("decisions")
}

/// Writes a decision for the run whose directory is `run_dir`, atomically (a reader never sees
/// half a file).
pub fn write(run_dir: &Path, w: &Written) -> std::io::Result<PathBuf> {
    let dir = dir(run_dir);
    std::fs::create_dir_all(&dir)?;
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.6fZ");
    let name = format!("{stamp}-{}-{}", w.decision, std::process::id());
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, serde_json::to_string(w).expect("decisions serialize"))?;
    let path = dir.join(format!("{name}.json"));
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}

/// Unused decisions, oldest first.
pub fn pending(run_dir: &Path) -> Vec<(PathBuf, Written)> {
    let Ok(entries) = std::fs::read_dir(dir(run_dir)) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .filter_map(|p| {
            let w = serde_json::from_str(&std::fs::read_to_string(&p).ok()?).ok()?;
            Some((p, w))
        })
        .collect()
}

/// Marks a decision used.
fn spend(path: &Path) {
    let _ = std::fs::rename(path, path.with_extension("used"));
}

pub struct Cli {
    run_dir: PathBuf,
}

impl Cli {
    pub fn new(run_dir: PathBuf) -> Cli {
        Cli { run_dir }
    }
}

/// Whether `by` may decide `gate`: listed among its approvers (or `*` is).
pub fn may_decide(gate_approvers: &[String], by: &str) -> bool {
    gate_approvers.iter().any(|a| a == by || a == "*")
}

impl Cli {
    /// The oldest unused decision that may decide the gate known by `names`; the others for it
    /// are used up on the way (a non-approver's is ignored).
    fn next_decision(&self, names: &[&str], gate: &Gate) -> Option<(Decision, String)> {
        for (path, w) in pending(&self.run_dir) {
            let for_this = w.gate.as_deref().is_none_or(|g| names.contains(&g));
            if !for_this || w.decision == "rollback" {
                continue;
            }
            spend(&path);
            if !may_decide(&gate.approvers, &w.by) {
                continue;
            }
            match w.decision.as_str() {
                "approve" => return Some((Decision::Approved, w.by)),
                "reject" => return Some((Decision::Rejected, w.by)),
                _ => {}
            }
        }
        None
    }
}

#[async_trait]
impl Approvals for Cli {
    async fn decide(
        &self,
        names: &[&str],
        gate: &Gate,
        clock: &Clock,
    ) -> (Decision, Option<String>) {
        super::until_decided(gate, clock, || {
            std::future::ready(self.next_decision(names, gate))
        })
        .await
    }
}

/// Completes when someone asks the run to roll back (`rollgate rollback RUN`), with who.
pub async fn rollback_requested(run_dir: PathBuf) -> String {
    loop {
        if let Some((path, w)) = pending(&run_dir)
            .into_iter()
            .find(|(_, w)| w.decision == "rollback")
        {
            spend(&path);
            return format!("rollback requested by {}", w.by);
        }
        tokio::time::sleep(super::POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions_are_written_whole_and_read_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        for by in ["alice", "bob"] {
            write(
                dir.path(),
                &Written {
                    decision: "approve".into(),
                    gate: None,
                    by: by.into(),
                },
            )
            .unwrap();
        }
        let p = pending(dir.path());
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].1.by, "alice");
        spend(&p[0].0);
        assert_eq!(pending(dir.path())[0].1.by, "bob");
        assert!(may_decide(&["alice".into()], "alice"));
        assert!(!may_decide(&["alice".into()], "mallory"));
        assert!(may_decide(&["*".into()], "anyone"));
    }
}
