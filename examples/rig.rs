//! Starts the test rig on fixed loopback ports for a person to try `rollgate run` against:
//! two versions of a service, HAProxy in front (admin socket 127.0.0.1:19999), Prometheus
//! (http://127.0.0.1:19090) scraping both every second, and 100 requests a second through
//! http://127.0.0.1:18080. `workflows/rig-canary.yaml`'s defaults point at it. Ctrl-C stops it.
//!
//!     cargo run --example rig
//!     cargo run -- run workflows/rig-canary.yaml
//!     curl '127.0.0.1:18082/knob?errors=0.3'     # the canary starts failing

// The tests' own rig; they use the parts this example does not.
#[allow(dead_code)]
#[path = "../tests/rig/mod.rs"]
mod rig;

fn main() {
    let rig = rig::Rig::start(rig::Options {
        admin: rig::Admin::Tcp(19999),
        frontend: 18080,
        prometheus: 19090,
        stable: 18081,
        canary: 18082,
        rate: 100,
    });
    println!("rig up, in {}:", rig.dir.path().display());
    println!("  service via HAProxy   http://127.0.0.1:{}/", rig.frontend);
    println!("  HAProxy admin socket  {}", rig.admin);
    println!("  Prometheus            {}", rig.prometheus_url);
    println!(
        "  knobs                 curl '127.0.0.1:{}/knob?errors=0.3'  (canary; stable: {})",
        rig.canary.port, rig.stable.port
    );
    println!("  rollout               cargo run -- run workflows/rig-canary.yaml");
    println!("Ctrl-C stops it all.");
    // Until SIGINT or SIGTERM; then `rig` is dropped, which stops HAProxy and Prometheus too.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM can be caught");
        let mut every = tokio::time::interval(std::time::Duration::from_secs(5));
        every.tick().await;
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => break,
                _ = term.recv() => break,
                _ = every.tick() => {
                    let (s, c) = rig.split();
                    println!(
                        "HAProxy weights stable {s} canary {c}; requests served: stable {}, canary {}",
                        rig.stable.requests(),
                        rig.canary.requests()
                    );
                }
            }
        }
    });
    println!("stopping the rig");
}
