//! Steps: the DAG form of a plan, with `id`, `uses`, `with`, `needs`, `if`, `timeout`.

use super::gate::Gate;
use super::phase::Phase;
use super::strategy::Strategy;
use super::units::{Duration, Weight};
use indexmap::IndexMap;
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// Step ids and phase names: what `needs:` and `steps.<id>` can refer to.
pub const ID_PATTERN: &str = "^[A-Za-z_][A-Za-z0-9_-]*$";

/// A step as written. Its `with` is typed per `uses` into an [`Action`] straight from the
/// document, so the step itself only records that it has one.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Step {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uses: Option<Uses>,
    #[serde(default)]
    pub with: Option<WithBlock>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub needs: Option<Needs>,
    #[serde(default, rename = "if", skip_serializing_if = "Option::is_none")]
    pub if_: Option<Condition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub env: IndexMap<String, String>,
}

/// Marks that a step has a `with:` block, without copying it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WithBlock;

impl<'de> Deserialize<'de> for WithBlock {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        serde::de::IgnoredAny::deserialize(d).map(|_| WithBlock)
    }
}

/// What a step does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Uses {
    /// Run phases (the plan's, or `with.phases`/`with.strategy`) against a router.
    Rollout,
    /// Set one router's canary weight.
    Shift,
    /// Watch checks for a while.
    Observe,
    /// Wait for an approval.
    Gate,
    /// Send a message.
    Notify,
}

impl Uses {
    pub const ALL: [Uses; 5] = [
        Uses::Rollout,
        Uses::Shift,
        Uses::Observe,
        Uses::Gate,
        Uses::Notify,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Uses::Rollout => "rollout",
            Uses::Shift => "shift",
            Uses::Observe => "observe",
            Uses::Gate => "gate",
            Uses::Notify => "notify",
        }
    }
}

/// One step id, or several.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Needs {
    /// One step id.
    One(String),
    /// Several step ids.
    Many(Vec<String>),
}

impl Needs {
    pub fn ids(&self) -> &[String] {
        match self {
            Needs::One(s) => std::slice::from_ref(s),
            Needs::Many(v) => v,
        }
    }
}

/// An `if:` condition: an expression (with or without `${{ }}`) or a boolean.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Condition {
    /// A literal.
    Bool(bool),
    /// An expression such as `success() && inputs.region == 'eu'`.
    Expr(String),
}

impl Condition {
    /// The expression text, without `${{ }}`.
    pub fn expression(&self) -> String {
        match self {
            Condition::Bool(b) => b.to_string(),
            Condition::Expr(s) => {
                let t = s.trim();
                match t.strip_prefix("${{").and_then(|r| r.strip_suffix("}}")) {
                    Some(inner) if !inner.contains("${{") => inner.trim().to_string(),
                    _ => t.to_string(),
                }
            }
        }
    }
}

/// `with:` for `uses: rollout`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RolloutWith {
    /// The traffic router (provider name); the plan's `router` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub router: Option<String>,
    /// A preset for this rollout instead of the plan's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<Strategy>,
    /// Phases for this rollout instead of the plan's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phases: Option<Vec<Phase>>,
}

/// `with:` for `uses: shift`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ShiftWith {
    /// The traffic router (provider name); the plan's `router` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub router: Option<String>,
    /// The canary's new share of traffic.
    pub weight: Weight,
}

/// `with:` for `uses: observe`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ObserveWith {
    /// How long to observe.
    pub duration: Duration,
    /// Checks evaluated; all checks when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checks: Option<Vec<String>>,
    /// How often checks are evaluated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Duration>,
}

/// `with:` for `uses: notify`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct NotifyWith {
    /// Provider names to send to.
    #[schemars(length(min = 1))]
    pub to: Vec<String>,
    /// The message; may use `${{ }}` expressions.
    pub message: String,
}

/// A step's action, typed from `uses` + `with` or `run`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "uses", content = "with", rename_all = "kebab-case")]
pub enum Action {
    Rollout(RolloutWith),
    Shift(ShiftWith),
    Observe(ObserveWith),
    Gate(Gate),
    Notify(NotifyWith),
    Run(String),
}

impl JsonSchema for Step {
    fn schema_name() -> Cow<'static, str> {
        "Step".into()
    }

    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        let mut with_rules = Vec::new();
        for (uses, schema) in [
            ("rollout", g.subschema_for::<RolloutWith>()),
            ("shift", g.subschema_for::<ShiftWith>()),
            ("observe", g.subschema_for::<ObserveWith>()),
            ("gate", g.subschema_for::<Gate>()),
            ("notify", g.subschema_for::<NotifyWith>()),
        ] {
            with_rules.push(serde_json::json!({
                "if": { "properties": { "uses": { "const": uses } }, "required": ["uses"] },
                "then": { "properties": { "with": schema } }
            }));
        }
        json_schema!({
            "type": "object",
            "description": "A step of the DAG form: what it does (`uses` + `with`, or `run`), what it waits for (`needs`) and when it runs (`if`).",
            "properties": {
                "id": { "type": "string", "pattern": ID_PATTERN, "patternErrorMessage": "Not an id: start with a letter or `_`, then letters, digits, `-` or `_`, e.g. `deploy-eu`.", "description": "The step's id, unique in the plan; other steps name it in `needs` and read `steps.<id>.outputs`." },
                "name": { "type": "string", "description": "A name shown in reports." },
                "uses": g.subschema_for::<Uses>(),
                "with": { "type": "object", "description": "The step's settings; which keys depend on `uses`." },
                "run": { "type": "string", "description": "A shell command to run, instead of `uses`; `${{ }}` expressions are substituted." },
                "needs": g.subschema_for::<Needs>(),
                "if": g.subschema_for::<Condition>(),
                "timeout": g.subschema_for::<Duration>(),
                "env": { "type": "object", "additionalProperties": { "type": "string" }, "description": "Environment variables for `run`." }
            },
            "required": ["id"],
            "additionalProperties": false,
            "allOf": with_rules
        })
    }
}
