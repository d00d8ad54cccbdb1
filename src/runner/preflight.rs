//! Before a real run moves any weight, every check's queries are asked once: a metric source
//! that cannot be reached, or answers an error (a bad query, a refused token), refuses the run
//! while nothing has moved. No data is fine: the canary has no traffic yet.

use super::RunContext;
use crate::event::Reason;
use std::collections::BTreeSet;

impl RunContext {
    /// Asks every query of every check once; why the run cannot start, if a source failed.
    pub(super) async fn preflight(&self) -> Result<(), Reason> {
        let mut asked = BTreeSet::new();
        let mut failed = Vec::new();
        for (check, q) in &self.queries {
            for (_, query) in q.asked() {
                if !asked.insert((q.source.clone(), query.to_string())) {
                    continue;
                }
                if let Err(e) = self.query_metric(&q.source, query).await {
                    failed.push((check.clone(), q.source.clone(), e.0));
                }
            }
        }
        let Some((check, ..)) = failed.first() else {
            return Ok(());
        };
        let said: Vec<String> = failed
            .iter()
            .map(|(check, source, e)| format!("metric source `{source}` (check {check}): {e}"))
            .collect();
        Err(Reason {
            check: Some(check.clone()),
            ..Reason::says(format!(
                "refused before any weight moved: {}",
                said.join("; ")
            ))
        })
    }
}
