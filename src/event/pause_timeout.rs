use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What a pause's timeout means.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum PauseTimeout {
    /// Roll back: put every router back as it was before the run.
    #[default]
    Rollback,
    /// Carry on as if someone had said continue.
    Continue,
}
