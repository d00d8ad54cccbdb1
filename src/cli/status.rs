//! `rollgate status [RUN]` and `rollgate history`: what the journals say.

use super::{exit, Io};
use crate::journal::{self, Record};
use std::path::Path;

/// Finished (its outcome), running, or stopped without finishing (and where).
fn state(r: &Record) -> String {
    match r.outcome() {
        Some(o) => o.to_string(),
        None if journal::alive(r.header.pid) => "running".into(),
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
        let waiting = waiting
            .as_ref()
            .map(|g| serde_json::json!({ "step": g.step, "approvers": g.approvers, "via": g.via }));
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
    if let Some(g) = waiting {
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
    for (name, before, last) in r.routers() {
        writeln!(
            io.out,
            "  router {name}: {}% before the run, last set to {}",
            before.canary_weight,
            last.map(|w| format!("{w}%"))
                .unwrap_or_else(|| "nothing yet".into())
        )?;
    }
    writeln!(io.out, "  {} events in the journal", r.events.len())?;
    Ok(exit::OK)
}
