//! `${{ }}` in a shell command, bound safely: each expression becomes a reference to an
//! environment variable that holds its value, quoted for where it stands (outside quotes,
//! inside double quotes, inside single quotes), so a value such as `$(id)` or `; rm -rf ~`
//! reaches the command as that literal string and is never read as shell text.

use super::eval::{eval, to_text, Contexts};
use std::collections::BTreeMap;

/// The prefix of the variables [`bind`] hands values in: `ROLLGATE_EXPR_1`, `_2`, ….
pub const PREFIX: &str = "ROLLGATE_EXPR_";

/// Where a shell is, reading a command up to some point.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Quoting {
    None,
    Single,
    Double,
}

/// `command` with each `${{ }}` replaced by a quoted variable reference, and the variables'
/// values. A command without expressions comes back as it was.
pub fn bind(command: &str, ctx: &Contexts<'_>) -> (String, BTreeMap<String, String>) {
    let mut vars = BTreeMap::new();
    let Ok(found) = super::embedded(command) else {
        return (command.to_string(), vars);
    };
    let chars: Vec<char> = command.chars().collect();
    let mut out = String::new();
    let (mut pos, mut quoting, mut escaped) = (0, Quoting::None, false);
    for (n, (start, inner)) in found.into_iter().enumerate() {
        let before = &chars[pos..start - 3];
        for &c in before {
            (quoting, escaped) = step(quoting, escaped, c);
        }
        out.extend(before);
        let name = format!("{PREFIX}{}", n + 1);
        let value = super::parse(&inner)
            .map(|e| to_text(&eval(&e, ctx)))
            .unwrap_or_default();
        out.push_str(&match quoting {
            Quoting::None => format!("\"${{{name}}}\""),
            Quoting::Double => format!("${{{name}}}"),
            // Out of the single quotes, the variable in double quotes, and back in.
            Quoting::Single => format!("'\"${{{name}}}\"'"),
        });
        vars.insert(name, value);
        pos = start + inner.chars().count() + 2;
    }
    out.extend(&chars[pos..]);
    (out, vars)
}

/// The quoting after `c`, and whether the next character is escaped.
fn step(quoting: Quoting, escaped: bool, c: char) -> (Quoting, bool) {
    if escaped {
        return (quoting, false);
    }
    match (quoting, c) {
        (Quoting::None | Quoting::Double, '\\') => (quoting, true),
        (Quoting::None, '\'') => (Quoting::Single, false),
        (Quoting::None, '"') => (Quoting::Double, false),
        (Quoting::Single, '\'') | (Quoting::Double, '"') => (Quoting::None, false),
        _ => (quoting, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::eval::Status;
    use serde_json::json;

    fn sh(command: &str, vars: &BTreeMap<String, String>) -> String {
        let out = std::process::Command::new("sh")
            .args(["-c", command])
            .envs(vars)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    #[test]
    fn a_value_reaches_the_command_as_itself_wherever_it_stands() {
        let values = json!({ "inputs": { "v": "$(echo pwned); echo 'x' \"y\" `id` *" } });
        let ctx = Contexts {
            values: &values,
            status: Status::default(),
        };
        let literal = "$(echo pwned); echo 'x' \"y\" `id` *";
        for command in [
            "printf %s ${{ inputs.v }}",
            "printf %s \"${{ inputs.v }}\"",
            "printf %s '${{ inputs.v }}'",
            "printf %s \"a\\\"${{ inputs.v }}\"",
        ] {
            let (bound, vars) = bind(command, &ctx);
            let printed = sh(&bound, &vars);
            assert!(
                printed.ends_with(literal),
                "{command} → {bound} printed {printed}"
            );
            assert!(!printed.contains("pwned\n"), "{printed}");
        }
        let (same, vars) = bind("echo plain", &ctx);
        assert_eq!((same.as_str(), vars.len()), ("echo plain", 0));
    }
}
