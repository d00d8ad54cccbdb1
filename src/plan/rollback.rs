//! The rollback policy: how the canary's traffic is taken back, and what runs after.

use super::gate::Gate;
use super::strategy::Verify;
use super::units::{Duration, Weight};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How traffic is taken off the canary.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RollbackMode {
    /// Straight back to the state captured before the first shift.
    #[default]
    Immediate,
    /// Down through `weights` (or by `step`), observing each for `every`.
    Gradual,
}

/// What happens on rollback.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Rollback {
    /// Immediate (default) or gradual.
    #[serde(default)]
    pub mode: RollbackMode,
    /// Gradual: the weights to step down through, ending at 0, e.g. `[50, 25, 0]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<Vec<Weight>>,
    /// Gradual: percent taken off at each step, instead of `weights`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub step: Option<u8>,
    /// Gradual: how long each step is held and observed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every: Option<Duration>,
    /// A command run after traffic is back, e.g. to undo a migration; the reason is in `ROLLGATE_ROLLBACK_REASON`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    /// Checks that must pass after rollback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<Verify>,
    /// An approval required before an automatic rollback proceeds (it happens anyway when the gate times out with `rollback`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<Gate>,
    /// At most this many rollbacks of this plan per hour; further runs are refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_per_hour: Option<u32>,
    /// After a rollback, how long before this plan may start again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cool_down: Option<Duration>,
    /// A real run whose store (a PostgreSQL `--state`) cannot be reached holds its routers where they are and retries; once the store has been unreachable this long, it rolls back without being able to prove it still owns the run. Default 30s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_outage: Option<Duration>,
}

/// How long a run rides out an unreachable store unless `rollback.store-outage` says.
pub const DEFAULT_STORE_OUTAGE: std::time::Duration = std::time::Duration::from_secs(30);

impl Rollback {
    /// The weights a gradual rollback steps through from `from`, ending at 0.
    pub fn gradual_weights(&self, from: u8) -> Vec<u8> {
        match (&self.weights, self.step) {
            (Some(ws), _) => ws.iter().map(|w| w.0).filter(|w| *w < from).collect(),
            (None, Some(step)) => {
                let mut out = Vec::new();
                let mut w = from;
                while w > 0 {
                    w = w.saturating_sub(step.max(1));
                    out.push(w);
                }
                out
            }
            (None, None) => vec![0],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gradual_by_step_ends_at_zero() {
        let r = Rollback {
            mode: RollbackMode::Gradual,
            step: Some(20),
            ..Default::default()
        };
        assert_eq!(r.gradual_weights(100), vec![80, 60, 40, 20, 0]);
        assert_eq!(r.gradual_weights(30), vec![10, 0]);
    }

    #[test]
    fn gradual_by_weights_skips_those_above_current() {
        let r = Rollback {
            mode: RollbackMode::Gradual,
            weights: Some(vec![
                Weight(50),
                Weight(25),
                Weight(5),
                Weight(1),
                Weight(0),
            ]),
            ..Default::default()
        };
        assert_eq!(r.gradual_weights(25), vec![5, 1, 0]);
    }
}
