//! `ebph status`: is the daemon running, and what does it hold.

use anyhow::Result;
use ebph_api::client::Client;
use ebph_api::protocol::Status;
use std::io::Write;

/// Show the daemon's state: profiles, tasks, anomalies, the database, the engine's counters.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(client: &Client, args: Args) -> Result<()> {
    let mut out = std::io::stdout().lock();
    let s: Status = client.status()?;
    if args.json {
        return super::print_json(&s);
    }
    let e = &s.engine;
    writeln!(
        out,
        "ebph {} is running (pid {}, up {})",
        s.version,
        s.pid,
        humantime::format_duration(std::time::Duration::from_secs(s.uptime_seconds))
    )?;
    writeln!(
        out,
        "profiles   {} ({} normal)",
        s.profiles, s.normal_profiles
    )?;
    writeln!(out, "tasks      {} tracked", s.tasks)?;
    writeln!(out, "anomalies  {} since start", e.anomalies)?;
    let keeper = match s.keeper_pid {
        Some(pid) => format!("keeper pid {pid}"),
        None => "no keeper".to_owned(),
    };
    let dropped = match e.holds_dropped {
        0 => String::new(),
        n => format!(", {n} holds dropped"),
    };
    writeln!(
        out,
        "response   {} ({} held now, {keeper}{dropped})",
        s.response, s.held
    )?;
    writeln!(
        out,
        "kernel     {}: {}",
        s.kernel.release,
        s.kernel.summary()
    )?;
    writeln!(
        out,
        "database   {} (saved {}, every {})",
        s.database,
        s.last_save.as_deref().unwrap_or("not yet"),
        s.save_interval
    )?;
    writeln!(
        out,
        "engine     {} rows and {} index blocks in use; full: {} profiles, {} rows, {} indexes, {} tasks",
        e.rows_used, e.indexes_used, e.profiles_full, e.rows_full, e.indexes_full, e.tasks_full
    )?;
    writeln!(
        out,
        "lost       {} events (ring buffer full), {} anomalies not reported one by one (storms), {} holds dropped, {} engine runs missed",
        e.events_lost, e.anomalies_suppressed, e.holds_dropped, e.runs_missed
    )?;
    writeln!(
        out,
        "evicted    {} profiles to make room, {} expired; refused: {} new profiles over a user's budget, {} entries kept for root's programs",
        e.profiles_evicted, e.profiles_expired, e.budget_denied, e.reserve_denied
    )?;
    if e.scripts_unseen > 0 {
        writeln!(
            out,
            "scripts    {} #! scripts ran under their interpreter's profile (their file could not be found)",
            e.scripts_unseen
        )?;
    }
    for warning in &s.warnings {
        writeln!(out, "warning    {warning}")?;
    }
    Ok(())
}
