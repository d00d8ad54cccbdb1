//! Checks a schema-valid, typed plan for what a schema cannot see: references between its
//! parts, units of thresholds, weights, needs and cycles, expressions, durations.

mod expressions;
mod inputs;
mod references;
mod rollouts;
mod steps;
mod thresholds;

use crate::diagnostics::Diagnostic;
use crate::plan::load::Document;
use crate::plan::step::Action;
use crate::plan::Plan;
use serde_json::Value;

pub use steps::StepOrder;

/// Everything semantic checks need, borrowed.
pub struct Ctx<'a> {
    pub doc: &'a Document,
    pub plan: &'a Plan,
    pub actions: &'a [Action],
}

impl Ctx<'_> {
    fn span<S: AsRef<str>>(&self, path: &[S]) -> Option<crate::diagnostics::Span> {
        Some(self.doc.span_of(path))
    }
    fn key_span<S: AsRef<str>>(&self, path: &[S]) -> Option<crate::diagnostics::Span> {
        Some(self.doc.key_span_of(path))
    }
}

/// Every semantic problem, and the steps' dependency order when the steps form a DAG.
pub fn check(ctx: &Ctx<'_>) -> (Vec<Diagnostic>, Option<StepOrder>) {
    let mut out = Vec::new();
    references::check(ctx, &mut out);
    thresholds::check(ctx, &mut out);
    rollouts::check(ctx, &mut out);
    inputs::check(ctx, &mut out);
    let order = steps::check(ctx, &mut out);
    expressions::check(ctx, order.as_ref(), &mut out);
    (out, order)
}

/// One step of a path into the document: a key, or a list index.
#[derive(Clone, Copy, Debug)]
enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

/// An owned path, made only when something found needs to point somewhere.
fn owned(path: &[Seg<'_>]) -> Vec<String> {
    path.iter()
        .map(|s| match s {
            Seg::Key(k) => k.to_string(),
            Seg::Index(i) => i.to_string(),
        })
        .collect()
}

/// Calls `f(key, value, path)` for every mapping entry in `value`, depth first. Paths borrow
/// the document, so walking a 10,000-step plan allocates nothing per entry.
fn walk_entries<'a>(value: &'a Value, path: &mut Vec<Seg<'a>>, f: &mut dyn FnMut(&'a str, &'a Value, &[Seg<'a>])) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                path.push(Seg::Key(k));
                f(k, v, path);
                walk_entries(v, path, f);
                path.pop();
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                path.push(Seg::Index(i));
                walk_entries(v, path, f);
                path.pop();
            }
        }
        _ => {}
    }
}

fn path(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| s.to_string()).collect()
}
