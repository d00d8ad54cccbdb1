//! A pause in words for people, the same in every reporter (terminal, PR comment and job
//! summary, chat): how to decide it, where the run's decisions come from, and what happens
//! when nobody does.

use crate::event::PauseTimeout;
use crate::plan::gate::CLI_APPROVALS;

/// How a pause is decided and what nobody deciding means.
#[derive(Debug, PartialEq, Eq)]
pub struct Words {
    /// "decide with `rollgate continue` or `rollgate rollback` where the rollout runs".
    pub how: &'static str,
    /// "rolls back after 30m".
    pub after: String,
}

/// The words for a `paused` event's fields.
pub fn words(via: &str, can_continue: bool, on_timeout: PauseTimeout, timeout: f64) -> Words {
    let how = match (via == CLI_APPROVALS, can_continue) {
        (true, true) => "decide with `rollgate continue` or `rollgate rollback` where the rollout runs",
        (true, false) => "its rollback was refused, so it cannot continue; `rollgate rollback` where the rollout runs rolls it back now",
        (false, true) => "decide with a `/rollgate continue` or `/rollgate rollback` comment on the pull request",
        (false, false) => "its rollback was refused, so it cannot continue; a `/rollgate rollback` comment on the pull request rolls it back now",
    };
    let then = match on_timeout {
        PauseTimeout::Rollback => "rolls back",
        PauseTimeout::Continue => "continues",
    };
    let timeout = std::time::Duration::from_secs_f64(timeout.max(0.0).round());
    Words {
        how,
        after: format!("{then} after {}", humantime::format_duration(timeout)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn says_where_to_decide_and_what_nobody_deciding_means() {
        let w = words("cli", true, PauseTimeout::Rollback, 1800.0);
        assert!(w.how.contains("`rollgate continue`"), "{}", w.how);
        assert_eq!(w.after, "rolls back after 30m");
        let w = words("gh", false, PauseTimeout::Rollback, 90.0);
        assert!(w.how.starts_with("its rollback was refused"), "{}", w.how);
        assert!(w.how.contains("`/rollgate rollback` comment"), "{}", w.how);
        assert_eq!(
            words("gh", true, PauseTimeout::Continue, 90.0).after,
            "continues after 1m 30s"
        );
    }
}
