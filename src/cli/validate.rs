//! `rollgate validate PLAN...`

use super::{exit, report, Exit, Io};
use crate::diagnostics::{self, Severity};
use crate::validate::validate_file;

/// Check plans and report every problem at its file, line and column
///
/// Checks the YAML, the schema, references between steps, checks and providers, units and
/// `${{ }}` expressions.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  rollgate validate workflows/*.yaml\n  rollgate validate plan.yaml --format json\n\nExit codes: 0 every plan valid, 2 one is not."
)]
pub struct Args {
    /// Plan files.
    #[arg(required = true)]
    pub plans: Vec<String>,
    /// `human`: path:line:col with the source line; `json`: a list for editors and CI.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Format {
    Human,
    Json,
}

pub fn run(a: Args, io: &mut Io<'_>) -> Exit {
    let format = a.format;
    let mut json = Vec::new();
    let mut invalid = 0;
    for path in &a.plans {
        let (diags, source, summary) = match validate_file(path) {
            Ok(v) => {
                let summary = format!(
                    "{path}: valid ({} steps)",
                    crate::compile::compile(&v).graph.node_count()
                );
                (v.warnings, v.doc.source, Some(summary))
            }
            Err(d) => (d, std::fs::read_to_string(path).unwrap_or_default(), None),
        };
        if diags.iter().any(|d| d.severity == Severity::Error) || summary.is_none() {
            invalid += 1;
        }
        match format {
            Format::Human => {
                report(path, &source, &diags, io)?;
                match &summary {
                    Some(s) => writeln!(io.out, "{s}")?,
                    None => {
                        let n = diags.iter().filter(|d| d.is_error()).count();
                        writeln!(
                            io.err,
                            "{path}: invalid ({n} error{})",
                            if n == 1 { "" } else { "s" }
                        )?;
                    }
                }
            }
            Format::Json => json.extend(diagnostics::to_json(path, &diags)),
        }
    }
    if let Format::Json = format {
        writeln!(
            io.out,
            "{}",
            serde_json::to_string_pretty(&json).expect("json")
        )?;
    }
    Ok(if invalid > 0 { exit::INVALID } else { exit::OK })
}
