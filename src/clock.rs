//! The one clock the runner is handed. It reads tokio's clock, which `rollgate run` leaves on
//! wall time and `rollgate dry-run` pauses: a paused tokio clock jumps straight to the next
//! timer whenever every task waits, so a two-hour plan rehearses in milliseconds through the
//! same code. Nothing in the runner reads the OS clock; the epoch is given from outside.

use chrono::{DateTime, Utc};
use std::time::Duration;
use tokio::time::Instant;

#[derive(Clone, Debug)]
pub struct Clock {
    start: Instant,
    epoch: DateTime<Utc>,
    /// Time the run had already had when this clock started (a resumed run).
    offset: Duration,
}

impl Clock {
    /// A clock whose time zero is `epoch` (now, for a real run; the fixture's start, for a dry-run).
    pub fn starting_at(epoch: DateTime<Utc>) -> Clock {
        Clock {
            start: Instant::now(),
            epoch,
            offset: Duration::ZERO,
        }
    }

    /// A clock for a resumed run that started at `epoch`, `already` ago.
    pub fn resuming(epoch: DateTime<Utc>, already: Duration) -> Clock {
        Clock {
            offset: already,
            ..Clock::starting_at(epoch)
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.offset + self.start.elapsed()
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.epoch + chrono::Duration::from_std(self.elapsed()).unwrap_or_default()
    }

    pub async fn sleep(&self, d: Duration) {
        tokio::time::sleep(d).await
    }

    /// Sleeps until `elapsed()` reaches `t` (at once if it has).
    pub async fn sleep_until(&self, t: Duration) {
        tokio::time::sleep_until(self.start + t.saturating_sub(self.offset)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn paused_time_advances_without_waiting() {
        let epoch = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let clock = Clock::starting_at(epoch);
        clock.sleep(Duration::from_secs(7200)).await;
        assert_eq!(clock.elapsed().as_secs(), 7200);
        assert_eq!(clock.now().to_rfc3339(), "2026-01-01T02:00:00+00:00");
    }
}
