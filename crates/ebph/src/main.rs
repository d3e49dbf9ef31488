//! `ebph`: the command-line front end of ebph. Each subcommand lives in its own module
//! under `cmd/`.

#![forbid(unsafe_code)]

mod cmd;
mod table;

use std::io;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// ebph: learns what every program on this machine normally does, one system call at a time,
/// and flags what breaks the pattern.
#[derive(Debug, Parser)]
#[command(name = "ebph", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Replay(cmd::replay::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Replay(args) => cmd::replay::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // A reader that stops early (`ebph replay ... | head`) is not an error.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ebph: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}
