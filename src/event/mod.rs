//! The ground floor: what the runner tells the world and the parts every layer shares
//! (verdicts, decisions, outcomes, routes, a router's state). The runner emits events and
//! nothing else; reporters (terminal, JSON lines, journal, PR comment, chat) consume them.
//! Nothing here imports anything from the crate: runner, providers, analysis, journal and
//! reporters all import from here. The JSON form, one object per line with an `event` tag, is
//! stable: fields are added, never renamed or removed.

mod decision;
mod evaluation;
mod evidence;
mod method;
mod outcome;
mod pause_timeout;
mod reason;
mod route;
mod router_state;
mod verdict;

pub use decision::Decision;
pub use evaluation::Evaluation;
pub use evidence::{Evidence, Slower};
pub use method::Method;
pub use outcome::Outcome;
pub use pause_timeout::PauseTimeout;
pub use reason::{cause, stopped_from_outside, Reason, CANCELLED, REQUESTED, STORE_GONE};
pub use route::Route;
pub use router_state::{RouterState, RuleIdentity, RuleWeights};
pub use verdict::Verdict;

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

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Event {
    RunStarted {
        plan: String,
        mode: Mode,
        steps: usize,
        /// The fixture a rehearsal replays.
        #[serde(skip_serializing_if = "Option::is_none")]
        fixture: Option<String>,
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
        /// Seconds the router took to take it, in a real run.
        #[serde(skip_serializing_if = "Option::is_none")]
        took: Option<f64>,
    },
    CheckEvaluated(Box<Evaluation>),
    /// A metric source's answer to one query, in a real run (a dry-run's answers are its
    /// fixture): the journal keeps every one, so `rollgate record` can turn the run into a
    /// fixture that replays it.
    Queried {
        source: String,
        query: String,
        /// `None` for no data (an empty answer, NaN) or a failure.
        value: Option<f64>,
        /// A histogram's answer: each bucket bound as Prometheus writes `le`, and its count.
        #[serde(skip_serializing_if = "Option::is_none")]
        buckets: Option<Vec<(String, f64)>>,
        /// Why the source did not answer, when it failed.
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        /// Seconds the source took to answer.
        #[serde(skip_serializing_if = "Option::is_none")]
        took: Option<f64>,
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
        state: RouterState,
    },
    /// A router read back at the end of a run that was not promoted, compared with its
    /// captured state as a whole (every rule's and server's weights): `off` says each
    /// difference, and is empty when the router is back where it was.
    RouterChecked {
        router: String,
        off: Vec<String>,
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
        reason: Box<Reason>,
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
        reason: Box<Reason>,
        timeout: f64,
        on_timeout: PauseTimeout,
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
        then: PauseTimeout,
        by: Option<String>,
        timed_out: bool,
    },
    /// The store keeping the journal could not be reached (a database restarting, a network
    /// cut): the run keeps its events, writes no router, and tries again every second; still
    /// unreachable after `rolls_back_after` seconds, it rolls back.
    StoreUnreachable {
        error: String,
        rolls_back_after: f64,
    },
    /// The store is reachable again after `after` seconds, and holds every event kept
    /// meanwhile (`written` of them).
    StoreReachable {
        after: f64,
        written: usize,
    },
    /// The process driving the run stopped (a service told to stop) and handed it over without
    /// rolling back: whoever takes it over carries it on.
    RunHandedOver {},
    /// `rollgate resume` took over a run that stopped without finishing.
    RunResumed {
        #[serde(skip_serializing_if = "Option::is_none")]
        died_at: Option<String>,
        continuing: bool,
    },
    RunFinished {
        outcome: Outcome,
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<Box<Reason>>,
    },
}
