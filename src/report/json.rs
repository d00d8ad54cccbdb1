//! `--json`: one event per line, as [`crate::runner::events::Stamped`] serializes it.

use crate::runner::events::Stamped;

pub fn line(e: &Stamped) -> String {
    serde_json::to_string(e).expect("events serialize")
}
