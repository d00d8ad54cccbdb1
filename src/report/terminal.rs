//! Plain lines for a person (and for logs): what moved, what was decided, and every check
//! evaluation that did not pass.

use crate::event::PauseTimeout;
use crate::event::{Decision, Event, Mode, Outcome, Stamped, Verdict};

/// `12m30s` from seconds.
pub fn clock(t: f64) -> String {
    let s = t.round() as u64;
    match (s / 3600, s / 60 % 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m{s:02}s"),
        (h, m, s) => format!("{h}h{m:02}m{s:02}s"),
    }
}

/// An outcome as a person says it: "Rolled back", "Router failed".
pub fn outcome_words(o: Outcome) -> &'static str {
    match o {
        Outcome::Promoted => "Promoted",
        Outcome::RolledBack => "Rolled back",
        Outcome::Aborted => "Aborted",
        Outcome::Failed => "Failed",
        Outcome::RouterFailed => "Router failed",
    }
}

/// What a person is told after a router failed, from the run's events: whether anything had
/// moved, and what to do.
pub fn router_failed_words(events: &[Stamped]) -> String {
    let moved = events
        .iter()
        .any(|e| matches!(e.event, Event::WeightShifted { .. }));
    let then = if moved {
        "the run was rolled back as far as the routers allowed"
    } else {
        "nothing had moved"
    };
    format!("a router failed (see above); {then}. Check the router before running again.")
}

/// A gate decision as a person says it: "approved", "timed out".
pub fn decision_words(d: Decision) -> &'static str {
    match d {
        Decision::Approved => "approved",
        Decision::Rejected => "rejected",
        Decision::TimedOut => "timed out",
    }
}

/// Turns a run's events into lines, one event at a time. It remembers which metric sources
/// are down, so an outage is said once when it starts and once when it ends (every failed
/// answer stays in the journal).
#[derive(Debug, Default)]
pub struct Lines {
    down: std::collections::BTreeSet<String>,
}

impl Lines {
    /// The line for an event, or `None` for events a person need not read (passing checks).
    pub fn line(&mut self, e: &Stamped) -> Option<String> {
        if let Event::Queried { source, error, .. } = &e.event {
            let text = match error {
                Some(err) if self.down.insert(source.clone()) => {
                    format!("  metric source {source} is down: {err}")
                }
                None if self.down.remove(source) => {
                    format!("  metric source {source} answers again")
                }
                _ => return None,
            };
            return Some(format!("[{:>9}] {text}", clock(e.t)));
        }
        line(e)
    }
}

