//! Names that refer to other parts of the plan: providers, checks, routers.

use super::{path, Ctx};
use crate::diagnostics::{Code, Diagnostic};
use crate::plan::notify::NotifyEvent;
use crate::plan::provider::Role;
use crate::plan::rollouts::{default_router, rollouts};
use crate::plan::step::Action;
use crate::plan::trigger::HEALTH_SCORE;

fn suggest(word: &str, names: &[&str]) -> String {
    crate::diagnostics::suggest(word, names, "declared: ", "none is declared")
}

/// A provider named at `at` must exist and be able to play `role`.
fn provider(ctx: &Ctx<'_>, name: &str, role: Role, at: &[String], out: &mut Vec<Diagnostic>) {
    let plan = ctx.plan;
    match plan.providers.get(name) {
        None => {
            let fitting = plan
                .providers
                .iter()
                .filter(|(_, p)| p.has_role(role))
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>();
            out.push(
                Diagnostic::error(
                    Code::UnknownProvider,
                    format!("no provider `{name}` is declared"),
                )
                .at(ctx.span(at))
                .help(match role {
                    // `via` also takes `cli`, which is no provider.
                    Role::Approvals => format!(
                        "{}; `via` is `cli` (decisions from a terminal) or the name of a `github` provider (decisions from PR comments)",
                        suggest(name, &fitting)
                    ),
                    _ => format!(
                        "{} ({} is needed here)",
                        suggest(name, &fitting),
                        article(role.noun())
                    ),
                }),
            );
        }
        Some(p) if !p.has_role(role) => {
            let fitting: Vec<&str> = plan
                .providers
                .iter()
                .filter(|(_, p)| p.has_role(role))
                .map(|(n, _)| n.as_str())
                .collect();
            out.push(
                Diagnostic::error(
                    Code::WrongProviderKind,
                    format!(
                        "provider `{name}` is {} ({}), not {}",
                        article(role_of(p)),
                        p.kind(),
                        article(role.noun())
                    ),
                )
                .at(ctx.span(at))
                .help(if fitting.is_empty() {
                    format!("declare {} under `providers:`", article(role.noun()))
                } else {
                    format!("use one of: {}", fitting.join(", "))
                }),
            );
        }
        Some(_) => {}
    }
}

fn article(noun: &str) -> String {
    let an = noun.starts_with(['a', 'e', 'i', 'o', 'u']);
    format!("{} {noun}", if an { "an" } else { "a" })
}

fn role_of(p: &crate::plan::Provider) -> &'static str {
    [
        Role::Router,
        Role::Metrics,
        Role::Approvals,
        Role::Notifications,
    ]
    .into_iter()
    .find(|r| p.has_role(*r))
    .map(Role::noun)
    .unwrap_or("provider")
}

