//! Retrying routers: one policy for every router kind, with each retry reported as an event.
//! A forward shift gives up after a few quick attempts, or once the router's own `timeout` is
//! spent, attempts and waits included (the run then rolls back); putting a router back keeps
//! trying much longer, since giving up there leaves the canary serving. Only transient
//! failures are tried again: a refusal fails at once.

use super::RunContext;
use crate::event::{Event, Reason};
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

/// Why a router write was given up on.
pub(super) enum Stopped {
    /// The router failed, for good or past the retries.
    Router(TrafficError),
    /// The run is no longer this process's to drive (or the store is gone): nothing was sent.
    Lost(Reason),
}

impl RunContext {
    /// Runs `op` until it succeeds, fails for good, or `persistence` is spent.
    pub(super) async fn retrying<T, F, Fut>(
        &self,
        router: &str,
        persistence: Persistence,
        op: F,
    ) -> Result<T, TrafficError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, TrafficError>>,
    {
        match self.attempts(router, persistence, None, op).await {
            Ok(v) => Ok(v),
            Err(Stopped::Router(e)) => Err(e),
            Err(Stopped::Lost(_)) => unreachable!("a read is not guarded"),
        }
    }

    /// Like [`RunContext::retrying`] for a router write: before every attempt, the first and
    /// each retry, the run must still be this process's (see `may_write_routers`; `restoring`
    /// as there), so an owner cut off mid-retry sends nothing after another took the run over.
    pub(super) async fn writing<F, Fut>(
        &self,
        router: &str,
        persistence: Persistence,
        restoring: bool,
        op: F,
    ) -> Result<(), Stopped>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<(), TrafficError>>,
    {
        self.attempts(router, persistence, Some(restoring), op)
            .await
    }

    async fn attempts<T, F, Fut>(
        &self,
        router: &str,
        persistence: Persistence,
        guard: Option<bool>,
        mut op: F,
    ) -> Result<T, Stopped>
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
        // Time spent waiting for the store is not the router's.
        let mut guarded = Duration::ZERO;
        loop {
            if let Some(restoring) = guard {
                let before = self.clock.elapsed();
                self.may_write_routers(restoring)
                    .await
                    .map_err(Stopped::Lost)?;
                guarded += self.clock.elapsed() - before;
            }
            let spent_so_far = self.clock.elapsed() - started - guarded;
            let attempted = match bound {
                None => op().await,
                Some(bound) => {
                    // The router gives up at its timeout and says why; this cuts short only a
                    // request that hangs past it.
                    let left = bound.saturating_sub(spent_so_far) + GRACE;
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
                Err(e) if !e.transient => return Err(Stopped::Router(e)),
                Err(e) => e,
            };
            let taken = self.clock.elapsed() - started - guarded + delay;
            let spent = match persistence {
                Persistence::Shift => {
                    attempt >= SHIFT_ATTEMPTS || bound.is_some_and(|b| taken >= b)
                }
                Persistence::Restore => taken > RESTORE_FOR,
            };
            if spent {
                return Err(Stopped::Router(TrafficError {
                    message: format!("{} ({attempt} attempts)", e.message),
                    ..e
                }));
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
