//! `ebph save`: write every profile to the database now.

use anyhow::Result;
use ebph_daemon::client::{Client, Method};
use ebph_daemon::protocol::Saved;

pub fn run(client: &Client) -> Result<()> {
    let saved: Saved = client.send(Method::POST, "/v1/save", &())?;
    println!(
        "saved {} profiles in {} ms",
        saved.profiles, saved.milliseconds
    );
    Ok(())
}
