//! A real Prometheus (Debian's package, installed by the README's test command) on loopback,
//! scraping itself every second: the `prometheus` metric source's answers (values and
//! histograms) and failures.

use crate::support::{tool, Daemon};
use rollgate::providers::metrics::{MetricSource, Prometheus};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Server {
    process: Daemon,
    url: String,
}

fn start(dir: &std::path::Path) -> Server {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = dir.join("prometheus.yml");
    std::fs::write(&cfg, format!("global: {{ scrape_interval: 1s, evaluation_interval: 1s }}\nscrape_configs:\n  - job_name: self\n    static_configs: [{{ targets: ['127.0.0.1:{port}'] }}]\n")).unwrap();
    let child = Command::new(tool("prometheus", "apt-get install -y prometheus"))
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Server {
        process: Daemon(child),
        url: format!("http://127.0.0.1:{port}"),
    }
}

#[test]
fn answers_no_data_and_failures_from_a_real_prometheus() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = start(dir.path());
    let prom =
        Prometheus::new(&server.url, None, None, None, Some(Duration::from_secs(2))).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let now = || chrono::Utc::now();
        let start = Instant::now();
        // Ready once it has scraped itself.
        loop {
            if let Ok(Some(v)) = prom.query("up{job=\"self\"}", now()).await {
                assert_eq!(v, 1.0);
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "Prometheus did not come up"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert_eq!(
            prom.query("rollgate_no_such_metric", now()).await,
            Ok(None),
            "an empty vector is no data"
        );
        assert_eq!(prom.query("0/0", now()).await, Ok(None), "NaN is no data");
        let two = prom
            .query(
                "up or label_replace(up, \"copy\", \"1\", \"\", \"\")",
                now(),
            )
            .await
            .unwrap_err()
            .0;
        assert!(
            two.contains("answered 2 series; a check needs one"),
            "{two}"
        );
        let bad = prom.query("sum(", now()).await.unwrap_err().0;
        assert!(bad.contains("HTTP 400"), "{bad}");
        // Its own request latency, as a histogram check reads one: a vector by `le`, sorted,
        // cumulative, ending with the +Inf bucket that counts every request.
        let buckets = prom
            .buckets(
                "sum by (le) (prometheus_http_request_duration_seconds_bucket)",
                now(),
            )
            .await
            .unwrap()
            .expect("it has served requests");
        assert!(buckets.len() >= 3, "{buckets:?}");
        assert!(buckets
            .windows(2)
            .all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1));
        assert_eq!(buckets.last().unwrap().0, f64::INFINITY);
        assert!(buckets.last().unwrap().1 > 0.0, "{buckets:?}");
        let no_le = prom.buckets("up", now()).await.unwrap_err().0;
        assert!(no_le.contains("sum by (le)"), "{no_le}");
        assert_eq!(
            prom.buckets("rollgate_no_such_metric_bucket", now()).await,
            Ok(None)
        );
    });
    let _ = server.process.0.kill();
    let _ = server.process.0.wait();
    let down = rt
        .block_on(prom.query("up", chrono::Utc::now()))
        .unwrap_err()
        .0;
    assert!(
        down.starts_with(&format!("Prometheus at {}:", server.url)),
        "{down}"
    );
}