/// The line for an event, or `None` for events a person need not read (passing checks,
/// metric answers: [`Lines`] says when a source goes down and comes back).
pub fn line(e: &Stamped) -> Option<String> {
    let text = match &e.event {
        Event::RunStarted {
            plan,
            steps,
            mode: Mode::DryRun,
            fixture,
        } => match fixture {
            Some(f) => format!("dry-run of `{plan}` ({steps} steps) against {f}, virtual time"),
            None => format!("dry-run of `{plan}` ({steps} steps), virtual time"),
        },
        Event::RunStarted {
            plan,
            steps,
            mode: Mode::Run,
            ..
        } => format!("run of `{plan}` ({steps} steps)"),
        Event::StepStarted { step, kind } if *kind != "evaluate" => step.clone(),
        Event::StepStarted { .. } => return None,
        Event::StepFinished {
            step,
            reason: Some(r),
            ..
        } => format!("{step} failed: {r}"),
        Event::StepFinished { .. } => return None,
        Event::WeightShifted {
                router, from, to, ..
            } => format!("  {router}: {from}% → {to}"),
        Event::CheckEvaluated(ev) if ev.verdict == Verdict::Pass => return None,
        Event::CheckEvaluated(ev) => format!(
            "  {} {}: {}",
            ev.check,
            format!("{:?}", ev.verdict).to_lowercase(),
            ev.why.clone().unwrap_or_default()
        ),
        // Answers are for the journal; `Lines` says when a source goes down and comes back.
        Event::Queried { .. } => return None,
        Event::TriggerFired {
            check, condition, ..
        } => format!("trigger on {check} fired: {condition}"),
        Event::GateWaiting {
            step, approvers, ..
        } => format!("  {step} waits for {}", approvers.join(", ")),
        Event::GateDecided { step, decision, by } => match (decision, by) {
            (Decision::TimedOut, _) => format!("  {step}: nobody decided in time"),
            (d, Some(by)) => format!("  {step}: {} by {by}", decision_words(*d)),
            (d, None) => format!("  {step}: {}", decision_words(*d)),
        },
        Event::CommandSkipped { command, .. } => format!("  would run: {command}"),
        Event::CommandRan {
            command,
            error: None,
            ..
        } => format!("  ran: {command}"),
        Event::CommandRan {
            command,
            error: Some(e),
            ..
        } => format!("  FAILED: {command}: {e}"),
        Event::RouterRetrying {
            router,
            attempt,
            error,
            retry_in,
        } => format!("  {router}: attempt {attempt} failed: {error}; retrying in {retry_in}s"),
        Event::RouterCaptured { router, state } => {
            format!("  {router} before the run: {}%", state.canary_weight)
        }
        Event::RouterChecked { router, off } if off.is_empty() => {
            format!("  {router}: read back, as it was before the run")
        }
        Event::RouterChecked { router, off } => format!(
            "  {router}: read back OFF its state before the run: {}",
            off.join("; ")
        ),
        Event::NotificationSkipped { to, message, .. } => {
            format!("  would notify {}: {message}", to.join(", "))
        }
        Event::NotificationAsked { to, message, .. } => {
            format!("  notifying {}: {message}", to.join(", "))
        }
        Event::NotificationSent {
            to,
            about,
            error: None,
            ..
        } => format!("  notified {to} ({about})"),
        Event::NotificationSent {
            to,
            about,
            error: Some(e),
            ..
        } => format!("  could not notify {to} ({about}): {e}"),
        Event::RollbackStarted { reason, gradual } => format!(
            "ROLLBACK ({}): {}",
            if *gradual { "gradual" } else { "immediate" },
            reason.message
        ),
        Event::RollbackFinished { verified: Some(v) } => format!(
            "rollback finished; verification {}",
            if *v { "passed" } else { "FAILED" }
        ),
        Event::RollbackFinished { verified: None } => "rollback finished".into(),
        Event::StoreUnreachable {
            error,
            rolls_back_after,
        } => format!(
            "the store is unreachable ({error}): events are kept and no router is written until it answers; rolling back after {}",
            crate::plan::Duration(std::time::Duration::from_secs_f64(*rolls_back_after))
        ),
        Event::StoreReachable { after, written } => format!(
            "the store answers again after {after:.1}s; the {written} events kept meanwhile are written"
        ),
        Event::RunHandedOver {} => {
            "handed over without rolling back: the next process to take it over carries it on"
                .to_string()
        }
        Event::RunResumed {
            died_at,
            continuing,
        } => format!(
            "resumed a run that stopped{}; {}",
            died_at
                .as_deref()
                .map(|s| format!(" during {s}"))
                .unwrap_or_default(),
            if *continuing {
                "continuing it"
            } else {
                "rolling it back"
            }
        ),
        Event::Paused {
            step,
            reason,
            timeout,
            on_timeout,
            via,
            can_continue,
            ..
        } => {
            let w = super::pause::words(via, *can_continue, *on_timeout, *timeout);
            // The reason names the step when a check paused it.
            let at = if reason.message.contains(step.as_str()) {
                String::new()
            } else {
                format!(" at {step}")
            };
            format!(
                "PAUSED{at}: {}; every router holds where it is: {}. Nobody deciding, it {}",
                reason.message, w.how, w.after
            )
        }
        Event::PauseDecided {
            step,
            then,
            by,
            timed_out,
        } => {
            let who = match (by, timed_out) {
                (_, true) => "nobody decided in time".to_string(),
                (Some(by), false) => format!("by {by}"),
                (None, false) => "asked for".to_string(),
            };
            match then {
                PauseTimeout::Continue => format!("  {step}: continued ({who})"),
                PauseTimeout::Rollback => format!("  {step}: rolling back ({who})"),
            }
        }
        Event::RunFinished { outcome, reason } => match reason {
            Some(r) => format!("{}: {}", outcome_words(*outcome), r.message),
            None => outcome_words(*outcome).to_string(),
        },
    };
    Some(format!("[{:>9}] {text}", clock(e.t)))
}

