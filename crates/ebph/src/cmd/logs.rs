//! `ebph logs`: the engine's events.

use anyhow::Result;
use ebph_api::client::Client;
use ebph_api::protocol::Event;

/// Show recent events: anomalies, profiles created, frozen, normal...
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Keep printing events as they happen.
    #[arg(short, long)]
    follow: bool,
    /// One JSON object per event per line.
    #[arg(long)]
    json: bool,
    /// Leave out exec events (there is one for every program run).
    #[arg(long)]
    no_exec: bool,
}

/// One event for people.
fn human(e: &Event) -> String {
    let who = if e.path.is_empty() {
        e.key.as_str()
    } else {
        e.path.as_str()
    };
    match e.kind.as_str() {
        "anomaly" => format!(
            "{} anomaly     pid {} {}: {} ({} misses, LFC {}) after {}",
            e.time,
            e.pid,
            who,
            e.syscall.as_deref().unwrap_or("?"),
            e.misses.unwrap_or(0),
            e.lfc,
            e.sequence.as_deref().unwrap_or_default().join(" ")
        ),
        "delay" => format!(
            "{} delay       pid {} {}: held {:.0} ms (LFC {})",
            e.time,
            e.pid,
            who,
            e.delay_ms.unwrap_or(0.0),
            e.lfc
        ),
        kind => format!("{} {:<11} pid {} {}", e.time, kind, e.pid, who),
    }
}

pub fn run(client: &Client, args: Args) -> Result<()> {
    let path = format!("/v1/events?follow={}", args.follow);
    let mut out = std::io::stdout().lock();
    let mut failed = None;
    client.stream_lines(&path, |line| {
        let Ok(event) = serde_json::from_str::<Event>(line) else {
            return true;
        };
        if args.no_exec && event.kind == "exec" {
            return true;
        }
        let text = if args.json {
            line.to_owned()
        } else {
            human(&event)
        };
        use std::io::Write;
        if let Err(e) = writeln!(out, "{text}").and_then(|_| out.flush()) {
            failed = Some(e);
            return false;
        }
        true
    })?;
    match failed {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}
