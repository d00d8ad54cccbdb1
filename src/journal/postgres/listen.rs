//! Decisions wake the run they are for at once: LISTEN on a connection of its own, per process.

use super::connection::connect;
use postgres::Config;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Per run, the signal its decisions change.
pub(super) type Signals = Mutex<HashMap<String, tokio::sync::watch::Sender<u64>>>;

/// Changes every run's signal: each looks again (for what a lost connection missed).
fn wake_all(senders: &Signals) {
    for tx in senders.lock().expect("not poisoned").values() {
        tx.send_modify(|n| *n += 1);
    }
}

/// LISTENs on its own connection for decisions written by any process, and wakes the run each
/// is for; made again a second after a connection is lost.
pub(super) fn listen(config: Config, senders: Arc<Signals>) {
    use postgres::fallible_iterator::FallibleIterator;
    loop {
        if let Ok(mut client) = connect(&config) {
            if client.batch_execute("LISTEN rollgate_decisions").is_ok() {
                wake_all(&senders);
                let mut notifications = client.notifications();
                let mut each = notifications.blocking_iter();
                while let Ok(Some(n)) = each.next() {
                    if let Some(tx) = senders.lock().expect("not poisoned").get(n.payload()) {
                        tx.send_modify(|count| *count += 1);
                    }
                }
            }
        }
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
}
