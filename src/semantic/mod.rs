//! Checks a schema-valid, typed plan for what a schema cannot see: references between its
//! parts, units of thresholds, weights, needs and cycles, expressions, durations.

mod expressions;
mod inputs;
mod references;
mod rollouts;
mod routers;
pub mod scan;
mod steps;
mod thresholds;

use crate::diagnostics::Diagnostic;
use crate::plan::document::Document;
use crate::plan::step::Action;
use crate::plan::Plan;

pub use steps::StepOrder;

/// What the checks are given.
pub struct Input<'a> {
    pub doc: &'a Document,
    pub plan: &'a Plan,
    pub actions: &'a [Action],
}

/// Everything semantic checks need, borrowed, with what one walk over the document found.
struct Ctx<'a> {
    doc: &'a Document,
    plan: &'a Plan,
    actions: &'a [Action],
    found: scan::Found,
}

impl Ctx<'_> {
    fn span<S: AsRef<str>>(&self, path: &[S]) -> Option<crate::diagnostics::Span> {
        Some(self.doc.span_of(path))
    }
    fn key_span<S: AsRef<str>>(&self, path: &[S]) -> Option<crate::diagnostics::Span> {
        Some(self.doc.key_span_of(path))
    }
}

/// What one walk over the document collects for the checks; independent of the typed plan,
/// so callers may run it alongside typing.
pub fn scan(doc: &Document) -> scan::Found {
    let declared = doc
        .value
        .get("checks")
        .and_then(serde_json::Value::as_object);
    scan::scan(&doc.value, &|name| {
        declared.is_some_and(|d| d.contains_key(name))
    })
}

/// Every semantic problem, and the steps' dependency order when the steps form a DAG.
pub fn check(input: &Input<'_>, found: scan::Found) -> (Vec<Diagnostic>, Option<StepOrder>) {
    let ctx = &Ctx {
        doc: input.doc,
        plan: input.plan,
        actions: input.actions,
        found,
    };
    let mut out = Vec::new();
    references::check(ctx, &mut out);
    thresholds::check(ctx, &mut out);
    rollouts::check(ctx, &mut out);
    routers::check(ctx, &mut out);
    inputs::check(ctx, &mut out);
    let order = steps::check(ctx, &mut out);
    expressions::check(ctx, order.as_ref(), &mut out);
    (out, order)
}

fn path(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| s.to_string()).collect()
}
