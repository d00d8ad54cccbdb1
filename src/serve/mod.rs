//! `rollgate serve`: many runs in one process, each on a task of its own, started, watched and
//! decided over an HTTP API ([`api`]) by holders of bearer tokens ([`auth`]). Runs are kept in
//! the store `--state` names, as the command line's are, so `rollgate status`, `approve` and
//! `reap` work on them too.

pub mod api;
pub mod auth;
mod runs;
mod stream;

pub use auth::{Role, Tokens};
pub use runs::Runs;

use crate::journal::Store;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// What a service is started with.
pub struct Config {
    pub listen: SocketAddr,
    /// Where the plans the API may start are.
    pub plans: PathBuf,
    pub tokens: Tokens,
    pub store: Arc<dyn Store>,
    /// The deployment environment, for `github` providers that name none.
    pub environment: String,
}

/// Serves until `shutdown` completes; `listening` is told the address, once bound.
pub async fn serve(
    config: Config,
    listening: impl FnOnce(SocketAddr),
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    listening(listener.local_addr()?);
    let api = Arc::new(api::Api {
        runs: Runs::new(config.store, config.plans, config.environment),
        tokens: config.tokens,
    });
    axum::serve(listener, api::router(api))
        .with_graceful_shutdown(shutdown)
        .await
}
