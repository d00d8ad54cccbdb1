//! `--state`: where runs are kept, for every command that reads or writes them.

use super::Failure;
use crate::journal::{self, Store};
use std::sync::Arc;

#[derive(clap::Args, Clone, Debug)]
pub struct State {
    /// Where runs are kept: a directory, or a PostgreSQL database (`postgres://USER@HOST/DB`).
    #[arg(
        long = "state",
        visible_alias = "state-dir",
        env = "ROLLGATE_STATE",
        value_name = "DIR",
        default_value = journal::DEFAULT_DIR
    )]
    pub state: String,
    /// How long a run stays owned by its process without renewing its lease (PostgreSQL):
    /// after it, another process may take the run over.
    #[arg(
        long,
        env = "ROLLGATE_LEASE",
        value_name = "DURATION",
        default_value = "15s"
    )]
    pub lease: crate::plan::Duration,
    /// How often a run's process renews its lease (PostgreSQL).
    #[arg(
        long,
        env = "ROLLGATE_HEARTBEAT",
        value_name = "DURATION",
        default_value = "5s"
    )]
    pub heartbeat: crate::plan::Duration,
}

impl State {
    /// As the environment says (`ROLLGATE_STATE`, `ROLLGATE_LEASE`, `ROLLGATE_HEARTBEAT`), for
    /// the Action, which takes no flags.
    pub fn from_env() -> Result<State, Failure> {
        let matches = <State as clap::Args>::augment_args(clap::Command::new("rollgate"))
            .try_get_matches_from(["rollgate"])
            .map_err(|e| Failure::usage(e.to_string().trim_start_matches("error: ").trim()))?;
        <State as clap::FromArgMatches>::from_arg_matches(&matches)
            .map_err(|e| Failure::usage(e.to_string()))
    }

    /// The store it names.
    pub fn open(&self) -> Result<Arc<dyn Store>, Failure> {
        if self.heartbeat.0 >= self.lease.0 {
            return Err(Failure::usage(format!(
                "`--heartbeat {}` must be shorter than `--lease {}`: a lease is renewed before it runs out",
                self.heartbeat, self.lease
            )));
        }
        let terms = journal::Terms {
            lease: self.lease.0,
            heartbeat: self.heartbeat.0,
        };
        // A workflow's `${{ secrets.ROLLGATE_STATE }}` is empty where the secret is not set
        // (a fork's pull request): the default, not the working directory itself.
        let state = match self.state.trim() {
            "" => journal::DEFAULT_DIR,
            named => named,
        };
        journal::open(state, terms).map_err(|e| match e {
            journal::OpenError::Usage(why) => Failure::usage(why),
            journal::OpenError::Failed(why) => Failure::failed(why),
        })
    }
}
