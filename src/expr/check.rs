//! Static checks of a parsed expression against what the plan declares.

use super::parse::Expr;

/// What an expression may refer to where it stands.
pub struct Scope<'a> {
    pub inputs: &'a [&'a str],
    pub env: &'a [&'a str],
    /// Inside a step: whether it may read step `id` (it needs it, transitively).
    /// `None`: outside steps, where `steps` is not available.
    pub steps: Option<&'a dyn Fn(&str) -> bool>,
    /// Every step id, to tell "unknown" from "not needed".
    pub all_steps: &'a [&'a str],
    /// Whether this is an `if:` condition (status functions allowed).
    pub in_if: bool,
}

/// A problem at a char offset of the expression text.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub at: usize,
    pub len: usize,
    pub kind: ProblemKind,
    pub message: String,
    pub help: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    UnknownContext,
    BadFunction,
    StepNotNeeded,
}

impl ProblemKind {
    /// The diagnostic code this problem is reported under.
    pub fn code(self) -> crate::diagnostics::Code {
        use crate::diagnostics::Code;
        match self {
            ProblemKind::UnknownContext => Code::UnknownContext,
            ProblemKind::BadFunction => Code::BadFunction,
            ProblemKind::StepNotNeeded => Code::StepNotNeeded,
        }
    }
}

pub const CONTEXTS: [&str; 5] = ["env", "inputs", "secrets", "github", "steps"];
const STATUS: [&str; 4] = ["success", "failure", "always", "cancelled"];
const FUNCTIONS: [(&str, usize, usize); 7] = [
    ("contains", 2, 2),
    ("startsWith", 2, 2),
    ("endsWith", 2, 2),
    ("format", 1, usize::MAX),
    ("join", 1, 2),
    ("toJSON", 1, 1),
    ("fromJSON", 1, 1),
];
/// The `github` context's fields, as GitHub Actions sets them.
pub const GITHUB_FIELDS: [&str; 20] = [
    "action",
    "actor",
    "api_url",
    "base_ref",
    "event",
    "event_name",
    "head_ref",
    "job",
    "ref",
    "ref_name",
    "ref_type",
    "repository",
    "repository_owner",
    "run_attempt",
    "run_id",
    "run_number",
    "server_url",
    "sha",
    "workflow",
    "triggering_actor",
];

fn suggest(word: &str, options: &[&str]) -> String {
    crate::diagnostics::suggest(word, options, "known: ", "nothing is declared there yet")
}

/// Every problem in `expr`.
pub fn check(expr: &Expr, scope: &Scope<'_>) -> Vec<Problem> {
    let mut out = Vec::new();
    walk(expr, scope, &mut out);
    out
}

fn walk(expr: &Expr, scope: &Scope<'_>, out: &mut Vec<Problem>) {
    match expr {
        Expr::Null | Expr::Bool(_) | Expr::Number(_) | Expr::String(_) => {}
        Expr::Not(e) => walk(e, scope, out),
        Expr::Binary { left, right, .. } => {
            walk(left, scope, out);
            walk(right, scope, out);
        }
        Expr::Call { name, args, at } => {
            let len = name.chars().count();
            if STATUS.contains(&name.as_str()) {
                if !scope.in_if {
                    out.push(Problem {
                        at: *at,
                        len,
                        kind: ProblemKind::BadFunction,
                        message: format!("`{name}()` only means something in a step's `if:`"),
                        help: "status functions ask how the steps before went; use them in `if:`"
                            .into(),
                    });
                } else if !args.is_empty() {
                    out.push(Problem {
                        at: *at,
                        len,
                        kind: ProblemKind::BadFunction,
                        message: format!("`{name}()` takes no arguments"),
                        help: format!("write `{name}()`"),
                    });
                }
            } else if let Some((_, min, max)) = FUNCTIONS.iter().find(|(f, _, _)| f == name) {
                if args.len() < *min || args.len() > *max {
                    let want = if min == max {
                        min.to_string()
                    } else if *max == usize::MAX {
                        format!("at least {min}")
                    } else {
                        format!("{min} or {max}")
                    };
                    out.push(Problem {
                        at: *at,
                        len,
                        kind: ProblemKind::BadFunction,
                        message: format!("`{name}` takes {want} argument(s), not {}", args.len()),
                        help: format!("e.g. `{name}({})`", vec!["…"; *min].join(", ")),
                    });
                }
            } else {
                let mut all: Vec<&str> = FUNCTIONS.iter().map(|f| f.0).collect();
                if scope.in_if {
                    all.extend(STATUS);
                }
                out.push(Problem {
                    at: *at,
                    len,
                    kind: ProblemKind::BadFunction,
                    message: format!("unknown function `{name}`"),
                    help: suggest(name, &all),
                });
            }
            args.iter().for_each(|a| walk(a, scope, out));
        }
        Expr::Context { path, at, len } => context(path, *at, *len, scope, out),
    }
}

