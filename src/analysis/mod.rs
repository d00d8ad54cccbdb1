//! Deciding from the numbers. Today: absolute thresholds (`max`, `min`, `critical`) and a plain
//! comparison with the baseline (`max-increase`, `max-decrease`). Statistical methods (sequential
//! tests, Mann-Whitney, burn rates) arrive as further files beside this one.

pub mod sequential;
pub mod threshold;
