//! Rollouts: phases that do something, weights that only go up, routings the router can do,
//! a rollback policy that fits, durations that are not zero and fit within `max-duration`.

use super::{path, Ctx};
use crate::diagnostics::{Code, Diagnostic};
use crate::plan::provider::Capability;
use crate::plan::rollback::RollbackMode;
use crate::plan::rollouts::{default_router, rollouts, Rollout};
use crate::plan::strategy::Strategy;
use crate::plan::trigger::TriggerAction;
use crate::plan::Duration;
use std::collections::HashMap;

/// The minimum time a rollout spends observing.
pub fn observed(r: &Rollout) -> std::time::Duration {
    r.phases
        .iter()
        .filter_map(|s| s.phase.observe)
        .map(|d| d.0)
        .sum()
}

pub fn check(ctx: &Ctx<'_>, out: &mut Vec<Diagnostic>) {
    let plan = ctx.plan;
    if plan.strategy.is_some() && !plan.phases.is_empty() {
        out.push(
            Diagnostic::error(
                Code::ConflictingKeys,
                "the plan has both `strategy` and `phases`",
            )
            .at(ctx.key_span(&path(&["phases"])))
            .help("a strategy is a shorthand that expands into phases; keep one of the two"),
        );
    }
    for (i, a) in ctx.actions.iter().enumerate() {
        if let crate::plan::step::Action::Rollout(w) = a {
            if w.strategy.is_some() && w.phases.is_some() {
                out.push(
                    Diagnostic::error(
                        Code::ConflictingKeys,
                        "this rollout step has both `strategy` and `phases`",
                    )
                    .at(ctx.key_span(&path(&["steps", &i.to_string(), "with", "phases"])))
                    .help("keep one of the two"),
                );
            }
        }
    }
    for r in rollouts(plan, ctx.actions) {
        one_rollout(ctx, &r, out);
    }
    rollback_policy(ctx, out);
    zero_durations(ctx, out);
}

