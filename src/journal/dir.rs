//! The directory store, the default: `.rollgate/runs/<run-id>/run.json` (what was run: the
//! plan, its SHA-256, the inputs, the process), `events.jsonl` (every event, one line each,
//! written and flushed before the runner moves on), `decisions/` (one file per decision asked
//! of the run), and `.rollgate/locks/<group>.lock` (the run holding a concurrency group).
//! Each event is flushed (it survives the process dying) and the file is synced to disk before
//! and after every router write (it survives the machine going down).

use super::store::{Held, Lease, Log, Store, Written};
use super::{alive, this_host, Header, Record};
use crate::event::Stamped;
use chrono::{DateTime, Utc};
use std::fs::{self, File, OpenOptions};
use std::io::{self, ErrorKind, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Runs kept under a directory.
#[derive(Debug)]
pub struct Dir {
    root: PathBuf,
}

impl Dir {
    pub fn new(root: impl Into<PathBuf>) -> Dir {
        Dir { root: root.into() }
    }

    fn run_dir(&self, run_id: &str) -> PathBuf {
        self.root.join("runs").join(run_id)
    }

    fn decisions(&self, run_id: &str) -> PathBuf {
        self.run_dir(run_id).join("decisions")
    }

    fn lock_file(&self, group: &str) -> PathBuf {
        let safe: String = group
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        self.root.join("locks").join(format!("{safe}.lock"))
    }

    fn acquire(&self, group: &str, run_id: &str) -> Result<Box<dyn Held>, String> {
        let path = self.lock_file(group);
        fs::create_dir_all(path.parent().expect("locks have a folder"))
            .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(mut f) => {
                writeln!(f, "{run_id} {}", std::process::id())
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                Ok(Box::new(LockFile { path }))
            }
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                let (id, pid) = holder(&path);
                Err(super::held_by(group, &id, None, pid))
            }
            Err(e) => Err(format!("cannot create {}: {e}", path.display())),
        }
    }
}

/// Who a lock file names: (run id, pid).
fn holder(path: &Path) -> (String, Option<u32>) {
    let text = fs::read_to_string(path).unwrap_or_default();
    let mut parts = text.split_whitespace();
    (
        parts.next().unwrap_or("an unknown run").to_string(),
        parts.next().and_then(|p| p.parse::<u32>().ok()),
    )
}

/// A held lock file; dropping it releases it.
#[derive(Debug)]
struct LockFile {
    path: PathBuf,
}

impl Held for LockFile {}

impl Drop for LockFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// An open `events.jsonl`, appending.
#[derive(Debug)]
struct EventsFile {
    file: Mutex<File>,
}

impl Log for EventsFile {
    fn append(&self, e: &Stamped) -> io::Result<()> {
        let mut line = serde_json::to_string(e).expect("events serialize");
        line.push('\n');
        let mut f = self.file.lock().expect("not poisoned");
        // One write per event, so a crash leaves whole lines (or a last partial one, dropped on reopen).
        f.write_all(line.as_bytes())?;
        f.flush()
    }

    fn sync(&self) -> io::Result<()> {
        self.file.lock().expect("not poisoned").sync_data()
    }
}

impl Store for Dir {
    fn location(&self) -> String {
        self.root.display().to_string()
    }

    fn location_of(&self, run_id: &str) -> String {
        self.run_dir(run_id).display().to_string()
    }

    /// The first of [`super::run_ids`] without a directory. [`Store::create`] refuses an id
    /// that is taken, so no run's journal is overwritten even if two take the same.
    fn new_run_id(&self, started: DateTime<Utc>) -> String {
        super::run_ids(started)
            .find(|id| !self.run_dir(id).exists())
            .expect("some count is free")
    }

    fn create(&self, header: &Header) -> io::Result<Arc<dyn Log>> {
        let dir = self.run_dir(&header.run_id);
        fs::create_dir_all(self.root.join("runs"))?;
        fs::create_dir(&dir).map_err(|e| match e.kind() {
            ErrorKind::AlreadyExists => io::Error::new(
                e.kind(),
                format!(
                    "a run `{}` already exists in {}",
                    header.run_id,
                    dir.display()
                ),
            ),
            _ => e,
        })?;
        fs::write(
            dir.join("run.json"),
            serde_json::to_string_pretty(header).expect("headers serialize") + "\n",
        )?;
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(dir.join("events.jsonl"))?;
        Ok(Arc::new(EventsFile {
            file: Mutex::new(file),
        }))
    }

