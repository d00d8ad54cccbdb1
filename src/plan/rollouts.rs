//! The rollouts a plan describes: its own phases (or strategy) when it has no steps, and each
//! `uses: rollout` step otherwise. Semantic checks and the compiler both walk this one list.

use super::phase::Phase;
use super::provider::Role;
use super::step::Action;
use super::strategy::Strategy;
use super::Plan;

/// Where in the plan a phase was written (a path of keys and indices).
pub type Path = Vec<String>;

/// One phase and where to point at it.
#[derive(Clone, Debug)]
pub struct PhaseSite {
    pub phase: Phase,
    /// The phase itself, or the strategy preset it came from.
    pub path: Path,
    /// Where its weight was written.
    pub weight_path: Path,
}

/// One rollout: a sequence of phases against one router.
#[derive(Clone, Debug)]
pub struct Rollout {
    /// The `uses: rollout` step, or `None` for the plan-level rollout.
    pub step: Option<usize>,
    /// The router named for this rollout, if any (else the plan's default).
    pub router: Option<(String, Path)>,
    pub phases: Vec<PhaseSite>,
    /// The strategy the phases came from, if any, with its path.
    pub strategy: Option<(Strategy, Path)>,
}

fn key_path(parts: &[&str]) -> Path {
    parts.iter().map(|s| s.to_string()).collect()
}

fn with(base: &Path, more: &[&str]) -> Path {
    let mut v = base.clone();
    v.extend(more.iter().map(|s| s.to_string()));
    v
}

fn sites(
    strategy: Option<&Strategy>,
    phases: &[Phase],
    base: &Path,
) -> (Vec<PhaseSite>, Option<(Strategy, Path)>) {
    if let Some(s) = strategy {
        let spath = with(base, &["strategy", s.name()]);
        let expanded = s.phases();
        let weights_from_list = matches!(s, Strategy::Canary(_));
        let mut i = 0;
        let out = expanded
            .into_iter()
            .map(|phase| {
                let weight_path = if weights_from_list && phase.weight.is_some() {
                    let wp = with(&spath, &["weights", &i.to_string()]);
                    i += 1;
                    wp
                } else {
                    spath.clone()
                };
                PhaseSite {
                    phase,
                    path: spath.clone(),
                    weight_path,
                }
            })
            .collect();
        return (out, Some((s.clone(), spath)));
    }
    let out = phases
        .iter()
        .enumerate()
        .map(|(i, phase)| {
            let path = with(base, &["phases", &i.to_string()]);
            PhaseSite {
                phase: phase.clone(),
                weight_path: with(&path, &["weight"]),
                path,
            }
        })
        .collect();
    (out, None)
}

/// Every rollout of the plan, in order.
pub fn rollouts(plan: &Plan, actions: &[Action]) -> Vec<Rollout> {
    let top = |plan: &Plan| sites(plan.strategy.as_ref(), &plan.phases, &Path::new());
    let plan_router = plan.router.clone().map(|r| (r, key_path(&["router"])));
    if plan.steps.is_empty() {
        let (phases, strategy) = top(plan);
        return vec![Rollout {
            step: None,
            router: plan_router,
            phases,
            strategy,
        }];
    }
    actions
        .iter()
        .enumerate()
        .filter_map(|(i, a)| match a {
            Action::Rollout(w) => {
                let base = key_path(&["steps", &i.to_string(), "with"]);
                let (phases, strategy) = if w.strategy.is_some() || w.phases.is_some() {
                    sites(
                        w.strategy.as_ref(),
                        w.phases.as_deref().unwrap_or_default(),
                        &base,
                    )
                } else {
                    top(plan)
                };
                let router = match &w.router {
                    Some(r) => Some((r.clone(), with(&base, &["router"]))),
                    None => plan_router.clone(),
                };
                Some(Rollout {
                    step: Some(i),
                    router,
                    phases,
                    strategy,
                })
            }
            _ => None,
        })
        .collect()
}

/// The router used where none is named: the plan's `router`, or its only traffic router.
pub fn default_router(plan: &Plan) -> Option<&str> {
    if let Some(r) = &plan.router {
        return Some(r);
    }
    let mut routers = plan
        .providers
        .iter()
        .filter(|(_, p)| p.has_role(Role::Router));
    match (routers.next(), routers.next()) {
        (Some((name, _)), None) => Some(name),
        _ => None,
    }
}
