//! Reporters that talk to services while a run goes (chat, the pull-request comment,
//! deployment statuses). Each is shown every event and sends what it must in the background,
//! so a slow or failing service never holds the rollout up; each delivery comes back as a
//! [`Delivered`], which the run journals as a `notification-sent` event.

use crate::runner::events::Stamped;

/// A delivery's result: to whom, about what, and the attempts it took or why it failed.
pub type Delivered = (String, String, Result<u32, String>);

/// Where deliveries are reported. A reporter's background work holds a clone while it may
/// still deliver, so the run knows its messages are out when every clone is gone.
pub type Deliveries = tokio::sync::mpsc::UnboundedSender<Delivered>;

pub trait Outbound: Send {
    /// Sees one event of the run.
    fn on(&mut self, e: &Stamped);
}
