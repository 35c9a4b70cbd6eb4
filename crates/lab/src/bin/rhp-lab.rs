//! `rhp-lab`: runs the NAT matrix (`rhp-lab matrix`), and is also the helper the lab starts
//! inside its namespaces (echo, ping, classify, greet, delay).

use clap::{Parser, Subcommand};
use rhp_lab::{impair, matrix, probe};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(name = "rhp-lab", about = "NAT lab for rabid-hole-punch (needs root)")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Run the connectivity matrix with the real binaries and write the Markdown report.
    Matrix(matrix::MatrixArgs),
    /// (helper) Echo/classifier service.
    Echo {
        #[arg(long, required = true)]
        bind: Vec<SocketAddr>,
        #[arg(long, default_value_t = 900)]
        max_s: u64,
    },
    /// (helper) Round-trip probe.
    Ping {
        #[arg(long)]
        server: SocketAddr,
        #[arg(long, default_value_t = 100)]
        count: u32,
        #[arg(long, default_value_t = 10)]
        interval_ms: u64,
    },
    /// (helper) NAT classifier probe.
    Classify {
        #[arg(long)]
        s1: SocketAddr,
        #[arg(long)]
        s2: SocketAddr,
    },
    /// (helper) Plain UDP greetings to peers; prints who was heard.
    Greet {
        #[arg(long)]
        bind: SocketAddr,
        #[arg(long)]
        peer: Vec<SocketAddr>,
        #[arg(long, default_value_t = 10)]
        count: u32,
        #[arg(long, default_value_t = 50)]
        interval_ms: u64,
        #[arg(long, default_value_t = 500)]
        linger_ms: u64,
    },
    /// (helper) NFQUEUE delay line.
    Delay {
        #[arg(long, default_value_t = 0)]
        queue: u16,
        #[arg(long)]
        delay_ms: u64,
        #[arg(long, default_value_t = 900)]
        max_s: u64,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let r: rhp_lab::Result<bool> = match cli.cmd {
        Cmd::Matrix(args) => matrix::main(&args, current_exe()),
        Cmd::Echo { bind, max_s } => probe::echo_service(&bind, Duration::from_secs(max_s)).map(|_| true),
        Cmd::Ping { server, count, interval_ms } => {
            probe::ping(server, count, Duration::from_millis(interval_ms)).map(|s| {
                println!("{}", s.render());
                true
            })
        }
        Cmd::Classify { s1, s2 } => probe::classify(s1, s2).map(|c| {
            println!("{}", c.render());
            true
        }),
        Cmd::Greet { bind, peer, count, interval_ms, linger_ms } => {
            let every = Duration::from_millis(interval_ms);
            probe::greet(bind, &peer, count, every, Duration::from_millis(linger_ms)).map(|h| {
                println!("{}", h.render());
                true
            })
        }
        Cmd::Delay { queue, delay_ms, max_s } => {
            impair::run_delay_line(queue, Duration::from_millis(delay_ms), Duration::from_secs(max_s))
                .map(|_| true)
        }
    };
    match r {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("rhp-lab: {e}");
            ExitCode::from(2)
        }
    }
}

fn current_exe() -> PathBuf {
    std::env::current_exe().unwrap_or_else(|_| PathBuf::from("rhp-lab"))
}
