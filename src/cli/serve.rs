//! `rollgate serve`: the service, on one multi-threaded runtime.

use super::{Exit, Failure, Io};
use crate::serve::{Config, Tokens};
use std::path::PathBuf;

/// Run many rollouts in one process, started, watched and decided over an HTTP API
///
/// Plans are started by name from `--plans` (or sent as text, with `--accept-sent-plans`);
/// every `/api` request carries a bearer token from `--tokens` (or `ROLLGATE_TOKENS`), lines of
/// `ROLE NAME TOKEN` where ROLE is `read` or `operate`. Runs are kept in `--state`, so
/// `rollgate status`, `approve` and `reap` see them.
/// Every `--reap-every` it takes over runs nobody drives; on SIGTERM or SIGINT it hands the
/// runs it drives over, without rolling them back, to be carried on by the next service.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  rollgate serve --plans workflows --tokens /etc/rollgate/tokens\n  ROLLGATE_TOKENS=\"operate ci $(openssl rand -hex 32)\" rollgate serve --listen 0.0.0.0:8080\n\nEndpoints: POST /api/runs {\"plan\": NAME | \"source\": YAML, \"inputs\": {..}}; GET /api/runs[?plan=&state=]; GET /api/stats; GET /api/runs/ID; GET /api/runs/ID/events; POST /api/runs/ID/approve|reject|continue|rollback [{\"gate\": STEP}]; GET /healthz, /readyz.\n\nExit codes: 2 bad usage (no tokens, no plans directory), 1 cannot listen or reach the store."
)]
pub struct Args {
    /// Where to listen.
    #[arg(long, env = "ROLLGATE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
    /// The directory of plans the API may start, each by its file name without `.yaml`.
    #[arg(long, env = "ROLLGATE_PLANS", default_value = "workflows")]
    pub plans: PathBuf,
    /// Take a plan's text in a start's `source`, not only a name from `--plans`. Any `operate`
    /// token can then run commands as this service (a `traffic-command` router) and send its secrets
    /// where it likes: give operate tokens only to those you would give a shell.
    #[arg(long, env = "ROLLGATE_ACCEPT_SENT_PLANS")]
    pub accept_sent_plans: bool,
    /// A file of tokens, a line each: `ROLE NAME TOKEN` (`read` or `operate`).
    #[arg(long)]
    pub tokens: Option<PathBuf>,
    /// The deployment environment, for `github` providers that name none.
    #[arg(long, default_value = crate::github::DEFAULT_ENVIRONMENT)]
    pub environment: String,
    /// A PEM certificate chain: served over TLS (rustls) with `--tls-key`.
    #[arg(
        long,
        env = "ROLLGATE_TLS_CERT",
        requires = "tls_key",
        value_name = "FILE"
    )]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's PEM private key.
    #[arg(
        long,
        env = "ROLLGATE_TLS_KEY",
        requires = "tls_cert",
        value_name = "FILE"
    )]
    pub tls_key: Option<PathBuf>,
    /// How often runs nobody drives (a dead service's, a handed-over one's) are taken over.
    #[arg(
        long,
        env = "ROLLGATE_REAP_EVERY",
        value_name = "DURATION",
        default_value = "5s"
    )]
    pub reap_every: crate::plan::Duration,
    #[command(flatten)]
    pub state: super::state::State,
}

pub fn run(a: Args, io: &mut Io<'_>) -> Exit {
    let tokens = match (&a.tokens, std::env::var("ROLLGATE_TOKENS")) {
        (Some(file), _) => {
            let text = std::fs::read_to_string(file).map_err(|e| {
                Failure::usage(format!("`--tokens {}`: {e}", file.display()))
            })?;
            Tokens::parse(&text, &file.display().to_string())
        }
        (None, Ok(text)) => Tokens::parse(&text, "ROLLGATE_TOKENS"),
        (None, Err(_)) => Err("`rollgate serve` needs tokens: `--tokens FILE` or `ROLLGATE_TOKENS`, lines of `ROLE NAME TOKEN` (e.g. `operate alice $(openssl rand -hex 32)`)".into()),
    }
    .map_err(Failure::usage)?;
    if !a.plans.is_dir() {
        return Err(Failure::usage(format!(
            "`--plans {}` is not a directory of plans",
            a.plans.display()
        )));
    }
    let store = a.state.open()?;
    let location = store.location();
    let config = Config {
        listen: a.listen,
        plans: a.plans.clone(),
        accept_sent: a.accept_sent_plans,
        tokens,
        store,
        environment: a.environment,
        reap_every: a.reap_every.0,
        tls: a.tls_cert.zip(a.tls_key),
    };
    let scheme = if config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    // Each run kept in a directory holds its journal open: thousands of runs need more files
    // than a shell's usual soft limit (1,024), and the hard limit is this process's to take.
    let files = rlimit::increase_nofile_limit(u64::MAX);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let err = &mut *io.err;
    let plans = a.plans.display().to_string();
    let handed = rt
        .block_on(crate::serve::serve(
            config,
            |at| {
                let _ = writeln!(
                    err,
                    "rollgate serve: listening on {scheme}://{at} (plans in {plans}, runs in {location})"
                );
                match &files {
                    Ok(files) => tracing::info!(files, "open files allowed"),
                    Err(e) => tracing::warn!(error = %e, "cannot raise the open files limit"),
                }
            },
            // SIGTERM or SIGINT: the service stops and hands its runs over.
            async {
                crate::live::terminated().await;
            },
        ))
        .map_err(|e| Failure::failed(format!("`rollgate serve` on {}: {e}", a.listen)))?;
    writeln!(
        io.err,
        "rollgate serve: stopped; {handed} runs handed over, to be carried on by the next service to reach {location}"
    )?;
    Ok(super::exit::OK)
}
