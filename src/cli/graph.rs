//! `rollgate graph PLAN --format mermaid|dot|json`

use super::{exit, report, validated, GraphFormat, Io};
use crate::compile::compile;
use crate::graph::{to_dot, to_mermaid};

pub fn run(path: &str, format: GraphFormat, io: &mut Io<'_>) -> std::io::Result<i32> {
    let Some(v) = validated(path, io)? else {
        return Ok(exit::INVALID);
    };
    report(path, &v.doc.source, &v.warnings, io)?;
    let g = compile(&v);
    match format {
        GraphFormat::Mermaid => write!(io.out, "{}", to_mermaid(&g))?,
        GraphFormat::Dot => write!(io.out, "{}", to_dot(&g))?,
        GraphFormat::Json => writeln!(
            io.out,
            "{}",
            serde_json::to_string_pretty(&g.to_json()).expect("json")
        )?,
    }
    Ok(exit::OK)
}
