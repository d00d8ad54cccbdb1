//! What rollgate added to a Kubernetes object (a rule or route of its own, a mirror), kept in
//! the object's `rollgate.dev/added` annotation so that any later write, by this process or
//! another, takes out exactly that and nothing of the owner's: a user's own mirror to the
//! canary, or a rule that happens to share rollgate's name, stays.

use serde_json::Value;

pub const ANNOTATION: &str = "rollgate.dev/added";

/// What the annotation lists, oldest first; nothing when it is absent or not rollgate's JSON.
pub fn read(obj: &Value) -> Vec<Value> {
    obj.pointer("/metadata/annotations")
        .and_then(|a| a.get(ANNOTATION))
        .and_then(Value::as_str)
        .and_then(|s| serde_json::from_str::<Vec<Value>>(s).ok())
        .unwrap_or_default()
}

/// Sets the annotation to `added`, or takes it out (and an annotations map it leaves empty).
pub fn write(obj: &mut Value, added: &[Value]) {
    let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    if added.is_empty() {
        if let Some(a) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
            a.remove(ANNOTATION);
            if a.is_empty() {
                meta.remove("annotations");
            }
        }
        return;
    }
    let text = Value::String(serde_json::to_string(added).expect("JSON"));
    match meta.get_mut("annotations").and_then(Value::as_object_mut) {
        Some(a) => {
            a.insert(ANNOTATION.into(), text);
        }
        None => {
            meta.insert(
                "annotations".into(),
                serde_json::json!({ ANNOTATION: text }),
            );
        }
    }
}

/// A name for a rule of rollgate's that no rule of `names` has: `rollgate-canary`, else with a
/// number after it.
pub fn free_name<'a>(names: impl Iterator<Item = &'a str> + Clone) -> String {
    (1..)
        .map(|n| match n {
            1 => "rollgate-canary".to_string(),
            n => format!("rollgate-canary-{n}"),
        })
        .find(|candidate| !names.clone().any(|n| n == candidate))
        .expect("some number is free")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_annotation_goes_in_and_out_leaving_the_object_as_it_was() {
        let before = json!({ "metadata": { "name": "web" }, "spec": {} });
        let mut obj = before.clone();
        write(&mut obj, &[json!({ "rule": "rollgate-canary" })]);
        assert_eq!(read(&obj), [json!({ "rule": "rollgate-canary" })]);
        write(&mut obj, &[]);
        assert_eq!(obj, before);
        let theirs = json!({ "metadata": { "annotations": { "team": "web" } } });
        let mut obj = theirs.clone();
        write(&mut obj, &[json!(1)]);
        write(&mut obj, &[]);
        assert_eq!(obj, theirs);
        assert_eq!(free_name(["a"].into_iter()), "rollgate-canary");
        assert_eq!(
            free_name(["rollgate-canary", "rollgate-canary-2"].into_iter()),
            "rollgate-canary-3"
        );
    }
}
