//! Retrying routers: one policy for every router kind, with each retry reported as an event.
//! A forward shift gives up after a few quick attempts (the run then rolls back); putting a
//! router back keeps trying much longer, since giving up there leaves the canary serving.

use super::RunContext;
use crate::event::Event;
use crate::providers::traffic::TrafficError;
use std::future::Future;
use std::time::Duration;

/// How hard to try.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Persistence {
    /// Reading a router or shifting it forward: 5 attempts over 1.5 s.
    Shift,
    /// Restoring a router in a rollback: attempts for up to 30 s.
    Restore,
}

const FIRST_DELAY: Duration = Duration::from_millis(100);
const MAX_DELAY: Duration = Duration::from_secs(2);
const SHIFT_ATTEMPTS: u32 = 5;
const RESTORE_FOR: Duration = Duration::from_secs(30);

impl RunContext {
    /// Runs `op` until it succeeds, fails for good, or `persistence` is spent.
    pub(super) async fn retrying<T, F, Fut>(
        &self,
        router: &str,
        persistence: Persistence,
        mut op: F,
    ) -> Result<T, TrafficError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, TrafficError>>,
    {
        let started = self.clock.elapsed();
        let mut delay = FIRST_DELAY;
        let mut attempt = 1u32;
        loop {
            let e = match op().await {
                Ok(v) => return Ok(v),
                Err(e) if !e.transient => return Err(e),
                Err(e) => e,
            };
            let spent = match persistence {
                Persistence::Shift => attempt >= SHIFT_ATTEMPTS,
                Persistence::Restore => self.clock.elapsed() - started + delay > RESTORE_FOR,
            };
            if spent {
                return Err(TrafficError {
                    message: format!("{} ({attempt} attempts)", e.message),
                    ..e
                });
            }
            self.emit(Event::RouterRetrying {
                router: router.to_string(),
                attempt,
                error: e.message,
                retry_in: delay.as_secs_f64(),
            });
            self.clock.sleep(delay).await;
            delay = (delay * 2).min(MAX_DELAY);
            attempt += 1;
        }
    }
}
