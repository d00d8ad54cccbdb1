//! Deciding from the numbers: absolute thresholds and a plain comparison with the baseline
//! (`threshold`), and the statistical methods beside it, each pinned by unit tests to
//! independently computed values: the anytime-valid sequential test on a rate ratio
//! (`sequential`), Mann-Whitney U (`mann_whitney`), the fixed-horizon two-proportion z-test
//! (`z_test`), SLO burn rates (`burn_rate`) and histogram quantiles and shares (`histogram`).
//! The runner uses `threshold` today; wiring the others into checks is the next step (the
//! README's "not yet" table says so).

pub mod burn_rate;
pub mod histogram;
pub mod mann_whitney;
pub mod sequential;
pub mod threshold;
pub mod z_test;
