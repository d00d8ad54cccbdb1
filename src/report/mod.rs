//! Reporters: consumers of the runner's events. The runner never prints; these do.

pub mod actions;
pub mod chat;
pub mod deployment;
pub mod expectation;
pub mod json;
pub mod markdown;
pub mod outbound;
pub mod pause;
pub mod pr_comment;
pub mod summary;
pub mod terminal;
pub mod view;
