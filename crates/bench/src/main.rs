//! `rhp-bench`: measures the Rabid Hole Punch server against the bare-UDP floor (issue #10).
//!
//! - `run`: the load test: floors and server, each as its own process, under the same loader.
//! - `relay`: the server's relay against the same floors (packets/s, latency, CPU per frame).
//! - `memory`: bytes per player and per session in the sans-IO engine.
//! - `echo`, `worker`, `relay-worker`: the processes `run` and `relay` start (hidden).
//!
//! # Layout
//! - [`coord`]: `run` (targets, phases, the summary as ratios); [`worker`]: one load process
//!   (a slice of the players, each on its own loopback address).
//! - [`relay`]: `relay`; [`relay_worker`]: one relay load process.
//! - [`echo`]: the two floors (naive and batched echo). [`memory`]: `memory` (the engine alone).
//! - [`hist`]: the latency histogram; [`procfs`]: CPU, memory and socket drops from `/proc`.
//! - `tests/`: unit tests of the private parts.

mod cluster;
mod coord;
mod echo;
mod hist;
mod memory;
mod procfs;
mod relay;
mod relay_worker;
mod target;
#[cfg(test)]
mod tests;
mod worker;

use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::process::ExitCode;

#[global_allocator]
static GLOBAL: memory::Counting = memory::Counting;

/// Load generator and floors for the Rabid Hole Punch server.
#[derive(Parser, Debug)]
#[command(name = "rhp-bench", version, arg_required_else_help = true)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Throughput, latency, CPU per request and start storms: floors and server under one loader.
    Run(coord::RunArgs),
    /// The relay's throughput, latency and CPU per forwarded frame against the echo floors.
    Relay(relay::RelayArgs),
    /// Bytes per player and per session in the engine (players created directly, no sockets).
    Memory {
        /// Players to create.
        #[arg(long, default_value_t = 1_000_000)]
        players: usize,
        /// Players per session.
        #[arg(long, default_value_t = 4)]
        per_session: usize,
        /// Only the default configuration (budget on), alone in the process: its RSS figure.
        #[arg(long)]
        budget_only: bool,
    },
    /// A start storm inside the engine alone: its CPU time per start message, without sockets.
    EngineStorm {
        /// Players to create.
        #[arg(long, default_value_t = 100_000)]
        players: usize,
        /// Players per session.
        #[arg(long, default_value_t = 4)]
        per_session: usize,
    },
    /// A UDP echo floor (started by `run`).
    #[command(hide = true)]
    Echo {
        #[arg(long, value_enum)]
        mode: echo::EchoMode,
        #[arg(long)]
        bind: SocketAddr,
        #[arg(long, default_value_t = 600)]
        max_secs: u64,
    },
    /// A load worker (started by `run`).
    #[command(hide = true)]
    Worker(worker::WorkerArgs),
    /// A relay load worker (started by `relay`).
    #[command(hide = true)]
    RelayWorker(relay_worker::RelayWorkerArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Cmd::Run(args) => {
            coord::run(args);
            Ok(())
        }
        Cmd::Relay(args) => {
            relay::run(args);
            Ok(())
        }
        Cmd::Memory { players, per_session, budget_only } => {
            memory::run(players, per_session, budget_only);
            Ok(())
        }
        Cmd::EngineStorm { players, per_session } => {
            memory::storm(players, per_session);
            Ok(())
        }
        Cmd::Echo { mode, bind, max_secs } => echo::run(mode, bind, max_secs),
        Cmd::Worker(args) => worker::run(args),
        Cmd::RelayWorker(args) => relay_worker::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rhp-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
