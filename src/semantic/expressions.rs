//! Every `${{ }}` in the plan and every `if:` parses and names only what exists where it stands.

use super::steps::StepOrder;
use super::Ctx;
use crate::diagnostics::{Code, Diagnostic, Span};
use crate::expr::{self, Scope};

/// The source span of `len` chars at `offset` within the text `needle` written in the scalar at
/// `path`, whose `occurrence`-th appearance in the raw source is meant. Falls back to the
/// scalar's start when the raw text differs (escapes, folding).
fn locate(
    ctx: &Ctx<'_>,
    path: &[String],
    needle: &str,
    occurrence: usize,
    offset: usize,
    len: usize,
) -> Span {
    let scalar = ctx.doc.span_of(path);
    let raw: String = ctx
        .doc
        .source
        .chars()
        .skip(scalar.start)
        .take(scalar.end - scalar.start)
        .collect();
    let found = raw
        .match_indices(needle)
        .nth(occurrence)
        .map(|(byte, _)| raw[..byte].chars().count());
    match found {
        Some(at) => Span::at(&ctx.doc.source, scalar.start + at + offset, len.max(1)),
        None => scalar,
    }
}

pub fn check(ctx: &Ctx<'_>, order: Option<&StepOrder>, out: &mut Vec<Diagnostic>) {
    let plan = ctx.plan;
    let inputs: Vec<&str> = plan.inputs.keys().map(String::as_str).collect();
    let all_steps: Vec<&str> = plan.steps.iter().map(|s| s.id.as_str()).collect();
    for (path, text) in &ctx.found.expressions {
        let step = (path.len() >= 2 && path[0] == "steps")
            .then(|| path[1].parse::<usize>().ok())
            .flatten();
        let in_if = step.is_some() && path.len() == 3 && path[2] == "if";
        let mut env: Vec<&str> = plan.env.keys().map(String::as_str).collect();
        if let Some(s) = step.and_then(|i| plan.steps.get(i)) {
            env.extend(s.env.keys().map(String::as_str));
        }
        // Inside a step whose needs are broken, reads of other steps are not judged.
        let reads = |id: &str| match (step, order) {
            (Some(i), Some(o)) => o.needs_transitively(i, id),
            _ => true,
        };
        let scope = Scope {
            inputs: &inputs,
            env: &env,
            steps: step.map(|_| &reads as &dyn Fn(&str) -> bool),
            all_steps: &all_steps,
            in_if,
        };
        let pieces: Vec<(String, usize, usize)> = if in_if && !text.trim_start().starts_with("${{")
        {
            vec![(text.clone(), 0, 0)]
        } else {
            match expr::embedded(text) {
                Ok(found) => found
                    .into_iter()
                    .enumerate()
                    .map(|(k, (_, inner))| (inner, k, 3))
                    .collect(),
                Err(at) => {
                    let k = text
                        .chars()
                        .take(at)
                        .collect::<String>()
                        .matches("${{")
                        .count();
                    out.push(
                        Diagnostic::error(Code::ExprSyntax, "`${{` is not closed by `}}`")
                            .at(Some(locate(ctx, path, "${{", k, 0, 3)))
                            .help("close the expression with `}}`"),
                    );
                    continue;
                }
            }
        };
        for (inner, k, skip) in pieces {
            // Bare `if:` text is located by itself; embedded ones by their `${{`.
            let (needle, occurrence) = if skip == 0 {
                (inner.clone(), 0)
            } else {
                ("${{".to_string(), k)
            };
            match expr::parse(&inner) {
                Err(e) => out.push(
                    Diagnostic::error(Code::ExprSyntax, format!("expression error: {}", e.message))
                        .at(Some(locate(ctx, path, &needle, occurrence, skip + e.at, 1)))
                        .help("expressions read like `inputs.region == 'eu' && success()`; strings use single quotes"),
                ),
                Ok(parsed) => {
                    for p in expr::check(&parsed, &scope) {
                        out.push(
                            Diagnostic::error(p.kind.code(), p.message)
                                .at(Some(locate(ctx, path, &needle, occurrence, skip + p.at, p.len)))
                                .help(p.help),
                        );
                    }
                }
            }
        }
    }
}
