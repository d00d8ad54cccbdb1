//! `rollgate record`: a run's metric answers (`--run`, finished or still going), or a past
//! range of Prometheus (`PLAN --from --to`), saved as a fixture that `dry-run` replays.

use super::{exit, validated, Io};
use crate::fixture::record::{self, Recording};
use crate::journal;
use crate::runner::prepare::real_contexts;
use chrono::{DateTime, Utc};
use std::path::Path;

pub struct Args<'a> {
    pub plan: Option<&'a str>,
    pub run: Option<&'a str>,
    pub from: Option<&'a str>,
    pub to: Option<&'a str>,
    pub step: Option<&'a str>,
    pub inputs: &'a [String],
    pub out: Option<&'a str>,
    pub state_dir: &'a str,
}

/// `now`, `now-30m`, or an RFC 3339 timestamp.
fn moment(s: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    if s == "now" {
        return Ok(now);
    }
    if let Some(ago) = s.strip_prefix("now-") {
        let d: crate::plan::Duration = ago
            .parse()
            .map_err(|e| format!("`{s}`: {e}; e.g. `now-30m`"))?;
        return Ok(now - chrono::Duration::from_std(d.0).map_err(|e| e.to_string())?);
    }
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            format!("`{s}` is not a moment ({e}): write `now`, `now-30m` or `2026-03-01T12:00:00Z`")
        })
}

pub fn run(a: Args<'_>, io: &mut Io<'_>) -> std::io::Result<i32> {
    if let Some(out) = a.out {
        if Path::new(out).exists() {
            writeln!(
                io.err,
                "rollgate: {out} exists; record to a new file (a fixture is not overwritten)"
            )?;
            return Ok(exit::INVALID);
        }
    }
    let (recording, plan) = match (a.run, a.plan) {
        (Some(run_id), _) => match journal::read(Path::new(a.state_dir), run_id) {
            Ok(run) => (record::from_journal(&run), run.header.plan.clone()),
            Err(e) => {
                writeln!(io.err, "rollgate: no run `{run_id}` under {}/runs ({e}); `rollgate history` lists the runs", a.state_dir)?;
                return Ok(exit::INVALID);
            }
        },
        (None, Some(plan)) => match past(plan, &a, io)? {
            Some(r) => (r, plan.to_string()),
            None => return Ok(exit::INVALID),
        },
        (None, None) => {
            writeln!(io.err, "rollgate: say what to record: `--run RUN` (a run's own answers) or `PLAN --from T --to T` (a past range of Prometheus)")?;
            return Ok(exit::INVALID);
        }
    };
    let recording = match recording {
        Ok(r) => r,
        Err(e) => {
            writeln!(io.err, "rollgate: {e}")?;
            return Ok(exit::FAILURE);
        }
    };
    let text = recording.to_yaml();
    match a.out {
        Some(out) => {
            std::fs::write(out, &text)?;
            writeln!(
                io.err,
                "recorded {} queries into {out}; replay them: rollgate dry-run {plan} --fixture {out}",
                recording.queries.len()
            )?;
        }
        None => write!(io.out, "{text}")?,
    }
    Ok(exit::OK)
}

/// A past range of the plan's Prometheus queries, or `None` after saying why not.
fn past(
    plan: &str,
    a: &Args<'_>,
    io: &mut Io<'_>,
) -> std::io::Result<Option<Result<Recording, String>>> {
    let (Some(from), Some(to)) = (a.from, a.to) else {
        writeln!(io.err, "rollgate: recording a plan's past needs `--from` and `--to`, e.g. `--from now-1h --to now`; a run's own answers: `--run RUN`")?;
        return Ok(None);
    };
    let Some(v) = validated(plan, io)? else {
        return Ok(None);
    };
    let now = Utc::now();
    let range = match (moment(from, now), moment(to, now)) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(e), _) | (_, Err(e)) => {
            writeln!(io.err, "rollgate: {e}")?;
            return Ok(None);
        }
    };
    let step = match a.step.map(str::parse::<crate::plan::Duration>) {
        None => v
            .plan
            .interval
            .map(|d| d.0)
            .unwrap_or(std::time::Duration::from_secs(60)),
        Some(Ok(d)) => d.0,
        Some(Err(e)) => {
            writeln!(io.err, "rollgate: `--step`: {e}")?;
            return Ok(None);
        }
    };
    let ctx = match real_contexts(&v.plan, a.inputs, &v.doc.source) {
        Ok(c) => c,
        Err(e) => {
            writeln!(io.err, "rollgate: {e}")?;
            return Ok(None);
        }
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    Ok(Some(rt.block_on(record::from_prometheus(
        &v.plan, plan, &ctx, a.inputs, range, step,
    ))))
}
