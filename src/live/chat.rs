//! The chat reporter of a real run: each message the plan's `notify` calls for goes to its
//! chat targets, and a notify step's to the step's; each delivery in its own task, reported
//! back as a [`Delivered`](crate::delivery::Delivered).

use crate::delivery::Deliveries;
use crate::event::{Event, Stamped};
use crate::plan::Plan;
use crate::providers::notifiers::{Notifier, Transport};
use crate::report::chat::{step_message, Chat};
use crate::report::Reporter;
use std::collections::BTreeMap;
use std::sync::Arc;

pub struct ChatReporter {
    plan: String,
    chat: Option<Chat>,
    notifiers: BTreeMap<String, Arc<dyn Notifier>>,
    transport: Arc<dyn Transport>,
    deliveries: Deliveries,
}

impl ChatReporter {
    pub fn new(
        plan: &Plan,
        notifiers: BTreeMap<String, Arc<dyn Notifier>>,
        transport: Arc<dyn Transport>,
        deliveries: Deliveries,
    ) -> ChatReporter {
        ChatReporter {
            plan: plan.name.clone(),
            chat: Chat::new(plan),
            notifiers,
            transport,
            deliveries,
        }
    }
}

impl Reporter for ChatReporter {
    fn on(&mut self, e: &Stamped) {
        let (m, to) = match (&e.event, self.chat.as_mut()) {
            (Event::NotificationAsked { step, to, message }, _) => {
                (step_message(&self.plan, step, message), to.clone())
            }
            (_, Some(chat)) => match chat.message(e) {
                Some(m) => (m, chat.to().to_vec()),
                None => return,
            },
            (_, None) => return,
        };
        // Targets that are no chat (GitHub) are reported on by their own reporters.
        for (to, notifier) in to
            .into_iter()
            .filter_map(|t| self.notifiers.get(&t).map(|n| (t, n)))
        {
            let request = notifier.request(&m);
            let about = m.event.clone();
            let (transport, done) = (self.transport.clone(), self.deliveries.clone());
            tokio::spawn(async move {
                let result = transport.send(&request).await;
                let _ = done.send((to, about, result));
            });
        }
    }
}
