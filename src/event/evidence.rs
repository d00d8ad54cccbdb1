use serde::Serialize;

/// Where the test stands.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Evidence {
    /// The e-value: the mixture likelihood ratio against "ratio ≤ null ratio".
    pub e_value: f64,
    /// 1/alpha: the e-value that decides.
    pub bound: f64,
    /// The canary's rate over its baseline's, over all intervals so far.
    pub ratio: Option<f64>,
    /// Both rates over all intervals so far.
    pub canary_rate: Option<f64>,
    pub baseline_rate: Option<f64>,
    /// The ratio the canary may have: 1 + the tolerance.
    pub null_ratio: f64,
    /// The dispersion the last interval was discounted by.
    pub dispersion: f64,
}

impl Evidence {
    /// Whether the evidence decides: the canary is worse than the tolerance allows.
    pub fn regressed(&self) -> bool {
        self.e_value >= self.bound
    }
}