    /// Drops a last line a crash cut short.
    fn reopen(&self, run_id: &str) -> io::Result<Arc<dyn Log>> {
        let path = self.run_dir(run_id).join("events.jsonl");
        let mut file = OpenOptions::new().read(true).write(true).open(&path)?;
        let mut text = String::new();
        file.read_to_string(&mut text)?;
        let keep = text.rfind('\n').map(|i| i + 1).unwrap_or(0);
        file.set_len(keep as u64)?;
        file.seek(SeekFrom::End(0))?;
        Ok(Arc::new(EventsFile {
            file: Mutex::new(file),
        }))
    }

    fn read(&self, run_id: &str) -> io::Result<Record> {
        let dir = self.run_dir(run_id);
        let header: Header = serde_json::from_str(&fs::read_to_string(dir.join("run.json"))?)
            .map_err(|e| {
                io::Error::new(
                    ErrorKind::InvalidData,
                    format!("{}: {e}", dir.join("run.json").display()),
                )
            })?;
        let text = fs::read_to_string(dir.join("events.jsonl"))?;
        let complete = text.rfind('\n').map(|i| &text[..i]).unwrap_or("");
        let events = complete
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        Ok(Record {
            header,
            events,
            owned: None,
        })
    }

    fn list(&self) -> io::Result<Vec<Record>> {
        let mut ids: Vec<String> = match fs::read_dir(self.root.join("runs")) {
            Ok(entries) => entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect(),
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        ids.sort();
        Ok(ids.iter().filter_map(|id| self.read(id).ok()).collect())
    }

    fn lock(&self, group: &str, run_id: &str, take_over: bool) -> Result<Box<dyn Held>, String> {
        let path = self.lock_file(group);
        if take_over && path.exists() {
            let (id, pid) = holder(&path);
            if id == run_id && !pid.is_some_and(alive) {
                let _ = fs::remove_file(&path);
            }
        }
        self.acquire(group, run_id)
    }

    /// Atomically: a reader never sees half a file.
    fn ask(&self, run_id: &str, w: &Written) -> io::Result<()> {
        let dir = self.decisions(run_id);
        fs::create_dir_all(&dir)?;
        let stamp = Utc::now().format("%Y%m%dT%H%M%S%.6fZ");
        let name = format!("{stamp}-{}-{}", w.decision, std::process::id());
        let tmp = dir.join(format!(".{name}.tmp"));
        fs::write(&tmp, serde_json::to_string(w).expect("decisions serialize"))?;
        fs::rename(&tmp, dir.join(format!("{name}.json")))
    }

    fn asked(&self, run_id: &str) -> Vec<(String, Written)> {
        let Ok(entries) = fs::read_dir(self.decisions(run_id)) else {
            return Vec::new();
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".json"))
            .collect();
        names.sort();
        names
            .into_iter()
            .filter_map(|n| {
                let text = fs::read_to_string(self.decisions(run_id).join(&n)).ok()?;
                Some((n, serde_json::from_str(&text).ok()?))
            })
            .collect()
    }

    fn spend(&self, run_id: &str, id: &str) {
        let path = self.decisions(run_id).join(id);
        let _ = fs::rename(&path, path.with_extension("used"));
    }

    /// One machine: its process is the owner, looked at by its pid, which the header now
    /// names (a run taken over is driven by this process, not the one that started it).
    fn claim(&self, run_id: &str) -> Result<Arc<dyn Lease>, String> {
        let path = self.run_dir(run_id).join("run.json");
        let owned = || -> io::Result<()> {
            let mut header: Header = serde_json::from_str(&fs::read_to_string(&path)?)
                .map_err(|e| io::Error::new(ErrorKind::InvalidData, e))?;
            if header.pid == std::process::id() && header.host.as_deref() == Some(&this_host()) {
                return Ok(());
            }
            header.pid = std::process::id();
            header.host = Some(this_host());
            // Whole or not at all: written beside it, then renamed over it.
            let fresh = path.with_extension("json.new");
            fs::write(
                &fresh,
                serde_json::to_string_pretty(&header).expect("headers serialize") + "\n",
            )?;
            fs::rename(&fresh, &path)
        };
        owned().map_err(|e| format!("cannot take run {run_id} over: {}: {e}", path.display()))?;
        Ok(Arc::new(Process))
    }

