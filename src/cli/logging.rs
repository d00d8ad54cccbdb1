//! Logs through `tracing`, to stderr: `RUST_LOG` chooses what for any command (none by
//! default, so a command's own output stays as it is); `serve` logs at `info` by default, as
//! JSON lines, with the run's span (its id and plan) on every line about a run.

use tracing_subscriber::EnvFilter;

/// Installs the subscriber once, before the command runs; `service`: JSON at `info` unless
/// `RUST_LOG` says otherwise.
pub fn init(service: bool) {
    let filter = match std::env::var("RUST_LOG") {
        Ok(wanted) => EnvFilter::new(wanted),
        Err(_) if service => EnvFilter::new("info"),
        Err(_) => return,
    };
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // Only fails when one is installed already (a test calling twice): that one stays.
    let _ = if service {
        logs.json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init()
    } else {
        logs.try_init()
    };
}
