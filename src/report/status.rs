//! What the journals say about runs, for people and for scripts: `rollgate status` and
//! `rollgate history`.

use crate::journal::Record;
use std::fmt::Write;

/// Finished (its outcome, and any router it left off its state before the run), running
/// (paused, when it is), or stopped without finishing (and where).
pub fn state(r: &Record) -> String {
    match r.outcome() {
        Some(o) => match r.left_off() {
            Some(off) => format!(
                "{o}, and it LEFT {off} off its state before the run: `rollgate rollback {}` puts it back",
                r.header.run_id
            ),
            None => o.to_string(),
        },
        None if r.driven() => match r.waiting_gate().and_then(|g| g.paused) {
            Some(_) => "paused".into(),
            None => "running".into(),
        },
        None => format!(
            "stopped during {} (rollgate resume {})",
            r.last_step().unwrap_or("its start"),
            r.header.run_id
        ),
    }
}

/// One line per run: id, start, plan, state.
/// `location`: where the runs are kept, for saying there are none.
pub fn history_text(runs: &[Record], location: &str) -> String {
    if runs.is_empty() {
        return format!("no runs in {location}\n");
    }
    runs.iter()
        .map(|r| {
            format!(
                "{}  {}  {}  {}\n",
                r.header.run_id,
                r.header.started_at.format("%Y-%m-%d %H:%M:%S"),
                r.header.plan,
                state(r)
            )
        })
        .collect()
}

/// `history --json`.
pub fn history_json(runs: &[Record]) -> serde_json::Value {
    runs.iter().map(|r| serde_json::json!({ "run": r.header.run_id, "plan": r.header.plan, "started_at": r.header.started_at, "state": state(r) })).collect()
}

/// `status --json`.
pub fn status_json(r: &Record) -> serde_json::Value {
    let routers: Vec<_> = r.routers().into_iter().map(|(name, before, last)| serde_json::json!({ "router": name, "before": before.canary_weight, "last_set": last })).collect();
    let waiting = r.waiting_gate().filter(|_| r.outcome().is_none());
    let waiting = waiting.as_ref().map(|g| {
        let paused = g.paused.as_ref().map(|p| serde_json::json!({ "reason": p.reason, "can_continue": p.can_continue, "until": p.until, "on_timeout": p.on_timeout }));
        serde_json::json!({ "step": g.step, "approvers": g.approvers, "via": g.via, "paused": paused })
    });
    serde_json::json!({ "run": r.header.run_id, "plan": r.header.plan, "started_at": r.header.started_at, "state": state(r), "last_step": r.last_step(), "waiting": waiting, "routers": routers, "events": r.events.len() })
}

/// `status`: where the run stands, what it waits for and how to decide it, its routers.
pub fn status_text(r: &Record) -> String {
    let mut out = String::new();
    let waiting = r.waiting_gate().filter(|_| r.outcome().is_none());
    writeln!(out, "run {}: {}", r.header.run_id, state(r)).expect("a String takes it");
    writeln!(
        out,
        "  plan {} (sha256 {}), started {}",
        r.header.plan,
        &r.header.plan_sha256[..12],
        r.header.started_at
    )
    .expect("a String takes it");
    if let Some(s) = r.last_step() {
        writeln!(out, "  last step: {s}").expect("a String takes it");
    }
    if let Some(g) = waiting.as_ref().filter(|g| g.paused.is_some()) {
        let p = g.paused.as_ref().expect("filtered");
        let id = &r.header.run_id;
        let how = match (g.via == crate::plan::gate::CLI_APPROVALS, p.can_continue) {
            (true, true) => format!("`rollgate continue {id}` lets it go on, `rollgate rollback {id}` rolls it back"),
            (true, false) => format!("it cannot continue (its rollback was refused); `rollgate rollback {id}` rolls it back now"),
            (false, true) => format!("a `/rollgate continue` or `/rollgate rollback` comment on the pull request (`via: {}`); `rollgate rollback {id}` also works from here", g.via),
            (false, false) => format!("`/rollgate rollback` on the pull request or `rollgate rollback {id}` rolls it back now"),
        };
        let until = p
            .until
            .map(|t| {
                format!(
                    "; nobody deciding, it does `{}` at {}",
                    p.on_timeout,
                    t.format("%H:%M:%S UTC")
                )
            })
            .unwrap_or_default();
        writeln!(
            out,
            "  PAUSED at `{}`, every router held where it is: {}\n  {how}{until}",
            g.step, p.reason
        )
        .expect("a String takes it");
    }
    if let Some(g) = waiting.filter(|g| g.paused.is_none()) {
        let how = if g.via == crate::plan::gate::CLI_APPROVALS {
            format!(
                "`rollgate approve {0}` or `rollgate reject {0}`",
                r.header.run_id
            )
        } else {
            format!("a `/rollgate approve` or `/rollgate reject` comment on the pull request (`via: {}`)", g.via)
        };
        writeln!(
            out,
            "  waiting at `{}` for {}: {how}",
            g.step,
            g.approvers.join(", ")
        )
        .expect("a String takes it");
    }
    let off = r.left_off().map(|_| r.routers_off()).unwrap_or_default();
    for (name, before, last) in r.routers() {
        let left = off.iter().any(|(n, ..)| *n == name);
        writeln!(
            out,
            "  router {name}: {}% before the run, last set to {}{}",
            before.canary_weight,
            last.map(|w| format!("{w}%"))
                .unwrap_or_else(|| "nothing yet".into()),
            if left {
                " (LEFT off its state before the run)"
            } else {
                ""
            }
        )
        .expect("a String takes it");
    }
    writeln!(out, "  {} events in the journal", r.events.len()).expect("a String takes it");
    out
}
