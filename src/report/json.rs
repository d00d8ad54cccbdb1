//! `--json`: one event per line, as [`crate::event::Stamped`] serializes it.

use crate::event::Stamped;

pub fn line(e: &Stamped) -> String {
    serde_json::to_string(e).expect("events serialize")
}
