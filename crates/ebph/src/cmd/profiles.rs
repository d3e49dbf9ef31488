//! `ebph profiles` and `ebph profile show`.

use anyhow::Result;
use ebph_daemon::client::Client;
use ebph_daemon::protocol::{ProfileDetail, ProfileSummary};

use crate::table::{Align, Table};

/// List every profile.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Commands on one profile.
#[derive(Debug, clap::Subcommand)]
pub enum ProfileCommand {
    /// Show a profile: state, counters, normal time, and the learned pairs by call name.
    Show(ShowArgs),
}

/// `ebph profile show PATH|KEY`.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// The executable's path, or the profile's key (MAJOR:MINOR:INODE).
    target: String,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// The query naming a profile by path or key.
pub fn target_query(target: &str) -> String {
    let name = if target.parse::<ebph_core::ProfileKey>().is_ok() {
        "key"
    } else {
        "path"
    };
    format!("{name}={}", encode(target))
}

/// Percent-encodes a query value.
pub fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' | b':' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub fn list(client: &Client, args: ListArgs) -> Result<()> {
    let profiles: Vec<ProfileSummary> = client.get("/v1/profiles")?;
    if args.json {
        return super::print_json(&profiles);
    }
    let mut table = Table::new(&[
        ("KEY", Align::Left),
        ("STATUS", Align::Left),
        ("TRAIN_COUNT", Align::Right),
        ("SEQUENCES", Align::Right),
        ("ANOMALIES", Align::Right),
        ("PAIRS", Align::Right),
        ("MEMORY", Align::Right),
        ("PATH", Align::Left),
    ]);
    for p in profiles {
        table.row(vec![
            p.key,
            p.status,
            p.train_count.to_string(),
            p.sequences.to_string(),
            p.anomalies.to_string(),
            p.lookahead_pairs.to_string(),
            super::bytes(p.memory_bytes),
            p.path,
        ]);
    }
    table.write(&mut std::io::stdout().lock())?;
    Ok(())
}

pub fn run(client: &Client, command: ProfileCommand) -> Result<()> {
    match command {
        ProfileCommand::Show(args) => show(client, args),
    }
}

fn show(client: &Client, args: ShowArgs) -> Result<()> {
    let p: ProfileDetail = client.get(&format!("/v1/profile?{}", target_query(&args.target)))?;
    if args.json {
        return super::print_json(&p);
    }
    let s = &p.summary;
    println!("path            {}", s.path);
    println!("key             {}", s.key);
    println!("status          {}", s.status);
    if let Some(t) = &s.normal_time {
        println!("normal at       {t}");
    }
    println!("train count     {}", s.train_count);
    println!("last mod count  {}", s.last_mod_count);
    println!("sequences       {}", s.sequences);
    println!("anomalies       {}", s.anomalies);
    println!("pairs           {}", s.lookahead_pairs);
    println!("kernel memory   {}", super::bytes(s.memory_bytes));
    println!();
    let mut table = Table::new(&[
        ("CALL", Align::Left),
        ("AFTER", Align::Left),
        ("AT DISTANCES", Align::Left),
    ]);
    for pair in &p.pairs {
        let d: Vec<String> = pair.distances.iter().map(u8::to_string).collect();
        table.row(vec![pair.call.clone(), pair.prev.clone(), d.join(",")]);
    }
    table.write(&mut std::io::stdout().lock())?;
    Ok(())
}
