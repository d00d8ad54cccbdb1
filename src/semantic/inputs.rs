//! Inputs: defaults that fit their type, options only for choices.

use super::{path, Ctx};
use crate::diagnostics::{Code, Diagnostic};
use crate::plan::input::InputType;
use serde_json::Value;

pub fn check(ctx: &Ctx<'_>, out: &mut Vec<Diagnostic>) {
    for (name, input) in &ctx.plan.inputs {
        let here = |k: &str| path(&["inputs", name, k]);
        match (input.type_, &input.options) {
            (InputType::Choice, None) => out.push(
                Diagnostic::error(
                    Code::BadInput,
                    format!("input `{name}` is a choice without `options`"),
                )
                .at(ctx.key_span(&path(&["inputs", name])))
                .help("list the allowed values: `options: [staging, production]`"),
            ),
            (t, Some(_)) if t != InputType::Choice => out.push(
                Diagnostic::error(
                    Code::BadInput,
                    format!("input `{name}` has `options` but is not a choice"),
                )
                .at(ctx.key_span(&here("options")))
                .help("set `type: choice`, or remove `options`"),
            ),
            _ => {}
        }
        let Some(default) = &input.default else {
            continue;
        };
        let fits = match input.type_ {
            InputType::String => default.is_string(),
            InputType::Number => default.is_number(),
            InputType::Boolean => default.is_boolean(),
            InputType::Choice => match (default, &input.options) {
                (Value::String(s), Some(opts)) => opts.contains(s),
                _ => false,
            },
        };
        if !fits {
            let want = match input.type_ {
                InputType::String => "text (quote it: `'1.0'`)".to_string(),
                InputType::Number => "a number".to_string(),
                InputType::Boolean => "`true` or `false`".to_string(),
                InputType::Choice => format!(
                    "one of the options: {}",
                    input.options.as_deref().unwrap_or_default().join(", ")
                ),
            };
            out.push(
                Diagnostic::error(
                    Code::BadInput,
                    format!(
                        "the default of input `{name}` is {default}, which does not fit its type"
                    ),
                )
                .at(ctx.span(&here("default")))
                .help(format!("the default must be {want}")),
            );
        }
    }
}
