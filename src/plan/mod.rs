//! The plan language: the typed model of a rollout plan, how it is loaded with source positions,
//! and the JSON Schema generated from these types.

pub mod check;
pub mod document;
mod editor_schema;
pub mod gate;
pub mod input;
pub mod load;
pub mod notify;
pub mod pause;
pub mod phase;
pub mod provider;
pub mod rollback;
pub mod rollouts;
pub mod schema;
pub mod schema_errors;
pub mod step;
pub mod strategy;
pub mod trigger;
pub mod typed;
pub mod units;

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use check::Check;
pub use gate::Gate;
pub use phase::Phase;
pub use provider::Provider;
pub use rollback::Rollback;
pub use step::Step;
pub use strategy::Strategy;
pub use trigger::Trigger;
pub use units::{Duration, Quantity, Weight};

/// A rollgate rollout plan: phases (or steps) that move traffic to a canary, the checks that
/// judge it, the triggers that roll it back, and the providers it talks to.
#[derive(Clone, Debug, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
#[schemars(title = "rollgate rollout plan")]
pub struct Plan {
    /// The plan's name, shown in reports and notifications.
    #[schemars(length(min = 1))]
    pub name: String,
    /// What this rollout is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Variables available as `${{ env.NAME }}` and in the environment of commands.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub env: IndexMap<String, Scalar>,
    /// Typed inputs, given with `--input name=value` (or the Action's inputs), read as `${{ inputs.name }}`.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub inputs: IndexMap<String, input::Input>,
    /// Named providers: traffic routers, metric sources, approval and notification targets.
    #[schemars(length(min = 1))]
    pub providers: IndexMap<String, Provider>,
    /// The traffic router phases shift; may be left out when the plan has exactly one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub router: Option<String>,
    /// Named health checks.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub checks: IndexMap<String, Check>,
    /// Conditions watched for the whole run, between and during phases.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub triggers: Vec<Trigger>,
    /// How often checks are evaluated by default (1m when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Duration>,
    /// A preset that expands into phases; instead of `phases`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<Strategy>,
    /// The stages of the rollout; instead of `strategy`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phases: Vec<Phase>,
    /// The DAG form: steps with `needs`, e.g. regions in waves. Without it, the plan is one rollout of its phases.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<Step>,
    /// What happens on rollback.
    #[serde(default)]
    pub rollback: Rollback,
    /// When the rollout cannot judge the canary, it holds every router where it is and waits for a decision: who may continue it, where from, and how long before it rolls back.
    #[serde(default)]
    pub pause: pause::Pause,
    /// Where news of the rollout goes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<notify::Notify>,
    /// Runs sharing a group may not overlap: a second one is refused, naming the holder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<Concurrency>,
    /// The longest the whole rollout may take; past it, it rolls back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_duration: Option<Duration>,
    /// What `rollgate resume` does with a run of this plan that stopped without finishing.
    #[serde(default)]
    pub resume: ResumePolicy,
}

impl Plan {
    /// The unit of the named check's values; a plain number for a check the plan does not have
    /// (a report folding events of another version of the plan).
    pub fn unit_of(&self, check: &str) -> check::Unit {
        self.checks
            .get(check)
            .map_or(check::Unit::Number, |c| c.unit())
    }

    /// Whether the plan talks to GitHub (PR comment, deployments, approvals from the PR).
    pub fn uses_github(&self) -> bool {
        self.providers
            .values()
            .any(|p| matches!(p, Provider::Github(_)))
    }

    /// Whether the plan's `notify` goes to the provider `name`.
    pub fn notifies(&self, name: &str) -> bool {
        self.notify
            .as_ref()
            .is_some_and(|n| n.to.iter().any(|t| t == name))
    }

    /// The `github` providers the plan's `notify` goes to (they keep the PR comment and the
    /// deployment), by name.
    pub fn github_notified(&self) -> impl Iterator<Item = (&String, &provider::Github)> {
        self.notify.iter().flat_map(|n| &n.to).filter_map(|to| {
            match self.providers.get_key_value(to) {
                Some((name, Provider::Github(g))) => Some((name, g)),
                _ => None,
            }
        })
    }
}

/// What resuming a run that stopped does (a run that had begun rolling back always finishes
/// its rollback).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ResumePolicy {
    /// Put every router it touched back as it was before the run.
    #[default]
    Rollback,
    /// Carry on from the step it stopped in (an observation starts its window again).
    Continue,
}

/// An environment variable: text, a number or a boolean, read as `${{ env.NAME }}` and set in
/// the environment of commands.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Scalar {
    /// Text.
    String(String),
    /// A number.
    Number(f64),
    /// A boolean.
    Bool(bool),
}

/// A concurrency group: a name, or `{ group: name }`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Concurrency {
    /// The group's name; may use `${{ }}`.
    Name(String),
    /// The group, spelled out.
    Spec {
        /// The group's name; may use `${{ }}`.
        group: String,
    },
}

impl Concurrency {
    pub fn group(&self) -> &str {
        match self {
            Concurrency::Name(g) | Concurrency::Spec { group: g } => g,
        }
    }
}
