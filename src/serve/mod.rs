//! `rollgate serve`: many runs in one process, each on a task of its own, started, watched and
//! decided over an HTTP API ([`api`]) by holders of bearer tokens ([`auth`]). Runs are kept in
//! the store `--state` names, as the command line's are, so `rollgate status`, `approve` and
//! `reap` work on them too.

pub mod api;
pub mod auth;
mod page;
mod runs;
pub mod stats;
mod stream;
pub mod telemetry;

pub use auth::{Role, Tokens};
pub use runs::Runs;

use crate::journal::Store;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The service's routes: the status page, the API, its description, health and metrics.
fn router(state: Arc<api::Api>) -> axum::Router {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/", get(page::index))
        .route("/login", get(page::login_form).post(page::login))
        .route("/logout", get(page::logout))
        .route("/runs/{id}", get(page::run))
        .route("/openapi.json", get(api::openapi))
        .route("/healthz", get(api::healthz))
        .route("/readyz", get(api::readyz))
        .route("/metrics", get(api::metrics))
        .route("/api/runs", post(api::start).get(api::list))
        .route("/api/stats", get(api::stats))
        .route("/api/runs/{id}", get(api::one))
        .route("/api/runs/{id}/events", get(api::events))
        .route("/api/runs/{id}/{decision}", post(api::decision))
        .fallback(api::nowhere)
        .layer(axum::extract::DefaultBodyLimit::max(api::BODY_LIMIT))
        .with_state(state)
}

/// What a service is started with.
pub struct Config {
    pub listen: SocketAddr,
    /// Where the plans the API may start are.
    pub plans: PathBuf,
    /// Whether a start may send a plan's text: then any `operate` token runs what it likes
    /// (a `traffic-command` router, the service's secrets), so it is off unless asked for.
    pub accept_sent: bool,
    pub tokens: Tokens,
    pub store: Arc<dyn Store>,
    /// The deployment environment, for `github` providers that name none.
    pub environment: String,
    /// How often runs nobody drives are looked for and taken over.
    pub reap_every: Duration,
    /// A certificate chain and its key (PEM files): served over TLS (rustls) when given.
    pub tls: Option<(PathBuf, PathBuf)>,
}

/// How long, once told to stop, open requests (a stream of events never ends by itself) and
/// runs handing themselves over are waited for.
const STOPPING: Duration = Duration::from_secs(5);

/// Serves until `shutdown` completes, taking over every `reap_every` the runs nobody drives;
/// then hands every run it drives over, for another service (or the next start of this one)
/// to carry on. `listening` is told the address, once bound. How many runs were handed over.
pub async fn serve(
    config: Config,
    listening: impl FnOnce(SocketAddr),
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<usize> {
    // A certificate that does not load stops the service before it listens.
    let tls = match &config.tls {
        Some((cert, key)) => {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let loaded = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
                .await
                .map_err(|e| {
                    std::io::Error::new(
                        e.kind(),
                        format!(
                            "the certificate {} and key {}: {e}",
                            cert.display(),
                            key.display()
                        ),
                    )
                })?;
            Some(loaded)
        }
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let at = listener.local_addr()?;
    listening(at);
    tracing::info!(address = %at, "listening");
    let runs = Runs::new(config.store, config.plans, config.environment);
    let reaping = {
        let runs = runs.clone();
        tokio::spawn(async move {
            loop {
                runs.adopt().await;
                tokio::time::sleep(config.reap_every).await;
            }
        })
    };
    let api = Arc::new(api::Api {
        runs: runs.clone(),
        tokens: config.tokens,
        accept_sent: config.accept_sent,
    });
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        stop.send_replace(true);
    });
    let told = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let app = router(api);
    match tls {
        None => {
            let server = axum::serve(listener, app).with_graceful_shutdown(told(stopped.clone()));
            tokio::select! {
                served = server => served?,
                () = async { told(stopped).await; tokio::time::sleep(STOPPING).await } => {}
            }
        }
        Some(tls) => {
            let handle = axum_server::Handle::new();
            let stopping = handle.clone();
            tokio::spawn(async move {
                told(stopped).await;
                stopping.graceful_shutdown(Some(STOPPING));
            });
            axum_server::from_tcp_rustls(listener.into_std()?, tls)?
                .handle(handle)
                .serve(app.into_make_service())
                .await?;
        }
    }
    reaping.abort();
    Ok(runs.hand_over(STOPPING).await)
}
