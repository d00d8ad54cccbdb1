//! rollgate: a declarative workflow runner for progressive rollouts.
//!
//! The pipeline: [`plan::load`] (YAML with positions) → [`plan::schema`] (JSON Schema) →
//! [`plan::typed`] (typed plan) → [`semantic`] (cross-references, units, expressions) →
//! [`compile`] (a petgraph DAG of steps, [`graph::StepGraph`]). Every problem on the way is a
//! [`diagnostics::Diagnostic`] with a source span; [`validate::validate`] runs the front half.

pub mod analysis;
pub mod cli;
pub mod clock;
pub mod compile;
pub mod delivery;
pub mod diagnostics;
pub mod event;
pub mod expr;
pub mod fixture;
pub mod github;
pub mod graph;
pub mod journal;
pub mod live;
pub mod plan;
pub mod providers;
pub mod rehearsal;
pub mod report;
pub mod runner;
pub mod semantic;
pub mod serve;
pub mod validate;
