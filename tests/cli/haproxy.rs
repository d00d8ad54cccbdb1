//! A real HAProxy (Debian's package, installed by the README's test command) on loopback with
//! an admin socket: the `haproxy` router captures, shifts, confirms and restores its weights,
//! through the library and through `rollgate run`.

use rollgate::event::Route;
use rollgate::plan::provider::{Haproxy as Spec, Servers};
use rollgate::providers::traffic::{Haproxy, TrafficRouter};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// An HAProxy process and its admin socket.
struct Proxy {
    _process: crate::rig::Process,
    socket: PathBuf,
}

/// Starts HAProxy with backend `app`: `stable` at weight 100 and `canary` at 0 (servers are
/// never contacted: no health checks, no traffic), its admin socket in `dir`.
fn start(dir: &Path, after: Duration) -> Proxy {
    let socket = dir.join("admin.sock");
    let cfg = dir.join("haproxy.cfg");
    std::fs::write(
        &cfg,
        format!(
            "global\n  stats socket {} mode 600 level admin\ndefaults\n  mode http\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\nbackend app\n  balance roundrobin\n  server stable 127.0.0.1:1 weight 100\n  server canary 127.0.0.1:1 weight 0\n",
            socket.display()
        ),
    )
    .unwrap();
    std::thread::sleep(after);
    Proxy {
        _process: crate::rig::haproxy(&cfg),
        socket,
    }
}

fn wait_for(socket: &Path) {
    crate::rig::wait_for(
        "HAProxy did not open its socket",
        Duration::from_secs(10),
        || socket.exists(),
    );
}

fn router(socket: &Path) -> Haproxy {
    Haproxy::new(Spec {
        socket: socket.display().to_string(),
        backend: "app".into(),
        stable: Servers::One("stable".into()),
        canary: Servers::One("canary".into()),
        timeout: None,
    })
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn shifts_are_confirmed_and_restores_are_exact() {
    let dir = tempfile::tempdir().unwrap();
    let proxy = start(dir.path(), Duration::ZERO);
    wait_for(&proxy.socket);
    let r = router(&proxy.socket);
    rt().block_on(async {
        let before = r.state().await.unwrap();
        assert_eq!(before.canary_weight, 0);
        assert_eq!(before.servers.get("stable"), Some(&100));
        r.apply(&Route::Weight { percent: 25 }).await.unwrap();
        let now = r.state().await.unwrap();
        assert_eq!(now.canary_weight, 25);
        assert_eq!((now.servers["stable"], now.servers["canary"]), (192, 64));
        r.restore(&before).await.unwrap();
        assert_eq!(
            r.state().await.unwrap(),
            before,
            "restored exactly, not approximately"
        );
    });
}

#[test]
fn a_refusing_socket_is_retried_until_it_answers() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("admin.sock");
    let plan = format!(
        "name: late haproxy\nproviders:\n  edge: {{ kind: haproxy, socket: {}, backend: app, stable: stable, canary: canary }}\n  metrics: {{ kind: metrics-command, run: echo 0.001 }}\ninterval: 250ms\nchecks:\n  error-rate: {{ source: metrics, canary: errors, max: 1% }}\nstrategy:\n  canary: {{ weights: [100], observe: 250ms }}\n",
        socket.display()
    );
    std::fs::write(dir.path().join("plan.yaml"), plan).unwrap();
    let mut run = Command::new(env!("CARGO_BIN_EXE_rollgate"))
        .args(["run", "plan.yaml"])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The run reads the router at once and finds no socket; HAProxy opens it once the run has
    // said it is retrying, well within the retries' 1.5 s.
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(run.stdout.take().unwrap()));
    let mut stdout = String::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        stdout += &line;
        if line.contains("edge: attempt 1 failed: HAProxy's socket") {
            assert!(line.contains("retrying in 0.1s"), "{line}");
            break;
        }
    }
    let _proxy = start(dir.path(), Duration::ZERO);
    for line in lines {
        stdout += &line.unwrap();
    }
    assert_eq!(run.wait().unwrap().code(), Some(0), "{stdout}");
    assert!(stdout.contains("Promoted"), "{stdout}");
    assert!(socket.exists());
}

