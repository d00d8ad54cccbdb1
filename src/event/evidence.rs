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
    /// For latency judged over histograms: what the rates above are shares of, for the pair
    /// with the most evidence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slower: Option<Slower>,
}

/// Which latencies a histogram check's leading comparison counts requests slower than.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Slower {
    /// The canary's bucket bound.
    pub canary_than: f64,
    /// The baseline's latency: that bound less the tolerance.
    pub baseline_than: f64,
    /// How much slower than the baseline's each quantile may be (0.1 for 10%).
    pub tolerance: f64,
}

impl Evidence {
    /// Whether the evidence decides: the canary is worse than the tolerance allows.
    pub fn regressed(&self) -> bool {
        self.e_value >= self.bound
    }
}