/// The status line a terminal shows under the events while a real run goes: elapsed time, the
/// step in progress, each router's weight and each check's latest value and verdict.
#[derive(Debug, Default)]
pub struct StatusLine {
    step: Option<String>,
    routers: std::collections::BTreeMap<String, String>,
    checks: std::collections::BTreeMap<String, (Option<f64>, Verdict)>,
}

impl StatusLine {
    pub fn update(&mut self, e: &Stamped) {
        match &e.event {
            Event::StepStarted { step, .. } => self.step = Some(step.clone()),
            Event::WeightShifted { router, to, .. } => {
                self.routers.insert(router.clone(), to.to_string());
            }
            Event::CheckEvaluated(ev) => {
                self.checks.insert(ev.check.clone(), (ev.value, ev.verdict));
            }
            _ => {}
        }
    }

    /// The line, `elapsed` seconds into the run.
    pub fn line(&self, elapsed: f64) -> String {
        let mut parts = vec![clock(elapsed)];
        parts.extend(self.step.clone());
        parts.extend(self.routers.iter().map(|(r, w)| format!("{r} {w}")));
        parts.extend(self.checks.iter().map(|(c, (v, verdict))| {
            let mark = match verdict {
                Verdict::Pass => "ok",
                Verdict::Fail => "FAIL",
                Verdict::Critical => "CRITICAL",
                Verdict::Inconclusive => "?",
            };
            format!(
                "{c} {} {mark}",
                v.map(|v| format!("{v:.4}")).unwrap_or_else(|| "-".into())
            )
        }));
        format!("▶ {}", parts.join(" · "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample_runs;

    fn lines(events: &[Stamped]) -> String {
        let mut lines = Lines::default();
        events
            .iter()
            .filter_map(|e| lines.line(e))
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn a_rollback_by_the_sequential_test() {
        insta::assert_snapshot!(lines(&sample_runs::rolled_back_by_the_sequential_test()));
    }

    #[test]
    fn a_gate_that_timed_out() {
        insta::assert_snapshot!(lines(&sample_runs::gate_timed_out()));
    }

    #[test]
    fn a_store_away_and_back() {
        let at = |t: f64, event| Stamped {
            t,
            at: chrono::Utc::now(),
            event,
        };
        insta::assert_snapshot!(lines(&[
            at(
                61.0,
                Event::StoreUnreachable {
                    error: "postgres://rollgate@db.internal:5432/rollgate: connection refused"
                        .into(),
                    rolls_back_after: 30.0,
                }
            ),
            at(
                65.2,
                Event::StoreReachable {
                    after: 4.2,
                    written: 21,
                }
            ),
        ]));
    }

    #[test]
    fn a_promotion() {
        insta::assert_snapshot!(lines(&sample_runs::promoted()));
    }

    #[test]
    fn the_status_line_shows_step_weights_and_checks() {
        let mut status = StatusLine::default();
        for e in sample_runs::rolled_back_by_the_sequential_test()
            .iter()
            .take_while(|e| !matches!(e.event, Event::RollbackStarted { .. }))
        {
            status.update(e);
        }
        insta::assert_snapshot!(status.line(1140.0));
    }

    #[test]
    fn a_failed_router_says_whether_anything_had_moved() {
        let moved = sample_runs::promoted();
        assert!(router_failed_words(&moved).contains("rolled back as far as the routers allowed"));
        assert!(router_failed_words(&moved[..3]).contains("nothing had moved"));
    }
}
