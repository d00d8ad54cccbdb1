//! Metric sources: where checks get their numbers.

mod command;
mod fixture;

pub use command::Command;
pub use fixture::FixtureSource;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// The source could not answer (down, refused, timed out); what that means is the check's
/// `on-no-data`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsError(pub String);

#[async_trait]
pub trait MetricSource: Send + Sync {
    /// The query's value at `at`; `Ok(None)` when it has no data there.
    async fn query(&self, query: &str, at: DateTime<Utc>) -> Result<Option<f64>, MetricsError>;
}
