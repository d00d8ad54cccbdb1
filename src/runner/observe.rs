//! Looking at checks: one evaluation of a check's queries, and an observation window that
//! evaluates every interval, failing early on a critical bound or `failure-limit` failures.

use super::counting::{Counting, Reading};
use super::histograms::{Histograms, Reading as HistogramReading};
use super::RunContext;
use crate::analysis::burn_rate::{Window, DEFAULT_WINDOWS};
use crate::analysis::latency::LatencyTest;
use crate::analysis::sequential::RateRatioTest;
use crate::analysis::threshold::{self, describe, judge, Judged, Observed};
use crate::analysis::window::{judge_window, WindowSamples};
use crate::event::Method;
use crate::event::{Evaluation, Event, Mode, Reason, Verdict};
use crate::plan::check::{OnNoData, Series};
use crate::plan::Quantity;
use crate::providers::metrics::MetricsError;
use crate::providers::metrics::{le_text, Buckets};
use std::collections::BTreeMap;
use std::time::Duration;

/// Asks closer together than this are one moment: they share an answer.
const SAME_MOMENT: Duration = Duration::from_millis(100);

/// A query's latest answer and when it was asked; locked while being asked, so a second asker
/// waits for the first's answer instead of asking again.
pub(super) type LatestAnswer =
    std::sync::Arc<tokio::sync::Mutex<Option<(Duration, Result<Option<f64>, MetricsError>)>>>;

/// Whose traffic a check looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Group {
    /// The canary, while it takes traffic.
    Canary,
    /// Stable, which serves everything after a rollback.
    Stable,
}

/// What `group` reads of a check's data (`pick` takes the kind it reads): for the canary, the
/// canary's and the baseline's; for stable after a rollback, the baseline's (or, without one,
/// the canary's query, which then sees stable) alone.
fn sides<T>(
    q: &super::Queries,
    group: Group,
    pick: impl Fn(&Series) -> Option<T>,
) -> (Option<T>, Option<T>) {
    let baseline = q.baseline.as_ref().and_then(&pick);
    match group {
        Group::Stable => (baseline.or_else(|| pick(&q.canary)), None),
        Group::Canary => (pick(&q.canary), baseline),
    }
}

/// The canary's answer, or whether its source was down (rather than without data).
fn answered<T>(answer: Result<Option<T>, MetricsError>) -> Result<T, bool> {
    match answer {
        Ok(Some(v)) => Ok(v),
        Ok(None) => Err(false),
        Err(_) => Err(true),
    }
}

/// How an observation ended.
pub enum Observation {
    /// The window passed; each check's last verdict, for the phase's evaluation.
    Done(BTreeMap<String, Judged>),
    /// A check failed `failure-limit` times in a row, or crossed its critical bound.
    Failed(Reason),
}

impl RunContext {
    /// Queries a check's canary, baseline and sample counts now.
    pub(super) async fn look(&self, check: &str) -> Observed {
        self.look_at(check, Group::Canary).await
    }

    /// Queries a check as seen by `group`. After a rollback stable serves everything, so
    /// verification reads the baseline query, where the check has one, in the canary's place.
    async fn look_at(&self, check: &str, group: Group) -> Observed {
        let q = &self.queries[check];
        let source = q.source.as_str();
        let mut seen = Observed::default();
        let main = match (group, &q.baseline) {
            (Group::Stable, Some(b)) => b,
            _ => &q.canary,
        };
        // Validation gives both groups the same kind of data.
        let main = match main {
            Series::Value(main) => main,
            Series::Counts(_) => return self.look_at_counts(check, group).await,
            Series::Histogram(_) => return self.look_at_histograms(check, group).await,
        };
        match self.query_metric(source, main).await {
            Ok(v) => seen.canary = v,
            Err(_) => seen.source_down = true,
        }
        if group == Group::Stable {
            return seen;
        }
        if let Some(Series::Value(b)) = &q.baseline {
            seen.baseline = self.query_metric(source, b).await.ok().flatten();
        }
        if let Some(s) = &q.samples {
            seen.samples = self.query_metric(source, s).await.ok().flatten();
        }
        seen
    }

