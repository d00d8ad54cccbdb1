//! Deliveries come back from the reporters that talk to services; the recorder turns each into
//! a journaled `notification-sent` event.

use crate::delivery::Delivered;
use crate::event::{Event, Stamped};
use crate::journal::Log;
use chrono::{DateTime, Utc};
use std::sync::Arc;

pub struct Recorder {
    pub journal: Arc<dyn Log>,
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
        // A journal that cannot take it is the runner's to notice; this is a report.
        let _ = self.journal.append(&e);
        e
    }
}
