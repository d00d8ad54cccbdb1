//! Deciding from the numbers: absolute thresholds and a plain comparison with the baseline
//! (`threshold`), and the statistical methods beside it, each pinned by unit tests to
//! independently computed values: the anytime-valid sequential test on a rate ratio
//! (`sequential`), Mann-Whitney U (`mann_whitney`), the fixed-horizon two-proportion z-test
//! (`z_test`), SLO burn rates (`burn_rate`), histogram quantiles and shares (`histogram`) and
//! the latency test over whole histograms built on them and the sequential test (`latency`);
//! `window` judges a whole observation window by Mann-Whitney or the z-test. Pure: numbers and
//! the plan's check in, a verdict with its evidence and its words out. Nothing here knows the
//! runner, which asks and emits what it is told.

pub mod burn_rate;
pub mod histogram;
pub mod latency;
pub mod mann_whitney;
pub mod sequential;
pub mod threshold;
pub mod window;
pub mod z_test;