    /// A count check: its counters now, made into the interval since its last reading. After
    /// a rollback, stable's counters (the baseline's, where the check has them) are read alone.
    async fn look_at_counts(&self, check: &str, group: Group) -> Observed {
        let q = &self.queries[check];
        let source = q.source.as_str();
        let mut seen = Observed::default();
        let (main, other) = sides(q, group, |s| match s {
            Series::Counts(c) => Some(c.clone()),
            _ => None,
        });
        let Some(main) = main else { return seen };
        let pair = |c: crate::plan::check::Counts| async move {
            let events = self.query_metric(source, &c.events).await;
            let total = self.query_metric(source, &c.total).await;
            match (events, total) {
                (Ok(Some(e)), Ok(Some(t))) => Ok(Some((e, t))),
                (Err(e), _) | (_, Err(e)) => Err(e),
                _ => Ok(None),
            }
        };
        let canary = match answered(pair(main).await) {
            Ok(c) => c,
            Err(down) => {
                seen.source_down = down;
                return seen;
            }
        };
        let baseline = match other {
            Some(c) => pair(c).await.ok().flatten(),
            None => None,
        };
        let now = self.clock.elapsed();
        let mut all = self.counting.lock().expect("not poisoned");
        let state = all.entry((check.to_string(), group)).or_insert_with(|| {
            Counting::new(self.sequential_test(check, group), self.slo(check, group))
        });
        let interval = state.read(now, Reading { canary, baseline }, SAME_MOMENT);
        match interval {
            Some(i) => {
                (seen.canary, seen.baseline) = i.rates();
                seen.counts = Some(i.counts());
            }
            None => seen.first_reading = true,
        }
        seen.burning = state.burning;
        seen.samples = Some(state.canary_total);
        seen.evidence = state.evidence;
        seen
    }

    /// A histogram check: its bucket counters now, made into the interval since its last
    /// reading. After a rollback, stable's histogram (the baseline's) is read alone.
    async fn look_at_histograms(&self, check: &str, group: Group) -> Observed {
        let q = &self.queries[check];
        let source = q.source.as_str();
        let mut seen = Observed::default();
        let (main, other) = sides(q, group, |s| match s {
            Series::Histogram(h) => Some(h.buckets.clone()),
            _ => None,
        });
        let Some(main) = main else { return seen };
        let canary = match answered(self.query_buckets(source, &main).await) {
            Ok(c) => c,
            Err(down) => {
                seen.source_down = down;
                return seen;
            }
        };
        let baseline = match other {
            Some(b) => self.query_buckets(source, &b).await.ok().flatten(),
            None => None,
        };
        let now = self.clock.elapsed();
        let mut all = self.histograms.lock().expect("not poisoned");
        let state = all
            .entry((check.to_string(), group))
            .or_insert_with(|| self.histogram_state(check, group));
        match state.read(now, HistogramReading { canary, baseline }, SAME_MOMENT) {
            Some(i) => (seen.canary, seen.baseline) = i.quantiles(state.quantile()),
            None => seen.first_reading = true,
        }
        seen.waiting = state.waiting();
        seen.samples = Some(state.canary_total);
        seen.evidence = state.evidence;
        seen
    }

    /// A histogram check's state: the quantile it shows, and for the canary the latency test.
    fn histogram_state(&self, check: &str, group: Group) -> Histograms {
        let c = &self.plan.checks[check];
        let tolerance = match c.max_increase {
            Some(Quantity::Percent(p)) => p,
            _ => 0.0,
        };
        let test = (group == Group::Canary && c.sequential())
            .then(|| LatencyTest::new(c.quantile(), tolerance, c.level()));
        Histograms::new(c.quantile(), test)
    }

    /// Whether `check` reads counters (events over total, or a histogram's buckets) that have
    /// not been read yet.
    fn counts_unread(&self, check: &str, group: Group) -> bool {
        let key = (check.to_string(), group);
        match self.queries[check].canary {
            Series::Counts(_) => !self
                .counting
                .lock()
                .expect("not poisoned")
                .contains_key(&key),
            Series::Histogram(_) => !self
                .histograms
                .lock()
                .expect("not poisoned")
                .contains_key(&key),
            Series::Value(_) => false,
        }
    }

    /// The sequential test a count check compared with its baseline runs, unless its method
    /// says otherwise.
    fn sequential_test(&self, check: &str, group: Group) -> Option<RateRatioTest> {
        let c = &self.plan.checks[check];
        if group != Group::Canary || !c.sequential() {
            return None;
        }
        let tolerance = match c.max_increase {
            Some(Quantity::Percent(p)) => p,
            _ => 0.0,
        };
        Some(RateRatioTest::new(1.0 + tolerance, c.level()))
    }

