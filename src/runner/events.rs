//! What the runner tells the world. It emits these and nothing else; reporters (terminal,
//! JSON lines, and later the journal, PR comment and chat) consume them. The JSON form, one
//! object per line with an `event` tag, is stable: fields are added, never renamed or removed.

use crate::analysis::sequential::Evidence;
use crate::graph::Route;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// An event with when it happened: `t` seconds since the run started, `at` in UTC (virtual in
/// a dry-run).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Stamped {
    pub t: f64,
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub event: Event,
}

/// How the run meets the world.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Real routers, metric sources and commands, in wall time.
    Run,
    /// Simulated routers, fixture metrics, virtual time; commands and messages are recorded.
    DryRun,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepStatus {
    Succeeded,
    Failed,
    Skipped,
}

/// A check's verdict on one evaluation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Pass,
    Fail,
    /// Past the critical bound: roll back at once.
    Critical,
    /// Not enough to judge: no data, or fewer samples than `min-samples`.
    Inconclusive,
}

/// How a gate was decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Decision {
    Approved,
    Rejected,
    TimedOut,
}

/// How a run ended; the process exits with [`Outcome::exit_code`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Promoted,
    RolledBack,
    Aborted,
    Failed,
    /// A router refused a shift even after its retries; the run rolled back as far as the
    /// routers allowed. Said loudly, with its own exit code: never a silent half-shift.
    RouterFailed,
}

impl Outcome {
    pub fn exit_code(self) -> i32 {
        match self {
            Outcome::Promoted => 0,
            Outcome::RolledBack => 3,
            Outcome::Aborted => 4,
            Outcome::Failed => 1,
            Outcome::RouterFailed => 5,
        }
    }
}

/// Why a rollback, an abort or a pause happened, in the plan's own terms.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Reason {
    /// One sentence: "error-rate 8.2% > 1% (critical 2%) at canary-25".
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// The baseline's value at that moment, when the check has a baseline query.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<String>,
    /// Seconds between evaluations (or the trigger's `for:` window).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// The router that refused, when a router failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub router: Option<String>,
    /// The sequential test's evidence, when it decided.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Box<Evidence>>,
}

impl Reason {
    pub fn says(message: impl Into<String>) -> Reason {
        Reason {
            message: message.into(),
            check: None,
            value: None,
            baseline: None,
            threshold: None,
            window: None,
            step: None,
            router: None,
            evidence: None,
        }
    }
}

/// One check evaluation.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Evaluation {
    pub step: String,
    pub check: String,
    /// The canary's value, when there was one.
    pub value: Option<f64>,
    /// The baseline's value, when the check has a baseline query and it answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<f64>,
    /// What the value was held against, as the plan wrote it: "max 1%, critical 2%".
    pub threshold: String,
    pub verdict: Verdict,
    /// Why, for anything but a pass: "no data", "120 samples < 200", "8.2% > 1%".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
    /// Seconds between evaluations.
    pub window: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub samples: Option<f64>,
    /// How the canary was compared with its baseline: `threshold`, `sequential`, or at a
    /// window's end `mann-whitney` or `z-test`.
    pub method: &'static str,
    /// For `sequential`: the e-value against "within tolerance" and the bound that decides
    /// (1/`false-rollbacks`), the ratio of the rates so far, both rates and the tolerance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Evidence>,
    /// For `mann-whitney` and `z-test`, judged at a window's end: U or z, and its p-value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statistic: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_value: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Event {
    RunStarted {
        plan: String,
        mode: Mode,
        steps: usize,
    },
    StepStarted {
        step: String,
        kind: &'static str,
    },
    StepFinished {
        step: String,
        status: StepStatus,
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    WeightShifted {
        router: String,
        from: u8,
        to: Route,
    },
    CheckEvaluated(Evaluation),
    /// A metric source's answer to one query, in a real run (a dry-run's answers are its
    /// fixture): the journal keeps every one, so `rollgate record` can turn the run into a
    /// fixture that replays it.
    Queried {
        source: String,
        query: String,
        /// `None` for no data (an empty answer, NaN) or a failure.
        value: Option<f64>,
        /// Why the source did not answer, when it failed.
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    TriggerFired {
        check: String,
        condition: String,
        value: Option<f64>,
        held_for: f64,
    },
    GateWaiting {
        step: String,
        approvers: Vec<String>,
        timeout: f64,
        /// Where the decision comes from: `cli`, or a `github` provider's name (PR comments).
        via: String,
    },
    GateDecided {
        step: String,
        decision: Decision,
        by: Option<String>,
    },
    /// A command a step or the rollback would run; a dry-run only records it.
    CommandSkipped {
        step: String,
        command: String,
    },
    /// A command a step or the rollback ran, and its error if it failed.
    CommandRan {
        step: String,
        command: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// A router failed in a way that may pass (a refused socket, a failing command); the
    /// runner tries again after `retry_in` seconds.
    RouterRetrying {
        router: String,
        /// The attempt that failed, from 1.
        attempt: u32,
        error: String,
        retry_in: f64,
    },
    /// A router's state captured before the run's first shift on it: what a rollback restores.
    RouterCaptured {
        router: String,
        #[serde(flatten)]
        state: crate::providers::traffic::RouterState,
    },
    /// A message a dry-run would send (a notify step's, or the plan's `notify`); it only
    /// records it.
    NotificationSkipped {
        step: String,
        to: Vec<String>,
        message: String,
    },
    /// A notify step of a real run asks for its message to be sent; the chat reporter sends it
    /// (each delivery is a `notification-sent`), and the step does not wait.
    NotificationAsked {
        step: String,
        to: Vec<String>,
        message: String,
    },
    /// A chat notification was delivered (with how many attempts it took) or given up on;
    /// written by the chat reporter, never holding up the rollout.
    NotificationSent {
        to: String,
        about: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        attempts: Option<u32>,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    RollbackStarted {
        reason: Reason,
        gradual: bool,
    },
    RollbackFinished {
        verified: Option<bool>,
    },
    /// The run cannot judge the canary (or its rollback was refused) and holds every router
    /// where it is, waiting for someone to continue it or roll it back; nobody deciding within
    /// `timeout` seconds means `on_timeout`.
    Paused {
        step: String,
        reason: Reason,
        timeout: f64,
        on_timeout: crate::plan::pause::PauseTimeout,
        /// Where the decision comes from: `cli`, or a `github` provider's name (PR comments).
        via: String,
        approvers: Vec<String>,
        /// False when only a rollback can follow (after a refused rollback).
        can_continue: bool,
    },
    /// How a pause ended: `then` is `continue` or `rollback`; `by` who decided (none when it
    /// timed out).
    PauseDecided {
        step: String,
        then: crate::plan::pause::PauseTimeout,
        by: Option<String>,
        timed_out: bool,
    },
    /// `rollgate resume` took over a run that stopped without finishing.
    RunResumed {
        #[serde(skip_serializing_if = "Option::is_none")]
        died_at: Option<String>,
        continuing: bool,
    },
    RunFinished {
        outcome: Outcome,
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<Reason>,
    },
}