pub fn check(ctx: &Ctx<'_>, out: &mut Vec<Diagnostic>) {
    let plan = ctx.plan;
    let checks: Vec<&str> = plan.checks.keys().map(String::as_str).collect();

    if plan.checks.contains_key(HEALTH_SCORE) {
        out.push(
            Diagnostic::error(Code::ReservedName, format!("`{HEALTH_SCORE}` is the weighted score across checks; a check cannot take that name"))
                .at(ctx.key_span(&path(&["checks", HEALTH_SCORE])))
                .help("rename the check, e.g. `health`"),
        );
    }
    for (name, c) in &plan.checks {
        provider(
            ctx,
            &c.source,
            Role::Metrics,
            &path(&["checks", name, "source"]),
            out,
        );
    }
    if let Some(r) = &plan.router {
        provider(ctx, r, Role::Router, &path(&["router"]), out);
    }
    for (i, t) in plan.triggers.iter().enumerate() {
        if t.check != HEALTH_SCORE && !plan.checks.contains_key(&t.check) {
            out.push(
                Diagnostic::error(
                    Code::UnknownCheck,
                    format!(
                        "trigger watches `{}`, which is not a check of this plan",
                        t.check
                    ),
                )
                .at(ctx.span(&path(&["triggers", &i.to_string(), "check"])))
                .help(suggest(
                    &t.check,
                    &[checks.as_slice(), &[HEALTH_SCORE]].concat(),
                )),
            );
        }
    }
    if let Some(n) = &plan.notify {
        let events: Vec<&str> = NotifyEvent::ALL.iter().map(|e| e.name()).collect();
        for (key, template) in &n.messages {
            let at = path(&["notify", "messages", key]);
            if !events.contains(&key.as_str()) {
                out.push(
                    Diagnostic::error(
                        Code::BadValue,
                        format!("`{key}` is not an event a message can be for"),
                    )
                    .at(ctx.key_span(&at))
                    .help(crate::diagnostics::suggest(key, &events, "events: ", "")),
                );
            } else if let Err(e) =
                handlebars::Handlebars::new().register_template_string(key, template)
            {
                out.push(
                    Diagnostic::error(
                        Code::BadValue,
                        format!(
                            "the message template for `{key}` does not parse: {}",
                            e.reason()
                        ),
                    )
                    .at(ctx.span(&at))
                    .help("a handlebars template, e.g. `\"{{plan}} rolled back: {{reason}}\"`"),
                );
            }
        }
        for (i, to) in n.to.iter().enumerate() {
            provider(
                ctx,
                to,
                Role::Notifications,
                &path(&["notify", "to", &i.to_string()]),
                out,
            );
        }
    }

    for (name, role, at) in &ctx.found.provider_refs {
        provider(ctx, name, *role, at, out);
    }
    for (name, at) in &ctx.found.check_refs {
        let help = if *name == HEALTH_SCORE {
            "the health score is judged by a phase's `min-score`, or watched by a trigger"
                .to_string()
        } else {
            suggest(name, &checks)
        };
        out.push(
            Diagnostic::error(
                Code::UnknownCheck,
                format!("`{name}` is not a check of this plan"),
            )
            .at(ctx.span(at))
            .help(help),
        );
    }
    for (i, a) in ctx.actions.iter().enumerate() {
        if let Action::Notify(n) = a {
            for (j, to) in n.to.iter().enumerate() {
                provider(
                    ctx,
                    to,
                    Role::Notifications,
                    &path(&["steps", &i.to_string(), "with", "to", &j.to_string()]),
                    out,
                );
            }
        }
    }

    // Every rollout and shift needs a router: named, or the plan's only one.
    let routers: Vec<&str> = plan
        .providers
        .iter()
        .filter(|(_, p)| p.has_role(Role::Router))
        .map(|(n, _)| n.as_str())
        .collect();
    let mut needs_default = Vec::new();
    for r in rollouts(plan, ctx.actions) {
        if r.router.is_none()
            && r.phases.iter().any(|s| {
                s.phase.weight.is_some() || s.phase.mirror.is_some() || s.phase.match_.is_some()
            })
        {
            needs_default.push(match r.step {
                Some(i) => path(&["steps", &i.to_string()]),
                None => r
                    .phases
                    .first()
                    .map(|s| s.path[..1].to_vec())
                    .unwrap_or_default(),
            });
        }
    }
    for (i, a) in ctx.actions.iter().enumerate() {
        if let Action::Shift(s) = a {
            if s.router.is_none() && plan.router.is_none() {
                needs_default.push(path(&["steps", &i.to_string()]));
            }
        }
    }
    if default_router(plan).is_none() {
        for at in needs_default {
            let d = if routers.is_empty() {
                Diagnostic::error(Code::AmbiguousRouter, "the plan shifts traffic but declares no traffic router")
                    .help("add one under `providers:`, e.g. `edge: { kind: haproxy, socket: /run/haproxy/admin.sock, backend: app, stable: stable, canary: canary }`")
            } else {
                Diagnostic::error(
                    Code::AmbiguousRouter,
                    format!(
                        "several traffic routers ({}) and none chosen",
                        routers.join(", ")
                    ),
                )
                .help(format!(
                    "add `router: {}` at the top of the plan, or in this step's `with:`",
                    routers[0]
                ))
            };
            out.push(d.at(ctx.key_span(&at)));
        }
    }
}