    /// A count check's SLO, as the burn-rate rules it watches on the canary.
    fn slo(&self, check: &str, group: Group) -> Option<(f64, Vec<Window>)> {
        let slo = self.plan.checks[check].slo.as_ref()?;
        if group != Group::Canary {
            return None;
        }
        let rules = if slo.windows.is_empty() {
            DEFAULT_WINDOWS.to_vec()
        } else {
            slo.windows
                .iter()
                .map(|w| Window {
                    long: w.long.0,
                    short: w.short.0,
                    factor: w.burn,
                })
                .collect()
        };
        Some((slo.objective.value(), rules))
    }

    /// Asks `source` for `query` now; in a real run the answer is journaled. A check and a
    /// trigger asking the same query at the same moment get one answer: Prometheus is asked
    /// once, and a replay of the journal gives both what the run gave them.
    pub(super) async fn query_metric(
        &self,
        source: &str,
        query: &str,
    ) -> Result<Option<f64>, MetricsError> {
        let slot = self
            .answers
            .lock()
            .expect("not poisoned")
            .entry((source.to_string(), query.to_string()))
            .or_default()
            .clone();
        let mut latest = slot.lock().await;
        let now = self.clock.elapsed();
        if let Some((asked, answer)) = &*latest {
            if now.saturating_sub(*asked) < SAME_MOMENT {
                return answer.clone();
            }
        }
        let answer = self.providers.metrics[source]
            .query(query, self.clock.now())
            .await;
        let took = self.clock.elapsed().saturating_sub(now).as_secs_f64();
        *latest = Some((now, answer.clone()));
        if self.mode == Mode::Run {
            self.emit(Event::Queried {
                source: source.to_string(),
                query: query.to_string(),
                value: answer.as_ref().ok().copied().flatten(),
                buckets: None,
                error: answer.as_ref().err().map(|e| e.0.clone()),
                took: Some(took),
            });
        }
        answer
    }

    /// Asks `source` for a histogram's buckets now; in a real run the answer is journaled.
    /// Only its own check asks it, and that check's state takes one reading per moment.
    async fn query_buckets(
        &self,
        source: &str,
        query: &str,
    ) -> Result<Option<Buckets>, MetricsError> {
        let asked = self.clock.elapsed();
        let answer = self.providers.metrics[source]
            .buckets(query, self.clock.now())
            .await;
        if self.mode == Mode::Run {
            let took = self.clock.elapsed().saturating_sub(asked).as_secs_f64();
            let buckets = answer
                .as_ref()
                .ok()
                .and_then(Option::as_ref)
                .map(|b| b.iter().map(|(le, count)| (le_text(*le), *count)).collect());
            self.emit(Event::Queried {
                source: source.to_string(),
                query: query.to_string(),
                value: None,
                buckets,
                error: answer.as_ref().err().map(|e| e.0.clone()),
                took: Some(took),
            });
        }
        answer
    }

