//! jsonschema's errors → positioned diagnostics that say what to write instead: the key a typo
//! meant, the unit a duration lacks, the branch of a tagged form the user meant. [`validate`]
//! checks a document against [`schema`](super::schema::schema) and maps what it finds.

use super::document::{pointer_segments, Document};
use super::schema::{resolve, schema};
use super::step::ID_PATTERN;
use super::units::{DURATION_PATTERN, QUANTILE_PATTERN, QUANTITY_PATTERN};
use crate::diagnostics::{did_you_mean, suggest, Code, Diagnostic};
use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::{ValidationError, Validator};
use serde_json::Value;
use std::sync::OnceLock;

fn validator() -> &'static Validator {
    static V: OnceLock<Validator> = OnceLock::new();
    V.get_or_init(|| jsonschema::draft202012::new(schema()).expect("generated schema compiles"))
}

/// Every schema violation in the document, as positioned diagnostics.
pub fn validate(doc: &Document) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for err in validator().iter_errors(&doc.value) {
        map_error(doc, &err, &mut out);
    }
    out.dedup();
    out
}

/// Provider kinds people reach for that the language does not have, and what to write instead.
const RETIRED_KINDS: [(&str, &str); 2] = [
    ("kubectl", "Kubernetes routers are `kind: gateway-api` (HTTPRoutes, GRPCRoutes) or `kind: istio` (a VirtualService), driven through the Kubernetes API: no `kubectl` needed"),
    ("smi", "SMI was archived by the CNCF in 2023; split traffic with the Gateway API instead: `kind: gateway-api`"),
];

/// `phases[0].gate` for messages.
fn display_path(path: &[String]) -> String {
    let mut s = String::new();
    for seg in path {
        if seg.parse::<usize>().is_ok() {
            s.push_str(&format!("[{seg}]"));
        } else {
            if !s.is_empty() {
                s.push('.');
            }
            s.push_str(seg);
        }
    }
    if s.is_empty() {
        "the plan".into()
    } else {
        format!("`{s}`")
    }
}

/// The schema node an error's keyword sits in, following `$ref`s along the keyword path.
fn schema_node(schema_path: &str) -> Option<&'static Value> {
    let root = schema();
    let mut node = root;
    let segs = pointer_segments(schema_path);
    // The last segment is the failing keyword itself.
    for seg in &segs[..segs.len().saturating_sub(1)] {
        node = if seg == "$ref" {
            let target = node.get("$ref")?.as_str()?;
            root.pointer(target.strip_prefix('#')?)?
        } else if let Value::Array(items) = node {
            items.get(seg.parse::<usize>().ok()?)?
        } else {
            node.get(seg.as_str())?
        };
    }
    Some(resolve(node))
}

fn is_duration(node: Option<&Value>) -> bool {
    node.and_then(|n| n.get("pattern")).and_then(Value::as_str) == Some(DURATION_PATTERN)
}

fn describe(v: &Value) -> String {
    match v {
        Value::Null => "nothing (null)".into(),
        Value::Bool(b) => format!("`{b}`"),
        Value::Number(n) => format!("the number `{n}`"),
        Value::String(s) => format!("the text `{s}`"),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "a mapping".into(),
    }
}

fn type_name(kind: &TypeKind) -> String {
    let one = |t: &jsonschema::JsonType| match t.to_string().as_str() {
        "object" => "a mapping".to_string(),
        "array" => "a list".to_string(),
        "integer" => "a whole number".to_string(),
        other => format!("a {other}"),
    };
    match kind {
        TypeKind::Single(t) => one(t),
        TypeKind::Multiple(set) => set.iter().map(|t| one(&t)).collect::<Vec<_>>().join(" or "),
    }
}

fn property_help(node: Option<&'static Value>, key: &str) -> Option<String> {
    // The field's own description says more than its type's (`canary` over `Servers`).
    let prop = node?.get("properties")?.get(key)?;
    let desc = prop
        .get("description")
        .or_else(|| resolve(prop).get("description"))?
        .as_str()?;
    Some(format!("`{key}`: {desc}"))
}

