use super::{Evidence, Method, Verdict};
use serde::Serialize;

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
    pub method: Method,
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
