//! `/rollgate approve|reject|continue|rollback` commands from pull-request comments. One watcher reads
//! the PR's new comments while the run goes; a command counts only from someone with write
//! access to the repository (the collaborator-permission API says), and anyone else is told,
//! in a reply, that it was ignored and why. Approvals, rejections and continues wait for a
//! gate's (or a pause's) approval source to take them; a rollback cancels the run at once.

use super::client::{Client, Comment};
use crate::delivery::Teller;
use chrono::{DateTime, SubsecRound, Utc};
use std::collections::{BTreeSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What a comment asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verb {
    Approve,
    Reject,
    /// Lift a pause.
    Continue,
    Rollback,
}

impl Verb {
    pub fn word(self) -> &'static str {
        match self {
            Verb::Approve => "approve",
            Verb::Reject => "reject",
            Verb::Continue => "continue",
            Verb::Rollback => "rollback",
        }
    }
}

/// A command from someone with write access.
#[derive(Clone, Debug, PartialEq)]
pub struct Command {
    pub verb: Verb,
    /// The gate it names, if it names one (`/rollgate approve canary-50`).
    pub gate: Option<String>,
    pub by: String,
    pub comment: u64,
}

/// A comment's `/rollgate` line, if it has one: the verb (or the word that is not one) and
/// what follows it.
#[derive(Debug, PartialEq)]
pub enum Parsed {
    Command(Verb, Option<String>),
    Unknown(String),
}

/// Reads a comment as people type it: the first line that starts with `/rollgate`, in any
/// case, with a trailing period or comma ignored. A line inside a fenced or indented code
/// block, or in a quote (GitHub's "quote reply"), only shows a command and does not count.
pub fn parse(body: &str) -> Option<Parsed> {
    let line = said_lines(body).find(|l| {
        l.get(..9)
            .is_some_and(|w| w.eq_ignore_ascii_case("/rollgate"))
    })?;
    let mut words = line.split_whitespace();
    if !words.next()?.eq_ignore_ascii_case("/rollgate") {
        return None;
    }
    let said = words.next().unwrap_or("");
    let verb = said.trim_end_matches(ENDS_A_SENTENCE);
    // `/rollgate approve. Thanks` ends the command at the period: no gate.
    let gate = if verb.len() == said.len() {
        words
            .next()
            .map(|g| g.trim_end_matches(ENDS_A_SENTENCE).to_string())
            .filter(|g| !g.is_empty())
    } else {
        None
    };
    Some(match verb.to_ascii_lowercase().as_str() {
        "approve" => Parsed::Command(Verb::Approve, gate),
        "reject" => Parsed::Command(Verb::Reject, gate),
        "continue" => Parsed::Command(Verb::Continue, gate),
        "rollback" => Parsed::Command(Verb::Rollback, gate),
        _ => Parsed::Unknown(verb.to_string()),
    })
}

const ENDS_A_SENTENCE: &[char] = &['.', ',', '!', ';', ':'];

/// The comment's lines as prose, trimmed: without fenced code blocks, indented code blocks
/// and quotes.
fn said_lines(body: &str) -> impl Iterator<Item = &str> {
    let mut fence: Option<&str> = None;
    let mut after_blank = true;
    body.lines().filter_map(move |raw| {
        let line = raw.trim();
        let blank = line.is_empty();
        let was_after_blank = std::mem::replace(&mut after_blank, blank);
        if let Some(open) = fence {
            if line.starts_with(open) {
                fence = None;
            }
            return None;
        }
        if line.starts_with("```") || line.starts_with("~~~") {
            fence = Some(&line[..3]);
            return None;
        }
        let indented = raw.starts_with('\t') || raw.starts_with("    ");
        if line.starts_with('>') || (indented && was_after_blank) {
            return None;
        }
        Some(line)
    })
}

/// Whether a permission from the collaborator-permission API may decide.
fn may_write(permission: &str) -> bool {
    matches!(permission, "admin" | "write")
}

