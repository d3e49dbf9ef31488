//! The Prometheus endpoint, scraped for real.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

use common::{can_run, copy_program, run, Daemon, ONE_AT_A_TIME};

/// `GET /metrics` over plain HTTP/1.1.
fn scrape(port: u16) -> prometheus_parse::Scrape {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    // The body may be chunked: keep only the lines of the exposition format.
    let lines = body
        .lines()
        .filter(|l| l.starts_with('#') || l.starts_with("ebph_"))
        .map(|l| Ok(l.to_owned()));
    prometheus_parse::Scrape::parse(lines).expect("Prometheus text")
}

fn value(scrape: &prometheus_parse::Scrape, name: &str, label: Option<(&str, &str)>) -> f64 {
    scrape
        .samples
        .iter()
        .find(|s| s.metric == name && label.is_none_or(|(k, v)| s.labels.get(k) == Some(v)))
        .map(|s| match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => f64::NAN,
        })
        .unwrap_or_else(|| panic!("no {name} in the scrape"))
}

#[test]
fn metrics_parse_and_move_when_calls_happen() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    if !can_run() {
        return;
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_with(
        dir.path(),
        &["--metrics-listen", &format!("127.0.0.1:{port}")],
    );
    let before = scrape(port);
    let ls = copy_program(dir.path(), "ls", "/bin/ls");
    for _ in 0..3 {
        run(&ls, &["-la", "/usr"]);
    }
    daemon.ok(&["save"]);
    let after = scrape(port);
    let calls = |s| value(s, "ebph_syscalls_total", None);
    assert!(
        calls(&after) > calls(&before) + 100.0,
        "{} -> {}",
        calls(&before),
        calls(&after)
    );
    // A new profile (ls's copy); others may change status meanwhile, so count them all.
    let profiles = |s| {
        ["training", "frozen", "normal"]
            .iter()
            .map(|status| value(s, "ebph_profiles", Some(("status", status))))
            .sum::<f64>()
    };
    assert!(profiles(&after) > profiles(&before));
    assert!(value(&after, "ebph_saves_total", None) >= 1.0);
    assert!(value(&after, "ebph_map_used", Some(("map", "rows"))) > 0.0);
    assert_eq!(
        value(&after, "ebph_map_capacity", Some(("map", "profiles"))),
        16384.0
    );
    assert!(value(&after, "ebph_tasks_tracked", None) > 0.0);
    daemon.stop();
}
