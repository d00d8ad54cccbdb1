//! Providers, built in exactly one place from the plan's tagged provider enum, so every kind
//! is handled wherever providers are made.
//!
//! What exists today: for dry-runs, every router is [`traffic::Simulated`] and every metric
//! source replays the fixture; gates are decided by the fixture or `--approve`. Real routers,
//! metric sources, approvals and notifiers arrive with `rollgate run`.

pub mod approvals;
pub mod metrics;
pub mod traffic;

use crate::fixture::Fixture;
use crate::plan::{Plan, Provider};
use approvals::{Approvals, ApprovePolicy};
use metrics::MetricSource;
use std::collections::BTreeMap;
use std::sync::Arc;
use traffic::TrafficRouter;

/// The providers a run uses, by the names the plan gives them.
pub struct Providers {
    pub routers: BTreeMap<String, Arc<dyn TrafficRouter>>,
    pub metrics: BTreeMap<String, Arc<dyn MetricSource>>,
    pub approvals: Arc<dyn Approvals>,
    /// The dry-run's simulated routers, to read back what they were given.
    pub simulated: BTreeMap<String, Arc<traffic::Simulated>>,
}

/// Builds a dry-run's providers: simulated routers, the fixture as every metric source.
pub fn for_dry_run(plan: &Plan, fixture: Arc<Fixture>, approve: ApprovePolicy) -> Providers {
    let mut p = Providers {
        routers: BTreeMap::new(),
        metrics: BTreeMap::new(),
        approvals: Arc::new(approvals::Scripted::new(fixture.events.clone(), approve)),
        simulated: BTreeMap::new(),
    };
    for (name, provider) in &plan.providers {
        match provider {
            Provider::Haproxy(_) | Provider::Kubectl(_) | Provider::TrafficCommand(_) => {
                let sim = Arc::new(traffic::Simulated::new());
                p.simulated.insert(name.clone(), sim.clone());
                p.routers.insert(name.clone(), sim);
            }
            Provider::Prometheus(_) | Provider::MetricsCommand(_) => {
                p.metrics.insert(
                    name.clone(),
                    Arc::new(metrics::FixtureSource::new(name, fixture.clone())),
                );
            }
            // A dry-run records what it would send (events), so it needs no notifier; gates
            // are decided by the fixture whatever their `via`.
            Provider::Github(_)
            | Provider::Slack(_)
            | Provider::Teams(_)
            | Provider::Discord(_)
            | Provider::GoogleChat(_)
            | Provider::Webhook(_) => {}
        }
    }
    p
}
