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
}

impl State {
    /// The store it names.
    pub fn open(&self) -> Result<Arc<dyn Store>, Failure> {
        journal::open(&self.state).map_err(|e| match e {
            journal::OpenError::Usage(why) => Failure::usage(why),
            journal::OpenError::Failed(why) => Failure::failed(why),
        })
    }
}
