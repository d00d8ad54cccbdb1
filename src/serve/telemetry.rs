//! The service's own telemetry, for `/metrics` in Prometheus' text format: rollouts started and
//! finished (by plan, outcome and what caused the ending), router write and metric query
//! latency, query errors, check evaluations by verdict, runs taken over, and at each scrape the
//! runs in the store by state. Fed from the events of the runs this process drives, through a
//! reporter on each, so nothing in the runner knows about it.

use crate::event::{Event, Outcome, Reason, Stamped};
use crate::journal::Record;
use crate::report::Reporter;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::Arc;

type Labels = Vec<(&'static str, String)>;
type Latency = Family<Labels, Histogram, fn() -> Histogram>;

/// Latency buckets from 1 ms to about 33 s.
fn latency() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

/// Every metric the service exports.
pub struct Telemetry {
    registry: Registry,
    started: Family<Labels, Counter>,
    finished: Family<Labels, Counter>,
    router_writes: Latency,
    queries: Latency,
    query_errors: Family<Labels, Counter>,
    evaluations: Family<Labels, Counter>,
    taken_over: Counter,
    appends: Histogram,
    handed_over: Counter,
    panicked: Counter,
    runs: Family<Labels, Gauge>,
    driving: Gauge,
}

impl Default for Telemetry {
    fn default() -> Telemetry {
        let mut registry = Registry::with_prefix("rollgate");
        let mut t = Telemetry {
            started: Family::default(),
            finished: Family::default(),
            router_writes: Family::new_with_constructor(latency as fn() -> Histogram),
            queries: Family::new_with_constructor(latency as fn() -> Histogram),
            query_errors: Family::default(),
            evaluations: Family::default(),
            taken_over: Counter::default(),
            appends: latency(),
            handed_over: Counter::default(),
            panicked: Counter::default(),
            runs: Family::default(),
            driving: Gauge::default(),
            // Filled below, once every metric is in it.
            registry: Registry::default(),
        };
        registry.register(
            "rollouts_started",
            "Rollouts this process started, by plan",
            t.started.clone(),
        );
        registry.register(
            "rollouts_finished",
            "Rollouts this process drove to their end, by plan, outcome and cause (the check that decided, or requested, store, router, other)",
            t.finished.clone(),
        );
        registry.register(
            "router_write_seconds",
            "How long each router took to take a weight, by router",
            t.router_writes.clone(),
        );
        registry.register(
            "metric_query_seconds",
            "How long each metric source took to answer, by source",
            t.queries.clone(),
        );
        registry.register(
            "metric_query_errors",
            "Metric queries that failed, by source",
            t.query_errors.clone(),
        );
        registry.register(
            "check_evaluations",
            "Check evaluations, by check and verdict",
            t.evaluations.clone(),
        );
        registry.register(
            "event_append_seconds",
            "How long the store took to keep each event of the runs this process drives",
            t.appends.clone(),
        );
        registry.register(
            "lease_takeovers",
            "Runs this process took over from a process that stopped driving them",
            t.taken_over.clone(),
        );
        registry.register(
            "runs_handed_over",
            "Runs this process handed over when told to stop",
            t.handed_over.clone(),
        );
        registry.register(
            "runs_panicked",
            "Runs whose task panicked here (each then taken back over and rolled back)",
            t.panicked.clone(),
        );
        registry.register(
            "runs",
            "Runs in the store, by state (running, paused, stopped, promoted, rolled-back, aborted, failed, router-failed), at the scrape",
            t.runs.clone(),
        );
        registry.register(
            "runs_driven",
            "Runs this process drives now",
            t.driving.clone(),
        );
        t.registry = registry;
        t
    }
}

impl Telemetry {
    /// A reporter feeding these metrics from one run of plan `plan`.
    pub fn reporter(self: &Arc<Self>, plan: String) -> Box<dyn Reporter> {
        Box::new(Observed {
            telemetry: self.clone(),
            plan,
        })
    }

    /// What to tell each journal append's time to.
    pub fn append_timing(self: &Arc<Self>) -> crate::journal::Timing {
        let t = self.clone();
        Arc::new(move |took| t.appends.observe(took.as_secs_f64()))
    }

    pub fn taken_over(&self) {
        self.taken_over.inc();
    }

    pub fn panicked(&self) {
        self.panicked.inc();
    }

    pub fn handed_over(&self, runs: usize) {
        self.handed_over.inc_by(runs as u64);
    }

    /// The metrics in Prometheus' (OpenMetrics) text format, with `runs` (every run in the
    /// store) counted by state and `driving` this process's.
    pub fn encode(&self, runs: &[Record], driving: usize) -> String {
        self.runs.clear();
        for r in runs {
            let state = crate::report::status::state(r);
            let word = state
                .split([',', ' '])
                .next()
                .unwrap_or_default()
                .to_string();
            self.runs.get_or_create(&vec![("state", word)]).inc();
        }
        self.driving.set(driving as i64);
        let mut text = String::new();
        encode(&mut text, &self.registry).expect("a String takes it");
        text
    }
}

/// What ended a run, in a word a label can carry (none for a run that ended without a reason).
fn cause(reason: Option<&Reason>) -> String {
    reason
        .map(|r| crate::event::cause(r.check.as_deref(), r.router.as_deref(), &r.message))
        .unwrap_or_default()
}

/// One run's events, counted.
struct Observed {
    telemetry: Arc<Telemetry>,
    plan: String,
}

impl Reporter for Observed {
    fn on(&mut self, e: &Stamped) {
        let t = &self.telemetry;
        match &e.event {
            Event::RunStarted { .. } => {
                t.started
                    .get_or_create(&vec![("plan", self.plan.clone())])
                    .inc();
            }
            Event::RunFinished { outcome, reason } => {
                t.finished
                    .get_or_create(&vec![
                        ("plan", self.plan.clone()),
                        ("outcome", outcome_word(*outcome)),
                        ("cause", cause(reason.as_deref())),
                    ])
                    .inc();
            }
            Event::WeightShifted {
                router,
                took: Some(took),
                ..
            } => t
                .router_writes
                .get_or_create(&vec![("router", router.clone())])
                .observe(*took),
            Event::Queried {
                source,
                took,
                error,
                ..
            } => {
                let labels = vec![("source", source.clone())];
                if let Some(took) = took {
                    t.queries.get_or_create(&labels).observe(*took);
                }
                if error.is_some() {
                    t.query_errors.get_or_create(&labels).inc();
                }
            }
            Event::CheckEvaluated(ev) => {
                let verdict = serde_json::to_value(ev.verdict)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                t.evaluations
                    .get_or_create(&vec![("check", ev.check.clone()), ("verdict", verdict)])
                    .inc();
            }
            _ => {}
        }
    }
}

fn outcome_word(o: Outcome) -> String {
    serde_json::to_value(o)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Route;

    fn at(event: Event) -> Stamped {
        Stamped {
            t: 0.0,
            at: chrono::Utc::now(),
            event,
        }
    }

    #[test]
    fn a_runs_events_become_metrics() {
        let t = Arc::new(Telemetry::default());
        let mut r = t.reporter("checkout".into());
        r.on(&at(Event::WeightShifted {
            router: "edge".into(),
            from: 0,
            to: Route::Weight { percent: 10 },
            took: Some(0.003),
        }));
        r.on(&at(Event::Queried {
            source: "prom".into(),
            query: "up".into(),
            value: None,
            buckets: None,
            error: Some("refused".into()),
            took: Some(0.2),
        }));
        r.on(&at(Event::RunFinished {
            outcome: Outcome::RolledBack,
            reason: Some(Box::new(Reason {
                check: Some("error-rate".into()),
                ..Reason::says("error-rate 5% > max 1%")
            })),
        }));
        t.taken_over();
        let text = t.encode(&[], 2);
        for line in [
            "rollgate_rollouts_finished_total{plan=\"checkout\",outcome=\"rolled-back\",cause=\"error-rate\"} 1",
            "rollgate_router_write_seconds_count{router=\"edge\"} 1",
            "rollgate_router_write_seconds_bucket{le=\"0.004\",router=\"edge\"} 1",
            "rollgate_metric_query_errors_total{source=\"prom\"} 1",
            "rollgate_metric_query_seconds_sum{source=\"prom\"} 0.2",
            "rollgate_lease_takeovers_total 1",
            "rollgate_runs_driven 2",
        ] {
            assert!(text.contains(line), "{line} not in:\n{text}");
        }
        assert!(text.ends_with("# EOF\n"));
    }
}
