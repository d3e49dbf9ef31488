//! The metrics endpoint as Prometheus itself sees it: Debian's `prometheus` scrapes a daemon
//! on loopback and answers queries about it; `promtool` checks the exposition and the
//! example alerting rules (`docs/alerts.yml`). Needs Debian's prometheus package (CI
//! installs it); outside CI the test skips without it.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ebph_test_support::daemon::{get, Daemon};
use ebph_test_support::programs::{compile, free_port, run};
use ebph_test_support::{as_root, skip_or_fail};
use serde_json::Value;

/// The value of a PromQL `query` (the first sample), once Prometheus has one.
fn query(port: u16, query: &str) -> Option<f64> {
    let encoded: String = query
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let body = get(port, &format!("/api/v1/query?query={encoded}"));
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["status"], "success", "{body}");
    v["data"]["result"][0]["value"][1].as_str()?.parse().ok()
}

/// Runs `promtool` with `args` and `input` on stdin; its output, failing on an error.
fn promtool(args: &[&str], input: &str) -> String {
    let mut child = Command::new("promtool")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool {args:?}: {text}");
    text
}

struct Prometheus(std::process::Child);

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_prometheus(dir: &Path, port: u16, target: u16) -> Prometheus {
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: ebph\n    \
             static_configs:\n      - targets: ['127.0.0.1:{target}']\n"
        ),
    )
    .unwrap();
    Prometheus(
        Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("prometheus.log")).unwrap())
            .spawn()
            .unwrap(),
    )
}

#[test]
fn prometheus_scrapes_the_daemon_and_sees_its_anomalies() {
    let Some(_one) = as_root() else {
        return;
    };
    if Command::new("prometheus")
        .arg("--version")
        .output()
        .is_err()
        || Command::new("promtool").arg("--version").output().is_err()
    {
        skip_or_fail("Debian's prometheus package is not installed (apt-get install prometheus)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let metrics = free_port();
    let daemon = Daemon::start_with(
        dir.path(),
        &["--metrics-listen", &format!("127.0.0.1:{metrics}")],
    );

    // The exposition (as curl gets it) and the alerting rules pass promtool's checks.
    let exposition = get(metrics, "/metrics");
    promtool(&["check", "metrics"], &exposition);
    let rules = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/alerts.yml");
    let checked = promtool(&["check", "rules", rules], "");
    assert!(checked.contains("SUCCESS"), "{checked}");

    // A normal program makes an unusual call: an anomaly.
    let spree = compile(dir.path(), "spree");
    daemon.train(&spree, &[], 8);
    run(&spree, &["once"]);

    // Prometheus scrapes it and answers for it.
    let port = free_port();
    let _prometheus = start_prometheus(dir.path(), port, metrics);
    let deadline = Instant::now() + Duration::from_secs(60);
    let ready = |q: &str| {
        std::net::TcpStream::connect(("127.0.0.1", port))
            .is_ok()
            .then(|| query(port, q))
            .flatten()
    };
    let anomalies = loop {
        if let Some(n) = ready("ebph_anomalies_total{job=\"ebph\"}") {
            break n;
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus never had ebph_anomalies_total: {}",
            std::fs::read_to_string(dir.path().join("prometheus.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    assert!(anomalies >= 1.0, "ebph_anomalies_total = {anomalies}");
    assert_eq!(query(port, "up{job=\"ebph\"}"), Some(1.0));
    let rows = query(port, "ebph_map_used{map=\"rows\"}").unwrap();
    let capacity = query(port, "ebph_map_capacity{map=\"rows\"}").unwrap();
    assert!(rows > 0.0 && rows < capacity, "rows {rows} of {capacity}");
    // Prometheus asked for OpenMetrics and got it: counters carry their _total samples.
    assert!(query(port, "ebph_syscalls_total").unwrap() > 0.0);
    daemon.stop();
}
