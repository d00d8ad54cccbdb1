//! The plan's notifications: its `notify` says which events go to which targets; each
//! message's text is a handlebars template (shipped, or the plan's own for that event). This
//! reporter only turns events into messages: a real run sends them to its chat notifiers in
//! the background (a slow or failing chat never holds up the rollout), and a dry-run records
//! what it would send.

use crate::event::{Event, Outcome, Stamped};
use crate::plan::notify::{Notify, NotifyEvent};
use crate::plan::Plan;
use crate::providers::notifiers::Message;
use handlebars::Handlebars;
use serde_json::{json, Value};

/// A notify step's message (`notification-asked`).
pub fn step_message(plan: &str, step: &str, text: &str) -> Message {
    Message {
        event: "step".into(),
        step: Some(step.into()),
        plan: plan.into(),
        title: plan.into(),
        text: text.into(),
        good: None,
    }
}

/// The shipped text of each event's message.
fn default_template(e: NotifyEvent) -> &'static str {
    match e {
        NotifyEvent::Started => "Rollout of {{plan}} started.",
        NotifyEvent::PhasePromoted => "{{router}} now sends {{weight}} to the canary.",
        NotifyEvent::GateWaiting => "{{step}} waits for approval by {{approvers}}.",
        NotifyEvent::Paused => "Paused at {{step}}: {{reason}}. Every router holds where it is: {{how}}. Nobody deciding, it {{after}}.",
        NotifyEvent::RolledBack => "Rolled back: {{reason}}{{#if check}}\ncheck {{check}}: canary {{canary}}, baseline {{baseline}}{{/if}}",
        NotifyEvent::Promoted => "{{plan}} was promoted: the canary takes all traffic.",
        NotifyEvent::Aborted => "Aborted, routers put back: {{reason}}",
    }
}

fn title(e: NotifyEvent, plan: &str) -> String {
    match e {
        NotifyEvent::Started => format!("{plan}: rollout started"),
        NotifyEvent::PhasePromoted => format!("{plan}: next phase"),
        NotifyEvent::GateWaiting => format!("{plan}: waiting for approval"),
        NotifyEvent::Paused => format!("{plan}: paused"),
        NotifyEvent::RolledBack => format!("{plan}: rolled back"),
        NotifyEvent::Promoted => format!("{plan}: promoted"),
        NotifyEvent::Aborted => format!("{plan}: aborted"),
    }
}

pub struct Chat {
    plan: String,
    notify: Notify,
    /// The chat targets in `notify.to` (a `github` target keeps the PR comment instead).
    chats: Vec<String>,
    templates: Handlebars<'static>,
    shifts: usize,
    rolling_back: bool,
}

impl Chat {
    /// For a plan with `notify`; `None` otherwise.
    pub fn new(plan: &Plan) -> Option<Chat> {
        let notify = plan.notify.clone()?;
        let mut templates = Handlebars::new();
        // Chat messages are plain text: nothing to escape.
        templates.register_escape_fn(handlebars::no_escape);
        for e in NotifyEvent::ALL {
            let text = notify
                .messages
                .get(e.name())
                .map(String::as_str)
                .unwrap_or(default_template(e));
            // Validation checked the plan's templates parse; the shipped ones are tested.
            templates
                .register_template_string(e.name(), text)
                .expect("validated templates parse");
        }
        let chats = notify
            .to
            .iter()
            .filter(|to| {
                plan.providers.get(*to).is_some_and(|p| {
                    p.has_role(crate::plan::provider::Role::Notifications)
                        && !matches!(p, crate::plan::Provider::Github(_))
                })
            })
            .cloned()
            .collect();
        Some(Chat {
            plan: plan.name.clone(),
            chats,
            notify,
            templates,
            shifts: 0,
            rolling_back: false,
        })
    }

    /// Where the plan's `notify` goes (its chat targets are those among a real run's notifiers).
    pub fn to(&self) -> &[String] {
        &self.notify.to
    }

    /// A dry-run's record of the message `e` calls for, if any, to the plan's chat targets.
    pub fn rehearse(&mut self, e: &Stamped) -> Option<Stamped> {
        if self.chats.is_empty() {
            return None;
        }
        let m = self.message(e)?;
        Some(Stamped {
            t: e.t,
            at: e.at,
            event: Event::NotificationSkipped {
                step: "notify".into(),
                to: self.chats.clone(),
                message: format!("{}: {}", m.title, m.text),
            },
        })
    }

    /// The message an event calls for, if the plan wants that event.
    pub fn message(&mut self, e: &Stamped) -> Option<Message> {
        let mut ctx = json!({ "plan": self.plan });
        let (event, good) = match &e.event {
            Event::RunStarted { .. } => (NotifyEvent::Started, None),
            Event::RollbackStarted { .. } => {
                self.rolling_back = true;
                return None;
            }
            Event::WeightShifted { router, to, .. } if !self.rolling_back => {
                self.shifts += 1;
                if self.shifts == 1 {
                    return None;
                }
                ctx["router"] = json!(router);
                ctx["weight"] = json!(to.to_string());
                (NotifyEvent::PhasePromoted, None)
            }
            Event::GateWaiting {
                step, approvers, ..
            } => {
                ctx["step"] = json!(step);
                ctx["approvers"] = json!(approvers.join(", "));
                (NotifyEvent::GateWaiting, None)
            }
            Event::Paused {
                step,
                reason,
                timeout,
                on_timeout,
                via,
                can_continue,
                ..
            } => {
                ctx["step"] = json!(step);
                ctx["reason"] = json!(reason.message);
                ctx["check"] = json!(reason.check);
                let w = super::pause::words(via, *can_continue, *on_timeout, *timeout);
                ctx["how"] = json!(w.how);
                ctx["after"] = json!(w.after);
                (NotifyEvent::Paused, None)
            }
            Event::RunFinished { outcome, reason } => {
                if let Some(r) = reason {
                    ctx["reason"] = json!(r.message);
                    ctx["check"] = json!(r.check);
                    let num = |v: Option<f64>| {
                        v.map(|v| {
                            crate::analysis::threshold::show(v, crate::plan::check::Unit::Number)
                        })
                        .map(Value::String)
                        .unwrap_or(Value::Null)
                    };
                    ctx["canary"] = num(r.value);
                    ctx["baseline"] = num(r.baseline);
                }
                ctx["outcome"] = json!(outcome);
                match outcome {
                    Outcome::Promoted => (NotifyEvent::Promoted, Some(true)),
                    Outcome::RolledBack | Outcome::RouterFailed => {
                        (NotifyEvent::RolledBack, Some(false))
                    }
                    Outcome::Aborted | Outcome::Failed => (NotifyEvent::Aborted, Some(false)),
                }
            }
            _ => return None,
        };
        if let Some(on) = &self.notify.on {
            if !on.contains(&event) {
                return None;
            }
        }
        ctx["event"] = json!(event.name());
        let text = self
            .templates
            .render(event.name(), &ctx)
            .unwrap_or_else(|e| format!("(the message template for {} failed: {e})", event.name()));
        Some(Message {
            event: event.name().into(),
            step: None,
            plan: self.plan.clone(),
            title: title(event, &self.plan),
            text,
            good,
        })
    }
}
