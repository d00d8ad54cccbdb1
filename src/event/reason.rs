use super::Evidence;
use serde::Serialize;

/// Why a cancelled run rolls back (`rollgate record` looks for it).
pub const CANCELLED: &str = "the run was cancelled";

/// The start of the reason when someone asked for the rollback.
pub const REQUESTED: &str = "rollback requested by ";

/// The start of the reason when the store stayed unreachable past `rollback.store-outage`.
pub const STORE_GONE: &str = "the store has been unreachable for ";

/// Whether a rollback's reason says the run was stopped from outside (a signal, a request),
/// rather than by what it observed.
pub fn stopped_from_outside(reason: &str) -> bool {
    reason == CANCELLED || reason.starts_with(REQUESTED)
}

/// What ended a run, in a word for counting by: the check that decided, or `router`,
/// `requested`, `store`, `other`; from a reason's `check`, `router` and `message`.
pub fn cause(check: Option<&str>, router: Option<&str>, message: &str) -> String {
    match (check, router) {
        (Some(check), _) => check.to_string(),
        (None, Some(_)) => "router".into(),
        _ if stopped_from_outside(message) => "requested".into(),
        _ if message.starts_with(STORE_GONE) => "store".into(),
        _ => "other".into(),
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