fn context(path: &[String], at: usize, len: usize, scope: &Scope<'_>, out: &mut Vec<Problem>) {
    let problem = |message: String, help: String| Problem {
        at,
        len,
        kind: ProblemKind::UnknownContext,
        message,
        help,
    };
    let root = path[0].as_str();
    let field = path.get(1).map(String::as_str);
    match root {
        "inputs" => match field {
            Some(f) if !scope.inputs.contains(&f) => out.push(problem(
                format!("the plan has no input `{f}`"),
                if scope.inputs.is_empty() {
                    format!(
                        "declare it under `inputs:`, e.g. `inputs: {{ {f}: {{ type: string }} }}`"
                    )
                } else {
                    suggest(f, scope.inputs)
                },
            )),
            None => out.push(problem(
                "`inputs` needs a name: `inputs.<name>`".into(),
                suggest("", scope.inputs),
            )),
            _ => {}
        },
        "env" => match field {
            Some(f) if !scope.env.contains(&f) => out.push(problem(
                format!("`env.{f}` is not set by the plan"),
                if scope.env.is_empty() {
                    format!("declare it under `env:`, e.g. `env: {{ {f}: value }}`")
                } else {
                    suggest(f, scope.env)
                },
            )),
            None => out.push(problem(
                "`env` needs a name: `env.<NAME>`".into(),
                suggest("", scope.env),
            )),
            _ => {}
        },
        "secrets" => {
            if field.is_none() {
                out.push(problem(
                    "`secrets` needs a name: `secrets.<NAME>`".into(),
                    "e.g. `${{ secrets.SLACK_WEBHOOK }}`".into(),
                ));
            }
        }
        "github" => match field {
            Some(f) if !GITHUB_FIELDS.contains(&f) => out.push(problem(
                format!("`github.{f}` is not a field of the github context"),
                suggest(f, &GITHUB_FIELDS),
            )),
            None => out.push(problem(
                "`github` needs a field: `github.<field>`".into(),
                "e.g. `github.sha`, `github.ref_name`".into(),
            )),
            _ => {}
        },
        "steps" => {
            let Some(visible) = scope.steps else {
                out.push(Problem {
                    at,
                    len,
                    kind: ProblemKind::UnknownContext,
                    message: "`steps` is only available inside `steps:`".into(),
                    help: "read step outputs from a step that `needs` the step that sets them"
                        .into(),
                });
                return;
            };
            let Some(id) = field else {
                out.push(problem(
                    "`steps` needs an id: `steps.<id>.outputs.<name>`".into(),
                    suggest("", scope.all_steps),
                ));
                return;
            };
            if !scope.all_steps.contains(&id) {
                out.push(problem(
                    format!("there is no step `{id}`"),
                    suggest(id, scope.all_steps),
                ));
            } else if !visible(id) {
                out.push(Problem {
                    at,
                    len,
                    kind: ProblemKind::StepNotNeeded,
                    message: format!("`steps.{id}` is read by a step that does not need `{id}`"),
                    help: format!(
                        "add `{id}` to this step's `needs:` so it has run when this is read"
                    ),
                });
            } else if !matches!(
                path.get(2).map(String::as_str),
                Some("outputs" | "outcome" | "conclusion")
            ) {
                out.push(problem(
                    format!("`steps.{id}` has `outputs`, `outcome` and `conclusion`"),
                    format!("e.g. `steps.{id}.outputs.<name>`"),
                ));
            }
        }
        other => out.push(problem(
            format!("unknown context `{other}`"),
            suggest(other, &CONTEXTS),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::*;

    fn problems(text: &str, in_if: bool) -> Vec<Problem> {
        let visible = |id: &str| id == "build";
        let scope = Scope {
            inputs: &["region"],
            env: &["APP"],
            steps: Some(&visible),
            all_steps: &["build", "deploy"],
            in_if,
        };
        check(&parse(text).unwrap(), &scope)
    }

    #[test]
    fn known_references_pass() {
        assert!(problems(
            "success() && inputs.region == 'eu' && env.APP != '' && steps.build.outputs.x",
            true
        )
        .is_empty());
        assert!(problems("contains(github.ref, 'main') || secrets.TOKEN", false).is_empty());
    }

    #[test]
    fn unknown_references_are_named() {
        let p = problems("inputs.regoin", false);
        assert_eq!(p[0].help, "did you mean `region`?");
        assert_eq!((p[0].at, p[0].len), (0, 13));
        assert_eq!(
            problems("inptus.region", false)[0].help,
            "did you mean `inputs`?"
        );
        assert_eq!(
            problems("steps.deploy.outputs.x", true)[0].kind,
            ProblemKind::StepNotNeeded
        );
        assert_eq!(
            problems("steps.nope.outputs.x", true)[0].message,
            "there is no step `nope`"
        );
        assert_eq!(
            problems("github.shaa", false)[0].help,
            "did you mean `sha`?"
        );
    }

    #[test]
    fn functions_are_checked() {
        assert_eq!(
            problems("success()", false)[0].kind,
            ProblemKind::BadFunction
        );
        assert_eq!(
            problems("contains('a')", false)[0].message,
            "`contains` takes 2 argument(s), not 1"
        );
        assert_eq!(
            problems("startswith('a', 'b')", false)[0].help,
            "did you mean `startsWith`?"
        );
    }
}
