//! A run's events as server-sent events: each journal line once, in order, as it is written,
//! whichever process drives the run (the stream reads the store, not this process's runs).
//! Each carries its position as `id`, so a client that reconnects with `Last-Event-ID` goes on
//! where it left off; the stream ends after `run-finished`.

use crate::journal::Store;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

/// How often the journal is looked at for new events.
const LOOK: Duration = Duration::from_millis(250);

/// Where a stream is: the next event to send, and whether the run finished.
struct At {
    store: Arc<dyn Store>,
    id: String,
    next: usize,
    waiting: std::collections::VecDeque<(usize, serde_json::Value)>,
    finished: bool,
}

/// Run `id`'s events after position `after` (all of them when `None`).
pub fn events(
    store: Arc<dyn Store>,
    id: String,
    after: Option<usize>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let at = At {
        store,
        id,
        next: after.map_or(0, |a| a + 1),
        waiting: Default::default(),
        finished: false,
    };
    let stream = futures_util::stream::unfold(at, |mut at| async move {
        loop {
            if let Some((n, e)) = at.waiting.pop_front() {
                at.finished |= e["event"] == "run-finished";
                let kind = e["event"].as_str().unwrap_or("event").to_string();
                let event = Event::default()
                    .id(n.to_string())
                    .event(kind)
                    .data(e.to_string());
                return Some((Ok(event), at));
            }
            if at.finished {
                return None;
            }
            let (store, id) = (at.store.clone(), at.id.clone());
            let read = tokio::task::spawn_blocking(move || store.read(&id)).await;
            match read {
                Ok(Ok(run)) => {
                    let fresh: Vec<_> = run.events.into_iter().enumerate().skip(at.next).collect();
                    at.next += fresh.len();
                    at.waiting.extend(fresh);
                    if at.waiting.is_empty() {
                        tokio::time::sleep(LOOK).await;
                    }
                }
                // The store away for a moment: looked at again.
                _ => tokio::time::sleep(LOOK).await,
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}
