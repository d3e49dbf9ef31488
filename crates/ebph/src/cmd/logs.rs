//! `ebph logs`: the engine's events.

use anyhow::Result;
use ebph_api::client::Client;
use ebph_api::event::{Event, EventKind};

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
    /// Only events of these types (comma-separated: anomaly,delay,...).
    #[arg(long = "type", value_name = "TYPES", conflicts_with = "no_exec")]
    types: Option<String>,
}

pub fn run(client: &Client, args: Args) -> Result<()> {
    // The daemon filters: only what is asked for crosses the socket.
    let types: Option<Vec<&str>> = match (&args.types, args.no_exec) {
        (Some(types), _) => Some(types.split(',').map(str::trim).collect()),
        (None, true) => Some(EventKind::names_but(&["exec"])),
        (None, false) => None,
    };
    let mut out = std::io::stdout().lock();
    let mut failed = None;
    client.events(args.follow, types.as_deref(), |line| {
        let Ok(event) = serde_json::from_str::<Event>(line) else {
            return true;
        };
        let text = if args.json {
            line.to_owned()
        } else {
            format!("{} {event}", event.time)
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
