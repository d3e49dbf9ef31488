//! `ebph daemon`: run the daemon in the foreground.

use std::path::PathBuf;

use anyhow::Result;
use ebph_daemon::Config;

/// Run the ebph daemon in the foreground (as root): attach the engine, keep profiles, serve
/// the API. Stops, saving, on SIGTERM or SIGINT.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The configuration file (optional at its default place).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Where profiles, anomalies and the event log are kept [default: /var/lib/ebph].
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// How often to save profiles, e.g. 5m [default: 5m].
    #[arg(long, value_name = "DURATION", value_parser = ebph_api::protocol::parse_duration)]
    save_interval: Option<std::time::Duration>,
    /// Serve Prometheus metrics at http://ADDR/metrics (`on` = 127.0.0.1:9559) [default: off].
    #[arg(long, value_name = "ADDR", value_parser = ebph_daemon::parse_listen)]
    metrics_listen: Option<std::net::SocketAddr>,
}

/// The daemon's helper that continues held processes; the daemon starts it, nobody else.
#[derive(Debug, clap::Args)]
pub struct KeeperArgs {
    /// The id of the engine's holds ring buffer.
    #[arg(long, value_name = "ID")]
    holds_map_id: u32,
    /// Where keepers write down what they hold.
    #[arg(long, value_name = "DIR")]
    ledger: PathBuf,
}

pub fn keeper(args: KeeperArgs) -> Result<()> {
    crate::logging::init();
    ebph_daemon::run_keeper(ebph_daemon::KeeperOptions {
        holds_map_id: args.holds_map_id,
        ledger_dir: args.ledger,
    })
}

pub fn run(args: Args, socket: Option<PathBuf>) -> Result<()> {
    crate::logging::init();
    let (path, required) = match &args.config {
        Some(path) => (path.clone(), true),
        None => (PathBuf::from(ebph_api::paths::DEFAULT_CONFIG), false),
    };
    let mut config = Config::load(&path, required)?;
    if let Some(dir) = args.state_dir {
        config.state_dir = dir;
    }
    if let Some(socket) = socket {
        config.socket = socket;
    }
    if let Some(interval) = args.save_interval {
        config.save_interval = interval;
    }
    if let Some(addr) = args.metrics_listen {
        config.metrics_listen = Some(addr);
    }
    ebph_daemon::run(config)
}
