//! Deliveries come back from the reporters that talk to services; the recorder turns each into
//! a journaled `notification-sent` event.

use crate::delivery::Delivered;
use crate::event::{Event, Stamped};
use crate::journal::Pending;
use chrono::{DateTime, Utc};
use std::sync::Arc;

pub struct Recorder {
    pub journal: Arc<Pending>,
    /// When the run started: events are stamped with the time since.
    pub started_at: DateTime<Utc>,
}

impl Recorder {
    pub fn record(&self, (to, about, result): Delivered) -> Stamped {
        let now = Utc::now();
        let e = Stamped {
            t: (now - self.started_at).num_milliseconds() as f64 / 1000.0,
            at: now,
            event: Event::NotificationSent {
                to,
                about,
                attempts: result.as_ref().ok().copied(),
                error: result.err(),
            },
        };
        // Behind what waits for an unreachable store, without trying it again here: the run
        // does that, and whatever is left at the end is shown.
        if self.journal.waiting() > 0 {
            self.journal.queue(&e);
        } else {
            self.journal.write(&e);
        }
        e
    }
}
