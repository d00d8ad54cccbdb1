//! The front half of rollgate: plan text → every diagnostic, or a checked plan ready to compile.

use crate::diagnostics::{self, Diagnostic};
use crate::plan::document::Document;
use crate::plan::load;
use crate::plan::step::Action;
use crate::plan::{schema_errors, typed, Plan};
use crate::semantic::{self, StepOrder};
use serde_json::Value;

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

fn sorted(mut diags: Vec<Diagnostic>) -> Vec<Diagnostic> {
    diagnostics::sort(&mut diags);
    diags.dedup();
    diags
}

/// Loads and checks a plan, reporting every problem found at the first stage that fails:
/// YAML, then schema, then types, then meaning.
pub fn validate(path: &str, source: &str) -> Result<Validated, Vec<Diagnostic>> {
    let doc = load::load(path, source).map_err(|d| vec![d])?;
    // The schema check and the document scan only read the document, so they run on a second
    // core while this one types it; schema diagnostics still come first when there are any.
    let (schema_diags, found, typed) = std::thread::scope(|s| {
        let other = s.spawn(|| (schema_errors::validate(&doc), semantic::scan(&doc)));
        let typed = typed_stage(&doc);
        let (schema_diags, found) = other
            .join()
            .expect("schema validation and scan do not panic");
        (schema_diags, found, typed)
    });
    if !schema_diags.is_empty() {
        return Err(sorted(schema_diags));
    }
    let (plan, actions) = typed?;
    let (diags, order) = semantic::check(
        &semantic::Input {
            doc: &doc,
            plan: &plan,
            actions: &actions,
        },
        found,
    );
    let diags = sorted(diags);
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

/// Types the document: the plan and each step's action. On a document the schema rejects this
/// may fail in its own ways; those results are then discarded for the schema's diagnostics.
fn typed_stage(doc: &Document) -> Result<(Plan, Vec<Action>), Vec<Diagnostic>> {
    let plan = typed::plan(doc).map_err(|d| vec![d])?;
    let raw_steps = doc
        .value
        .get("steps")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut actions = Vec::with_capacity(plan.steps.len());
    let mut diags = Vec::new();
    for (i, step) in plan.steps.iter().enumerate() {
        match typed::action(doc, i, step, raw_steps.get(i).and_then(|s| s.get("with"))) {
            Ok(a) => actions.push(a),
            Err(d) => diags.push(d),
        }
    }
    if !diags.is_empty() {
        return Err(sorted(diags));
    }
    Ok((plan, actions))
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
