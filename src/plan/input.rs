//! Typed inputs a plan takes, like a workflow's `inputs`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// An input of the plan, named by its key: its type, what it is for and its default; given with
/// `--input NAME=VALUE` (or the Action's `inputs`) and read as `${{ inputs.NAME }}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Input {
    /// The input's type.
    #[serde(rename = "type", default)]
    pub type_: InputType,
    /// What the input is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The value used when none is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<serde_json::Value>,
    /// Whether a value must be given (when there is no default).
    #[serde(default)]
    pub required: bool,
    /// For `choice`: the allowed values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<String>>,
}

/// An input's type.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum InputType {
    /// Text.
    #[default]
    String,
    /// A number.
    Number,
    /// `true` or `false`.
    Boolean,
    /// One of `options`.
    Choice,
}
