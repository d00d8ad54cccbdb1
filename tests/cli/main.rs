//! One integration binary: drives the real `rollgate` binary (and the library where a property
//! test needs thousands of inputs).

mod actionlint;
mod bad_plans;
mod browser;
mod cluster;
mod decisions;
mod dry_run;
mod editor;
mod endings;
mod fault_proxy;
mod gateway;
mod github;
mod github_api;
mod graphs;
mod haproxy;
mod help;
mod hostile;
mod install;
mod istio;
mod kube_api;
mod kube_safety;
mod notify;
mod postgres;
mod prometheus;
// Shared with `cargo run --example rig`, which uses the parts the tests do not.
#[allow(dead_code)]
#[path = "../rig/mod.rs"]
mod rig;
mod rollouts;
mod run;
mod safety;
mod schema;
mod serve;
mod state;
mod support;
mod workflows;
