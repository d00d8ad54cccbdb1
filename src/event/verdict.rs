use serde::Serialize;

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
