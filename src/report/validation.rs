//! What `rollgate validate` and any command refusing an invalid plan print: each file's
//! diagnostics for a person (and, in a GitHub Actions job, as annotations on their lines), and
//! whether each file is valid.

use crate::diagnostics::{self, Diagnostic, Severity};
use crate::validate::validate_file;

/// Where a piece of text goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    Out,
    Err,
}

/// Text to print, in order, each piece on its stream.
pub type Printed = Vec<(Stream, String)>;

/// One file's diagnostics: rendered for a person on stderr and, with `annotate` (in an Actions
/// job), as workflow commands on stdout that show each problem on its line of the plan.
pub fn diagnostics(path: &str, source: &str, diags: &[Diagnostic], annotate: bool) -> Printed {
    let mut printed = Vec::new();
    if annotate {
        printed.push((Stream::Out, diagnostics::render_github(path, diags)));
    }
    printed.push((Stream::Err, diagnostics::render_human(path, source, diags)));
    printed
}

/// Validates each plan: with `json`, every diagnostic in one JSON list on stdout; otherwise
/// each file's diagnostics, then `valid (N steps)` or `invalid (N errors)`. Returns what to
/// print and how many plans are invalid.
pub fn validate_files(paths: &[String], json: bool, annotate: bool) -> (Printed, usize) {
    let mut printed = Printed::new();
    let mut all = Vec::new();
    let mut invalid = 0;
    for path in paths {
        let (diags, source, steps) = match validate_file(path) {
            Ok(v) => {
                let steps = crate::compile::compile(&v).graph.node_count();
                (v.warnings, v.doc.source, Some(steps))
            }
            Err(d) => (d, std::fs::read_to_string(path).unwrap_or_default(), None),
        };
        if diags.iter().any(|d| d.severity == Severity::Error) || steps.is_none() {
            invalid += 1;
        }
        if json {
            all.extend(diagnostics::to_json(path, &diags));
            continue;
        }
        printed.extend(self::diagnostics(path, &source, &diags, annotate));
        printed.push(match steps {
            Some(n) => (Stream::Out, format!("{path}: valid ({n} steps)\n")),
            None => {
                let n = diags.iter().filter(|d| d.is_error()).count();
                let s = if n == 1 { "" } else { "s" };
                (Stream::Err, format!("{path}: invalid ({n} error{s})\n"))
            }
        });
    }
    if json {
        printed.push((
            Stream::Out,
            serde_json::to_string_pretty(&all).expect("json") + "\n",
        ));
    }
    (printed, invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_file_says_its_problems_then_whether_it_is_valid_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad.yaml");
        std::fs::write(&bad, "name: x\nphases: []\nbogus: 1\n").unwrap();
        let good = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("workflows/linear.yaml");
        let paths = [bad.display().to_string(), good.display().to_string()];
        let (printed, invalid) = validate_files(&paths, false, true);
        assert_eq!(invalid, 1);
        let streams: Vec<_> = printed.iter().map(|(s, _)| *s).collect();
        // Each file: its annotations, its diagnostics (none for the good one), its verdict.
        assert_eq!(
            streams,
            [
                Stream::Out,
                Stream::Err,
                Stream::Err,
                Stream::Out,
                Stream::Err,
                Stream::Out
            ]
        );
        assert!(
            printed[0].1.starts_with("::error file="),
            "{:?}",
            printed[0]
        );
        assert_eq!(printed[2].1, format!("{}: invalid (2 errors)\n", paths[0]));
        assert_eq!(printed[5].1, format!("{}: valid (31 steps)\n", paths[1]));
        let (json, _) = validate_files(&paths, true, false);
        assert_eq!(json.len(), 1);
        let list: serde_json::Value = serde_json::from_str(&json[0].1).unwrap();
        assert!(!list.as_array().unwrap().is_empty());
    }
}