    /// Observes `checks` for at least `duration`, evaluating every `interval`. Checks whose
    /// `on-no-data` is `hold` keep the window open until they have a verdict.
    pub(super) async fn observe(
        &self,
        step: &str,
        duration: Duration,
        interval: Duration,
        checks: &[String],
        group: Group,
    ) -> Observation {
        let start = self.clock.elapsed();
        let mut last: BTreeMap<String, Judged> = BTreeMap::new();
        let mut failures: BTreeMap<&str, u32> = BTreeMap::new();
        let mut with_data: BTreeMap<&str, f64> = BTreeMap::new();
        let mut windows: BTreeMap<String, WindowSamples> = BTreeMap::new();
        let mut round = 1u32;
        // Counters read as the observation starts are the zero point: the first evaluation
        // judges the first interval instead of only taking that reading.
        for name in checks {
            if self.counts_unread(name, group) {
                self.look_at(name, group).await;
            }
        }
        loop {
            self.clock.sleep_until(start + interval * round).await;
            for name in checks {
                let check = &self.plan.checks[name];
                let unit = check.unit();
                let mut seen = self.look_at(name, group).await;
                if seen.canary.is_some() {
                    *with_data.entry(name).or_default() += 1.0;
                }
                // Without a `samples` query, `min-samples` counts evaluations that had data.
                if seen.samples.is_none() && check.samples.is_none() {
                    seen.samples = with_data.get(name.as_str()).copied();
                }
                windows.entry(name.clone()).or_default().add(
                    seen.canary,
                    seen.baseline,
                    seen.counts,
                );
                let judged = judge(check, unit, seen);
                self.emit(Event::CheckEvaluated(Box::new(Evaluation {
                    step: step.to_string(),
                    check: name.clone(),
                    value: seen.canary,
                    baseline: seen.baseline,
                    threshold: describe(check),
                    verdict: judged.verdict,
                    why: judged.why.clone(),
                    window: interval.as_secs_f64(),
                    samples: seen.samples,
                    method: if check.sequential() {
                        Method::Sequential
                    } else {
                        Method::Threshold
                    },
                    evidence: seen.evidence,
                    statistic: None,
                    p_value: None,
                })));
                let count = failures.entry(name).or_default();
                *count = if matches!(judged.verdict, Verdict::Fail | Verdict::Critical) {
                    *count + 1
                } else {
                    0
                };
                let limit = check.failure_limit.unwrap_or(1);
                // The sequential test has weighed every interval already, and a burn-rate rule
                // its windows: either decides at once.
                let decided =
                    seen.evidence.is_some_and(|e| e.regressed()) || seen.burning.is_some();
                if judged.verdict == Verdict::Critical || decided || *count >= limit {
                    let times = if judged.verdict == Verdict::Critical || decided {
                        String::new()
                    } else {
                        format!(" ({count} in a row)")
                    };
                    return Observation::Failed(Reason {
                        message: format!(
                            "{name} {}{times} at {step}",
                            judged.why.clone().unwrap_or_default()
                        ),
                        check: Some(name.clone()),
                        value: seen.canary,
                        baseline: seen.baseline,
                        threshold: Some(describe(check)),
                        window: Some(interval.as_secs_f64()),
                        step: Some(step.to_string()),
                        router: None,
                        evidence: seen.evidence.filter(|e| e.regressed()).map(Box::new),
                    });
                }
                last.insert(name.clone(), judged);
            }
            let waited = self.clock.elapsed() - start;
            let holding = last.iter().any(|(n, j)| {
                j.verdict == Verdict::Inconclusive
                    && self.plan.checks[n].on_no_data == OnNoData::Hold
            });
            if waited >= duration && !holding {
                for name in checks {
                    if let Some(j) = self.judge_window(step, name, &windows, interval) {
                        last.insert(name.clone(), j);
                    }
                }
                return Observation::Done(last);
            }
            round += 1;
        }
    }
}

impl RunContext {
    /// At a window's end, the verdict of a check whose method judges windows (`z-test`,
    /// `mann-whitney`), emitted as an evaluation; `None` for other checks.
    fn judge_window(
        &self,
        step: &str,
        name: &str,
        windows: &BTreeMap<String, WindowSamples>,
        interval: Duration,
    ) -> Option<Judged> {
        let check = &self.plan.checks[name];
        let window = windows.get(name)?;
        let judged = judge_window(check, window)?;
        self.emit(Event::CheckEvaluated(Box::new(Evaluation {
            step: step.to_string(),
            check: name.to_string(),
            value: judged.canary,
            baseline: judged.baseline,
            threshold: describe(check),
            verdict: judged.verdict,
            why: Some(judged.why.clone()),
            window: interval.as_secs_f64() * window.canary.len().max(1) as f64,
            samples: Some(window.counts.canary_total).filter(|n| *n > 0.0),
            method: judged.method,
            evidence: None,
            statistic: judged.statistic,
            p_value: judged.p_value,
        })));
        Some(Judged {
            verdict: judged.verdict,
            why: Some(judged.why),
        })
    }
}

/// The weighted share of checks that passed among those with a verdict; `None` if none had one.
pub fn health_score(
    verdicts: &BTreeMap<String, Judged>,
    weight: impl Fn(&str) -> f64,
) -> Option<f64> {
    let judged: Vec<(f64, bool)> = verdicts
        .iter()
        .filter(|(_, j)| j.verdict != Verdict::Inconclusive)
        .map(|(n, j)| (weight(n), j.verdict == Verdict::Pass))
        .collect();
    let total: f64 = judged.iter().map(|(w, _)| w).sum();
    (total > 0.0).then(|| {
        judged
            .iter()
            .filter(|(_, ok)| *ok)
            .map(|(w, _)| w)
            .sum::<f64>()
            / total
    })
}

/// A check's value for people.
pub fn show(shared: &RunContext, check: &str, v: f64) -> String {
    threshold::show(v, shared.plan.checks[check].unit())
}