pub(super) fn map_error(doc: &Document, err: &ValidationError<'_>, out: &mut Vec<Diagnostic>) {
    let path = pointer_segments(err.instance_path().as_str());
    let where_ = display_path(&path);
    let value_span = Some(doc.span_of(&path));
    let node = schema_node(err.schema_path().as_str());
    let own_help = node
        .and_then(|n| n.get("description"))
        .and_then(Value::as_str);
    let d = match err.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let known: Vec<&str> = node
                .and_then(|n| n.get("properties"))
                .and_then(Value::as_object)
                .map(|p| p.keys().map(String::as_str).collect())
                .unwrap_or_default();
            for key in unexpected {
                let mut key_path = path.clone();
                key_path.push(key.clone());
                let help = match did_you_mean(key, known.iter().copied()) {
                    None if key == "<<" => "YAML merge keys are not supported; repeat the keys, or anchor and alias the whole mapping".into(),
                    _ => suggest(key, &known, "expected one of: ", ""),
                };
                out.push(
                    Diagnostic::error(Code::UnknownKey, format!("unknown key `{key}` in {where_}"))
                        .at(Some(doc.key_span_of(&key_path)))
                        .help(help),
                );
            }
            return;
        }
        ValidationErrorKind::Required { property } => {
            let key = property.as_str().unwrap_or_default();
            let d = Diagnostic::error(Code::MissingKey, format!("{where_} is missing `{key}`"))
                .at(Some(doc.key_span_of(&path)));
            match property_help(node, key) {
                Some(h) => d.help(h),
                None => d,
            }
        }
        ValidationErrorKind::Type { .. } if is_duration(node) => {
            let found = err.instance().to_string();
            Diagnostic::error(
                Code::BadDuration,
                format!("{where_} is {}, not a duration", describe(err.instance())),
            )
            .at(value_span)
            .help(match &**err.instance() {
                Value::Number(_) => format!("add a unit: `{found}s` or `{found}m`"),
                _ => "write a whole number and a unit: `90s`, `10m`, `2h`".into(),
            })
        }
        ValidationErrorKind::Type { kind } => {
            let d = Diagnostic::error(
                Code::WrongType,
                format!(
                    "{where_} should be {}, not {}",
                    type_name(kind),
                    describe(err.instance())
                ),
            )
            .at(value_span);
            match own_help {
                Some(h) => d.help(h.to_string()),
                None => d,
            }
        }
        ValidationErrorKind::Enum { options } => {
            let opts: Vec<&str> = options
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let found = err
                .instance()
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| err.instance().to_string());
            let help = suggest(&found, &opts, "use one of: ", "");
            Diagnostic::error(
                Code::BadValue,
                format!("`{found}` is not allowed for {where_}"),
            )
            .at(value_span)
            .help(help)
        }
        ValidationErrorKind::Pattern { pattern } => {
            let found = err.instance().as_str().unwrap_or_default();
            if pattern == DURATION_PATTERN {
                let help = if let Some(positive) = found.trim().strip_prefix('-') {
                    format!("a duration cannot be negative: `{positive}`")
                } else if found.trim().parse::<f64>().is_ok() {
                    format!("add a unit: `{}s` or `{}m`", found.trim(), found.trim())
                } else {
                    "write a whole number and a unit: `90s`, `10m`, `2h`, `1h 30m`, `500ms`".into()
                };
                Diagnostic::error(
                    Code::BadDuration,
                    format!("`{found}` in {where_} is not a duration"),
                )
                .at(value_span)
                .help(help)
            } else if pattern == QUANTITY_PATTERN {
                Diagnostic::error(Code::BadQuantity, format!("`{found}` in {where_} is not a threshold"))
                    .at(value_span)
                    .help("write a number (`0.01`), a percentage (`1%`), points (`0.5pp`), a duration (`500ms`) or a factor (`2x`)")
            } else if pattern == QUANTILE_PATTERN {
                Diagnostic::error(Code::BadValue, format!("`{found}` in {where_} is not a quantile from p50 up"))
                    .at(value_span)
                    .help("write `p` and a percentile from 50 to below 100: `p50`, `p90`, `p99`, `p99.9`; the histogram test judges the quantiles above the median, where latency is thinning out")
            } else if pattern == ID_PATTERN {
                Diagnostic::error(Code::BadValue, format!("`{found}` is not a valid id for {where_}"))
                    .at(value_span)
                    .help("start with a letter or `_`, then letters, digits, `-` or `_`, e.g. `deploy-eu`")
            } else {
                Diagnostic::error(
                    Code::BadValue,
                    format!("`{found}` does not match {pattern} in {where_}"),
                )
                .at(value_span)
            }
        }
        ValidationErrorKind::Minimum { limit }
        | ValidationErrorKind::ExclusiveMinimum { limit } => Diagnostic::error(
            Code::BadValue,
            format!(
                "{where_} is {}, below the minimum of {limit}",
                err.instance()
            ),
        )
        .at(value_span)
        .help(own_help.unwrap_or("use a larger value").to_string()),
        ValidationErrorKind::Maximum { limit }
        | ValidationErrorKind::ExclusiveMaximum { limit } => Diagnostic::error(
            Code::BadValue,
            format!(
                "{where_} is {}, above the maximum of {limit}",
                err.instance()
            ),
        )
        .at(value_span)
        .help(own_help.unwrap_or("use a smaller value").to_string()),
        ValidationErrorKind::MinItems { limit }
        | ValidationErrorKind::MinLength { limit }
        | ValidationErrorKind::MinProperties { limit } => Diagnostic::error(
            Code::BadValue,
            format!("{where_} is empty; it needs at least {limit}"),
        )
        .at(value_span)
        .help(own_help.unwrap_or("fill it in, or remove it").to_string()),
        ValidationErrorKind::OneOfNotValid { context } | ValidationErrorKind::AnyOf { context } => {
            match pick_branch(doc, err, &path, context) {
                Branch::Errors(errors) => {
                    for e in errors {
                        map_error(doc, e, out);
                    }
                    return;
                }
                Branch::Diagnostic(d) => d,
            }
        }
        _ => {
            Diagnostic::error(Code::BadValue, format!("{where_}: {}", err.masked())).at(value_span)
        }
    };
    out.push(d);
}