fn one_rollout(ctx: &Ctx<'_>, r: &Rollout, out: &mut Vec<Diagnostic>) {
    let plan = ctx.plan;
    if r.phases.is_empty() {
        let (at, msg) = match r.step {
            Some(i) => (
                path(&["steps", &i.to_string(), "uses"]),
                "this rollout step has no phases, and the plan has none to lend it",
            ),
            None => (
                path(&["name"]),
                "the plan has no phases, strategy or steps: it would do nothing",
            ),
        };
        out.push(
            Diagnostic::error(Code::MissingKey, msg)
                .at(ctx.key_span(&at))
                .help("add `strategy:` (e.g. `canary: { weights: [5, 25, 100], observe: 10m }`) or `phases:`"),
        );
        return;
    }
    let router_name = r
        .router
        .as_ref()
        .map(|(n, _)| n.as_str())
        .or_else(|| default_router(plan));
    let router = router_name.and_then(|n| plan.providers.get(n).map(|p| (n, p)));
    let mut last: Option<(u8, String)> = None;
    let mut names: HashMap<&str, &Vec<String>> = HashMap::new();
    for site in &r.phases {
        let ph = &site.phase;
        if let Some(first) = names.insert(&ph.name, &site.path) {
            if site.path != *first {
                out.push(
                    Diagnostic::error(
                        Code::DuplicateId,
                        format!("two phases are named `{}` in this rollout", ph.name),
                    )
                    .at(ctx.span(&[site.path.clone(), path(&["name"])].concat()))
                    .help("phase names become step ids; give each phase its own name"),
                );
            }
        }
        let routes = ph.weight.is_some() || ph.mirror.is_some() || ph.match_.is_some();
        let judges = ph.checks.is_some() || ph.min_score.is_some() || ph.pass_score.is_some();
        if let (Some(min), Some(pass)) = (ph.min_score, ph.pass_score) {
            if pass < min {
                out.push(
                    Diagnostic::error(
                        Code::ContradictoryThresholds,
                        format!("phase `{}` passes at a score of {pass} but rolls back below {min}", ph.name),
                    )
                    .at(ctx.span(&[site.path.clone(), path(&["pass-score"])].concat()))
                    .help("`min-score` is the marginal threshold and lies below `pass-score`, e.g. `min-score: 0.75, pass-score: 0.95`"),
                );
            }
        }
        if !routes && !judges && ph.observe.is_none() && ph.gate.is_none() {
            out.push(
                Diagnostic::error(
                    Code::MissingKey,
                    format!("phase `{}` does nothing", ph.name),
                )
                .at(ctx.key_span(&site.path))
                .help("give it a `weight`, an `observe` time or a `gate`"),
            );
        }
        if ph.observe.is_none() && judges {
            out.push(
                Diagnostic::error(
                    Code::MissingKey,
                    format!("phase `{}` names checks but never observes", ph.name),
                )
                .at(ctx.key_span(&site.path))
                .help("add `observe:` with how long to watch, e.g. `observe: 5m`"),
            );
        }
        if let Some(w) = ph.weight {
            if let Some((prev, prev_name)) = &last {
                if w.0 < *prev {
                    out.push(
                        Diagnostic::error(Code::WeightsDecrease, format!("weight {} in phase `{}` is lower than {prev} in `{prev_name}` before it", w.0, ph.name))
                            .at(ctx.span(&site.weight_path))
                            .help("weights only go up during a rollout; reorder the phases, and leave going back to `rollback`"),
                    );
                }
            }
            last = Some((w.0, ph.name.clone()));
        }
        let Some((rname, router)) = router else {
            continue;
        };
        for (needed, wanted, what) in [
            (ph.mirror.is_some(), Capability::Mirror, "mirror traffic"),
            (
                ph.match_.is_some(),
                Capability::HeaderMatch,
                "route by header",
            ),
        ] {
            if needed && !router.capabilities().contains(&wanted) {
                let at = match &r.strategy {
                    Some((_, sp)) => sp.clone(),
                    None => [
                        site.path.clone(),
                        path(&[if wanted == Capability::Mirror {
                            "mirror"
                        } else {
                            "match"
                        }]),
                    ]
                    .concat(),
                };
                out.push(
                    Diagnostic::error(Code::UnsupportedStrategy, format!("router `{rname}` ({}) cannot {what}", router.kind()))
                        .at(ctx.key_span(&at))
                        .help(format!(
                            "use a router that can: `kind: gateway-api` or `kind: istio`, or a `traffic-command` with `supports: [{}]`",
                            if wanted == Capability::Mirror { "mirror" } else { "header-match" }
                        )),
                );
            }
        }
    }
    if matches!(r.strategy, Some((Strategy::BlueGreen(_), _)))
        && plan.rollback.mode == RollbackMode::Gradual
    {
        out.push(
            Diagnostic::error(
                Code::ConflictingKeys,
                "a blue-green rollout switches back at once; a gradual rollback does not fit it",
            )
            .at(ctx.key_span(&path(&["rollback", "mode"])))
            .help("use `mode: immediate`, or a `canary` strategy if traffic should move in steps"),
        );
    }
    if let Some(max) = plan.max_duration {
        let need = observed(r);
        if need > max.0 && plan.steps.is_empty() {
            out.push(
                Diagnostic::error(
                    Code::ExceedsMaxDuration,
                    format!(
                        "the phases observe for at least {}, longer than `max-duration: {max}`",
                        Duration(need)
                    ),
                )
                .at(ctx.span(&path(&["max-duration"])))
                .help("raise `max-duration` or shorten the phases' `observe` times"),
            );
        }
    }
}

