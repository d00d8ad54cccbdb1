//! The plan's JSON Schema: generated from the Rust types (the one source of truth), checked
//! against the committed `schemas/rollout.schema.json` by a test; `schema_errors::validate`
//! validates plans with it and maps errors back to source positions.

use super::Plan;
use serde_json::Value;
use std::sync::OnceLock;

/// Where the committed schema lives, relative to the repository root.
pub const SCHEMA_PATH: &str = "schemas/rollout.schema.json";

/// The plan's JSON Schema (draft 2020-12).
pub fn schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let generator = schemars::generate::SchemaSettings::draft2020_12()
            .with_transform(NoNull)
            .into_generator();
        let root = generator.into_root_schema_for::<Plan>();
        let mut root = serde_json::to_value(root).expect("schema serializes");
        super::editor_schema::shape(&mut root);
        root
    })
}

/// The schema as users get it: pretty JSON with a trailing newline.
pub fn schema_text() -> String {
    serde_json::to_string_pretty(schema()).expect("schema serializes") + "\n"
}

/// An optional key is left out, never written as `null` (which an empty `key:` is in YAML), so
/// `Option<T>` keeps `T`'s schema instead of `anyOf: [T, null]`.
#[derive(Clone)]
struct NoNull;

impl schemars::transform::Transform for NoNull {
    fn transform(&mut self, schema: &mut schemars::Schema) {
        schemars::transform::transform_subschemas(self, schema);
        let Some(obj) = schema.as_object_mut() else {
            return;
        };
        // serde's tag of internally tagged enums (`kind`) comes without a description.
        if let Some(Value::Object(tag)) = obj.get_mut("properties").and_then(|p| p.get_mut("kind"))
        {
            if let Some(kind) = tag.get("const").and_then(Value::as_str).map(str::to_string) {
                tag.entry("description")
                    .or_insert_with(|| format!("What this provider is: `{kind}`.").into());
            }
        }
        if let Some(Value::Array(types)) = obj.get_mut("type") {
            types.retain(|t| t != "null");
            if types.len() == 1 {
                let t = types.remove(0);
                obj.insert("type".into(), t);
            }
        }
        let Some(Value::Array(any)) = obj.get("anyOf") else {
            return;
        };
        let rest: Vec<&Value> = any
            .iter()
            .filter(|b| b.get("type") != Some(&Value::from("null")))
            .collect();
        if rest.len() == 1 && rest.len() < any.len() {
            let Some(inner) = rest[0].as_object().cloned() else {
                return;
            };
            obj.remove("anyOf");
            for (k, v) in inner {
                obj.entry(k).or_insert(v);
            }
        }
    }
}

/// A schema node with its `$ref` followed to the definition it names.
pub(super) fn resolve(node: &'static Value) -> &'static Value {
    match node
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix('#'))
    {
        Some(target) => schema().pointer(target).map(resolve).unwrap_or(node),
        None => node,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_property_has_a_description() {
        fn walk(v: &'static Value, path: &str, missing: &mut Vec<String>) {
            if let Some(props) = v.get("properties").and_then(Value::as_object) {
                for (k, p) in props {
                    let p = resolve(p);
                    if p.get("description").is_none() {
                        missing.push(format!("{path}/{k}"));
                    }
                }
            }
            match v {
                // `if` subschemas only select a rule (`uses: shift`); editors show no hover there.
                Value::Object(o) => o
                    .iter()
                    .filter(|(k, _)| *k != "if")
                    .for_each(|(k, c)| walk(c, &format!("{path}/{k}"), missing)),
                Value::Array(a) => a
                    .iter()
                    .enumerate()
                    .for_each(|(i, c)| walk(c, &format!("{path}/{i}"), missing)),
                _ => {}
            }
        }
        let mut missing = Vec::new();
        walk(schema(), "", &mut missing);
        assert!(
            missing.is_empty(),
            "properties without a description: {missing:#?}"
        );
    }

    #[test]
    fn is_draft_2020_12() {
        assert_eq!(
            schema()["$schema"],
            "https://json-schema.org/draft/2020-12/schema"
        );
    }
}
