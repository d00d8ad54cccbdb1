//! Every event of a real run as a `tracing` log line, in the run's span: the ones that change
//! where traffic goes or what the run waits for at `info`, the rest (metric answers,
//! evaluations, steps) at `debug`. The line says it in the terminal's words; `event` is the kind
//! and `data` the event as JSON.

use super::Reporter;
use crate::event::{Event, Stamped};

/// Logs each event it is shown.
pub struct Logged;

impl Reporter for Logged {
    fn on(&mut self, e: &Stamped) {
        let json = serde_json::to_value(e).unwrap_or_default();
        let kind = json["event"].as_str().unwrap_or_default();
        let data = json.to_string();
        let line = super::terminal::line(e).unwrap_or_else(|| kind.to_string());
        // The terminal's words without its clock: the log line has its own time.
        let words = line
            .split_once("] ")
            .map_or(line.as_str(), |(_, w)| w)
            .trim();
        match e.event {
            Event::Queried { .. }
            | Event::CheckEvaluated(_)
            | Event::StepStarted { .. }
            | Event::StepFinished { .. }
            | Event::RouterCaptured { .. }
            | Event::NotificationSkipped { .. }
            | Event::CommandSkipped { .. } => {
                tracing::debug!(event = kind, data = %data, "{words}")
            }
            _ => tracing::info!(event = kind, data = %data, "{words}"),
        }
    }
}
