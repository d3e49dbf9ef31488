//! `ebph`: the command-line front end of ebph. Each subcommand lives in its own module
//! under `cmd/`.

#![forbid(unsafe_code)]

mod cmd;
mod logging;
mod table;

use std::io;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use ebph_api::client::Client;

/// ebph: learns what every program on this machine normally does, one system call at a time,
/// and flags what breaks the pattern.
#[derive(Debug, Parser)]
#[command(
    name = "ebph",
    version,
    about = "host intrusion detection and response: learns what every program normally does, \
one system call at a time, and flags what breaks the pattern",
    propagate_version = true,
    long_about = "ebph learns, for every executable on this machine, what its normal system-call \
behaviour looks like (lookahead pairs and n-grams, after Somayaji's pH), flags the calls that \
break it, and can slow down or stop a process that misbehaves. `ebph daemon` runs the engine \
(in the kernel, with eBPF) and keeps the profiles; the other commands talk to it and need \
root, except `replay` and `eval`, which work offline on recorded traces.",
    after_long_help = "Files: /etc/ebph/ebph.toml (configuration), /var/lib/ebph (profiles: \
ebph.db; the event log: events.jsonl), /run/ebph/ebph.sock (the API). Environment: \
EBPH_SOCKET (the API socket), EBPH_LOG (the daemon's log level, e.g. debug). \
Documentation: /usr/share/doc/ebph."
)]
struct Cli {
    /// The daemon's API socket.
    #[arg(long, global = true, env = "EBPH_SOCKET", value_name = "PATH")]
    socket: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Daemon(cmd::daemon::Args),
    Status(cmd::status::Args),
    Ps(cmd::ps::Args),
    /// List every profile.
    Profiles(cmd::profiles::ListArgs),
    /// Show, export, import, merge or write as CSV profiles.
    #[command(subcommand)]
    Profile(cmd::profiles::ProfileCommand),
    /// Show the settings, or one of them.
    Get(cmd::settings::GetArgs),
    /// Change settings now (durations like 2s or 7d); they are kept across restarts.
    Set(cmd::settings::SetArgs),
    /// Make a profile normal now: what it learned becomes what is expected.
    Normalize(cmd::admin::Args),
    /// Make a profile forget its training data (keeps what is normal).
    Sensitize(cmd::admin::Args),
    /// Accept a profile's recent behaviour: it leaves normal and trains again.
    Tolerize(cmd::admin::Args),
    /// Save every profile to the database now.
    Save,
    Release(cmd::release::Args),
    Logs(cmd::logs::Args),
    Top(cmd::top::Args),
    Plot(cmd::plot::Args),
    Replay(cmd::replay::Args),
    Eval(cmd::eval::Args),
    #[command(hide = true)]
    Keeper(cmd::daemon::KeeperArgs),
    #[command(hide = true)]
    Generate(cmd::generate::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let socket = cli.socket.clone();
    let client = || {
        Client::new(
            socket
                .as_deref()
                .unwrap_or(ebph_api::paths::DEFAULT_SOCKET.as_ref()),
        )
    };
    let result = match cli.command {
        Command::Daemon(args) => cmd::daemon::run(args, cli.socket),
        Command::Status(args) => cmd::status::run(&client(), args),
        Command::Ps(args) => cmd::ps::run(&client(), args),
        Command::Profiles(args) => cmd::profiles::list(&client(), args),
        Command::Profile(command) => cmd::profiles::run(&client(), command),
        Command::Get(args) => cmd::settings::get(&client(), args),
        Command::Set(args) => cmd::settings::set(&client(), args),
        Command::Normalize(args) => cmd::admin::run(&client(), "normalize", args),
        Command::Sensitize(args) => cmd::admin::run(&client(), "sensitize", args),
        Command::Tolerize(args) => cmd::admin::run(&client(), "tolerize", args),
        Command::Save => cmd::save::run(&client()),
        Command::Release(args) => cmd::release::run(&client(), args),
        Command::Logs(args) => cmd::logs::run(&client(), args),
        Command::Top(args) => cmd::top::run(&client(), args),
        Command::Plot(args) => cmd::plot::run(&client(), args),
        Command::Replay(args) => cmd::replay::run(args),
        Command::Eval(args) => cmd::eval::run(args),
        Command::Keeper(args) => cmd::daemon::keeper(args),
        Command::Generate(args) => cmd::generate::run(Cli::command(), args),
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

/// Whether `e` comes from writing to a pipe whose reader has gone, directly or through a
/// serializer (JSON and CSV writers wrap the I/O error in their own).
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        let kind = if let Some(e) = cause.downcast_ref::<io::Error>() {
            Some(e.kind())
        } else if let Some(e) = cause.downcast_ref::<serde_json::Error>() {
            e.io_error_kind()
        } else if let Some(e) = cause.downcast_ref::<csv::Error>() {
            match e.kind() {
                csv::ErrorKind::Io(e) => Some(e.kind()),
                _ => None,
            }
        } else {
            None
        };
        kind == Some(io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn plot_takes_its_picture_as_an_argument_or_with_output() {
        let parses = |args: &[&str]| Cli::try_parse_from(args).is_ok();
        assert!(parses(&["ebph", "plot", "/bin/ls", "ls.png"]));
        assert!(parses(&["ebph", "plot", "/bin/ls", "-o", "ls.svg"]));
        assert!(!parses(&["ebph", "plot", "/bin/ls"]), "no picture");
        assert!(
            !parses(&["ebph", "plot", "/bin/ls", "a.png", "-o", "b.png"]),
            "two"
        );
    }
}
