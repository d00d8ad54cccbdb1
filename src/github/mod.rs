//! GitHub for a real run: where it stands ([`context`]), the REST calls it makes
//! ([`client`]), and `/rollgate` commands read from the pull request ([`commands`]).

pub mod client;
pub mod commands;
pub mod context;

use std::sync::Arc;
use std::time::Duration;

/// A plan's `github` provider, ready for a real run.
pub struct Link {
    pub client: Arc<client::Client>,
    pub context: context::Context,
    /// The provider's `environment`, when it names one.
    pub environment: Option<String>,
    /// How often the pull request's comments are read for commands.
    pub poll: Duration,
}

/// Comments are read this often unless the provider says otherwise: 360 requests an hour,
/// well inside the 1,000 an hour a workflow's token may make.
pub const DEFAULT_POLL: Duration = Duration::from_secs(10);
