//! A run's header, for benchmarks that journal runs without starting them from a plan file.

use rollgate::journal::Header;

pub fn header(id: &str) -> Header {
    Header {
        run_id: id.into(),
        plan: "plan.yaml".into(),
        plan_file: None,
        plan_sha256: rollgate::journal::sha256("plan"),
        plan_source: None,
        inputs: vec![],
        started_at: chrono::Utc::now(),
        pid: std::process::id(),
        concurrency: None,
        environment: None,
        host: Some(rollgate::journal::this_host()),
        dir: None,
    }
}
