//! Retrying routers: one policy for every router kind, with each retry reported as an event.
//! A forward shift gives up after a few quick attempts, or once the router's own `timeout` is
//! spent, attempts and waits included (the run then rolls back); putting a router back keeps
//! trying much longer, since giving up there leaves the canary serving. Only transient
//! failures are tried again: a refusal fails at once.

use super::RunContext;
use crate::event::Event;
use crate::providers::traffic::TrafficError;
use std::future::Future;
use std::time::Duration;

/// How hard to try.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Persistence {
    /// Reading a router or shifting it forward: 5 attempts over 1.5 s, within the router's
    /// `timeout` when it has one.
    Shift,
    /// Restoring a router in a rollback: attempts for up to 30 s.
    Restore,
}

const FIRST_DELAY: Duration = Duration::from_millis(100);
const MAX_DELAY: Duration = Duration::from_secs(2);
const SHIFT_ATTEMPTS: u32 = 5;
const RESTORE_FOR: Duration = Duration::from_secs(30);
/// How far past a router's own timeout an attempt may run before it is cut short.
const GRACE: Duration = Duration::from_millis(250);

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
        let bound = match persistence {
            Persistence::Shift => self.providers.routers[router].timeout(),
            Persistence::Restore => None,
        };
        let mut delay = FIRST_DELAY;
        let mut attempt = 1u32;
        loop {
            let attempted = match bound {
                None => op().await,
                Some(bound) => {
                    // The router gives up at its timeout and says why; this cuts short only a
                    // request that hangs past it.
                    let left = bound.saturating_sub(self.clock.elapsed() - started) + GRACE;
                    match tokio::time::timeout(left, op()).await {
                        Ok(done) => done,
                        Err(_) => Err(TrafficError::refused(format!(
                            "it did not take effect within its timeout {}",
                            humantime::format_duration(bound)
                        ))),
                    }
                }
            };
            let e = match attempted {
                Ok(v) => return Ok(v),
                Err(e) if !e.transient => return Err(e),
                Err(e) => e,
            };
            let spent = match persistence {
                Persistence::Shift => {
                    attempt >= SHIFT_ATTEMPTS
                        || bound.is_some_and(|b| self.clock.elapsed() - started + delay >= b)
                }
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
