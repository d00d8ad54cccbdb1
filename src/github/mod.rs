//! GitHub for a real run: where it stands ([`context`]), the REST calls it makes
//! ([`client`]), and `/rollgate` commands read from the pull request ([`commands`]).

pub mod client;
pub mod commands;
pub mod context;

use std::sync::Arc;
use std::time::Duration;

/// The deployment environment (of a deployment and a PR comment) of a run or a preview that
/// names none.
pub const DEFAULT_ENVIRONMENT: &str = "default";

/// A plan's `github` provider, ready for a real run.
pub struct Link {
    pub client: Arc<client::Client>,
    pub context: context::Context,
    /// The provider's `environment`, when it names one.
    pub environment: Option<String>,
    /// How often the pull request's comments are read for commands.
    pub poll: Duration,
}

impl Link {
    /// The pull request the run reports on: the event's, else one containing the commit
    /// (open ones first), so a push to main reports on the PR it merged.
    pub async fn pull_request(&self) -> Result<Option<u64>, client::Error> {
        match self.context.pr {
            Some(pr) => Ok(Some(pr)),
            None => Ok(self
                .client
                .pulls_for_commit(&self.context.sha)
                .await?
                .first()
                .copied()),
        }
    }
}

impl Link {
    /// The commit the run deploys: the event's pull-request head; for a comment on a pull
    /// request (whose payload names no head), the PR's head as GitHub has it; else
    /// `GITHUB_SHA`.
    pub async fn commit(&self) -> Result<String, client::Error> {
        match (self.context.pr, self.context.head_from_event) {
            (Some(pr), false) => self.client.pull_head(pr).await,
            _ => Ok(self.context.sha.clone()),
        }
    }
}

/// Comments are read this often unless the provider says otherwise: 360 requests an hour,
/// well inside the 1,000 an hour a workflow's token may make.
pub const DEFAULT_POLL: Duration = Duration::from_secs(10);
