//! `rollgate graph PLAN --format mermaid|dot|json`

use super::{annotating, exit, validated, Exit, Io};
use crate::compile::compile;
use crate::graph::{to_dot, to_mermaid};
use crate::report::validation::diagnostics;

/// Validate a plan and print the DAG of steps it compiles to
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  rollgate graph workflows/haproxy-canary.yaml\n  rollgate graph plan.yaml --format dot | dot -Tsvg > plan.svg\n\nExit codes: 0 printed, 2 invalid plan."
)]
pub struct Args {
    /// The plan file.
    pub plan: String,
    #[arg(long, value_enum, default_value_t = Format::Mermaid)]
    pub format: Format,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Format {
    Mermaid,
    Dot,
    Json,
}

pub fn run(a: Args, io: &mut Io<'_>) -> Exit {
    let v = validated(&a.plan)?;
    let warnings = diagnostics(&a.plan, &v.doc.source, &v.warnings, annotating());
    io.print(&warnings)?;
    let g = compile(&v);
    match a.format {
        Format::Mermaid => write!(io.out, "{}", to_mermaid(&g))?,
        Format::Dot => write!(io.out, "{}", to_dot(&g))?,
        Format::Json => writeln!(
            io.out,
            "{}",
            serde_json::to_string_pretty(&g.to_json()).expect("json")
        )?,
    }
    Ok(exit::OK)
}
