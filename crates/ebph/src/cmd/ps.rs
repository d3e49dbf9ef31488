//! `ebph ps`: the processes ebph watches.

use anyhow::Result;
use ebph_api::client::Client;
use ebph_api::protocol::Process;

use crate::table::{Align, Table};

/// List tracked processes: pid, command, profile status, LFC, anomalies.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// One line per thread, not per process.
    #[arg(short = 't', long)]
    threads: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(client: &Client, args: Args) -> Result<()> {
    let processes: Vec<Process> = client.processes(args.threads)?;
    if args.json {
        return super::print_json(&processes);
    }
    let mut columns = vec![("PID", Align::Right)];
    if args.threads {
        columns.push(("TID", Align::Right));
    }
    columns.extend([
        ("COMM", Align::Left),
        ("STATUS", Align::Left),
        ("LFC", Align::Right),
        ("ANOMALIES", Align::Right),
        ("HELD", Align::Right),
        ("PROFILE", Align::Left),
    ]);
    let mut table = Table::new(&columns);
    for p in processes {
        let mut row = vec![p.pid.to_string()];
        if args.threads {
            row.push(p.tid.to_string());
        }
        let held = p
            .held_ms
            .map_or_else(|| "-".to_owned(), |ms| format!("{ms}ms"));
        row.extend([
            p.comm,
            p.status,
            p.lfc.to_string(),
            p.anomalies.to_string(),
            held,
            if p.path.is_empty() { p.key } else { p.path },
        ]);
        table.row(row);
    }
    table.write(&mut std::io::stdout().lock())?;
    Ok(())
}
