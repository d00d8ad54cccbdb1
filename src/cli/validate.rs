//! `rollgate validate PLAN...`

use super::{exit, Exit, Io};
use crate::report::actions::Actions;
use crate::report::validation::validate_files;

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
    let json = matches!(a.format, Format::Json);
    let annotate = Actions::from_env().is_some();
    let (printed, invalid) = validate_files(&a.plans, json, annotate);
    io.print(&printed)?;
    Ok(if invalid > 0 { exit::INVALID } else { exit::OK })
}
