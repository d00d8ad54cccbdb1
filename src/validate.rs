//! The front half of rollgate: plan text → every diagnostic, or a checked plan ready to compile.

use crate::diagnostics::{self, Diagnostic};
use crate::plan::load::{self, Document};
use crate::plan::step::Action;
use crate::plan::{schema, typed, Plan};
use crate::semantic::{self, StepOrder};

/// A plan that passed every check, with what compiling it needs.
#[derive(Debug)]
pub struct Validated {
    pub doc: Document,
    pub plan: Plan,
    /// Each step's typed action, by step index.
    pub actions: Vec<Action>,
    pub order: StepOrder,
    /// Problems that do not stop the plan (unreachable steps).
    pub warnings: Vec<Diagnostic>,
}

/// Loads and checks a plan, reporting every problem found at the first stage that fails:
/// YAML, then schema, then types, then meaning.
pub fn validate(path: &str, source: &str) -> Result<Validated, Vec<Diagnostic>> {
    let doc = load::load(path, source).map_err(|d| vec![d])?;
    let mut diags = schema::validate(&doc);
    if !diags.is_empty() {
        diagnostics::sort(&mut diags);
        return Err(diags);
    }
    let plan = typed::plan(&doc).map_err(|d| vec![d])?;
    let mut actions = Vec::with_capacity(plan.steps.len());
    for (i, step) in plan.steps.iter().enumerate() {
        match typed::action(&doc, i, step) {
            Ok(a) => actions.push(a),
            Err(d) => diags.push(d),
        }
    }
    if !diags.is_empty() {
        diagnostics::sort(&mut diags);
        return Err(diags);
    }
    let ctx = semantic::Ctx {
        doc: &doc,
        plan: &plan,
        actions: &actions,
    };
    let (mut diags, order) = semantic::check(&ctx);
    diagnostics::sort(&mut diags);
    diags.dedup();
    match order {
        Some(order) if !diags.iter().any(Diagnostic::is_error) => Ok(Validated {
            doc,
            plan,
            actions,
            order,
            warnings: diags,
        }),
        _ => Err(diags),
    }
}

/// Reads a plan file and validates it; unreadable files are diagnostics too.
pub fn validate_file(path: &str) -> Result<Validated, Vec<Diagnostic>> {
    let bytes = std::fs::read(path).map_err(|e| {
        vec![
            Diagnostic::error(diagnostics::Code::Io, format!("cannot read the plan: {e}"))
                .help("check the path; plans are usually under workflows/"),
        ]
    })?;
    let source = String::from_utf8(bytes).map_err(|e| {
        vec![Diagnostic::error(
            diagnostics::Code::NotText,
            format!(
                "the file is not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
        )
        .help("save the plan as UTF-8")]
    })?;
    validate(path, &source)
}
