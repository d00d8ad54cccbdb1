//! Strategy presets: short forms that compile to phases.

use super::gate::Gate;
use super::phase::{HeaderMatch, Phase};
use super::units::{Duration, Weight};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A preset that expands into phases; write it as a one-key mapping, e.g. `canary: {...}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum Strategy {
    /// Step through a list of weights, observing each for at least `observe`.
    Canary(Canary),
    /// Add `step` percent every `every` until 100.
    Linear(Linear),
    /// Check the new side with no traffic, switch all traffic at once, check again; the old side stays ready for an instant switch back.
    BlueGreen(BlueGreen),
    /// Switch all traffic at once, then observe.
    Immediate(Immediate),
    /// Mirror a share of traffic to the canary (no user impact), then switch.
    Mirror(Mirror),
    /// Send requests with a header value to the canary (A/B), then switch.
    HeaderMatch(HeaderMatchStrategy),
}

/// The `canary` preset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Canary {
    /// The weights to step through, e.g. `[1, 5, 25, 50, 100]`.
    #[schemars(length(min = 1))]
    pub weights: Vec<Weight>,
    /// The minimum observation per stage.
    pub observe: Duration,
    /// Checks evaluated at each stage; all checks when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checks: Option<Vec<String>>,
    /// An approval before the last stage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<Gate>,
}

/// The `linear` preset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Linear {
    /// Percent added at each step.
    #[schemars(range(min = 1, max = 100))]
    pub step: u8,
    /// How long each step is observed.
    pub every: Duration,
    /// Checks evaluated at each step; all checks when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checks: Option<Vec<String>>,
}

/// Observation with checks, used around a switch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Verify {
    /// How long to observe.
    pub observe: Duration,
    /// Checks evaluated; all checks when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checks: Option<Vec<String>>,
}

/// The `blue-green` preset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct BlueGreen {
    /// Checks on the new side before it takes traffic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre_switch: Option<Verify>,
    /// Checks after the switch, while the old side waits at weight 0 for an instant switch back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_switch: Option<Verify>,
    /// An approval before the switch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<Gate>,
}

/// The `immediate` preset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Immediate {
    /// Observation after the switch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observe: Option<Duration>,
    /// Checks evaluated after the switch; all checks when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checks: Option<Vec<String>>,
}

/// The `mirror` preset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Mirror {
    /// Percent of requests copied to the canary.
    pub percent: Weight,
    /// How long to observe the mirrored traffic.
    pub observe: Duration,
    /// Checks evaluated on the mirrored traffic; all checks when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checks: Option<Vec<String>>,
}

/// The `header-match` preset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct HeaderMatchStrategy {
    /// The request header's name.
    pub header: String,
    /// The value that sends a request to the canary.
    pub value: String,
    /// How long to observe the matched traffic.
    pub observe: Duration,
    /// Checks evaluated on the matched traffic; all checks when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checks: Option<Vec<String>>,
}

fn phase(name: String) -> Phase {
    Phase {
        name,
        weight: None,
        mirror: None,
        match_: None,
        observe: None,
        checks: None,
        min_score: None,
        pass_score: None,
        interval: None,
        gate: None,
    }
}

fn full(observe: Option<Duration>, checks: Option<Vec<String>>) -> Phase {
    Phase {
        weight: Some(Weight(100)),
        observe,
        checks,
        ..phase("full".into())
    }
}

impl Strategy {
    pub fn name(&self) -> &'static str {
        match self {
            Strategy::Canary(_) => "canary",
            Strategy::Linear(_) => "linear",
            Strategy::BlueGreen(_) => "blue-green",
            Strategy::Immediate(_) => "immediate",
            Strategy::Mirror(_) => "mirror",
            Strategy::HeaderMatch(_) => "header-match",
        }
    }

    /// The phases this preset stands for.
    pub fn phases(&self) -> Vec<Phase> {
        match self {
            Strategy::Canary(c) => {
                let last = c.weights.len().saturating_sub(1);
                c.weights
                    .iter()
                    .enumerate()
                    .flat_map(|(i, w)| {
                        let stage = Phase {
                            weight: Some(*w),
                            observe: Some(c.observe),
                            checks: c.checks.clone(),
                            ..phase(format!("canary-{}", w.0))
                        };
                        // The gate guards the last stage: it waits before that stage's shift.
                        let gate = c.gate.as_ref().filter(|_| i == last).map(|g| Phase {
                            gate: Some(g.clone()),
                            ..phase(format!("approve-{}", w.0))
                        });
                        gate.into_iter().chain([stage])
                    })
                    .collect()
            }
            Strategy::Linear(l) => {
                let step = l.step.max(1);
                (1..)
                    .map(|i| (u32::from(step) * i).min(100) as u8)
                    .take_while({
                        let mut done = false;
                        move |w| !std::mem::replace(&mut done, *w >= 100)
                    })
                    .map(|w| Phase {
                        weight: Some(Weight(w)),
                        observe: Some(l.every),
                        checks: l.checks.clone(),
                        ..phase(format!("linear-{w}"))
                    })
                    .collect()
            }
            Strategy::BlueGreen(b) => {
                let mut out = Vec::new();
                if let Some(v) = &b.pre_switch {
                    out.push(Phase {
                        weight: Some(Weight(0)),
                        observe: Some(v.observe),
                        checks: v.checks.clone(),
                        ..phase("pre-switch".into())
                    });
                }
                if let Some(g) = &b.gate {
                    out.push(Phase {
                        gate: Some(g.clone()),
                        ..phase("approve-switch".into())
                    });
                }
                let post = b.post_switch.as_ref();
                out.push(Phase {
                    name: "switch".into(),
                    ..full(post.map(|v| v.observe), post.and_then(|v| v.checks.clone()))
                });
                out
            }
            Strategy::Immediate(i) => vec![full(i.observe, i.checks.clone())],
            Strategy::Mirror(m) => vec![
                Phase {
                    mirror: Some(m.percent),
                    observe: Some(m.observe),
                    checks: m.checks.clone(),
                    ..phase("mirror".into())
                },
                full(None, None),
            ],
            Strategy::HeaderMatch(h) => vec![
                Phase {
                    match_: Some(HeaderMatch {
                        header: h.header.clone(),
                        value: h.value.clone(),
                    }),
                    observe: Some(h.observe),
                    checks: h.checks.clone(),
                    ..phase("header-match".into())
                },
                full(None, None),
            ],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_steps_reach_100_once() {
        let s = Strategy::Linear(Linear {
            step: 30,
            every: Duration::from_secs(60),
            checks: None,
        });
        let w: Vec<u8> = s.phases().iter().map(|p| p.weight.unwrap().0).collect();
        assert_eq!(w, vec![30, 60, 90, 100]);
    }

    #[test]
    fn canary_gate_guards_last_stage() {
        let s = Strategy::Canary(Canary {
            weights: vec![Weight(5), Weight(100)],
            observe: Duration::from_secs(60),
            checks: None,
            gate: Some(Gate {
                approvers: vec!["sre".into()],
                via: None,
                timeout: Duration::from_secs(60),
                on_timeout: super::super::gate::GateTimeout::Abort,
                message: None,
            }),
        });
        let names: Vec<_> = s.phases().into_iter().map(|p| p.name).collect();
        assert_eq!(names, vec!["canary-5", "approve-100", "canary-100"]);
    }
}
