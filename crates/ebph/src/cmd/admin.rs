//! `ebph normalize`, `ebph sensitize`, `ebph tolerize`.

use anyhow::Result;
use ebph_api::client::Client;
use ebph_api::protocol::Target;
use std::io::Write;

/// Which profile: exactly one of --profile, --key, --pid.
#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
pub struct Args {
    /// The executable's path.
    #[arg(long, value_name = "PATH")]
    profile: Option<String>,
    /// The profile's key (MAJOR:MINOR:INODE).
    #[arg(long)]
    key: Option<String>,
    /// The profile of this process.
    #[arg(long)]
    pid: Option<u32>,
}

pub fn run(client: &Client, op: &str, args: Args) -> Result<()> {
    let mut out = std::io::stdout().lock();
    let target = Target {
        key: args.key,
        path: args.profile,
        pid: args.pid,
    };
    let p = client.admin(op, target)?;
    writeln!(
        out,
        "{op}d {} ({}): now {}",
        if p.path.is_empty() { &p.key } else { &p.path },
        p.key,
        p.status
    )?;
    Ok(())
}
