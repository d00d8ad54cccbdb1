//! A metric source that replays a fixture, for dry-runs.

use super::{Buckets, MetricSource, MetricsError};
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

impl FixtureSource {
    /// A scripted outage at `at`, as the failure it is.
    fn down(&self, at: DateTime<Utc>) -> Result<(), MetricsError> {
        let elapsed = (at - self.fixture.start).to_std().unwrap_or_default();
        if self.fixture.outage(&self.name, elapsed) {
            return Err(MetricsError(format!(
                "{} is down (scripted outage in {})",
                self.name, self.fixture.path
            )));
        }
        Ok(())
    }

    fn missing(&self, query: &str, histogram: bool) -> MetricsError {
        let why = match (self.fixture.has_query(query), histogram) {
            (false, _) => "has no answers for",
            (true, true) => "answers one series (a histogram needs one per `le`) for",
            (true, false) => "answers a histogram (one series per `le`), not one value, for",
        };
        MetricsError(format!("{} {why} `{query}`", self.fixture.path))
    }
}

#[async_trait]
impl MetricSource for FixtureSource {
    async fn query(&self, query: &str, at: DateTime<Utc>) -> Result<Option<f64>, MetricsError> {
        self.down(at)?;
        match self.fixture.answer(query, at) {
            Some(Answer::Value(v)) => Ok(Some(v)),
            Some(Answer::NoData) => Ok(None),
            None => Err(self.missing(query, false)),
        }
    }

    async fn buckets(
        &self,
        query: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<Buckets>, MetricsError> {
        self.down(at)?;
        match self.fixture.buckets(query, at) {
            Some(answer) => {
                answer.map_err(|e| MetricsError(format!("{}: `{query}` {e}", self.fixture.path)))
            }
            None => Err(self.missing(query, true)),
        }
    }
}
