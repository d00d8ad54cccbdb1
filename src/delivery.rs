//! Deliveries of the reporters that talk to services while a run goes (chat, the pull-request
//! comment, deployment statuses). Each sends what it must in the background, so a slow or
//! failing service never holds the rollout up; each delivery comes back as a [`Delivered`],
//! which the run journals as a `notification-sent` event.

/// A delivery's result: to whom, about what, and the attempts it took or why it failed.
pub type Delivered = (String, String, Result<u32, String>);

/// Where deliveries are reported. A reporter's background work holds a clone while it may
/// still deliver, so the run knows its messages are out when every clone is gone.
pub type Deliveries = tokio::sync::mpsc::UnboundedSender<Delivered>;

/// Deliveries to one target (a `github` provider), reported under its name.
#[derive(Clone)]
pub struct Teller {
    to: String,
    deliveries: Deliveries,
}

impl Teller {
    pub fn new(to: &str, deliveries: &Deliveries) -> Teller {
        Teller {
            to: to.to_string(),
            deliveries: deliveries.clone(),
        }
    }

    /// Reports a delivery: the attempts it took, or why it failed.
    pub fn tell(&self, about: impl Into<String>, result: Result<u32, String>) {
        let _ = self
            .deliveries
            .send((self.to.clone(), about.into(), result));
    }
}
