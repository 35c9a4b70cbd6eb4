//! `rabid-hole-punch`: the command line. One binary, three jobs:
//! - `serve`: the rendezvous server (also started the original's way: `rabid-hole-punch <port> [DEBUG]`);
//! - `host` / `join`: a player, from rendezvous to a working UDP path to every peer, then a chat;
//! - `nat`: what the NAT in front of this machine does (STUN to the server's two ports);
//! - `healthcheck`: asks a running server's `/healthz` (for container health checks).
//!
//! This file only picks the subcommand; each lives in its own module.
//!
//! # Layout
//! - `serve`: [`serve`] (the run: logging, sockets, the `rhp_server` shell until a signal),
//!   [`serve_args`] (its flags and the engine configuration they describe), [`headings`] (the
//!   `--help` headings = the config file's tables), [`config_layers`] (flags, then `RHP_*`, then
//!   the `--config` file, then defaults; `--print-config`), [`config_file`] (the TOML entries),
//!   [`reload`] (SIGHUP), [`logging`] (stderr and the rotated log file), [`ops`] (metrics and
//!   health over HTTP, sd_notify, the log format, `healthcheck`).
//! - `host` / `join`: [`host_join`] (the player's run, its chat and script modes), [`console`]
//!   (typed lines on a plain thread), [`stop`] (exit codes and signals), [`stream`] (the
//!   script's game-like stream), [`resolve`] (`--server HOST:PORT`).
//! - `nat`: [`nat`] (the verdict in plain words, `--verbose`, `--json`).
//! - `tests/`: the binary's unit tests (private functions); everything else is tested black-box
//!   from `crates/cli/tests` against the real binary.

mod config_file;
mod config_layers;
mod console;
mod headings;
mod host_join;
mod logging;
mod nat;
mod ops;
mod reload;
mod resolve;
mod serve;
mod serve_args;
mod serve_cluster;
mod stop;
mod stream;
#[cfg(test)]
mod tests;

use clap::{Parser, Subcommand};
use std::ffi::OsString;
use std::process::ExitCode;

/// UDP hole punching for games: a rendezvous server that is a drop-in replacement for the
/// Rabid Hole Punch server (Godot plugin compatible), and a client that connects every player.
#[derive(Parser, Debug)]
#[command(name = "rabid-hole-punch", version, arg_required_else_help = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the rendezvous server.
    Serve(serve::ServeArgs),
    /// Create a session as its host, wait for players, start it and connect to every peer.
    #[command(after_help = host_join::PLAYER_HELP)]
    Host(host_join::HostArgs),
    /// Join a session and connect to every peer once the host starts it.
    #[command(after_help = host_join::PLAYER_HELP)]
    Join(host_join::JoinArgs),
    /// Classify the NAT in front of this machine (STUN to the server's two ports) and say what
    /// it means for punching.
    Nat(nat::NatArgs),
    /// Ask a running server's health endpoint (/healthz); exit 0 if it answers 200. For
    /// container health checks.
    Healthcheck(ops::healthcheck::HealthcheckArgs),
}

fn main() -> ExitCode {
    let argv: Vec<OsString> = std::env::args_os().collect();
    // The original server's invocation, `main.py <port> [DEBUG]`, keeps working.
    if let Some(args) = serve::legacy_args(&argv) {
        return serve::main(args);
    }
    if let Some(hint) = serve::positional_hint(&argv) {
        eprintln!("error: {hint}");
        return ExitCode::from(2);
    }
    // `serve` is parsed on its own: its settings also come from RHP_* variables and --config.
    if argv.get(1).is_some_and(|a| a == "serve") {
        return serve::main(argv.into_iter().skip(2).collect());
    }
    let cli = Cli::parse_from(argv);
    match cli.command {
        // Reached only through `serve`, handled above; kept for completeness.
        Command::Serve(_) => serve::main(std::env::args_os().skip(2).collect()),
        Command::Host(args) => host_join::run_host(args),
        Command::Join(args) => host_join::run_join(args),
        Command::Nat(args) => nat::run(args),
        Command::Healthcheck(args) => ops::healthcheck::run(args),
    }
}
