//! One pass over the document, collecting what the checks need from where things were written:
//! lists of check names, provider references, durations and expressions may sit in phases,
//! strategies, steps' `with` or rollback verification alike. One walk instead of one per check
//! keeps a 10,000-step plan cheap; paths are made only for what is collected.

use crate::plan::gate::CLI_APPROVALS;
use crate::plan::provider::Role;
use crate::plan::Duration;
use serde_json::Value;

/// Keys whose values are durations.
const DURATION_KEYS: [&str; 9] = [
    "observe",
    "every",
    "timeout",
    "interval",
    "for",
    "max-duration",
    "cool-down",
    "store-outage",
    "duration",
];

/// One step of a path into the document: a key, or a list index.
#[derive(Clone, Copy, Debug)]
enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

fn owned(path: &[Seg<'_>], last: Option<usize>) -> Vec<String> {
    path.iter()
        .map(|s| match s {
            Seg::Key(k) => k.to_string(),
            Seg::Index(i) => i.to_string(),
        })
        .chain(last.map(|i| i.to_string()))
        .collect()
}

/// What the walk found, each with the path it was written at.
#[derive(Debug, Default)]
pub struct Found {
    /// Names in lists of checks (`checks: [...]` anywhere but the top-level definitions).
    pub check_refs: Vec<(String, Vec<String>)>,
    /// Provider names that must play a role: gates' `via`, steps' `router`.
    pub provider_refs: Vec<(String, Role, Vec<String>)>,
    /// Durations written as zero, with their key.
    pub zero_durations: Vec<(String, String, Vec<String>)>,
    /// Strings holding `${{ }}`, and steps' `if:` conditions.
    pub expressions: Vec<(Vec<String>, String)>,
}

/// Walks `value` once and collects [`Found`] things; `is_check` says whether a name is declared,
/// so that only unknown check names are kept.
pub fn scan(value: &Value, is_check: &dyn Fn(&str) -> bool) -> Found {
    let mut found = Found::default();
    walk(value, &mut Vec::new(), &mut found, is_check);
    found
}

fn walk<'a>(
    value: &'a Value,
    path: &mut Vec<Seg<'a>>,
    found: &mut Found,
    is_check: &dyn Fn(&str) -> bool,
) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                path.push(Seg::Key(k));
                entry(k, v, path, found, is_check);
                walk(v, path, found, is_check);
                path.pop();
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                path.push(Seg::Index(i));
                walk(v, path, found, is_check);
                path.pop();
            }
        }
        _ => {}
    }
}

fn entry(
    key: &str,
    value: &Value,
    at: &[Seg<'_>],
    found: &mut Found,
    is_check: &dyn Fn(&str) -> bool,
) {
    let step_if = matches!(at, [Seg::Key("steps"), Seg::Index(_), Seg::Key("if")]);
    let in_step_with = matches!(at, [Seg::Key("steps"), Seg::Index(_), Seg::Key("with"), ..]);
    match value {
        Value::String(s) => {
            if s.contains("${{") || step_if {
                found.expressions.push((owned(at, None), s.clone()));
            }
            match key {
                "via" if s != CLI_APPROVALS => {
                    found
                        .provider_refs
                        .push((s.clone(), Role::Approvals, owned(at, None)))
                }
                "router" if in_step_with => {
                    found
                        .provider_refs
                        .push((s.clone(), Role::Router, owned(at, None)))
                }
                k if DURATION_KEYS.contains(&k)
                    && s.parse::<Duration>().is_ok_and(|d| d.is_zero()) =>
                {
                    found
                        .zero_durations
                        .push((k.to_string(), s.clone(), owned(at, None)));
                }
                _ => {}
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let Some(s) = item.as_str() else { continue };
                if s.contains("${{") {
                    found.expressions.push((owned(at, Some(i)), s.to_string()));
                }
                // The top-level `checks` is a mapping of definitions; lists are references.
                if key == "checks" && !is_check(s) {
                    found.check_refs.push((s.to_string(), owned(at, Some(i))));
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_only_what_needs_checking() {
        let v: Value = serde_json::json!({
            "checks": { "errors": { "source": "prom" } },
            "phases": [{ "checks": ["errors", "eror"], "observe": "0s", "gate": { "via": "gh" } }],
            "steps": [{ "id": "a", "if": "success()", "run": "echo ${{ env.X }}", "with": { "router": "eu" } }],
            "env": { "list": ["plain", "${{ inputs.y }}"] }
        });
        let f = scan(&v, &|n| n == "errors");
        assert_eq!(
            f.check_refs,
            vec![(
                "eror".to_string(),
                vec!["phases".into(), "0".into(), "checks".into(), "1".into()]
            )]
        );
        assert_eq!(f.zero_durations.len(), 1);
        assert_eq!(
            f.provider_refs
                .iter()
                .map(|p| p.0.as_str())
                .collect::<Vec<_>>(),
            vec!["gh", "eu"]
        );
        let exprs: Vec<&str> = f.expressions.iter().map(|e| e.1.as_str()).collect();
        assert_eq!(
            exprs,
            vec!["success()", "echo ${{ env.X }}", "${{ inputs.y }}"]
        );
    }
}
