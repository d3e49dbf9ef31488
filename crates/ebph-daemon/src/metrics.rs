//! The opt-in Prometheus endpoint (`metrics-listen`): what the engine and the daemon count,
//! at `GET /metrics`: in OpenMetrics for a scraper that asks for it (Prometheus does), in
//! the Prometheus text format (0.0.4) for everything else (curl, `promtool check metrics`).

use std::net::SocketAddr;

use anyhow::{Context, Result};
use axum::http::header::{ACCEPT, CONTENT_TYPE};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use ebph_api::event::EventKind;
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::sync::oneshot;

pub use crate::mailbox::Snapshot;
use crate::mailbox::{Command, Handle};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabel {
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MapLabel {
    map: &'static str,
}

const MAPS: [&str; 4] = ["profiles", "rows", "indexes", "tasks"];

fn counter(registry: &mut Registry, name: &str, help: &str, value: u64) {
    let c: Counter = Counter::default();
    c.inc_by(value);
    registry.register(name, help, c);
}

fn gauge(registry: &mut Registry, name: &str, help: &str, value: i64) {
    let g: Gauge = Gauge::default();
    g.set(value);
    registry.register(name, help, g);
}

fn per_map(registry: &mut Registry, name: &str, help: &str, values: [u64; 4]) {
    let family = Family::<MapLabel, Gauge>::default();
    for (map, value) in MAPS.iter().zip(values) {
        family.get_or_create(&MapLabel { map }).set(value as i64);
    }
    registry.register(name, help, family);
}

/// The snapshot in the Prometheus text format.
pub fn render(s: &Snapshot) -> String {
    let mut r = Registry::with_prefix("ebph");
    counter(
        &mut r,
        "syscalls",
        "System calls of tracked tasks seen by the engine",
        s.calls,
    );
    counter(
        &mut r,
        "anomalies",
        "Anomalies: anomalous system calls, novel execs and novel endpoints",
        s.anomalies,
    );
    for (c, n) in EventKind::COUNTERS.iter().zip(s.events) {
        counter(&mut r, c.name, c.help, n);
    }
    let profiles = Family::<StatusLabel, Gauge>::default();
    for (status, n) in ["training", "frozen", "normal"].into_iter().zip(s.profiles) {
        profiles
            .get_or_create(&StatusLabel { status })
            .set(n as i64);
    }
    r.register("profiles", "Profiles by status", profiles);
    gauge(
        &mut r,
        "tasks_tracked",
        "Tasks (threads) tracked now",
        s.tasks as i64,
    );
    gauge(
        &mut r,
        "held_processes",
        "Processes held for a delay now",
        s.held as i64,
    );
    counter(
        &mut r,
        "events_lost",
        "Events dropped because the ring buffer was full",
        s.events_lost,
    );
    counter(
        &mut r,
        "anomalies_suppressed",
        "Anomalies counted but not reported one by one (over a profile's 100 a second)",
        s.anomalies_suppressed,
    );
    counter(
        &mut r,
        "profiles_evicted",
        "Profiles evicted to make room (never normal ones, never in use)",
        s.evicted,
    );
    counter(
        &mut r,
        "profiles_expired",
        "Profiles deleted because unused for profile-expiry",
        s.expired,
    );
    counter(
        &mut r,
        "profiles_budget_denied",
        "New profiles refused because their user had caused user-profiles this minute",
        s.budget_denied,
    );
    counter(
        &mut r,
        "reserve_denied",
        "Profiles, rows and index blocks refused to executables other users can change (the reserve is root's)",
        s.reserve_denied,
    );
    counter(
        &mut r,
        "holds_dropped",
        "Holds not made (the task ran on) because the keeper had not read the ones before",
        s.holds_dropped,
    );
    per_map(
        &mut r,
        "map_full",
        "Entries refused because the map was full (cumulative)",
        s.full,
    );
    per_map(&mut r, "map_used", "Map entries in use", s.used);
    per_map(&mut r, "map_capacity", "Map capacity", s.capacity);
    counter(&mut r, "saves", "Profile saves", s.saves);
    let last = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
    last.set(s.last_save_seconds);
    r.register(
        "last_save_duration_seconds",
        "How long the last save took",
        last,
    );
    let mut out = String::new();
    encode(&mut out, &r).expect("writing to a String does not fail");
    out
}

/// OpenMetrics text as the Prometheus text format 0.0.4: a counter's `HELP` and `TYPE` name
/// its sample (`ebph_syscalls_total`, not the family `ebph_syscalls`), and no `# EOF`.
pub fn text_format(openmetrics: &str) -> String {
    let mut counters = std::collections::HashSet::new();
    for line in openmetrics.lines() {
        if let Some(name) = line
            .strip_prefix("# TYPE ")
            .and_then(|rest| rest.strip_suffix(" counter"))
        {
            counters.insert(name.to_owned());
        }
    }
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let comment = ["# HELP ", "# TYPE "]
            .into_iter()
            .find_map(|p| line.strip_prefix(p).map(|rest| (p, rest)));
        match comment.and_then(|(p, rest)| rest.split_once(' ').map(|(n, r)| (p, n, r))) {
            Some((prefix, name, rest)) if counters.contains(name) => {
                out.push_str(&format!("{prefix}{name}_total {rest}\n"));
            }
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

/// Serves `GET /metrics` on `addr` until the daemon stops.
pub async fn serve(
    addr: SocketAddr,
    handle: Handle,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening for metrics on {addr}"))?;
    tracing::info!("metrics on http://{addr}/metrics");
    let app = Router::new().route(
        "/metrics",
        get(move |headers: HeaderMap| {
            let handle = handle.clone();
            let openmetrics = headers
                .get_all(ACCEPT)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .any(|v| v.contains("application/openmetrics-text"));
            async move {
                let (tx, rx) = oneshot::channel();
                if handle.commands.send(Command::Metrics(tx)).is_err() {
                    return (axum::http::StatusCode::SERVICE_UNAVAILABLE, "shutting down")
                        .into_response();
                }
                match rx.await {
                    Ok(Ok(snapshot)) if openmetrics => (
                        [(
                            CONTENT_TYPE,
                            "application/openmetrics-text; version=1.0.0; charset=utf-8",
                        )],
                        render(&snapshot),
                    )
                        .into_response(),
                    Ok(Ok(snapshot)) => (
                        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
                        text_format(&render(&snapshot)),
                    )
                        .into_response(),
                    _ => (
                        axum::http::StatusCode::SERVICE_UNAVAILABLE,
                        "the engine did not answer",
                    )
                        .into_response(),
                }
            }
        }),
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_parseable_prometheus_text() {
        let s = Snapshot {
            calls: 1234,
            anomalies: 5,
            profiles: [3, 1, 2],
            used: [6, 40, 7, 90],
            capacity: [16384, 32768, 4096, 65536],
            last_save_seconds: 0.25,
            ..Snapshot::default()
        };
        let text = render(&s);
        let lines = text.lines().map(|l| Ok(l.to_owned()));
        let scrape = prometheus_parse::Scrape::parse(lines).unwrap();
        let value = |name: &str, label: Option<(&str, &str)>| {
            ebph_test_support::sample(&scrape, name, label)
                .unwrap_or_else(|| panic!("no {name} in\n{text}"))
        };
        assert_eq!(value("ebph_syscalls_total", None), 1234.0);
        assert_eq!(value("ebph_anomalies_total", None), 5.0);
        assert_eq!(value("ebph_profiles", Some(("status", "normal"))), 2.0);
        assert_eq!(value("ebph_map_used", Some(("map", "rows"))), 40.0);
        assert_eq!(value("ebph_map_capacity", Some(("map", "tasks"))), 65536.0);
        assert_eq!(value("ebph_last_save_duration_seconds", None), 0.25);
        // The counters of events, each of its kind.
        let mut events = [0; EventKind::COUNTERS.len()];
        for (i, n) in events.iter_mut().enumerate() {
            *n = 10 + i as u64;
        }
        let text = render(&Snapshot {
            events,
            ..Snapshot::default()
        });
        let lines = text.lines().map(|l| Ok(l.to_owned()));
        let scrape = prometheus_parse::Scrape::parse(lines).unwrap();
        for (i, c) in EventKind::COUNTERS.iter().enumerate() {
            let name = format!("ebph_{}_total", c.name);
            assert_eq!(
                ebph_test_support::sample(&scrape, &name, None),
                Some(10.0 + i as f64),
                "{name} in\n{text}"
            );
        }
        assert_eq!(
            ebph_test_support::sample(&scrape, "ebph_delays_total", None),
            Some(12.0),
            "delays keep their name"
        );
    }

    #[test]
    fn the_text_format_names_counters_by_their_samples() {
        let text = text_format(&render(&Snapshot::default()));
        assert!(
            text.contains("# HELP ebph_syscalls_total System calls"),
            "{text}"
        );
        assert!(text.contains("# TYPE ebph_syscalls_total counter\nebph_syscalls_total 0\n"));
        assert!(
            text.contains("# TYPE ebph_map_used gauge\n"),
            "gauges keep their names"
        );
        assert!(!text.contains("# EOF"));
        // Every sample has HELP and TYPE lines of its own name (what promtool checks).
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let name = line.split(['{', ' ']).next().unwrap();
            assert!(
                text.contains(&format!("# TYPE {name} ")),
                "{name} has no TYPE"
            );
            assert!(
                text.contains(&format!("# HELP {name} ")),
                "{name} has no HELP"
            );
        }
    }
}
