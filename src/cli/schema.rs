//! `rollgate schema`

use super::{exit, Exit, Io};
use crate::plan::schema::schema_text;

/// Print the plan's JSON Schema (draft 2020-12), for editors and other tools
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  rollgate schema > rollout.schema.json\n  # in a plan, for yaml-language-server:\n  # yaml-language-server: $schema=rollout.schema.json"
)]
pub struct Args {}

pub fn run(io: &mut Io<'_>) -> Exit {
    write!(io.out, "{}", schema_text())?;
    Ok(exit::OK)
}