fn rollback_policy(ctx: &Ctx<'_>, out: &mut Vec<Diagnostic>) {
    let rb = &ctx.plan.rollback;
    let here = |k: &str| path(&["rollback", k]);
    // After a rollback stable serves everything, so verification reads each check's baseline.
    if let Some(verify) = &rb.verify {
        let listed: Vec<(String, Vec<String>)> = match &verify.checks {
            Some(names) => names
                .iter()
                .enumerate()
                .map(|(j, n)| {
                    (
                        n.clone(),
                        path(&["rollback", "verify", "checks", &j.to_string()]),
                    )
                })
                .collect(),
            None => ctx
                .plan
                .checks
                .keys()
                .map(|n| (n.clone(), path(&["rollback", "verify"])))
                .collect(),
        };
        for (name, at) in listed {
            if ctx
                .plan
                .checks
                .get(&name)
                .is_some_and(|c| c.baseline.is_none())
            {
                out.push(
                    Diagnostic::error(Code::MissingBaseline, format!("rollback verification uses `{name}`, which has no `baseline` query"))
                        .at(ctx.span(&at))
                        .help(format!("after a rollback the canary serves nothing; give `{name}` a `baseline:` query for the stable version, or verify with other checks")),
                );
            }
        }
    }
    // Triggers may roll back gradually even when the plan's default is immediate.
    let gradual_trigger =
        ctx.plan.triggers.iter().position(|t| {
            t.then == TriggerAction::Rollback && t.mode == Some(RollbackMode::Gradual)
        });
    let gradual_at = match (rb.mode, gradual_trigger) {
        (RollbackMode::Gradual, _) => Some(here("mode")),
        (RollbackMode::Immediate, Some(i)) => Some(path(&["triggers", &i.to_string(), "mode"])),
        (RollbackMode::Immediate, None) => None,
    };
    let Some(gradual_at) = gradual_at else {
        for (key, set) in [
            ("weights", rb.weights.is_some()),
            ("step", rb.step.is_some()),
            ("every", rb.every.is_some()),
        ] {
            if set {
                out.push(
                    Diagnostic::error(
                        Code::ConflictingKeys,
                        format!(
                            "`{key}` shapes a gradual rollback, but nothing rolls back gradually"
                        ),
                    )
                    .at(ctx.key_span(&here(key)))
                    .help(
                        "set `mode: gradual` (or `mode: gradual` on a trigger), or remove this key",
                    ),
                );
            }
        }
        return;
    };
    match (&rb.weights, rb.step) {
        (None, None) => out.push(
            Diagnostic::error(
                Code::MissingKey,
                "a gradual rollback needs the weights to step down through",
            )
            .at(ctx.key_span(&gradual_at))
            .help("add `weights: [50, 25, 0]` or `step: 20` under `rollback:`"),
        ),
        (Some(_), Some(_)) => out.push(
            Diagnostic::error(
                Code::ConflictingKeys,
                "a gradual rollback takes `weights` or `step`, not both",
            )
            .at(ctx.key_span(&here("step")))
            .help("keep one of the two"),
        ),
        (Some(ws), None) => {
            let descending = ws.windows(2).all(|p| p[1].0 < p[0].0);
            if !descending || ws.last().map(|w| w.0) != Some(0) {
                out.push(
                    Diagnostic::error(Code::BadValue, "rollback weights must go down and end at 0")
                        .at(ctx.span(&here("weights")))
                        .help("e.g. `weights: [50, 25, 5, 1, 0]`"),
                );
            }
        }
        (None, Some(_)) => {}
    }
    if rb.every.is_none() {
        out.push(
            Diagnostic::error(
                Code::MissingKey,
                "a gradual rollback needs `every`: how long each step is held",
            )
            .at(ctx.key_span(&gradual_at))
            .help("add e.g. `every: 1m` under `rollback:`"),
        );
    }
}

fn zero_durations(ctx: &Ctx<'_>, out: &mut Vec<Diagnostic>) {
    for (key, text, at) in &ctx.found.zero_durations {
        let help = if key == "observe" {
            "omit `observe` to move on without watching"
        } else {
            "use a positive duration, e.g. `30s`"
        };
        out.push(
            Diagnostic::error(
                Code::BadDuration,
                format!("`{key}: {text}` is an empty duration"),
            )
            .at(ctx.span(at))
            .help(help),
        );
    }
}
