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
        Err(Reason {
            check: Some(check.clone()),
            ..Reason::says(format!(
                "refused before any weight moved: {}",
                by_cause(&failed).join("; ")
            ))
        })
    }
}

/// Failed queries (check, source, error) said once per source and cause, with how many
/// queries it hit and for which checks: a source that is down is one line, not one per query.
fn by_cause(failed: &[(String, String, String)]) -> Vec<String> {
    let mut causes: Vec<(&str, &str, usize, Vec<&str>)> = Vec::new();
    for (check, source, e) in failed {
        match causes.iter_mut().find(|c| c.0 == source && c.1 == e) {
            Some(c) => {
                c.2 += 1;
                if !c.3.contains(&check.as_str()) {
                    c.3.push(check);
                }
            }
            None => causes.push((source, e, 1, vec![check])),
        }
    }
    causes
        .into_iter()
        .map(|(source, e, n, checks)| match n {
            1 => format!("metric source `{source}` (check {}): {e}", checks[0]),
            n => format!(
                "metric source `{source}` ({n} queries, checks {}): {e}",
                checks.join(", ")
            ),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::by_cause;

    #[test]
    fn one_line_per_source_and_cause_with_its_count() {
        let f = |c: &str, s: &str, e: &str| (c.to_string(), s.to_string(), e.to_string());
        let failed = [
            f("a", "prom", "refused"),
            f("a", "prom", "refused"),
            f("b", "prom", "refused"),
            f("c", "prom", "bad query"),
            f("d", "dd", "refused"),
        ];
        assert_eq!(
            by_cause(&failed),
            [
                "metric source `prom` (3 queries, checks a, b): refused",
                "metric source `prom` (check c): bad query",
                "metric source `dd` (check d): refused",
            ]
        );
    }
}
