//! Reporters: consumers of the runner's events, each a [`Reporter`]. The runner never prints;
//! these do.

pub mod actions;
pub mod chart;
pub mod chat;
pub mod console;
pub mod deployment;
pub mod expectation;
pub mod json;
pub mod log;
pub mod markdown;
pub mod pause;
pub mod pr_comment;
mod reporter;
#[cfg(test)]
mod sample_runs;
pub mod status;
pub mod summary;
pub mod terminal;
pub mod validation;
pub mod view;
pub mod why;

pub use reporter::Reporter;
