//! A small DSL for running the real binary from the repository root and asserting on it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// What one run of the binary did.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn success(self) -> Self {
        assert_eq!(
            self.code, 0,
            "expected success\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    pub fn invalid(self) -> Self {
        assert_eq!(
            self.code, 2,
            "expected exit 2\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

/// Runs `rollgate ARGS...` in the repository root.
pub fn rollgate(args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_rollgate"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("the rollgate binary runs");
    Run {
        code: out.status.code().expect("exited, not killed"),
        stdout: String::from_utf8(out.stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(out.stderr).expect("utf-8 stderr"),
    }
}

/// Files in `dir` (relative to the root) ending in `ext`, sorted, as root-relative paths.
pub fn files(dir: &str, ext: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(root().join(dir))
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().and_then(|e| e.to_str()) == Some(ext))
        .map(|p| format!("{dir}/{}", p.file_name().unwrap().to_string_lossy()))
        .collect();
    v.sort();
    v
}

/// A program the tests need, with the install hint the README's test command acts on.
pub fn tool(name: &str, hint: &str) -> PathBuf {
    let found = std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join(name))
        .find(|p| Path::new(p).is_file());
    found.unwrap_or_else(|| {
        panic!("`{name}` is needed by this test: {hint} (the README's test command installs it)")
    })
}

/// Every file under `dir`, at any depth.
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// A server process a test started (HAProxy, Prometheus); killed when dropped, so a failing
/// test leaves nothing running.
pub struct Daemon(pub std::process::Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The events of a `rollgate ... --json` as they come,
/// and everything it wrote on either.
pub struct Events {
    rx: std::sync::mpsc::Receiver<serde_json::Value>,
    pub text: std::sync::Arc<std::sync::Mutex<String>>,
    /// Every event so far, waited for or not.
    seen: std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
}

impl Events {
    /// Starts `cmd` with its output piped here.
    pub fn spawn(cmd: &mut Command) -> (std::process::Child, Events) {
        let mut child = cmd
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let events = Events::of(&mut child);
        (child, events)
    }

    fn of(child: &mut std::process::Child) -> Events {
        use std::io::BufRead;
        let text = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let (out, err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
        let (t, all) = (text.clone(), seen.clone());
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                t.lock().unwrap().push_str(&line);
                let e: serde_json::Value = serde_json::from_str(&line).unwrap();
                all.lock().unwrap().push(e.clone());
                let _ = tx.send(e);
            }
        });
        let t = text.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(err).lines().map_while(Result::ok) {
                t.lock().unwrap().push_str(&line);
            }
        });
        Events { rx, text, seen }
    }

    /// The next event of `kind` that `matches`, skipping others; fails, with what the run
    /// wrote, when it ends or 30 s pass without one.
    pub fn wait_where(
        &self,
        kind: &str,
        matches: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        loop {
            let e = self
                .rx
                .recv_timeout(std::time::Duration::from_secs(30))
                .unwrap_or_else(|_| {
                    panic!(
                        "no `{kind}` event; the run wrote: {}",
                        self.text.lock().unwrap()
                    )
                });
            if e["event"] == kind && matches(&e) {
                return e;
            }
        }
    }

    /// Every event, once the process has closed its output.
    pub fn finish(self) -> Vec<serde_json::Value> {
        while self.rx.recv().is_ok() {}
        let all = self.seen.lock().unwrap().clone();
        all
    }

    /// The next event of `kind`, skipping others; fails after 30 s without one.
    pub fn wait_for(&self, kind: &str) -> serde_json::Value {
        self.wait_where(kind, |_| true)
    }
}

/// Sends `signal` (`-TERM`, `-INT`, `-KILL`) to a process with `kill`.
pub fn signal(child: &std::process::Child, signal: &str) {
    let ok = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {signal}");
}

/// Runs one of the tests' Node clients, `tests/node/SCRIPT ARGS...`, in `cwd`, once the npm
/// package it needs (`tests/node/node_modules/NEEDS`) is there.
pub fn node_client(script: &str, needs: &str, args: &[&std::ffi::OsStr], cwd: &Path) -> Output {
    let node = tool("node", "apt-get install -y nodejs");
    assert!(
        root().join("tests/node/node_modules").join(needs).exists(),
        "run `npm ci --prefix tests/node` (the README's test command does)"
    );
    Command::new(node)
        .arg(root().join("tests/node").join(script))
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap()
}

/// The `files` of a Node client's JSON report, once it succeeded.
pub fn reported_files(out: &Output) -> Vec<serde_json::Value> {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    report["files"].as_array().unwrap().clone()
}

/// A finished command's stdout and stderr together, for an assertion's message.
pub fn said(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The id of the one run kept in the directory store `state`.
pub fn only_run(state: &Path) -> String {
    let ids: Vec<String> = std::fs::read_dir(state.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    ids[0].clone()
}
