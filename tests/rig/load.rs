//! The rig's load: a steady, bounded stream of requests through HAProxy's frontend, from a few
//! threads each keeping its own pace; stopped when dropped.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

const THREADS: u32 = 4;

pub struct Load {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Load {
    /// `per_second` requests a second to `url`, never more than one in flight per thread.
    pub fn start(url: &str, per_second: u32) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let every = Duration::from_secs_f64(f64::from(THREADS) / f64::from(per_second.max(1)));
        let threads = (0..THREADS)
            .map(|i| {
                let (stop, url) = (stop.clone(), url.to_string());
                std::thread::spawn(move || {
                    let agent: ureq::Agent = ureq::Agent::config_builder()
                        .timeout_global(Some(Duration::from_secs(2)))
                        .http_status_as_error(false)
                        .build()
                        .into();
                    // Threads start spread over one period, so requests come evenly.
                    let mut next =
                        Instant::now() + every.mul_f64(f64::from(i) / f64::from(THREADS));
                    while !stop.load(Relaxed) {
                        std::thread::sleep(next.saturating_duration_since(Instant::now()));
                        let _ = agent.get(&url).call().map(|mut r| {
                            let _ = r.body_mut().read_to_vec();
                        });
                        next += every;
                    }
                })
            })
            .collect();
        Load { stop, threads }
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
