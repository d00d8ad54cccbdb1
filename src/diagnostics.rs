//! The one place diagnostics are built and rendered.
//!
//! Every stage (load, schema, semantic checks, expressions, compile) reports problems as
//! [`Diagnostic`]s carrying a [`Span`] into the plan's source. They render as
//! `path:line:col: error[code]: message`, the source line with a caret, and a `help:` line,
//! or as JSON for editors and CI annotations.

use serde::Serialize;
use std::fmt::Write as _;

/// A range of the source, in characters. Lines are 1-based, columns 1-based.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Span {
    /// Char index of the first character.
    pub start: usize,
    /// Char index one past the last character.
    pub end: usize,
    pub line: usize,
    pub col: usize,
}

impl Span {
    /// The span of `len` characters starting at char index `offset` of `source`.
    pub fn at(source: &str, offset: usize, len: usize) -> Span {
        let (mut line, mut col) = (1, 1);
        for c in source.chars().take(offset) {
            if c == '\n' {
                line += 1;
                col = 1;
            } else {
                col += 1;
            }
        }
        Span {
            start: offset,
            end: offset + len,
            line,
            col,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

macro_rules! codes {
    ($($variant:ident => $name:literal: $doc:literal,)*) => {
        /// Every kind of problem rollgate reports; the name is stable and shown as `error[name]`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code { $(#[doc = $doc] $variant,)* }
        impl Code {
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];
            pub fn as_str(self) -> &'static str { match self { $(Code::$variant => $name,)* } }
        }
    };
}

codes! {
    Io => "io": "the plan file cannot be read",
    NotText => "not-text": "the file is binary, not UTF-8, or too large to be a plan",
    YamlSyntax => "yaml-syntax": "the YAML itself is malformed",
    YamlUnsupported => "yaml-unsupported": "a YAML feature plans do not use (several documents, complex keys, unknown tags)",
    DuplicateKey => "duplicate-key": "the same key twice in one mapping",
    TooDeep => "too-deep": "nesting deeper than any plan needs",
    AliasBomb => "alias-limit": "aliases expand to more nodes than a plan may hold",
    UnknownKey => "unknown-key": "a key the plan language does not have at that place",
    MissingKey => "missing-key": "a required key is absent",
    WrongType => "wrong-type": "a value of the wrong type",
    BadValue => "bad-value": "a value outside what the field allows",
    BadDuration => "bad-duration": "a duration that is not written as `90s`, `10m`, `2h`, or is zero",
    BadQuantity => "bad-quantity": "a threshold that is not a number, percentage, duration or factor",
    UnknownProvider => "unknown-provider": "a reference to a provider the plan does not declare",
    WrongProviderKind => "wrong-provider-kind": "a provider used for something its kind cannot do",
    UnknownCheck => "unknown-check": "a reference to a check the plan does not declare",
    ReservedName => "reserved-name": "a name rollgate keeps for itself",
    WeightsDecrease => "weights-decrease": "traffic weights that go down as the rollout advances",
    UnsupportedStrategy => "unsupported-strategy": "a routing the chosen router cannot do (mirror, header match)",
    AmbiguousRouter => "ambiguous-router": "no traffic router, or several and none chosen",
    SameBackend => "same-backend": "a router whose stable and canary are the same server, Service or destination",
    ConflictingKeys => "conflicting-keys": "keys that exclude each other, or a missing alternative",
    WrongUnit => "wrong-unit": "a threshold in a unit the check does not measure",
    ContradictoryThresholds => "contradictory-thresholds": "thresholds that no value can satisfy, or a critical bound milder than the threshold",
    MissingBaseline => "missing-baseline": "a comparison with the baseline on a check that has no baseline query",
    MethodMismatch => "method-mismatch": "a check's method and data that do not fit together (a sequential test on values, counts beside a value query)",
    DuplicateId => "duplicate-id": "two steps or phases with the same id",
    UnknownNeed => "unknown-need": "`needs` names a step that does not exist",
    Cycle => "cycle": "steps that need each other in a loop",
    Unreachable => "unreachable": "a step that can never run",
    ExceedsMaxDuration => "exceeds-max-duration": "phases that cannot finish within `max-duration`",
    ExprSyntax => "expr-syntax": "a `${{ }}` expression that does not parse",
    UnknownContext => "unknown-context": "an expression naming an unknown context, input, env var or step",
    BadFunction => "bad-function": "an unknown function, a wrong argument count, or a status function outside `if:`",
    StepNotNeeded => "step-not-needed": "`steps.<id>` read by a step that does not (transitively) need it",
    BadInput => "bad-input": "an input whose default does not fit its type or options",
    BadFixture => "bad-fixture": "a dry-run fixture that cannot be replayed (shape, NaN, order, events)",
    MissingQuery => "missing-query": "a query the plan asks that the fixture does not answer",
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One problem found in a plan.
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub code: Code,
    pub message: String,
    pub span: Option<Span>,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(code: Code, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            code,
            message: message.into(),
            span: None,
            help: None,
        }
    }

    pub fn warning(code: Code, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, message)
        }
    }

    pub fn at(mut self, span: Option<Span>) -> Self {
        self.span = span;
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Sorts diagnostics by position (then code) so output is stable and reads top to bottom.
pub fn sort(diags: &mut [Diagnostic]) {
    diags.sort_by_key(|d| {
        let s = d.span.unwrap_or_default();
        (s.line, s.col, d.code, d.message.clone())
    });
}

/// Renders for a person: header, source line with caret, help.
pub fn render_human(path: &str, source: &str, diags: &[Diagnostic]) -> String {
    let lines: Vec<&str> = source.lines().collect();
    let mut out = String::new();
    for d in diags {
        let severity = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        match d.span {
            Some(s) => {
                let _ = writeln!(
                    out,
                    "{path}:{}:{}: {severity}[{}]: {}",
                    s.line,
                    s.col,
                    d.code.as_str(),
                    d.message
                );
                if let Some(text) = lines.get(s.line - 1) {
                    let gutter = s.line.to_string();
                    let pad = " ".repeat(gutter.len());
                    let line_len = text.chars().count();
                    // A span running past its line is underlined to the line's end.
                    let width = s
                        .end
                        .saturating_sub(s.start)
                        .clamp(1, (line_len + 1).saturating_sub(s.col).max(1));
                    // Control characters (a binary file's NULs) would garble a terminal.
                    let shown: String = text
                        .chars()
                        .map(|c| {
                            if c.is_control() && c != '\t' {
                                '\u{FFFD}'
                            } else {
                                c
                            }
                        })
                        .collect();
                    let _ = writeln!(out, "{gutter} | {shown}");
                    let _ = writeln!(
                        out,
                        "{pad} | {}{}",
                        " ".repeat(s.col - 1),
                        "^".repeat(width)
                    );
                }
            }
            None => {
                let _ = writeln!(
                    out,
                    "{path}: {severity}[{}]: {}",
                    d.code.as_str(),
                    d.message
                );
            }
        }
        if let Some(h) = &d.help {
            let _ = writeln!(out, "  = help: {h}");
        }
    }
    out
}

/// Renders as a Markdown list, for a job summary: each problem at its place, with its fix.
/// Text stays text: HTML in a message is escaped.
pub fn render_markdown(path: &str, diags: &[Diagnostic]) -> String {
    let text = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let mut out = String::new();
    for d in diags {
        let place = match d.span {
            Some(s) => format!("{path}:{}:{}", s.line, s.col),
            None => path.to_string(),
        };
        let severity = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let _ = writeln!(
            out,
            "- `{}` {severity} `{}`: {}",
            place.replace('`', "'"),
            d.code.as_str(),
            text(&d.message)
        );
        if let Some(h) = &d.help {
            let _ = writeln!(out, "  fix: {}", text(h));
        }
    }
    out
}

#[derive(Serialize)]
struct JsonDiagnostic<'a> {
    file: &'a str,
    line: Option<usize>,
    column: Option<usize>,
    end_column: Option<usize>,
    severity: Severity,
    code: Code,
    message: &'a str,
    help: Option<&'a str>,
}

