//! What editors need of the schema beyond validation, as yaml-language-server reads it: a hover
//! shows the first title and description it meets from the innermost matching schema outwards,
//! and completes `key: ` only for keys whose schema states a `type`. So, on the generated schema:
//! every key and definition gets a title; a fixed list of values becomes an `enum` whose values
//! are described in `markdownEnumDescriptions` (the key's own description then heads the hover,
//! the chosen value's text follows); a form of a union describes itself only where it is an
//! object with keys of its own, and a one-key form hands its text to that key; and every
//! definition and key states its type.

use serde_json::{Map, Value};

/// Shapes `root` (the whole generated schema) for editors.
pub fn shape(root: &mut Value) {
    let defs = root.get("$defs").cloned().unwrap_or_default();
    visit(root, &defs);
    let shaped = root.get("$defs").cloned().unwrap_or_default();
    if let Some(Value::Object(defs)) = root.get_mut("$defs") {
        for (name, def) in defs.iter_mut() {
            let Value::Object(def) = def else { continue };
            def.entry("title").or_insert_with(|| words(name).into());
            if !def.contains_key("type") {
                if let Some(t) = type_of(&Value::Object(def.clone()), &shaped) {
                    def.insert("type".into(), t);
                }
            }
        }
    }
}

fn visit(node: &mut Value, defs: &Value) {
    match node {
        Value::Object(obj) => {
            values_to_enum(obj);
            plain_forms_to_types(obj);
            inline_referenced_forms(obj, defs);
            forms_describe_keys(obj);
            if let Some(Value::Object(props)) = obj.get_mut("properties") {
                for (key, prop) in props.iter_mut() {
                    if let Value::Object(p) = prop {
                        p.entry("title").or_insert_with(|| key.clone().into());
                        // A key naming a definition gets its type from there: a `type` beside
                        // `$ref` would make the editor read the definition's title and text
                        // before the key's.
                        if !p.contains_key("type") && !p.contains_key("$ref") {
                            if let Some(t) = type_of(&Value::Object(p.clone()), defs) {
                                p.insert("type".into(), t);
                            }
                        }
                    }
                }
            }
            for v in obj.values_mut() {
                visit(v, defs);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| visit(v, defs)),
        _ => {}
    }
}

/// `oneOf: [{const: a, description: A}, ...]` → `type: string, enum: [a, ...]` with
/// `markdownEnumDescriptions: [A, ...]`.
fn values_to_enum(obj: &mut Map<String, Value>) {
    let Some(Value::Array(forms)) = obj.get("oneOf") else {
        return;
    };
    let values: Option<Vec<(Value, Value)>> = forms
        .iter()
        .map(|f| {
            let c = f.get("const").filter(|c| c.is_string())?;
            Some((c.clone(), f.get("description").cloned().unwrap_or_default()))
        })
        .collect();
    let Some(values) = values else {
        return;
    };
    obj.remove("oneOf");
    obj.insert("type".into(), "string".into());
    let (names, texts): (Vec<Value>, Vec<Value>) = values.into_iter().unzip();
    obj.insert("enum".into(), names.into());
    obj.insert("markdownEnumDescriptions".into(), texts.into());
}

/// `anyOf: [{type: string}, {type: array, items: ...}]` → `type: [string, array], items: ...`:
/// the editor would otherwise head a hover with every form that matches, joined by `||`.
fn plain_forms_to_types(obj: &mut Map<String, Value>) {
    let Some(Value::Array(forms)) = obj.get("anyOf") else {
        return;
    };
    let plain = |f: &Value| {
        f.as_object().is_some_and(|f| {
            f.get("type").is_some_and(Value::is_string)
                && f.keys()
                    .all(|k| ["type", "items", "format", "description"].contains(&k.as_str()))
        })
    };
    if !forms.iter().all(plain) || forms.iter().filter(|f| f.get("items").is_some()).count() > 1 {
        return;
    }
    let forms = forms.clone();
    obj.remove("anyOf");
    let types: Vec<Value> = forms.iter().map(|f| f["type"].clone()).collect();
    obj.insert("type".into(), types.into());
    if let Some(items) = forms.iter().find_map(|f| f.get("items")) {
        obj.insert("items".into(), items.clone());
    }
}

/// A form of a union that names a definition is written out in place, without the
/// definition's title and text: the editor would show those instead of the key's.
fn inline_referenced_forms(obj: &mut Map<String, Value>, defs: &Value) {
    for union in ["oneOf", "anyOf"] {
        let Some(Value::Array(forms)) = obj.get_mut(union) else {
            continue;
        };
        for form in forms.iter_mut() {
            let Some(def) = form
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/$defs/"))
                .and_then(|name| defs.get(name))
                .and_then(Value::as_object)
            else {
                continue;
            };
            let mut inlined = def.clone();
            inlined.remove("title");
            inlined.remove("description");
            *form = Value::Object(inlined);
        }
    }
}

/// In a union, a form that is a plain value (text, a number, a list) says nothing of its own,
/// so the key's description shows; a one-key object form hands its text to that key.
fn forms_describe_keys(obj: &mut Map<String, Value>) {
    for union in ["oneOf", "anyOf"] {
        let Some(Value::Array(forms)) = obj.get_mut(union) else {
            continue;
        };
        for form in forms.iter_mut().filter_map(Value::as_object_mut) {
            let one_key = form
                .get("properties")
                .and_then(Value::as_object)
                .filter(|p| p.len() == 1)
                .is_some();
            let keyed = form.contains_key("properties") || form.contains_key("$ref");
            if one_key {
                let Some(text) = form.remove("description") else {
                    continue;
                };
                if let Some(Value::Object(key)) = form
                    .get_mut("properties")
                    .and_then(Value::as_object_mut)
                    .and_then(|p| p.values_mut().next())
                {
                    key.entry("description").or_insert(text);
                }
            } else if !keyed {
                form.remove("description");
            }
            // A provider's form is named by its kind.
            let kind = form
                .get("properties")
                .and_then(|p| p.pointer("/kind/const"))
                .and_then(Value::as_str)
                .map(|k| format!("{k} provider"));
            if let Some(title) = kind {
                form.entry("title").or_insert(title.into());
            }
        }
    }
}

/// The JSON type(s) a schema node admits, following `$ref`s and unions.
fn type_of(node: &Value, defs: &Value) -> Option<Value> {
    if let Some(t) = node.get("type") {
        return Some(t.clone());
    }
    if let Some(name) = node
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/$defs/"))
    {
        return type_of(defs.get(name)?, defs);
    }
    if node.get("const").is_some_and(Value::is_string) {
        return Some("string".into());
    }
    let forms = node
        .get("oneOf")
        .or_else(|| node.get("anyOf"))?
        .as_array()?;
    // Each type once, in the order the forms give them.
    let mut types: Vec<Value> = Vec::new();
    for f in forms {
        let t = type_of(f, defs)?;
        for t in t.as_array().cloned().unwrap_or_else(|| vec![t]) {
            if !types.contains(&t) {
                types.push(t);
            }
        }
    }
    Some(match types.len() {
        1 => types.remove(0),
        _ => types.into(),
    })
}

/// `OnNoData` → `On no data`.
fn words(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push(' ');
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_become_a_described_enum_and_keys_get_titles_and_types() {
        let mut root = json!({
            "properties": {
                "unit": { "description": "What the queries return.", "$ref": "#/$defs/Unit" },
                "stable": { "description": "The stable servers.", "$ref": "#/$defs/Servers" },
                "strategy": { "$ref": "#/$defs/Strategy" },
                "canary": { "description": "The canary's data.", "$ref": "#/$defs/Series" }
            },
            "$defs": {
                "Unit": { "oneOf": [
                    { "const": "ratio", "description": "A fraction." },
                    { "const": "seconds", "description": "Seconds." }
                ] },
                "Servers": { "anyOf": [
                    { "type": "string", "description": "One server." },
                    { "type": "array", "items": { "type": "string" } }
                ] },
                "Series": { "anyOf": [
                    { "type": "string", "description": "A query." },
                    { "description": "Counters.", "$ref": "#/$defs/Counts" }
                ] },
                "Counts": { "type": "object", "description": "Two counters.", "properties": { "events": { "type": "string" } } },
                "Strategy": { "oneOf": [
                    { "type": "object", "description": "Weights.", "properties": { "canary": { "type": "object" } } }
                ] }
            }
        });
        shape(&mut root);
        assert_eq!(
            root["$defs"]["Unit"],
            json!({ "type": "string", "enum": ["ratio", "seconds"], "markdownEnumDescriptions": ["A fraction.", "Seconds."], "title": "Unit" })
        );
        assert_eq!(root["properties"]["unit"]["title"], "unit");
        assert_eq!(root["properties"]["unit"].get("type"), None);
        assert_eq!(
            root["$defs"]["Servers"],
            json!({ "type": ["string", "array"], "items": { "type": "string" }, "title": "Servers" })
        );
        assert_eq!(root["$defs"]["Strategy"]["type"], "object");
        let canary = &root["$defs"]["Strategy"]["oneOf"][0];
        assert_eq!(canary.get("description"), None);
        assert_eq!(canary["properties"]["canary"]["description"], "Weights.");
        assert_eq!(
            root["$defs"]["Series"]["anyOf"],
            json!([{ "type": "string" }, { "type": "object", "properties": { "events": { "type": "string", "title": "events" } } }])
        );
        assert_eq!(root["$defs"]["Series"]["type"], json!(["string", "object"]));
        assert_eq!(words("OnNoData"), "On no data");
    }
}
