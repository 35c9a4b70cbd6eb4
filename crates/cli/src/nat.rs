//! `rabid-hole-punch nat`: classify the NAT in front of this machine against a rendezvous server
//! (STUN to its two ports) and say, for a person, what it means for punching. Also the NAT flags
//! `host` and `join` share ([`NatFlags`]).
//!
//! Output contract (the NAT lab parses it; `host`/`join` print the same line when classified):
//! `nat mapping=<independent|predictable|random|unknown> preserves=<yes|no|unknown>
//! step=<n|-> public=<ip:port|-> desc=<token>`.

use rhp_client::{BirthdayConfig, NatConfig, NatKind, NatReport};
use rhp_proto::DEFAULT_PORT;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

/// NAT classification and the direct methods beyond plain punching.
#[derive(clap::Args, Debug, Clone)]
pub struct NatFlags {
    /// Do not classify the NAT nor announce it: plain punching only (as the Godot plugin does).
    #[arg(long)]
    no_nat: bool,
    /// Do not ask the server for its relay: peers no direct path reaches stay unreachable
    /// (by default peers that also asked are reached through the server at once, and move to a
    /// direct path when one opens).
    #[arg(long)]
    no_relay: bool,
    /// The server's second STUN port (default: the server's port + 1).
    #[arg(long, value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..))]
    alt_port: Option<u16>,
    /// Ports predicted for a peer whose NAT moves its mapping by a fixed step.
    #[arg(long, default_value_t = 32, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    predict_window: u16,
    /// Birthday path, hard side: sockets opened, each greeting the easy peer.
    #[arg(long, default_value_t = 256, value_name = "K", value_parser = clap::value_parser!(u16).range(1..=1024))]
    birthday_sockets: u16,
    /// Birthday path, easy side: probes per second to random ports of the hard peer's IP.
    #[arg(long, default_value_t = 1000, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100_000))]
    birthday_rate: u32,
    /// Birthday path, easy side: most probes per peer.
    #[arg(long, default_value_t = 8192, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=65_535))]
    birthday_probes: u32,
    /// Birthday path, hard side: milliseconds of plain punching before the sockets open.
    #[arg(long, default_value_t = 250, value_name = "MS", value_parser = clap::value_parser!(u64).range(0..=60_000))]
    birthday_grace_ms: u64,
}

impl NatFlags {
    /// The library's settings.
    pub fn config(&self) -> NatConfig {
        NatConfig {
            classify: !self.no_nat,
            relay: !self.no_relay,
            alt_port: self.alt_port,
            predict_window: self.predict_window,
            birthday: BirthdayConfig {
                sockets: self.birthday_sockets,
                rate: self.birthday_rate,
                max_probes: self.birthday_probes,
                grace: Duration::from_millis(self.birthday_grace_ms),
                ..BirthdayConfig::default()
            },
            ..NatConfig::default()
        }
    }
}

/// Flags of `nat`.
#[derive(clap::Args, Debug)]
pub struct NatArgs {
    /// Rendezvous server, HOST:PORT (it answers STUN on this port and on --alt-port).
    #[arg(long, default_value_t = format!("127.0.0.1:{DEFAULT_PORT}"), value_name = "HOST:PORT")]
    server: String,
    /// The server's second STUN port (default: the server's port + 1).
    #[arg(long, value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..))]
    alt_port: Option<u16>,
    /// Local address to probe from.
    #[arg(long, default_value = "0.0.0.0:0", value_name = "IP:PORT")]
    bind: SocketAddr,
}

/// The machine-readable line.
pub fn line(r: &NatReport) -> String {
    let preserves = match r.preserves_port {
        Some(true) => "yes",
        Some(false) => "no",
        None => "unknown",
    };
    let step = match r.kind {
        NatKind::Predictable { step, .. } => step.to_string(),
        _ => "-".into(),
    };
    let public = r.public.map_or("-".into(), |a| a.to_string());
    format!(
        "nat mapping={} preserves={preserves} step={step} public={public} desc={}",
        r.kind.name(),
        r.kind.token()
    )
}

/// Runs `nat`.
pub fn run(args: NatArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let server = match crate::host_join::resolve(&args.server).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        };
        let nat = NatConfig { alt_port: args.alt_port, ..NatConfig::default() };
        eprintln!("probing {server} and port {} with STUN...", nat.alt_addr(server).port());
        match rhp_client::probe_nat(server, &nat, Some(args.bind)).await {
            Ok(r) => {
                println!("{}", line(&r));
                describe(&r);
                if r.kind == NatKind::Unknown {
                    ExitCode::FAILURE
                } else {
                    ExitCode::SUCCESS
                }
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

/// The same, for a person (stderr).
pub fn describe(r: &NatReport) {
    if let Some(public) = r.public {
        eprintln!("public address (towards the server): {public}");
    }
    for (via, to, mapped) in &r.samples {
        eprintln!("  socket {via} -> {to}: seen as {mapped}");
    }
    match r.preserves_port {
        Some(true) => eprintln!("the NAT keeps the local port"),
        Some(false) => eprintln!("the NAT changes the local port ({} -> public)", r.local_port.unwrap_or(0)),
        None => {}
    }
    eprintln!("mapping: {}", r.kind);
    eprintln!("{}", r.verdict());
}
