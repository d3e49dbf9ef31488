//! `ebph release --pid PID`: end a process's delay now.

use anyhow::Result;
use ebph_api::client::Client;
use std::io::Write;

/// Release a process held for a delay: it continues now, and its locality frame starts
/// empty, so it is not held again until it makes new anomalous calls.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The process.
    #[arg(long)]
    pid: u32,
}

pub fn run(client: &Client, args: Args) -> Result<()> {
    let mut out = std::io::stdout().lock();
    let tasks: u32 = client.release(args.pid)?;
    writeln!(out, "released process {} ({tasks} tasks)", args.pid)?;
    Ok(())
}
