//! Schema-valid value → typed [`Plan`], keeping positions for the few errors only serde sees.

use super::document::Document;
use super::step::{Action, Step, Uses};
use super::Plan;
use crate::diagnostics::{Code, Diagnostic};
use serde::de::DeserializeOwned;
use serde_json::Value;

fn segments(path: &serde_path_to_error::Path) -> Vec<String> {
    path.iter()
        .filter_map(|seg| match seg {
            serde_path_to_error::Segment::Seq { index } => Some(index.to_string()),
            serde_path_to_error::Segment::Map { key } => Some(key.clone()),
            serde_path_to_error::Segment::Enum { .. } | serde_path_to_error::Segment::Unknown => {
                None
            }
        })
        .collect()
}

fn from_value<T: DeserializeOwned>(
    doc: &Document,
    value: &Value,
    prefix: &[String],
) -> Result<T, Diagnostic> {
    // The schema has already accepted the value, so this nearly always succeeds; tracking the
    // path costs time on large plans and is only needed to point at an error.
    if let Ok(t) = T::deserialize(value) {
        return Ok(t);
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let mut path = prefix.to_vec();
        path.extend(segments(e.path()));
        let code = if e.inner().to_string().contains("duration") {
            Code::BadDuration
        } else if e.inner().to_string().contains("unit")
            || e.inner().to_string().contains("number with")
        {
            Code::BadQuantity
        } else {
            Code::BadValue
        };
        Diagnostic::error(code, e.inner().to_string()).at(Some(doc.span_of(&path)))
    })
}

/// The typed plan of a document the schema accepted.
pub fn plan(doc: &Document) -> Result<Plan, Diagnostic> {
    from_value(doc, &doc.value, &[])
}

/// A step's typed action, from `uses` + `with` or `run`; `with` is the step's `with:` value.
pub fn action(
    doc: &Document,
    index: usize,
    step: &Step,
    with: Option<&Value>,
) -> Result<Action, Diagnostic> {
    let here = |key: &str| vec!["steps".to_string(), index.to_string(), key.to_string()];
    match (&step.uses, &step.run) {
        (Some(_), Some(_)) => Err(Diagnostic::error(
            Code::ConflictingKeys,
            format!("step `{}` has both `uses` and `run`", step.id),
        )
        .at(Some(doc.key_span_of(&here("run"))))
        .help("a step either runs a command (`run`) or uses a built-in action (`uses`); split it into two steps")),
        (None, None) => Err(Diagnostic::error(
            Code::MissingKey,
            format!("step `{}` does nothing: it has neither `uses` nor `run`", step.id),
        )
        .at(Some(doc.span_of(&["steps".to_string(), index.to_string()])))
        .help("add `uses: rollout` (or shift, observe, gate, notify) with its `with:`, or `run: <command>`")),
        (None, Some(cmd)) => {
            if step.with.is_some() {
                return Err(Diagnostic::error(
                    Code::ConflictingKeys,
                    format!("step `{}` has `with` but runs a command", step.id),
                )
                .at(Some(doc.key_span_of(&here("with"))))
                .help("`with` configures `uses`; pass values to a command through `env`"));
            }
            Ok(Action::Run(cmd.clone()))
        }
        (Some(uses), None) => {
            let empty = Value::Object(Default::default());
            let with = with.unwrap_or(&empty);
            let prefix = here("with");
            Ok(match uses {
                Uses::Rollout => Action::Rollout(from_value(doc, with, &prefix)?),
                Uses::Shift => Action::Shift(from_value(doc, with, &prefix)?),
                Uses::Observe => Action::Observe(from_value(doc, with, &prefix)?),
                Uses::Gate => Action::Gate(from_value(doc, with, &prefix)?),
                Uses::Notify => Action::Notify(from_value(doc, with, &prefix)?),
            })
        }
    }
}
