//! The pull-request comment of a real run: one per plan and environment, found again by its
//! hidden marker among the comments rollgate's own token wrote, and edited in place as the
//! rollout moves. Edits are coalesced (the newest
//! text wins) and spaced, so a busy run does not trip GitHub's limits on content writes.

use super::Reporter;
use crate::delivery::Teller;
use crate::event::{Event, Stamped};
use crate::github::client::Client;
use crate::plan::Plan;
use std::sync::Arc;
use std::time::Duration;

/// The least time between two edits of the comment.
const SPACING: Duration = Duration::from_secs(2);

pub struct PrComment {
    plan: Plan,
    environment: String,
    events: Vec<Stamped>,
    latest: tokio::sync::watch::Sender<String>,
}

impl PrComment {
    /// Starts keeping the comment on `pr`, telling each delivery. Must be called inside the
    /// run's runtime.
    pub fn start(
        client: Arc<Client>,
        pr: u64,
        plan: &Plan,
        environment: &str,
        teller: Teller,
    ) -> PrComment {
        let (latest, rx) = tokio::sync::watch::channel(String::new());
        let marker = super::markdown::marker(&plan.name, environment);
        tokio::spawn(keep(client, pr, marker, rx, teller));
        PrComment {
            plan: plan.clone(),
            environment: environment.to_string(),
            events: Vec::new(),
            latest,
        }
    }
}

impl Reporter for PrComment {
    fn on(&mut self, e: &Stamped) {
        // Metric answers change nothing the comment shows.
        if matches!(e.event, Event::Queried { .. }) {
            return;
        }
        self.events.push(e.clone());
        let view = super::view::RunView::of(&self.plan, &self.events);
        self.latest
            .send_replace(super::markdown::pr_comment(&view, &self.environment, true));
    }
}

/// One plan's comment on one pull request, found by its marker.
pub struct Sticky {
    client: Arc<Client>,
    pr: u64,
    marker: String,
    /// The comment, once found or posted; `None` inside until looked for.
    id: Option<Option<u64>>,
    /// Its text when found.
    found: Option<String>,
}

/// What putting the comment did.
#[derive(Debug, PartialEq)]
pub enum Put {
    Posted,
    Edited,
}

impl Sticky {
    pub fn new(client: Arc<Client>, pr: u64, marker: String) -> Sticky {
        Sticky {
            client,
            pr,
            marker,
            id: None,
            found: None,
        }
    }

    /// Posts `body`, or edits the comment into it: an earlier run's comment of this plan and
    /// environment is edited, not repeated, and one someone deleted is posted again.
    pub async fn put(&mut self, body: &str) -> Result<Put, crate::github::client::Error> {
        self.find().await?;
        self.write(body).await
    }

    /// Puts the text `body_from` makes of the comment's text now (`None` when there is none
    /// yet): for a comment several steps add to.
    pub async fn put_with(
        &mut self,
        body_from: impl FnOnce(Option<&str>) -> String,
    ) -> Result<Put, crate::github::client::Error> {
        self.find().await?;
        let body = body_from(self.found.as_deref());
        self.write(&body).await
    }

    async fn find(&mut self) -> Result<(), crate::github::client::Error> {
        if self.id.is_some() {
            return Ok(());
        }
        // Only a comment rollgate's own token wrote counts: anyone who can comment can plant
        // the marker. When GitHub cannot say who the token is, no earlier comment is trusted
        // and a new one is posted.
        let me = self.client.identity().await.ok();
        let all = self.client.comments(self.pr, None).await?;
        let found = all.iter().rev().find(|c| {
            me.as_ref().is_some_and(|me| me.is(&c.user))
                && c.body
                    .as_deref()
                    .is_some_and(|b| b.starts_with(&self.marker))
        });
        self.id = Some(found.map(|c| c.id));
        self.found = found.and_then(|c| c.body.clone());
        Ok(())
    }

    async fn write(&mut self, body: &str) -> Result<Put, crate::github::client::Error> {
        if let Some(c) = self.id.flatten() {
            match self.client.edit_comment(c, body).await {
                Err(e) if e.status == Some(404) => {}
                other => return other.map(|_| Put::Edited),
            }
        }
        let created = self.client.create_comment(self.pr, body).await?;
        self.id = Some(Some(created));
        self.found = None;
        Ok(Put::Posted)
    }
}

/// Posts each new text of the comment until the run drops its sender, then the last one.
async fn keep(
    client: Arc<Client>,
    pr: u64,
    marker: String,
    mut rx: tokio::sync::watch::Receiver<String>,
    teller: Teller,
) {
    let mut sticky = Sticky::new(client, pr, marker);
    let mut failing = false;
    let mut edits = 0u32;
    while rx.changed().await.is_ok() {
        let body = rx.borrow_and_update().clone();
        match sticky.put(&body).await {
            Ok(Put::Posted) => {
                failing = false;
                teller.tell(format!("PR #{pr} comment posted"), Ok(1));
            }
            Ok(Put::Edited) => {
                failing = false;
                edits += 1;
            }
            // Said once per outage, not at every edit.
            Err(e) => {
                if !failing {
                    teller.tell(format!("PR #{pr} comment"), Err(e.to_string()));
                }
                failing = true;
            }
        }
        // Once the run is over, its last text goes out without waiting.
        if rx.has_changed().is_ok() {
            tokio::time::sleep(SPACING).await;
        }
    }
    if edits > 0 && !failing {
        teller.tell(format!("PR #{pr} comment updated"), Ok(edits));
    }
}