    fn decisions_woken(&self, _run_id: &str) -> Option<tokio::sync::watch::Receiver<u64>> {
        None
    }
}

/// A directory store's run is owned by its process for as long as it lives.
struct Process;

impl Lease for Process {
    fn check(&self) -> io::Result<()> {
        Ok(())
    }

    fn lost(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Event, Mode, RouterState};

    fn header(id: &str) -> Header {
        Header {
            run_id: id.into(),
            plan: "p.yaml".into(),
            plan_file: None,
            plan_sha256: super::super::sha256("x"),
            plan_source: None,
            inputs: vec![],
            started_at: Utc::now(),
            pid: std::process::id(),
            concurrency: None,
            environment: None,
            host: None,
            dir: None,
        }
    }

    #[test]
    fn a_taken_run_id_is_refused_and_the_next_one_is_free() {
        let dir = tempfile::tempdir().unwrap();
        let store = Dir::new(dir.path());
        let started = Utc::now();
        let first = store.new_run_id(started);
        store.create(&header(&first)).unwrap();
        let mut again = header(&first);
        again.plan = "other.yaml".into();
        let refused = store.create(&again).err().unwrap();
        assert_eq!(refused.kind(), ErrorKind::AlreadyExists);
        assert_eq!(store.read(&first).unwrap().header.plan, "p.yaml");
        let second = store.new_run_id(started);
        assert_eq!(second, format!("{first}-2"));
        store.create(&header(&second)).unwrap();
    }

    #[test]
    fn appends_reads_and_drops_a_cut_line() {
        let dir = tempfile::tempdir().unwrap();
        let store = Dir::new(dir.path());
        let j = store.create(&header("r1")).unwrap();
        let e = Stamped {
            t: 0.0,
            at: Utc::now(),
            event: Event::RunStarted {
                plan: "p".into(),
                mode: Mode::Run,
                steps: 3,
                fixture: None,
            },
        };
        j.append(&e).unwrap();
        j.append(&Stamped {
            event: Event::RouterCaptured {
                router: "edge".into(),
                state: RouterState::share(0),
            },
            ..e.clone()
        })
        .unwrap();
        drop(j);
        // A crash in the middle of a write.
        let path = dir.path().join("runs/r1/events.jsonl");
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"t\":1.0,\"event\":\"weight-sh").unwrap();
        let r = store.read("r1").unwrap();
        assert_eq!(r.events.len(), 2);
        assert_eq!(
            r.routers(),
            vec![("edge".to_string(), RouterState::share(0), None)]
        );
        let j = store.reopen("r1").unwrap();
        j.append(&e).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 3);
        assert!(text
            .lines()
            .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()));
        assert_eq!(store.list().unwrap().len(), 1);
    }

    #[test]
    fn a_second_holder_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let store = Dir::new(dir.path());
        let held = store.lock("checkout/prod", "run-1", false).unwrap();
        let refused = store.lock("checkout/prod", "run-2", false).err().unwrap();
        assert!(
            refused.contains("held by run run-1") && refused.contains("wait for it"),
            "{refused}"
        );
        drop(held);
        store.lock("checkout/prod", "run-2", false).unwrap();
    }

    #[test]
    fn a_dead_holder_is_named_and_can_be_taken_over_by_its_resume() {
        let dir = tempfile::tempdir().unwrap();
        let store = Dir::new(dir.path());
        let path = store.lock_file("g");
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, "run-9 999999999\n").unwrap();
        assert!(store
            .lock("g", "run-10", false)
            .err()
            .unwrap()
            .contains("`rollgate resume run-9`"));
        assert!(
            store.lock("g", "run-10", true).is_err(),
            "only the dead run's own resume takes over"
        );
        store.lock("g", "run-9", true).unwrap();
    }

    #[test]
    fn decisions_are_written_whole_and_read_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        let store = Dir::new(dir.path());
        let w = |d: &str| Written {
            decision: d.into(),
            gate: None,
            by: "alice".into(),
        };
        store.ask("r1", &w("approve")).unwrap();
        store.ask("r1", &w("reject")).unwrap();
        let asked = store.asked("r1");
        assert_eq!(
            asked
                .iter()
                .map(|a| a.1.decision.as_str())
                .collect::<Vec<_>>(),
            ["approve", "reject"]
        );
        store.spend("r1", &asked[0].0);
        assert_eq!(store.asked("r1").len(), 1);
        assert!(fs::read_dir(store.decisions("r1")).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with(".tmp")));
    }
}
