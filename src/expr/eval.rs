//! Evaluating expressions at run time, with GitHub Actions' semantics: a missing property is
//! null, `==` compares strings without regard to case and coerces mixed types to numbers,
//! `&&`/`||` yield one of their operands, and a value is falsy when it is `false`, `0`, `''`,
//! `null` or NaN.

use super::parse::Expr;
use serde_json::{Map, Value};

/// How the steps before went, for `success()`, `failure()`, `cancelled()`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Status {
    pub failed: bool,
    pub cancelled: bool,
}

/// The contexts an expression reads: an object with `env`, `inputs`, `secrets`, `github` and
/// `steps` members.
pub struct Contexts<'a> {
    pub values: &'a Value,
    pub status: Status,
}

impl<'a> Contexts<'a> {
    /// The contexts outside any step (providers, queries, the concurrency group): no status.
    pub fn plain(values: &'a Value) -> Contexts<'a> {
        Contexts {
            values,
            status: Status::default(),
        }
    }
}

pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// A value as text, the way `${{ }}` substitutes it.
pub fn to_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    }
}

fn to_number(v: &Value) -> f64 {
    match v {
        Value::Null => 0.0,
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
        Value::String(s) if s.trim().is_empty() => 0.0,
        Value::String(s) => s.trim().parse().unwrap_or(f64::NAN),
        Value::Array(_) | Value::Object(_) => f64::NAN,
    }
}

fn loose_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) => x.to_lowercase() == y.to_lowercase(),
        (Value::Null, Value::Null) => true,
        (Value::Array(_) | Value::Object(_), _) | (_, Value::Array(_) | Value::Object(_)) => a == b,
        _ => to_number(a) == to_number(b),
    }
}

fn compare(op: &str, a: &Value, b: &Value) -> bool {
    if let (Value::String(x), Value::String(y)) = (a, b) {
        let (x, y) = (x.to_lowercase(), y.to_lowercase());
        return match op {
            "<" => x < y,
            "<=" => x <= y,
            ">" => x > y,
            _ => x >= y,
        };
    }
    let (x, y) = (to_number(a), to_number(b));
    match op {
        "<" => x < y,
        "<=" => x <= y,
        ">" => x > y,
        _ => x >= y,
    }
}

/// Evaluates a checked expression. Unknown functions cannot reach here (validation refuses them).
pub fn eval(e: &Expr, ctx: &Contexts<'_>) -> Value {
    match e {
        Expr::Null => Value::Null,
        Expr::Bool(b) => Value::Bool(*b),
        Expr::Number(n) => serde_json::Number::from_f64(*n)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        Expr::String(s) => Value::String(s.clone()),
        Expr::Context { path, .. } => {
            let mut v = ctx.values;
            for seg in path {
                v = match v {
                    Value::Object(m) => m.get(seg).unwrap_or(&Value::Null),
                    _ => &Value::Null,
                };
            }
            v.clone()
        }
        Expr::Not(inner) => Value::Bool(!truthy(&eval(inner, ctx))),
        Expr::Binary {
            op: "&&",
            left,
            right,
        } => {
            let l = eval(left, ctx);
            if truthy(&l) {
                eval(right, ctx)
            } else {
                l
            }
        }
        Expr::Binary {
            op: "||",
            left,
            right,
        } => {
            let l = eval(left, ctx);
            if truthy(&l) {
                l
            } else {
                eval(right, ctx)
            }
        }
        Expr::Binary { op, left, right } => {
            let (l, r) = (eval(left, ctx), eval(right, ctx));
            Value::Bool(match *op {
                "==" => loose_eq(&l, &r),
                "!=" => !loose_eq(&l, &r),
                other => compare(other, &l, &r),
            })
        }
        Expr::Call { name, args, .. } => call(name, args, ctx),
    }
}