#[test]
fn rollgate_run_drives_haproxy_and_rolls_back_to_the_weights_before() {
    let dir = tempfile::tempdir().unwrap();
    let proxy = start(dir.path(), Duration::ZERO);
    wait_for(&proxy.socket);
    let plan = format!(
        "name: haproxy canary\nproviders:\n  edge: {{ kind: haproxy, socket: {}, backend: app, stable: stable, canary: canary }}\n  metrics: {{ kind: metrics-command, run: cat errors }}\ninterval: 250ms\nchecks:\n  error-rate: {{ source: metrics, canary: errors, max: 1% }}\nstrategy:\n  canary: {{ weights: [25, 50, 100], observe: 500ms }}\n",
        proxy.socket.display()
    );
    std::fs::write(dir.path().join("plan.yaml"), plan).unwrap();
    let run = |errors: &str| {
        std::fs::write(dir.path().join("errors"), errors).unwrap();
        Command::new(env!("CARGO_BIN_EXE_rollgate"))
            .args(["run", "plan.yaml"])
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    let r = router(&proxy.socket);
    let out = run("0.001");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let after = rt().block_on(r.state()).unwrap();
    assert_eq!(
        (
            after.canary_weight,
            after.servers["stable"],
            after.servers["canary"]
        ),
        (100, 0, 256)
    );
    // Back to the original weights by hand, then a run whose canary fails.
    rt().block_on(r.restore(&rollgate::event::RouterState {
        canary_weight: 0,
        servers: [("stable".to_string(), 100), ("canary".to_string(), 0)].into(),
        ..Default::default()
    }))
    .unwrap();
    let out = run("0.05");
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let after = rt().block_on(r.state()).unwrap();
    assert_eq!(
        (after.servers["stable"], after.servers["canary"]),
        (100, 0),
        "exactly the weights before the run"
    );
}

#[test]
fn a_router_that_refuses_ends_the_run_loudly_with_its_own_code() {
    let dir = tempfile::tempdir().unwrap();
    let proxy = start(dir.path(), Duration::ZERO);
    wait_for(&proxy.socket);
    // The backend has no server `ghost`: every shift is refused.
    let plan = format!(
        "name: haproxy canary\nproviders:\n  edge: {{ kind: haproxy, socket: {}, backend: app, stable: stable, canary: ghost }}\n  metrics: {{ kind: metrics-command, run: echo 0.001 }}\ninterval: 250ms\nchecks:\n  error-rate: {{ source: metrics, canary: errors, max: 1% }}\nstrategy:\n  canary: {{ weights: [25, 100], observe: 500ms }}\n",
        proxy.socket.display()
    );
    std::fs::write(dir.path().join("plan.yaml"), plan).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rollgate"))
        .args(["run", "plan.yaml"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(5), "{stdout}{stderr}");
    assert!(
        stdout.contains("backend `app` has no server `ghost`"),
        "{stdout}"
    );
    assert!(
        stderr.contains("a router failed (see above); nothing had moved."),
        "the first shift was refused: {stderr}"
    );
    let now = rt().block_on(router(&proxy.socket).state()).unwrap();
    assert_eq!(
        (now.servers["stable"], now.servers["canary"]),
        (100, 0),
        "HAProxy untouched"
    );
}

/// kill -9 at 25%, then `rollgate resume` from another directory: the plan's relative socket
/// is the plan's (its directory's), not the resuming shell's, and the canary goes back to 0.
#[test]
fn killed_then_resumed_from_elsewhere_a_relative_socket_is_found_and_put_back() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("r")).unwrap();
    let proxy = start(&dir.path().join("r"), Duration::ZERO);
    wait_for(&proxy.socket);
    let plan = "name: relative socket\nproviders:\n  edge: { kind: haproxy, socket: r/admin.sock, backend: app, stable: stable, canary: canary }\n  metrics: { kind: metrics-command, run: cat errors }\ninterval: 200ms\nchecks:\n  errors: { source: metrics, canary: errors, max: 1% }\nstrategy:\n  canary: { weights: [25, 100], observe: 30s }\n";
    std::fs::write(dir.path().join("plan.yaml"), plan).unwrap();
    std::fs::write(dir.path().join("errors"), "0.001").unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rollgate"));
    cmd.args(["run", "plan.yaml", "--state-dir", "state", "--json"])
        .current_dir(dir.path())
        .env_remove("GITHUB_ACTIONS");
    let (mut child, events) = crate::support::Events::spawn(&mut cmd);
    events.wait_where("weight-shifted", |e| e["to"]["percent"] == 25);
    child.kill().unwrap();
    child.wait().unwrap();
    let r = router(&proxy.socket);
    assert_eq!(rt().block_on(r.state()).unwrap().canary_weight, 25);
    let run_id = crate::support::only_run(&dir.path().join("state"));
    let elsewhere = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let resume = || {
        Command::new(env!("CARGO_BIN_EXE_rollgate"))
            .args(["resume", &run_id, "--state-dir"])
            .arg(&state)
            .current_dir(elsewhere.path())
            .env_remove("GITHUB_ACTIONS")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let out = resume();
    let text = crate::support::said(&out);
    assert_eq!(out.status.code(), Some(3), "{text}");
    let now = rt().block_on(r.state()).unwrap();
    assert_eq!((now.canary_weight, now.servers["canary"]), (0, 0), "{text}");
    // Nothing is left off, and saying so is the truth now.
    let again = resume();
    assert_eq!(
        again.status.code(),
        Some(0),
        "{}",
        crate::support::said(&again)
    );
}
