use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How a check compares the canary with the baseline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// Each evaluation's value against `max-increase`/`max-decrease` of the baseline's value, as is.
    Threshold,
    /// Counts only: an anytime-valid sequential test on the ratio of the canary's event rate to the baseline's, over the whole rollout; checked every interval, it still rolls back a canary within tolerance with at most the `false-rollbacks` chance.
    Sequential,
    /// Counts only: a two-proportion z-test on each observation window's counts, at the window's end. Fixed-horizon: it holds `false-rollbacks` for one look per window, and many windows add up.
    ZTest,
    /// Values only: Mann-Whitney U on the window's per-interval canary and baseline values, at the window's end (Kayenta's judge): High or Low when significant at `false-rollbacks` and beyond `max-increase`/`max-decrease`.
    MannWhitney,
}

impl Method {
    /// As the plan writes it and events carry it: `mann-whitney`.
    pub fn name(self) -> &'static str {
        match self {
            Method::Threshold => "threshold",
            Method::Sequential => "sequential",
            Method::ZTest => "z-test",
            Method::MannWhitney => "mann-whitney",
        }
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_what_serde_writes() {
        for m in [
            Method::Threshold,
            Method::Sequential,
            Method::ZTest,
            Method::MannWhitney,
        ] {
            assert_eq!(serde_json::to_value(m).unwrap(), m.name());
        }
    }
}
