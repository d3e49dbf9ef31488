//! The subcommands of `ebph`.

pub mod admin;
pub mod daemon;
pub mod eval;
pub mod generate;
pub mod logs;
pub mod plot;
pub mod profiles;
pub mod ps;
pub mod release;
pub mod replay;
pub mod roc;
pub mod save;
pub mod settings;
pub mod status;
pub mod top;

use std::io::Write;

use anyhow::Result;
use serde::Serialize;

/// Prints `value` as one line of JSON.
pub fn print_json(value: &impl Serialize) -> Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}

/// A byte count for people: `18.6 KiB`.
pub fn bytes(n: u64) -> String {
    if n < 1024 {
        format!("{n} B")
    } else if n < 1024 * 1024 {
        format!("{:.1} KiB", n as f64 / 1024.0)
    } else {
        format!("{:.1} MiB", n as f64 / (1024.0 * 1024.0))
    }
}