/// The commands of one pull request, as the run's watcher finds them.
pub struct Commands {
    pub client: Arc<Client>,
    pub pr: u64,
    repo: String,
    /// Approvals and rejections not yet taken by a gate.
    queue: Mutex<VecDeque<Command>>,
    /// Set while a gate reading from this PR waits.
    gate_waiting: AtomicBool,
    /// Who was told they lack write access: told once a run.
    told: Mutex<BTreeSet<String>>,
    rollback: tokio::sync::watch::Sender<Option<String>>,
    teller: Teller,
}

impl Commands {
    pub fn new(client: Arc<Client>, repo: &str, pr: u64, teller: Teller) -> Arc<Commands> {
        Arc::new(Commands {
            client,
            pr,
            repo: repo.to_string(),
            queue: Mutex::new(VecDeque::new()),
            gate_waiting: AtomicBool::new(false),
            told: Mutex::new(BTreeSet::new()),
            rollback: tokio::sync::watch::channel(None).0,
            teller,
        })
    }

    /// Reads new comments every `every`, from `since` on, until the run ends (the task is
    /// dropped with the runtime).
    pub async fn watch(self: Arc<Self>, since: DateTime<Utc>, every: Duration) {
        // GitHub's times are whole seconds: a comment in the run's first second counts.
        let since = since.trunc_subsecs(0);
        let mut seen = BTreeSet::new();
        let mut failing = false;
        loop {
            match self.client.comments(self.pr, Some(since)).await {
                Ok(comments) => {
                    failing = false;
                    for c in comments {
                        if c.created_at >= since && seen.insert(c.id) {
                            self.take(&c).await;
                        }
                    }
                }
                // Said once per outage, not at every poll.
                Err(e) if !failing => {
                    failing = true;
                    self.teller.tell("reading PR comments", Err(e.to_string()));
                }
                Err(_) => {}
            }
            tokio::time::sleep(every).await;
        }
    }

    async fn take(&self, c: &Comment) {
        let Some(parsed) = c.body.as_deref().and_then(parse) else {
            return;
        };
        let by = c.user.login.clone();
        let said = match &parsed {
            Parsed::Command(verb, _) => verb.word().to_string(),
            Parsed::Unknown(word) => word.clone(),
        };
        // Only writers are answered more than once, so commands cannot be used to flood the
        // PR (and spend GitHub's limits on replies).
        if self.told.lock().unwrap().contains(&by.to_lowercase()) {
            return;
        }
        let permission = match self.client.permission(&by).await {
            Ok(p) => p,
            Err(e) => {
                let text = format!("`/rollgate {said}` was ignored: your permission on {} could not be checked ({e}).", self.repo);
                return self.reply(c.id, &by, &text).await;
            }
        };
        if !may_write(&permission) {
            self.told.lock().unwrap().insert(by.to_lowercase());
            let text = format!("`/rollgate {said}` was ignored: it needs write access to {}, and you have `{permission}`.", self.repo);
            return self.reply(c.id, &by, &text).await;
        }
        let (verb, gate) = match parsed {
            Parsed::Command(verb, gate) => (verb, gate),
            Parsed::Unknown(word) => {
                let text = format!("`/rollgate {word}` is not a command; use `/rollgate approve`, `/rollgate reject`, `/rollgate continue` or `/rollgate rollback`.");
                return self.reply(c.id, &by, &text).await;
            }
        };
        let command = Command {
            verb,
            gate,
            by: by.clone(),
            comment: c.id,
        };
        match verb {
            Verb::Rollback => {
                self.rollback.send_replace(Some(format!(
                    "rollback requested by {by} on PR #{}",
                    self.pr
                )));
            }
            Verb::Approve | Verb::Reject | Verb::Continue
                if !self.gate_waiting.load(Ordering::SeqCst) =>
            {
                self.reply(
                    c.id,
                    &by,
                    &format!(
                        "`/rollgate {}` was ignored: no approval or pause is waiting now.",
                        verb.word()
                    ),
                )
                .await
            }
            Verb::Approve | Verb::Reject | Verb::Continue => {
                self.queue.lock().unwrap().push_back(command)
            }
        }
    }

