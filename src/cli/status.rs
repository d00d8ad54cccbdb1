//! `rollgate status [RUN]` and `rollgate history`: what the journals say.

use super::{exit, Io};
use crate::journal::{self, Record};
use std::path::Path;

/// Finished (its outcome, and any router it left off its state before the run), running
/// (paused, when it is), or stopped without finishing (and where).
fn state(r: &Record) -> String {
    match r.outcome() {
        Some(o) => match r.left_off() {
            Some(off) => format!(
                "{o}, and it LEFT {off} off its state before the run: `rollgate rollback {}` puts it back",
                r.header.run_id
            ),
            None => o.to_string(),
        },
        None if journal::alive(r.header.pid) => match r.waiting_gate().and_then(|g| g.paused) {
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

pub fn history(state_dir: &str, json: bool, io: &mut Io<'_>) -> std::io::Result<i32> {
    let runs = journal::list(Path::new(state_dir))?;
    if json {
        let list: Vec<_> = runs.iter().map(|r| serde_json::json!({ "run": r.header.run_id, "plan": r.header.plan, "started_at": r.header.started_at, "state": state(r) })).collect();
        writeln!(
            io.out,
            "{}",
            serde_json::to_string_pretty(&list).expect("json")
        )?;
        return Ok(exit::OK);
    }
    if runs.is_empty() {
        writeln!(io.out, "no runs under {state_dir}/runs")?;
    }
    for r in &runs {
        writeln!(
            io.out,
            "{}  {}  {}  {}",
            r.header.run_id,
            r.header.started_at.format("%Y-%m-%d %H:%M:%S"),
            r.header.plan,
            state(r)
        )?;
    }
    Ok(exit::OK)
}

pub fn status(
    run: Option<&str>,
    state_dir: &str,
    json: bool,
    io: &mut Io<'_>,
) -> std::io::Result<i32> {
    let root = Path::new(state_dir);
    let record = match run {
        Some(id) => journal::read(root, id).ok(),
        None => journal::list(root)?.pop(),
    };
    let Some(r) = record else {
        writeln!(
            io.err,
            "rollgate: {}",
            run.map(|id| format!("no run `{id}` under {state_dir}/runs"))
                .unwrap_or_else(|| format!("no runs under {state_dir}/runs"))
        )?;
        return Ok(exit::INVALID);
    };
    let routers: Vec<_> = r.routers().into_iter().map(|(name, before, last)| serde_json::json!({ "router": name, "before": before.canary_weight, "last_set": last })).collect();
    let waiting = r.waiting_gate().filter(|_| r.outcome().is_none());
    if json {
        let waiting = waiting.as_ref().map(|g| {
            let paused = g.paused.as_ref().map(|p| serde_json::json!({ "reason": p.reason, "can_continue": p.can_continue, "until": p.until, "on_timeout": p.on_timeout }));
            serde_json::json!({ "step": g.step, "approvers": g.approvers, "via": g.via, "paused": paused })
        });
        let v = serde_json::json!({ "run": r.header.run_id, "plan": r.header.plan, "started_at": r.header.started_at, "state": state(&r), "last_step": r.last_step(), "waiting": waiting, "routers": routers, "events": r.events.len() });
        writeln!(
            io.out,
            "{}",
            serde_json::to_string_pretty(&v).expect("json")
        )?;
        return Ok(exit::OK);
    }
    writeln!(io.out, "run {}: {}", r.header.run_id, state(&r))?;
    writeln!(
        io.out,
        "  plan {} (sha256 {}), started {}",
        r.header.plan,
        &r.header.plan_sha256[..12],
        r.header.started_at
    )?;
    if let Some(s) = r.last_step() {
        writeln!(io.out, "  last step: {s}")?;
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
            io.out,
            "  PAUSED at `{}`, every router held where it is: {}\n  {how}{until}",
            g.step, p.reason
        )?;
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
            io.out,
            "  waiting at `{}` for {}: {how}",
            g.step,
            g.approvers.join(", ")
        )?;
    }
    let off = r.left_off().map(|_| r.routers_off()).unwrap_or_default();
    for (name, before, last) in r.routers() {
        let left = off.iter().any(|(n, ..)| *n == name);
        writeln!(
            io.out,
            "  router {name}: {}% before the run, last set to {}{}",
            before.canary_weight,
            last.map(|w| format!("{w}%"))
                .unwrap_or_else(|| "nothing yet".into()),
            if left {
                " (LEFT off its state before the run)"
            } else {
                ""
            }
        )?;
    }
    writeln!(io.out, "  {} events in the journal", r.events.len())?;
    Ok(exit::OK)
}
