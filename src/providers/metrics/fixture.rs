//! A metric source that replays a fixture, for dry-runs.

use super::{MetricSource, MetricsError};
use crate::fixture::{Answer, Fixture};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::sync::Arc;

pub struct FixtureSource {
    /// The provider's name in the plan, which scripted outages refer to.
    name: String,
    fixture: Arc<Fixture>,
}

impl FixtureSource {
    pub fn new(name: &str, fixture: Arc<Fixture>) -> FixtureSource {
        FixtureSource {
            name: name.to_string(),
            fixture,
        }
    }
}

#[async_trait]
impl MetricSource for FixtureSource {
    async fn query(&self, query: &str, at: DateTime<Utc>) -> Result<Option<f64>, MetricsError> {
        let elapsed = (at - self.fixture.start).to_std().unwrap_or_default();
        if self.fixture.outage(&self.name, elapsed) {
            return Err(MetricsError(format!(
                "{} is down (scripted outage in {})",
                self.name, self.fixture.path
            )));
        }
        match self.fixture.answer(query, at) {
            Some(Answer::Value(v)) => Ok(Some(v)),
            Some(Answer::NoData) => Ok(None),
            None => Err(MetricsError(format!(
                "{} has no answers for `{query}`",
                self.fixture.path
            ))),
        }
    }
}