enum Branch<'e> {
    Errors(&'e [ValidationError<'static>]),
    Diagnostic(Diagnostic),
}

/// For a value that matches none of several forms, the form the user most likely meant:
/// by its `kind` tag, by its one key (strategy presets), or by the fewest errors.
fn pick_branch<'e>(
    doc: &Document,
    err: &ValidationError<'_>,
    path: &[String],
    context: &'e [Vec<ValidationError<'static>>],
) -> Branch<'e> {
    let where_ = display_path(path);
    let node = schema_node(err.schema_path().as_str());
    let branches: Vec<&Value> = node
        .and_then(|n| n.get("oneOf").or_else(|| n.get("anyOf")))
        .and_then(Value::as_array)
        .map(|a| a.iter().map(resolve).collect())
        .unwrap_or_default();
    let instance = err.instance();
    let values: Vec<&str> = branches
        .iter()
        .filter_map(|b| b.get("const").and_then(Value::as_str))
        .collect();
    if !values.is_empty() && values.len() == branches.len() {
        let found = instance
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| instance.to_string());
        let help = suggest(&found, &values, "use one of: ", "");
        return Branch::Diagnostic(
            Diagnostic::error(
                Code::BadValue,
                format!("`{found}` is not allowed for {where_}"),
            )
            .at(Some(doc.span_of(path)))
            .help(help),
        );
    }
    let consts: Vec<&str> = branches
        .iter()
        .filter_map(|b| b.pointer("/properties/kind/const").and_then(Value::as_str))
        .collect();
    if !consts.is_empty() && consts.len() == branches.len() {
        let Some(obj) = instance.as_object() else {
            return Branch::Diagnostic(
                Diagnostic::error(
                    Code::WrongType,
                    format!(
                        "{where_} should be a mapping with a `kind`, not {}",
                        describe(instance)
                    ),
                )
                .at(Some(doc.span_of(path)))
                .help(format!("kinds: {}", consts.join(", "))),
            );
        };
        let Some(kind) = obj.get("kind") else {
            return Branch::Diagnostic(
                Diagnostic::error(Code::MissingKey, format!("{where_} is missing `kind`"))
                    .at(Some(doc.key_span_of(path)))
                    .help(format!(
                        "say what it is with `kind:`, one of: {}",
                        consts.join(", ")
                    )),
            );
        };
        let kind_str = kind.as_str().unwrap_or_default();
        if let Some(i) = consts.iter().position(|c| *c == kind_str) {
            return Branch::Errors(&context[i]);
        }
        let mut kind_path = path.to_vec();
        kind_path.push("kind".into());
        let help = match RETIRED_KINDS.iter().find(|(k, _)| *k == kind_str) {
            Some((_, instead)) => instead.to_string(),
            None => suggest(kind_str, &consts, "kinds: ", ""),
        };
        return Branch::Diagnostic(
            Diagnostic::error(
                Code::BadValue,
                format!("unknown kind `{kind_str}` for {where_}"),
            )
            .at(Some(doc.span_of(&kind_path)))
            .help(help),
        );
    }
    let tags: Vec<&str> = branches
        .iter()
        .filter_map(|b| {
            let req = b.get("required")?.as_array()?;
            (req.len() == 1 && b.get("additionalProperties") == Some(&Value::Bool(false)))
                .then(|| req[0].as_str())
                .flatten()
        })
        .collect();
    if !tags.is_empty() && tags.len() == branches.len() {
        let keys: Vec<&String> = instance
            .as_object()
            .map(|o| o.keys().collect())
            .unwrap_or_default();
        if let [key] = keys.as_slice() {
            if let Some(i) = tags.iter().position(|t| t == key) {
                return Branch::Errors(&context[i]);
            }
            let mut key_path = path.to_vec();
            key_path.push((*key).clone());
            let help = suggest(key, &tags, "use one of: ", "");
            return Branch::Diagnostic(
                Diagnostic::error(
                    Code::BadValue,
                    format!(
                        "unknown {} `{key}` in {where_}",
                        path.last().map(String::as_str).unwrap_or("form")
                    ),
                )
                .at(Some(doc.key_span_of(&key_path)))
                .help(help),
            );
        }
        return Branch::Diagnostic(
            Diagnostic::error(
                Code::ConflictingKeys,
                format!("{where_} must be exactly one of: {}", tags.join(", ")),
            )
            .at(Some(doc.key_span_of(path)))
            .help(format!(
                "write it as a one-key mapping, e.g. `{}: {{...}}`",
                tags[0]
            )),
        );
    }
    // Untagged forms of different types (a query or a mapping of counters): the one of the
    // value's own type is the one meant.
    let type_of = |v: &Value| match v {
        Value::Object(_) => "object",
        Value::Array(_) => "array",
        Value::String(_) => "string",
        Value::Number(_) => "number",
        Value::Bool(_) => "boolean",
        Value::Null => "null",
    };
    let same_type: Vec<usize> = branches
        .iter()
        .enumerate()
        .filter(|(_, b)| b.get("type").and_then(Value::as_str) == Some(type_of(instance)))
        .map(|(i, _)| i)
        .collect();
    if let [i] = same_type.as_slice() {
        if !context[*i].is_empty() {
            return Branch::Errors(&context[*i]);
        }
    }
    // Untagged forms (a name or a list, …): the form whose complaints lie deepest is the one meant.
    let depth = |errs: &[ValidationError<'static>]| {
        errs.iter()
            .map(|e| pointer_segments(e.instance_path().as_str()).len())
            .max()
            .unwrap_or(0)
    };
    let best = context
        .iter()
        .enumerate()
        .filter(|(_, errs)| depth(errs) > path.len())
        .min_by_key(|(_, errs)| errs.len());
    match best {
        Some((i, _)) => Branch::Errors(&context[i]),
        None => {
            let forms: Vec<String> = branches
                .iter()
                .map(|b| {
                    b.get("description")
                        .and_then(Value::as_str)
                        .unwrap_or("another form")
                        .trim_end_matches('.')
                        .to_lowercase()
                })
                .collect();
            Branch::Diagnostic(
                Diagnostic::error(
                    Code::WrongType,
                    format!(
                        "{where_} should be one of: {}; not {}",
                        forms.join("; "),
                        describe(instance)
                    ),
                )
                .at(Some(doc.span_of(path))),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::validate;
    use super::*;
    use crate::plan::load::load;

    fn diags(src: &str) -> Vec<Diagnostic> {
        validate(&load("t.yaml", src).unwrap())
    }

    #[test]
    fn misspelled_key_suggests_the_right_one() {
        let d = diags("name: x\nproviders: {}\nphases:\n  - name: a\n    wieght: 5\n");
        let d = d
            .iter()
            .find(|d| d.code == Code::UnknownKey)
            .expect("unknown key");
        assert_eq!(d.help.as_deref(), Some("did you mean `weight`?"));
        assert_eq!(d.span.unwrap().line, 5);
    }

    #[test]
    fn provider_errors_come_from_the_branch_of_its_kind() {
        let d = diags(
            "name: x\nproviders:\n  edge: { kind: haproxy, socket: /s, backend: b, stable: s }\n",
        );
        assert_eq!(d.len(), 1, "{d:#?}");
        assert_eq!(d[0].code, Code::MissingKey);
        assert!(d[0].message.contains("canary"), "{}", d[0].message);
        let d = diags("name: x\nproviders:\n  prom: { kind: prometeus, url: u }\n");
        assert_eq!(d[0].help.as_deref(), Some("did you mean `prometheus`?"));
    }

    #[test]
    fn strategy_errors_come_from_the_named_preset() {
        let d =
            diags("name: x\nproviders: {}\nstrategy:\n  canary: { weights: [1], observe: 10 }\n");
        assert_eq!(d.len(), 1, "{d:#?}");
        assert_eq!(d[0].code, Code::BadDuration);
        assert_eq!(d[0].help.as_deref(), Some("add a unit: `10s` or `10m`"));
        let d = diags("name: x\nproviders: {}\nstrategy:\n  lineer: { step: 5, every: 1m }\n");
        assert_eq!(d[0].help.as_deref(), Some("did you mean `linear`?"));
    }

    #[test]
    fn step_with_is_checked_per_uses() {
        let d = diags(
            "name: x\nproviders: {}\nsteps:\n  - id: a\n    uses: shift\n    with: { wieght: 5 }\n",
        );
        let codes: Vec<_> = d.iter().map(|d| d.code).collect();
        assert!(codes.contains(&Code::UnknownKey), "{d:#?}");
        assert!(codes.contains(&Code::MissingKey), "{d:#?}");
    }
}
