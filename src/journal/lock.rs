//! A `concurrency` group is a lock: one file per group under `.rollgate/locks/`, naming the run
//! that holds it. A second run on the group is refused with a message naming the holder.

use super::alive;
use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

/// A held lock; dropping it releases it.
#[derive(Debug)]
pub struct Lock {
    path: PathBuf,
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

fn file_for(root: &Path, group: &str) -> PathBuf {
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
    root.join("locks").join(format!("{safe}.lock"))
}

/// Takes the group's lock for `run_id`, or says who holds it and what to do.
pub fn acquire(root: &Path, group: &str, run_id: &str) -> Result<Lock, String> {
    let path = file_for(root, group);
    fs::create_dir_all(path.parent().expect("locks have a folder"))
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    match OpenOptions::new().write(true).create_new(true).open(&path) {
        Ok(mut f) => {
            writeln!(f, "{run_id} {}", std::process::id())
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            Ok(Lock { path })
        }
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {
            let holder = fs::read_to_string(&path).unwrap_or_default();
            let mut parts = holder.split_whitespace();
            let (id, pid) = (
                parts.next().unwrap_or("an unknown run").to_string(),
                parts.next().and_then(|p| p.parse::<u32>().ok()),
            );
            Err(match pid {
                Some(pid) if alive(pid) => format!("concurrency group `{group}` is held by run {id} (pid {pid}); wait for it to finish"),
                _ => format!("concurrency group `{group}` is held by run {id}, which stopped without finishing; `rollgate resume {id}` puts its routers back and releases the group"),
            })
        }
        Err(e) => Err(format!("cannot create {}: {e}", path.display())),
    }
}

/// Takes over the lock of a dead run being resumed (or takes it if free).
pub fn take_over(root: &Path, group: &str, run_id: &str) -> Result<Lock, String> {
    let path = file_for(root, group);
    if let Ok(holder) = fs::read_to_string(&path) {
        let mut parts = holder.split_whitespace();
        let same = parts.next() == Some(run_id);
        let pid_alive = parts
            .next()
            .and_then(|p| p.parse::<u32>().ok())
            .is_some_and(alive);
        if same && !pid_alive {
            let _ = fs::remove_file(&path);
        }
    }
    acquire(root, group, run_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let held = acquire(dir.path(), "checkout/prod", "run-1").unwrap();
        let refused = acquire(dir.path(), "checkout/prod", "run-2").unwrap_err();
        assert!(
            refused.contains("held by run run-1") && refused.contains("wait for it"),
            "{refused}"
        );
        drop(held);
        acquire(dir.path(), "checkout/prod", "run-2").unwrap();
    }

    #[test]
    fn a_dead_holder_is_named_and_can_be_taken_over_by_its_resume() {
        let dir = tempfile::tempdir().unwrap();
        let path = file_for(dir.path(), "g");
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, "run-9 999999999\n").unwrap();
        assert!(acquire(dir.path(), "g", "run-10")
            .unwrap_err()
            .contains("`rollgate resume run-9`"));
        assert!(
            take_over(dir.path(), "g", "run-10").is_err(),
            "only the dead run's own resume takes over"
        );
        take_over(dir.path(), "g", "run-9").unwrap();
    }
}