    /// A gate starts or stops waiting for this PR's decisions.
    pub fn set_gate_waiting(&self, waiting: bool) {
        self.gate_waiting.store(waiting, Ordering::SeqCst);
    }

    /// The oldest approval or rejection not yet taken.
    pub fn next(&self) -> Option<Command> {
        self.queue.lock().unwrap().pop_front()
    }

    /// Completes when a writer asks for a rollback, with who.
    pub async fn rollback_requested(&self) -> String {
        let mut rx = self.rollback.subscribe();
        let asked = rx
            .wait_for(Option::is_some)
            .await
            .map(|why| why.clone().unwrap_or_default());
        match asked {
            Ok(why) => why,
            Err(_) => std::future::pending().await,
        }
    }

    /// Answers a command on the PR, quoting it.
    pub async fn reply(&self, comment: u64, to: &str, text: &str) {
        let body = format!("@{to} {text}\n\n<sub>rollgate, about comment {comment}</sub>");
        let result = self
            .client
            .create_comment(self.pr, &body)
            .await
            .map(|_| 1)
            .map_err(|e| e.to_string());
        self.teller.tell(format!("reply to @{to}"), result);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_command_line_of_a_comment() {
        assert_eq!(
            parse("/rollgate approve"),
            Some(Parsed::Command(Verb::Approve, None))
        );
        assert_eq!(
            parse("Looks good.\n  /rollgate reject canary-50 because\n"),
            Some(Parsed::Command(Verb::Reject, Some("canary-50".into())))
        );
        assert_eq!(
            parse("/rollgate rollback"),
            Some(Parsed::Command(Verb::Rollback, None))
        );
        assert_eq!(
            parse("/rollgate continue"),
            Some(Parsed::Command(Verb::Continue, None))
        );
        assert_eq!(
            parse("/rollgate aprove"),
            Some(Parsed::Unknown("aprove".into()))
        );
        assert_eq!(parse("/rollgateapprove"), None);
        assert_eq!(parse("please /rollgate approve"), None);
        assert_eq!(parse("no command here"), None);
        assert_eq!(parse(""), None);
        assert!(may_write("admin") && may_write("write"));
    }

    #[test]
    fn reads_commands_as_people_type_them() {
        let approve = Some(Parsed::Command(Verb::Approve, None));
        assert_eq!(parse("/rollgate Approve"), approve);
        assert_eq!(parse("/ROLLGATE APPROVE"), approve);
        assert_eq!(parse("/rollgate approve."), approve);
        assert_eq!(parse("/rollgate approve, thanks!"), approve);
        assert_eq!(parse("/rollgate approve. Looks fine"), approve);
        assert_eq!(
            parse("/rollgate Reject canary-50."),
            Some(Parsed::Command(Verb::Reject, Some("canary-50".into())))
        );
        assert_eq!(
            parse("/rollgate rollback!"),
            Some(Parsed::Command(Verb::Rollback, None))
        );
        assert_eq!(
            parse("/rollgate aprove."),
            Some(Parsed::Unknown("aprove".into()))
        );
    }

    #[test]
    fn a_command_shown_in_code_or_a_quote_does_not_count() {
        assert_eq!(
            parse("To approve, type:\n```\n/rollgate approve\n```\n"),
            None
        );
        assert_eq!(parse("~~~text\n/rollgate rollback\n~~~"), None);
        assert_eq!(parse("> /rollgate rollback\n\nwhy was this sent?"), None);
        assert_eq!(parse("Example:\n\n    /rollgate approve\n"), None);
        assert_eq!(parse("`/rollgate approve` approves"), None);
        // After the block closes, a command counts again.
        assert_eq!(
            parse("```\n/rollgate approve\n```\n/rollgate rollback"),
            Some(Parsed::Command(Verb::Rollback, None))
        );
        assert_eq!(
            parse("> /rollgate approve\n/rollgate reject"),
            Some(Parsed::Command(Verb::Reject, None))
        );
        assert!(!may_write("read") && !may_write("none") && !may_write("triage"));
    }
}