/// Renders one JSON object per diagnostic, for editors and CI annotations.
/// GitHub Actions workflow commands, one per diagnostic, so that each shows on the plan's line
/// in the pull request: `::error file=F,line=L,col=C,endColumn=E,title=CODE::MESSAGE`.
pub fn render_github(path: &str, diags: &[Diagnostic]) -> String {
    // Workflow commands end at a newline and split properties on `,` and `:`.
    let data = |s: &str| {
        s.replace('%', "%25")
            .replace('\r', "%0D")
            .replace('\n', "%0A")
    };
    let property = |s: &str| data(s).replace(':', "%3A").replace(',', "%2C");
    let mut out = String::new();
    for d in diags {
        let level = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut props = vec![format!("file={}", property(path))];
        if let Some(s) = d.span {
            props.push(format!("line={}", s.line));
            props.push(format!("col={}", s.col));
            props.push(format!(
                "endColumn={}",
                s.col + s.end.saturating_sub(s.start)
            ));
        }
        props.push(format!("title={}", property(d.code.as_str())));
        let message = match &d.help {
            Some(h) => format!("{}\nhelp: {h}", d.message),
            None => d.message.clone(),
        };
        out.push_str(&format!(
            "::{level} {}::{}\n",
            props.join(","),
            data(&message)
        ));
    }
    out
}

