//! Reporters: consumers of the runner's events. The runner never prints; these do.

pub mod expectation;
pub mod json;
pub mod summary;
pub mod terminal;