fn call(name: &str, args: &[Expr], ctx: &Contexts<'_>) -> Value {
    let a: Vec<Value> = args.iter().map(|x| eval(x, ctx)).collect();
    let text = |i: usize| a.get(i).map(to_text).unwrap_or_default().to_lowercase();
    match name {
        "success" => Value::Bool(!ctx.status.failed && !ctx.status.cancelled),
        "failure" => Value::Bool(ctx.status.failed),
        "cancelled" => Value::Bool(ctx.status.cancelled),
        "always" => Value::Bool(true),
        "contains" => Value::Bool(match &a[0] {
            Value::Array(items) => items.iter().any(|i| loose_eq(i, &a[1])),
            _ => text(0).contains(&text(1)),
        }),
        "startsWith" => Value::Bool(text(0).starts_with(&text(1))),
        "endsWith" => Value::Bool(text(0).ends_with(&text(1))),
        "format" => {
            let mut out = to_text(&a[0]);
            for (i, v) in a.iter().enumerate().skip(1) {
                out = out.replace(&format!("{{{}}}", i - 1), &to_text(v));
            }
            Value::String(out)
        }
        "join" => {
            let sep = a.get(1).map(to_text).unwrap_or_else(|| ",".into());
            match &a[0] {
                Value::Array(items) => {
                    Value::String(items.iter().map(to_text).collect::<Vec<_>>().join(&sep))
                }
                other => Value::String(to_text(other)),
            }
        }
        "toJSON" => Value::String(serde_json::to_string_pretty(&a[0]).unwrap_or_default()),
        "fromJSON" => serde_json::from_str(&to_text(&a[0])).unwrap_or(Value::Null),
        _ => Value::Null,
    }
}

/// Replaces every `${{ }}` in `text` by its value. Texts were validated, so every expression parses.
pub fn interpolate(text: &str, ctx: &Contexts<'_>) -> String {
    let Ok(found) = super::embedded(text) else {
        return text.to_string();
    };
    if found.is_empty() {
        return text.to_string();
    }
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::new();
    let mut pos = 0;
    for (start, inner) in found {
        out.extend(&chars[pos..start - 3]);
        if let Ok(e) = super::parse(&inner) {
            out.push_str(&to_text(&eval(&e, ctx)));
        }
        pos = start + inner.chars().count() + 2;
    }
    out.extend(&chars[pos..]);
    out
}

/// An empty object, for contexts a caller does not have.
pub fn empty() -> Value {
    Value::Object(Map::new())
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::*;
    use serde_json::json;

    fn run(text: &str, status: Status) -> Value {
        let values = json!({"inputs": {"region": "EU", "n": 3}, "env": {"APP": "api"}, "steps": {"build": {"outputs": {"v": "1.2"}}}});
        eval(
            &parse(text).unwrap(),
            &Contexts {
                values: &values,
                status,
            },
        )
    }

    #[test]
    fn github_semantics() {
        let ok = Status::default();
        assert_eq!(run("inputs.region == 'eu'", ok), json!(true));
        assert_eq!(run("inputs.n == '3'", ok), json!(true));
        assert_eq!(run("inputs.missing", ok), Value::Null);
        assert_eq!(run("inputs.missing || 'fallback'", ok), json!("fallback"));
        assert_eq!(run("env.APP && 'yes'", ok), json!("yes"));
        assert_eq!(run("inputs.n > 2 && inputs.n <= 3", ok), json!(true));
        assert_eq!(run("contains(inputs.region, 'u')", ok), json!(true));
        assert_eq!(run("startsWith(env.APP, 'AP')", ok), json!(true));
        assert_eq!(
            run("format('{0}-{1}', env.APP, steps.build.outputs.v)", ok),
            json!("api-1.2")
        );
        assert_eq!(run("fromJSON('[1,2]')", ok), json!([1, 2]));
        assert_eq!(
            run("join(fromJSON('[\"a\",\"b\"]'), '+')", ok),
            json!("a+b")
        );
    }

    #[test]
    fn status_functions() {
        let failed = Status {
            failed: true,
            cancelled: false,
        };
        assert_eq!(run("success()", failed), json!(false));
        assert_eq!(run("failure()", failed), json!(true));
        assert_eq!(run("always()", failed), json!(true));
        assert_eq!(
            run(
                "cancelled()",
                Status {
                    failed: false,
                    cancelled: true
                }
            ),
            json!(true)
        );
    }

    #[test]
    fn interpolation() {
        let values = json!({"env": {"APP": "api"}, "inputs": {"n": 3}});
        let ctx = Contexts {
            values: &values,
            status: Status::default(),
        };
        assert_eq!(
            interpolate("x{app=\"${{ env.APP }}\"} * ${{ inputs.n }}", &ctx),
            "x{app=\"api\"} * 3"
        );
        assert_eq!(interpolate("no expressions", &ctx), "no expressions");
        assert_eq!(interpolate("é ${{ 'ü' }} ö", &ctx), "é ü ö");
    }
}