pub fn to_json(path: &str, diags: &[Diagnostic]) -> Vec<serde_json::Value> {
    diags
        .iter()
        .map(|d| {
            let end_column = d.span.map(|s| s.col + s.end.saturating_sub(s.start));
            serde_json::to_value(JsonDiagnostic {
                file: path,
                line: d.span.map(|s| s.line),
                column: d.span.map(|s| s.col),
                end_column,
                severity: d.severity,
                code: d.code,
                message: &d.message,
                help: d.help.as_deref(),
            })
            .expect("diagnostics serialize")
        })
        .collect()
}

/// The closest of `candidates` to `word`, when it is close enough to be a likely typo: a few
/// edits away (transpositions count as one, so `mxa` finds `max`), or sharing most of its
/// letters in order (so `prometheus` finds `prom`).
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let max_edits = (word.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| {
            (
                strsim::damerau_levenshtein(word, c),
                strsim::jaro_winkler(word, c),
                c,
            )
        })
        .filter(|(edits, similar, _)| *edits <= max_edits || *similar > 0.8)
        .min_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)))
        .map(|(_, _, c)| c)
}

/// Help for a name that matched nothing: "did you mean `x`?" for a likely typo, else the
/// options after `label` (`"use one of: "`), or `none` when there are no options at all.
pub fn suggest(word: &str, options: &[&str], label: &str, none: &str) -> String {
    match did_you_mean(word, options.iter().copied()) {
        Some(s) => format!("did you mean `{s}`?"),
        None if options.is_empty() => none.to_string(),
        None => format!("{label}{}", options.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_header_caret_and_help() {
        let src = "name: x\nphases:\n  - wieght: 5\n";
        let d = Diagnostic::error(Code::UnknownKey, "unknown key `wieght` in a phase")
            .at(Some(Span::at(src, 20, 6)))
            .help("did you mean `weight`?");
        let out = render_human("plan.yaml", src, &[d]);
        assert_eq!(
            out,
            "plan.yaml:3:5: error[unknown-key]: unknown key `wieght` in a phase\n\
             3 |   - wieght: 5\n  |     ^^^^^^\n  = help: did you mean `weight`?\n"
        );
    }

    #[test]
    fn json_has_position_and_code() {
        let src = "a: 1\n";
        let d = Diagnostic::error(Code::WrongType, "m").at(Some(Span::at(src, 3, 1)));
        let v = to_json("p.yaml", &[d]);
        assert_eq!(v[0]["line"], 1);
        assert_eq!(v[0]["column"], 4);
        assert_eq!(v[0]["code"], "wrong-type");
    }

    #[test]
    fn suggests_only_close_words() {
        assert_eq!(
            did_you_mean("wieght", ["weight", "observe"]),
            Some("weight")
        );
        assert_eq!(did_you_mean("zzz", ["weight", "observe"]), None);
        assert_eq!(did_you_mean("mxa", ["min", "max", "unit"]), Some("max"));
        assert_eq!(did_you_mean("prometheus", ["prom", "edge"]), Some("prom"));
    }

    #[test]
    fn code_names_are_unique() {
        let mut names: Vec<_> = Code::ALL.iter().map(|c| c.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Code::ALL.len());
    }
}
