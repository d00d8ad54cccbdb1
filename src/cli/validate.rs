//! `rollgate validate PLAN...`

use super::{exit, report, DiagFormat, Io};
use crate::diagnostics::{self, Severity};
use crate::validate::validate_file;

pub fn run(plans: &[String], format: DiagFormat, io: &mut Io<'_>) -> std::io::Result<i32> {
    let mut json = Vec::new();
    let mut invalid = 0;
    for path in plans {
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
            DiagFormat::Human => {
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
            DiagFormat::Json => json.extend(diagnostics::to_json(path, &diags)),
        }
    }
    if let DiagFormat::Json = format {
        writeln!(
            io.out,
            "{}",
            serde_json::to_string_pretty(&json).expect("json")
        )?;
    }
    Ok(if invalid > 0 { exit::INVALID } else { exit::OK })
}
