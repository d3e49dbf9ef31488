//! `ebph save`: write every profile to the database now.

use anyhow::Result;
use ebph_api::client::Client;
use ebph_api::protocol::Saved;
use std::io::Write;

pub fn run(client: &Client) -> Result<()> {
    let mut out = std::io::stdout().lock();
    let saved: Saved = client.save()?;
    writeln!(
        out,
        "saved {} profiles in {} ms",
        saved.profiles, saved.milliseconds
    )?;
    Ok(())
}
