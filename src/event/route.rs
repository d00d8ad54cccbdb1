use serde::Serialize;

/// How a shift routes traffic to the canary.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "type")]
pub enum Route {
    /// A weighted split: the canary's percent of requests.
    Weight { percent: u8 },
    /// A copy of this percent of requests goes to the canary; its answers are dropped.
    Mirror { percent: u8 },
    /// Requests with this header value go to the canary.
    HeaderMatch { header: String, value: String },
}

impl std::fmt::Display for Route {
    /// `25%`, `mirror 100%`, `x-canary: yes`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Route::Weight { percent } => write!(f, "{percent}%"),
            Route::Mirror { percent } => write!(f, "mirror {percent}%"),
            Route::HeaderMatch { header, value } => write!(f, "{header}: {value}"),
        }
    }
}
