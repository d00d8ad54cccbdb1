//! `--state` (or `ROLLGATE_STATE`, or the older `--state-dir`) says where every command finds
//! runs; a store out of reach is refused without echoing its password.

use crate::support::rollgate;
use std::process::Command;

/// A finished run's journal in a directory store, as `rollgate run` leaves it.
fn journaled(dir: &std::path::Path) {
    let run = dir.join("runs/20260301T120000Z-7");
    std::fs::create_dir_all(&run).unwrap();
    std::fs::write(
        run.join("run.json"),
        r#"{"run_id":"20260301T120000Z-7","plan":"p.yaml","plan_sha256":"0","inputs":[],"started_at":"2026-03-01T12:00:00Z","pid":1}"#,
    )
    .unwrap();
    std::fs::write(
        run.join("events.jsonl"),
        "{\"t\":0.0,\"at\":\"2026-03-01T12:00:00Z\",\"event\":\"run-started\",\"plan\":\"p\",\"mode\":\"run\",\"steps\":1}\n{\"t\":1.0,\"at\":\"2026-03-01T12:00:01Z\",\"event\":\"run-finished\",\"outcome\":\"promoted\"}\n",
    )
    .unwrap();
}

#[test]
fn every_way_of_naming_the_state_finds_the_same_runs() {
    let dir = tempfile::tempdir().unwrap();
    journaled(dir.path());
    let at = dir.path().to_str().unwrap();
    for flag in ["--state", "--state-dir"] {
        let h = rollgate(&["history", flag, at]);
        assert_eq!(h.code, 0, "{}", h.stderr);
        assert!(h.stdout.contains("20260301T120000Z-7"), "{}", h.stdout);
    }
    let by_env = Command::new(env!("CARGO_BIN_EXE_rollgate"))
        .args(["status", "--json"])
        .env("ROLLGATE_STATE", at)
        .output()
        .unwrap();
    assert!(by_env.status.success());
    assert!(String::from_utf8_lossy(&by_env.stdout).contains("20260301T120000Z-7"));
    let empty = tempfile::tempdir().unwrap();
    let none = rollgate(&["history", "--state", empty.path().to_str().unwrap()]);
    assert_eq!(
        none.stdout,
        format!("no runs in {}\n", empty.path().display())
    );
    // An unset secret comes as an empty variable: the default directory, `.rollgate`.
    std::fs::create_dir(empty.path().join(".rollgate")).unwrap();
    journaled(&empty.path().join(".rollgate"));
    let unset = Command::new(env!("CARGO_BIN_EXE_rollgate"))
        .arg("history")
        .env("ROLLGATE_STATE", "")
        .current_dir(empty.path())
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&unset.stdout)
            .contains("20260301T120000Z-7  2026-03-01 12:00:00  p.yaml  promoted"),
        "{unset:?}"
    );
}

#[test]
fn a_store_out_of_reach_is_refused_without_its_secret() {
    let r = rollgate(&[
        "history",
        "--state",
        "postgres://deploy:hunter2@127.0.0.1:1/rollgate?sslmode=disable",
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("cannot reach postgres://deploy@127.0.0.1:1/rollgate"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("hunter2"), "{}", r.stderr);
    let bad = rollgate(&["history", "--state", "postgres://[oops"]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(
        bad.stderr.contains("not a PostgreSQL URL"),
        "{}",
        bad.stderr
    );
}
