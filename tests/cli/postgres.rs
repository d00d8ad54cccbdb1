//! The tests that need a PostgreSQL cluster ([`Cluster`]): the store contract on both stores,
//! and real runs kept in the database.

use crate::cluster::Cluster;
use rollgate::journal::dir::Dir;
use rollgate::journal::{Header, Store, Written};
use std::path::Path;
use std::process::Command;

fn header(id: &str) -> Header {
    Header {
        run_id: id.into(),
        plan: "p.yaml".into(),
        plan_file: None,
        plan_sha256: rollgate::journal::sha256("x"),
        plan_source: None,
        inputs: vec!["release=v2".into()],
        started_at: chrono::Utc::now(),
        pid: std::process::id(),
        concurrency: Some("g".into()),
        environment: None,
        host: None,
        dir: None,
    }
}

fn stamped(t: f64, step: &str) -> rollgate::event::Stamped {
    rollgate::event::Stamped {
        t,
        at: chrono::Utc::now(),
        event: rollgate::event::Event::StepStarted {
            step: step.into(),
            kind: "shift",
        },
    }
}

/// What every store does, the same way.
fn contract(store: &dyn Store) {
    let started = chrono::Utc::now();
    let id = store.new_run_id(started);
    let log = store.create(&header(&id)).unwrap();
    let taken = store.create(&header(&id)).err().unwrap();
    assert_eq!(taken.kind(), std::io::ErrorKind::AlreadyExists);
    assert!(taken
        .to_string()
        .contains(&format!("a run `{id}` already exists in")));
    assert_eq!(store.new_run_id(started), format!("{id}-2"));
    log.append(&stamped(0.0, "a")).unwrap();
    log.append(&stamped(1.0, "b")).unwrap();
    drop(log);
    // Reopened (a resume), it appends after what is there.
    store
        .reopen(&id)
        .unwrap()
        .append(&stamped(2.0, "c"))
        .unwrap();
    let r = store.read(&id).unwrap();
    assert_eq!(r.header, header(&id).clone_with_start(r.header.started_at));
    let steps: Vec<&str> = r
        .events
        .iter()
        .map(|e| e["step"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["a", "b", "c"]);
    assert_eq!(r.last_step(), Some("c"));
    assert_eq!(store.list().unwrap().len(), 1);
    assert_eq!(
        store.read("no-such-run").unwrap_err().kind(),
        std::io::ErrorKind::NotFound
    );
    // One holder per group, released when dropped; a live holder is not taken over, even by
    // its own id (a stopped run's resume taking its lock back is tested with a killed run).
    let held = store.lock("g", &id, false).unwrap();
    let refused = store.lock("g", "other", false).err().unwrap();
    assert!(
        refused.contains(&format!("concurrency group `g` is held by run {id} (pid ")),
        "{refused}"
    );
    assert!(store.lock("g", "other", true).is_err());
    assert!(store.lock("g", &id, true).is_err());
    drop(held);
    drop(store.lock("g", "other", false).unwrap());
    // Decisions: oldest first, each used once.
    let w = |d: &str, by: &str| Written {
        decision: d.into(),
        gate: Some("canary".into()),
        by: by.into(),
    };
    store.ask(&id, &w("approve", "alice")).unwrap();
    store.ask(&id, &w("rollback", "bob")).unwrap();
    let asked = store.asked(&id);
    assert_eq!(
        asked.iter().map(|a| a.1.clone()).collect::<Vec<_>>(),
        [w("approve", "alice"), w("rollback", "bob")]
    );
    store.spend(&id, &asked[0].0);
    assert_eq!(store.asked(&id).len(), 1);
    // Owned by one process at a time where the store has leases; given up when dropped.
    let lease = store.claim(&id).unwrap();
    lease.check().unwrap();
    assert!(!lease.lost());
    if let Some(owned) = store.read(&id).unwrap().owned {
        assert!(owned);
        assert_eq!(store.list().unwrap()[0].owned, Some(true));
        let taken = store.claim(&id).err().unwrap();
        assert!(taken.contains("is owned by another process"), "{taken}");
        drop(lease);
        assert_eq!(store.read(&id).unwrap().owned, Some(false));
        drop(store.claim(&id).unwrap());
    }
}

trait WithStart {
    fn clone_with_start(&self, at: chrono::DateTime<chrono::Utc>) -> Header;
}

impl WithStart for Header {
    fn clone_with_start(&self, at: chrono::DateTime<chrono::Utc>) -> Header {
        Header {
            started_at: at,
            ..self.clone()
        }
    }
}

/// Runs appending at once share commits; each still learns what became of its own event.
#[test]
fn appends_from_many_runs_at_once_are_each_kept_in_order_and_a_run_taken_by_another_is_refused_alone(
) {
    let cluster = Cluster::start();
    let url = cluster.database("together");
    let store = rollgate::journal::open(&url, Default::default()).unwrap();
    let started = chrono::Utc::now();
    let runs: Vec<_> = (0..40)
        .map(|_| {
            let id = store.new_run_id(started);
            let log = store.create(&header(&id)).unwrap();
            let lease = store.claim(&id).unwrap();
            (id, log, lease)
        })
        .collect();
    // Another process took the first run over: its fence moved on.
    let taken = runs[0].0.clone();
    cluster.sql(
        "together",
        &format!("UPDATE rollgate_runs SET fence = fence + 1 WHERE run_id = '{taken}'"),
    );
    let answers: Vec<Vec<std::io::Result<()>>> = std::thread::scope(|s| {
        let writers: Vec<_> = runs
            .iter()
            .map(|(_, log, _)| {
                s.spawn(move || {
                    (0..25)
                        .map(|i| log.append(&stamped(f64::from(i), "x")))
                        .collect()
                })
            })
            .collect();
        writers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let refused = answers[0][0].as_ref().unwrap_err();
    assert_eq!(
        refused.kind(),
        std::io::ErrorKind::PermissionDenied,
        "{refused}"
    );
    for (i, (id, _, _)) in runs.iter().enumerate().skip(1) {
        assert!(
            answers[i].iter().all(|a| a.is_ok()),
            "{id}: {:?}",
            answers[i]
        );
        let kept: Vec<f64> = store
            .read(id)
            .unwrap()
            .events
            .iter()
            .map(|e| e["t"].as_f64().unwrap())
            .collect();
        assert_eq!(kept, (0..25).map(f64::from).collect::<Vec<_>>(), "{id}");
    }
    assert!(store.read(&taken).unwrap().events.is_empty());
}

#[test]
fn both_stores_keep_runs_decisions_and_locks_the_same_way() {
    let dir = tempfile::tempdir().unwrap();
    contract(&Dir::new(dir.path()));
    let cluster = Cluster::start();
    let url = cluster.database("contract");
    let store = rollgate::journal::open(&url, Default::default()).unwrap();
    contract(store.as_ref());
    // Migrated once, to the version this rollgate writes; opening again changes nothing.
    assert_eq!(
        cluster.sql("contract", "SELECT max(version) FROM rollgate_schema"),
        "3"
    );
    drop(rollgate::journal::open(&url, Default::default()).unwrap());
    assert_eq!(
        cluster.sql("contract", "SELECT count(*) FROM rollgate_schema"),
        "3"
    );
    // A newer rollgate's schema is refused, saying so.
    cluster.sql("contract", "INSERT INTO rollgate_schema VALUES (99)");
    let refused = match rollgate::journal::open(&url, Default::default()) {
        Err(rollgate::journal::OpenError::Failed(why)) => why,
        _ => panic!("a newer schema is refused"),
    };
    assert!(
        refused.contains("schema version 99, made by a newer rollgate"),
        "{refused}"
    );
}

/// A plan whose router is a file, gated for alice, with a concurrency group.
const GATED: &str = "name: gated\nproviders:\n  router: { kind: traffic-command, set: 'echo $ROLLGATE_CANARY_WEIGHT > router', get: cat router }\n  metrics: { kind: metrics-command, run: echo 0.001 }\ninterval: 100ms\nchecks:\n  errors: { source: metrics, canary: errors, max: 1% }\nphases:\n  - { name: canary-25, weight: 25, observe: 200ms, gate: { approvers: [alice], timeout: 30s, on-timeout: rollback } }\n  - { name: full, weight: 100, observe: 200ms }\nconcurrency: gated\n";

/// Leases short enough for a test to outlive: 2 s, renewed every half second.
fn short_leases(c: &mut Command) -> &mut Command {
    c.env("ROLLGATE_LEASE", "2s")
        .env("ROLLGATE_HEARTBEAT", "500ms")
}

fn rollgate_in(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = short_leases(&mut Command::new(env!("CARGO_BIN_EXE_rollgate")))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

fn router(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("router"))
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn a_run_kept_in_postgres_is_approved_from_elsewhere_and_resumed_once_its_lease_ran_out() {
    let cluster = Cluster::start();
    let url = cluster.database("runs");
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("plan.yaml"), GATED).unwrap();
    std::fs::write(work.path().join("router"), "0\n").unwrap();
    // Approved by another process, from another directory: the run reads the store.
    let (mut run, events) = crate::support::Events::spawn(
        short_leases(&mut Command::new(env!("CARGO_BIN_EXE_rollgate")))
            .args(["run", "plan.yaml", "--json", "--state", &url])
            .current_dir(work.path()),
    );
    let waiting = events.wait_for("gate-waiting");
    assert_eq!(waiting["step"], "canary-25.gate");
    let elsewhere = tempfile::tempdir().unwrap();
    let (code, out, err) = rollgate_in(
        elsewhere.path(),
        &["approve", "--by", "alice", "--state", &url],
    );
    let approved = std::time::Instant::now();
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("approved `canary-25.gate` of run "), "{out}");
    // Woken by the database at once (LISTEN/NOTIFY); otherwise it would look only every 5 s.
    events.wait_for("gate-decided");
    let woke = approved.elapsed();
    assert!(
        woke < std::time::Duration::from_secs(1),
        "the run woke {woke:?} after the approval"
    );
    assert_eq!(run.wait().unwrap().code(), Some(0));
    assert_eq!(router(work.path()), "100");
    assert_eq!(
        cluster.sql("runs", "SELECT count(*) FROM rollgate_locks"),
        "0"
    );
    let (_, history, _) = rollgate_in(elsewhere.path(), &["history", "--state", &url]);
    assert!(history.contains("plan.yaml  promoted"), "{history}");

    // Killed outright at its gate, the lock still held: resumed by another process, it
    // puts the router back and releases the group; no event is lost or written twice.
    std::fs::write(work.path().join("router"), "0\n").unwrap();
    let (mut run, events) = crate::support::Events::spawn(
        short_leases(&mut Command::new(env!("CARGO_BIN_EXE_rollgate")))
            .args(["run", "plan.yaml", "--json", "--state", &url])
            .current_dir(work.path()),
    );
    events.wait_for("gate-waiting");
    run.kill().unwrap();
    run.wait().unwrap();
    assert_eq!(router(work.path()), "25");
    let id = cluster.sql(
        "runs",
        "SELECT run_id FROM rollgate_runs ORDER BY run_id DESC LIMIT 1",
    );
    assert_eq!(cluster.sql("runs", "SELECT run_id FROM rollgate_locks"), id);
    let before: usize = cluster
        .sql(
            "runs",
            &format!("SELECT count(*) FROM rollgate_events WHERE run_id = '{id}'"),
        )
        .parse()
        .unwrap();
    // Its lease still runs: nobody takes it over yet, from this machine or another, and
    // every machine sees it as running, whatever its process (the lease says, not the pid).
    let (code, _, err) = rollgate_in(work.path(), &["resume", &id, "--state", &url]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("is owned by another process"), "{err}");
    assert_eq!(router(work.path()), "25");
    let (_, status, _) = rollgate_in(elsewhere.path(), &["status", &id, "--state", &url]);
    assert!(status.contains(": running\n"), "{status}");
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let (_, status, _) = rollgate_in(elsewhere.path(), &["status", &id, "--state", &url]);
    assert!(
        status.contains(": stopped during canary-25.gate (rollgate resume "),
        "{status}"
    );
    // The router's commands name a file relative to where rollgate runs: resumed from there.
    let (code, out, err) = rollgate_in(work.path(), &["resume", &id, "--state", &url]);
    assert_eq!(code, 3, "{out}{err}");
    assert_eq!(router(work.path()), "0");
    assert_eq!(
        cluster.sql("runs", "SELECT count(*) FROM rollgate_locks"),
        "0"
    );
    let seqs = cluster.sql(
        "runs",
        &format!("SELECT string_agg(seq::text, ',' ORDER BY seq) FROM rollgate_events WHERE run_id = '{id}'"),
    );
    let seqs: Vec<usize> = seqs.split(',').map(|s| s.parse().unwrap()).collect();
    assert!(seqs.len() > before);
    assert_eq!(
        seqs,
        (0..seqs.len()).collect::<Vec<_>>(),
        "one row per sequence number, none skipped"
    );
    let (_, status, _) = rollgate_in(elsewhere.path(), &["status", &id, "--state", &url]);
    assert!(status.contains(": rolled-back\n"), "{status}");
}

/// `plan` with a router that also logs every write it is given.
fn logging_router(plan: &str) -> String {
    plan.replace(
        "set: 'echo $ROLLGATE_CANARY_WEIGHT > router'",
        "set: 'echo $ROLLGATE_CANARY_WEIGHT >> writes; echo $ROLLGATE_CANARY_WEIGHT > router'",
    )
}

fn writes(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("writes"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

fn signal(child: &std::process::Child, sig: &str) {
    assert!(Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap()
        .success());
}

/// A run of `plan` kept in database `db`, once it emitted an event of kind `until`: the
/// store's URL, the run's directory, its process and its events (kept, so its output has a
/// reader).
fn started(
    cluster: &Cluster,
    db: &str,
    plan: &str,
    until: &str,
) -> (
    String,
    tempfile::TempDir,
    std::process::Child,
    crate::support::Events,
) {
    let url = cluster.database(db);
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("plan.yaml"), plan).unwrap();
    std::fs::write(work.path().join("router"), "0\n").unwrap();
    let (run, events) = crate::support::Events::spawn(
        short_leases(&mut Command::new(env!("CARGO_BIN_EXE_rollgate")))
            .args(["run", "plan.yaml", "--json", "--state", &url])
            .current_dir(work.path()),
    );
    events.wait_for(until);
    (url, work, run, events)
}

#[test]
fn an_orphan_is_reaped_once_its_lease_runs_out() {
    let cluster = Cluster::start();
    let (url, work, mut run, _events) =
        started(&cluster, "reap", &logging_router(GATED), "gate-waiting");
    // Renewing its lease, a run is nobody's orphan.
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let (code, out, _) = rollgate_in(work.path(), &["reap", "--state", &url]);
    assert_eq!(
        (code, out.as_str()),
        (
            0,
            format!("no orphaned runs in {}\n", url.split('?').next().unwrap()).as_str()
        )
    );
    run.kill().unwrap();
    run.wait().unwrap();
    let killed = std::time::Instant::now();
    assert_eq!(router(work.path()), "25");
    // Reaped on a schedule: the first pass after the lease ran out puts the router back.
    let reaped = loop {
        let (code, out, err) = rollgate_in(work.path(), &["reap", "--state", &url]);
        assert_eq!(code, 0, "{out}{err}");
        if err.contains("taking over run ") {
            break killed.elapsed();
        }
        assert!(
            killed.elapsed() < std::time::Duration::from_secs(10),
            "never reaped"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    assert_eq!(router(work.path()), "0");
    assert!(
        reaped >= std::time::Duration::from_millis(1500),
        "reaped while its lease ran: {reaped:?}"
    );
    // Within the lease and one pass of the schedule (here 200 ms), with room for a busy
    // machine's process starts.
    assert!(
        reaped < std::time::Duration::from_millis(2000 + 200 + 1500),
        "reaped {reaped:?} after the kill"
    );
    assert_eq!(
        cluster.sql("reap", "SELECT count(*) FROM rollgate_locks"),
        "0"
    );
    let (_, status, _) = rollgate_in(work.path(), &["status", "--state", &url]);
    assert!(status.contains(": rolled-back\n"), "{status}");
}

#[test]
fn an_owner_paused_past_its_lease_writes_nothing_once_another_took_over() {
    let cluster = Cluster::start();
    let (url, work, mut run, _events) =
        started(&cluster, "fenced", &logging_router(GATED), "gate-waiting");
    assert_eq!(writes(work.path()), ["25"]);
    signal(&run, "-STOP");
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let (code, out, err) = rollgate_in(work.path(), &["reap", "--state", &url]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("taking over run "), "{err}");
    assert_eq!(writes(work.path()), ["25", "0"]);
    let id = cluster.sql("fenced", "SELECT run_id FROM rollgate_runs");
    let count = |sql: &str| cluster.sql("fenced", sql);
    let events_then = count("SELECT count(*) FROM rollgate_events");
    // Woken, the old owner finds the run is no longer its own: it stops, writes no event and
    // touches no router.
    signal(&run, "-CONT");
    let status = run.wait().unwrap();
    assert_ne!(status.code(), Some(0));
    assert_eq!(
        writes(work.path()),
        ["25", "0"],
        "the old owner wrote to the router"
    );
    assert_eq!(count("SELECT count(*) FROM rollgate_events"), events_then);
    assert_eq!(router(work.path()), "0");
    let last = count(&format!(
        "SELECT event::json->>'outcome' FROM rollgate_events WHERE run_id = '{id}' ORDER BY seq DESC LIMIT 1"
    ));
    assert_eq!(last, "rolled-back");
}

#[test]
fn two_runs_racing_for_one_group_on_two_machines_start_once() {
    let cluster = Cluster::start();
    let url = cluster.database("race");
    // Two checkouts, as on two runners, sharing only the store.
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for dir in [&a, &b] {
        std::fs::write(dir.path().join("plan.yaml"), GATED).unwrap();
        std::fs::write(dir.path().join("router"), "0\n").unwrap();
    }
    let spawn = |dir: &Path| {
        short_leases(&mut Command::new(env!("CARGO_BIN_EXE_rollgate")))
            .args(["run", "plan.yaml", "--state", &url])
            .current_dir(dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (mut first, mut second) = (spawn(a.path()), spawn(b.path()));
    // One is refused at once; the other waits at its gate.
    let start = std::time::Instant::now();
    loop {
        let ended = [first.try_wait().unwrap(), second.try_wait().unwrap()];
        let at_gate = [router(a.path()), router(b.path())]
            .iter()
            .filter(|r| *r == "25")
            .count();
        if ended.iter().flatten().count() == 1 && at_gate == 1 {
            break;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(20),
            "{ended:?}, {at_gate} at the gate"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // Approved once it waits at its gate (it observes first).
    loop {
        let (code, out, err) =
            rollgate_in(a.path(), &["approve", "--by", "alice", "--state", &url]);
        if code == 0 {
            break;
        }
        assert!(err.contains("waits at no gate"), "{out}{err}");
        assert!(
            start.elapsed() < std::time::Duration::from_secs(20),
            "{err}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let outs: Vec<(Option<i32>, String)> = [first, second]
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stderr).into(),
            )
        })
        .collect();
    let codes: Vec<Option<i32>> = outs.iter().map(|o| o.0).collect();
    assert!(
        codes == [Some(0), Some(1)] || codes == [Some(1), Some(0)],
        "{outs:?}"
    );
    let loser = &outs.iter().find(|o| o.0 == Some(1)).unwrap().1;
    assert!(
        loser.contains("concurrency group `gated` is held by run "),
        "{loser}"
    );
    // The refused run started nothing: no journal of its own.
    assert_eq!(
        cluster.sql("race", "SELECT count(*) FROM rollgate_runs"),
        "1"
    );
    assert_eq!(
        cluster.sql("race", "SELECT count(*) FROM rollgate_locks"),
        "0"
    );
}

/// A plan that watches its canary for 4 s, asking for a metric every 200 ms, then takes all
/// the traffic.
const WATCHED: &str = "name: watched\nproviders:\n  router: { kind: traffic-command, set: 'echo $ROLLGATE_CANARY_WEIGHT > router', get: cat router }\n  metrics: { kind: metrics-command, run: echo 0.001 }\ninterval: 200ms\nchecks:\n  errors: { source: metrics, canary: errors, max: 1% }\nphases:\n  - { name: canary-25, weight: 25, observe: 4s }\n  - { name: full, weight: 100, observe: 200ms }\n";

#[test]
fn a_database_restarted_mid_run_is_ridden_out_and_no_event_is_lost() {
    let cluster = Cluster::start();
    let (_, work, mut run, events) = started(
        &cluster,
        "restart",
        &logging_router(WATCHED),
        "weight-shifted",
    );
    // Down for 4 s, past the 2 s lease and across the shift to 100% due 4 s into the run.
    std::thread::sleep(std::time::Duration::from_millis(500));
    cluster.stop();
    let away = events.wait_for("store-unreachable");
    assert_eq!(away["rolls_back_after"], 30.0);
    std::thread::sleep(std::time::Duration::from_secs(4));
    cluster.start_again();
    assert_eq!(
        run.wait().unwrap().code(),
        Some(0),
        "{}",
        events.text.lock().unwrap()
    );
    let all = events.finish();
    let kinds: Vec<&str> = all.iter().map(|e| e["event"].as_str().unwrap()).collect();
    let back = kinds.iter().position(|k| *k == "store-reachable").unwrap();
    let shifts: Vec<usize> = (0..kinds.len())
        .filter(|i| kinds[*i] == "weight-shifted")
        .collect();
    assert_eq!(shifts.len(), 2, "{kinds:?}");
    // The shift to 100% waited for the store; the router was told nothing else.
    assert!(shifts[1] > back, "{kinds:?}");
    assert_eq!(writes(work.path()), ["25", "100"]);
    // Every event it printed is in the database once, in order, written after the restart.
    let journaled = cluster.sql(
        "restart",
        "SELECT string_agg(event::json->>'event', ',' ORDER BY seq) FROM rollgate_events",
    );
    assert_eq!(journaled, kinds.join(","));
    assert_eq!(
        cluster.sql(
            "restart",
            "SELECT count(*) FROM rollgate_runs WHERE lease_until IS NULL"
        ),
        "1",
        "the lease is given up at the end"
    );
}

#[test]
fn a_database_gone_past_the_plans_bound_rolls_back_loudly_and_prints_what_it_could_not_write() {
    let cluster = Cluster::start();
    let plan = WATCHED.replace("phases:", "rollback: { store-outage: 1s }\nphases:");
    let (_, work, run, events) =
        started(&cluster, "gone", &logging_router(&plan), "weight-shifted");
    cluster.stop();
    let out = run.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        events.text.lock().unwrap()
    );
    let text = events.text.lock().unwrap().clone();
    let all = events.finish();
    // Back where the run found it, without proof of owning the run, saying so.
    assert_eq!(writes(work.path()), ["25", "0"]);
    let finished = all.iter().find(|e| e["event"] == "run-finished").unwrap();
    let reason = finished["reason"]["message"].as_str().unwrap();
    assert!(
        reason.starts_with("the store has been unreachable for 1s (rollback.store-outage): rolling back without being able to prove"),
        "{reason}"
    );
    // What the database never got is on stderr, the run's end included.
    assert!(
        text.contains(" events could not be written to postgres://rollgate@127.0.0.1:"),
        "{text}"
    );
    assert!(
        text.contains(r#""event":"run-finished","outcome":"rolled-back""#),
        "{text}"
    );
}

/// The group lock belongs to whoever drives the run: an owner that lost its run to another
/// process, woken and exiting, does not free the group the other now holds.
#[test]
fn a_lock_survives_the_exit_of_the_owner_that_lost_its_run() {
    let cluster = Cluster::start();
    let plan = format!("{GATED}resume: continue\n");
    let (url, work, mut run, _events) = started(&cluster, "lockfence", &plan, "gate-waiting");
    signal(&run, "-STOP");
    std::thread::sleep(std::time::Duration::from_millis(2500));
    // The reaper carries the run on (`resume: continue`): it waits at the gate again.
    let mut reaper = short_leases(&mut Command::new(env!("CARGO_BIN_EXE_rollgate")))
        .args(["reap", "--state", &url])
        .current_dir(work.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let reaper_pid = reaper.id().to_string();
    crate::rig::wait_for(
        "the reaper to take the group's lock",
        std::time::Duration::from_secs(15),
        || cluster.sql("lockfence", "SELECT pid FROM rollgate_locks") == reaper_pid,
    );
    signal(&run, "-CONT");
    let _ = run.wait().unwrap();
    assert_eq!(
        cluster.sql("lockfence", "SELECT pid FROM rollgate_locks"),
        reaper_pid,
        "the old owner freed the group the reaper holds"
    );
    // So a second run of the group is refused while the reaper drives the first.
    let (code, out, err) = rollgate_in(work.path(), &["run", "plan.yaml", "--state", &url]);
    assert_ne!(code, 0, "{out}{err}");
    assert!(err.contains("held"), "{out}{err}");
    let _ = reaper.kill();
    let _ = reaper.wait();
}

/// A plan whose router logs every write with its writer's pid and fails (slowly) at 50%.
const FLAKY_AT_50: &str = "name: flaky\nproviders:\n  router: { kind: traffic-command, set: 'echo \"$PPID $ROLLGATE_CANARY_WEIGHT\" >> writes; if [ $ROLLGATE_CANARY_WEIGHT = 50 ]; then sleep 0.7; exit 1; fi; echo $ROLLGATE_CANARY_WEIGHT > router', get: cat router }\n  metrics: { kind: metrics-command, run: echo 0.001 }\ninterval: 100ms\nchecks:\n  errors: { source: metrics, canary: errors, max: 1% }\nphases:\n  - { name: canary-25, weight: 25, observe: 300ms }\n  - { name: canary-50, weight: 50, observe: 300ms }\n  - { name: full, weight: 100 }\n";

/// Every write the witness router logged: (writer's pid, weight).
fn witnessed(dir: &Path) -> Vec<(String, String)> {
    writes(dir)
        .iter()
        .filter_map(|l| l.split_once(' '))
        .map(|(pid, w)| (pid.to_string(), w.to_string()))
        .collect()
}

/// An owner cut off from its database while it retries a failing shift is taken over; it
/// must not send that shift again once the taker has put the router back.
#[test]
fn an_owner_cut_off_mid_retry_writes_nothing_after_the_takeover() {
    let cluster = Cluster::start();
    let direct = cluster.database("midretry");
    let (proxy, through) = crate::fault_proxy::FaultProxy::before(&direct);
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("plan.yaml"), FLAKY_AT_50).unwrap();
    std::fs::write(work.path().join("router"), "0\n").unwrap();
    let (mut run, _events) = crate::support::Events::spawn(
        short_leases(&mut Command::new(env!("CARGO_BIN_EXE_rollgate")))
            .args(["run", "plan.yaml", "--json", "--state", &through])
            .current_dir(work.path()),
    );
    let owner = run.id().to_string();
    crate::rig::wait_for(
        "the first attempt at 50%",
        std::time::Duration::from_secs(15),
        || witnessed(work.path()).iter().any(|(_, w)| w == "50"),
    );
    proxy.set(crate::fault_proxy::Fault::Drop);
    // The reaper reaches the database; once the owner's lease runs out it puts 0 back.
    let reaped = loop {
        let (code, out, err) = rollgate_in(work.path(), &["reap", "--state", &direct]);
        assert_eq!(code, 0, "{out}{err}");
        if err.contains("taking over run ") {
            break witnessed(work.path());
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    let restored = reaped
        .iter()
        .rposition(|(pid, w)| *pid != owner && w == "0")
        .expect("the reaper put the router back");
    // Longer than the owner's retries would take.
    std::thread::sleep(std::time::Duration::from_secs(6));
    let after: Vec<_> = witnessed(work.path())
        .into_iter()
        .skip(restored + 1)
        .filter(|(pid, _)| *pid == owner)
        .collect();
    assert!(
        after.is_empty(),
        "the old owner wrote after the takeover: {after:?}"
    );
    assert_eq!(router(work.path()), "0");
    let _ = run.kill();
    let _ = run.wait();
}

/// A run of `plan` kept through a fault proxy in front of database `db`: the proxy, the run's
/// directory, its process and events, once the canary is at 25%.
fn through_a_proxy(
    cluster: &Cluster,
    db: &str,
    plan: &str,
) -> (
    crate::fault_proxy::FaultProxy,
    tempfile::TempDir,
    std::process::Child,
    crate::support::Events,
) {
    let (proxy, through) = crate::fault_proxy::FaultProxy::before(&cluster.database(db));
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("plan.yaml"), plan).unwrap();
    std::fs::write(work.path().join("router"), "0\n").unwrap();
    let (run, events) = crate::support::Events::spawn(
        short_leases(&mut Command::new(env!("CARGO_BIN_EXE_rollgate")))
            .args(["run", "plan.yaml", "--json", "--state", &through])
            .current_dir(work.path()),
    );
    events.wait_where("weight-shifted", |e| e["to"]["percent"] == 25);
    (proxy, work, run, events)
}

/// A database that stops answering without any TCP error (the proxy holds every byte) is
/// seen as unreachable within a call's deadline, and rolls the run back per store-outage.
#[test]
fn a_held_database_is_seen_and_rolls_back_per_store_outage() {
    let cluster = Cluster::start();
    let plan = WATCHED.replace("phases:", "rollback: { store-outage: 2s }\nphases:");
    let (proxy, work, run, events) = through_a_proxy(&cluster, "held", &logging_router(&plan));
    let held = std::time::Instant::now();
    proxy.set(crate::fault_proxy::Fault::Hold);
    let unreachable = events.wait_for("store-unreachable");
    let seen = held.elapsed();
    let out = run.wait_with_output().unwrap();
    let ended = held.elapsed();
    let all = events.finish();
    assert_eq!(out.status.code(), Some(3), "{all:?}");
    assert_eq!(writes(work.path()), ["25", "0"]);
    assert!(
        seen < std::time::Duration::from_secs(3),
        "seen after {seen:?}: {unreachable}"
    );
    // The deadline (1 s with a 2 s lease), the plan's 2 s, and room for a busy machine.
    assert!(
        ended < std::time::Duration::from_secs(8),
        "ended after {ended:?}"
    );
    let finished = all.iter().find(|e| e["event"] == "run-finished").unwrap();
    let reason = finished["reason"]["message"].as_str().unwrap();
    assert!(
        reason.starts_with("the store has been unreachable for 2s"),
        "{reason}"
    );
}

/// A stall shorter than the lease is ridden out: the run goes on to promotion, and its
/// lease, still its own, is not taken for lost.
#[test]
fn a_stall_shorter_than_the_lease_ends_in_a_normal_promotion() {
    let cluster = Cluster::start();
    let (proxy, work, run, events) = through_a_proxy(&cluster, "stall", &logging_router(WATCHED));
    proxy.set(crate::fault_proxy::Fault::Hold);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    proxy.set(crate::fault_proxy::Fault::Pass);
    let out = run.wait_with_output().unwrap();
    let all = events.finish();
    assert_eq!(out.status.code(), Some(0), "{all:?}");
    assert_eq!(writes(work.path()), ["25", "100"]);
    assert!(
        all.iter().any(|e| e["event"] == "store-unreachable"),
        "{all:?}"
    );
    assert!(
        all.iter().any(|e| e["event"] == "store-reachable"),
        "{all:?}"
    );
}
