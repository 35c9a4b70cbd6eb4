//! `rabid-hole-punch serve`: the rendezvous server. Parses flags (and the original's
//! `<port> [DEBUG]` form), sets up logging, binds the socket (and the alternate STUN port), runs the
//! `rhp_server` shell until SIGINT/SIGTERM.

use crate::logging::{self, LogOptions};
use clap::Parser;
use rhp_proto::DEFAULT_PORT;
use rhp_server::config::{BudgetConfig, RelayConfig};
use rhp_server::{Config, Engine};
use std::ffi::OsString;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use tracing::{error, info};
use tracing_subscriber::filter::LevelFilter;

/// Flags of `serve`.
#[derive(clap::Args, Debug, Clone)]
pub struct ServeArgs {
    /// UDP port to listen on (0 picks a free one; the actual address is logged).
    /// 57775 is the Godot plugin's default server port.
    #[arg(long, default_value_t = DEFAULT_PORT)]
    pub port: u16,

    /// Second UDP port that answers STUN Binding requests only (the main port answers them too),
    /// so a client can compare the mappings its NAT gives towards two ports. Default: the main
    /// port + 1 (with --port 0, another free port; if the default cannot be bound the server
    /// runs without it). 0 turns it off.
    #[arg(long, value_name = "PORT")]
    pub alt_port: Option<u16>,

    /// Address to bind: 0.0.0.0 for every IPv4 interface (like the original), 127.0.0.1 for
    /// this machine only.
    #[arg(long, default_value = "0.0.0.0")]
    pub bind: IpAddr,

    /// Most verbose log level: error, warn, info, debug or trace. debug logs every datagram
    /// in and out (escaped).
    #[arg(long, default_value = "info", value_parser = parse_level)]
    pub log_level: LevelFilter,

    /// Log file in addition to stderr, rotated at 10 MB with 10 backups (.1 … .10).
    #[arg(long, default_value = "rabid-hole-punch.log")]
    pub log_file: PathBuf,

    /// Log to stderr only.
    #[arg(long, conflicts_with = "log_file")]
    pub no_log_file: bool,

    /// A player is dropped (and told error:player_timeout) this many milliseconds after its
    /// last ping or its join.
    #[arg(long, default_value_t = 5000, value_name = "MS")]
    pub player_timeout_ms: u64,

    /// An open session is closed (its players told error:session_timeout) this many seconds
    /// after its creation.
    #[arg(long, default_value_t = 900, value_name = "S")]
    pub session_lifetime_s: u64,

    /// Rounds of start messages sent after the host's s: (the first at once); then the session
    /// is deleted.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub start_rounds: u32,

    /// Milliseconds between two start rounds (and from the last round to the deletion).
    #[arg(long, default_value_t = 100, value_name = "MS")]
    pub start_interval_ms: u64,

    /// Copies sent of each error:player_timeout / error:session_timeout.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub error_repeats: u32,

    /// Milliseconds between two copies of a timeout error.
    #[arg(long, default_value_t = 50, value_name = "MS")]
    pub error_interval_ms: u64,

    /// Most sessions held at once; further h: requests get error:too_many_sessions.
    #[arg(long, default_value_t = 100_000)]
    pub max_sessions: usize,

    /// Anti-reflection budget: never send an IP more than this many times the bytes received
    /// from it over the window. 0 turns the budget off and restores the original's replies (an
    /// i: to every ping, start rounds on the timer alone).
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub reflection_factor: u32,

    /// The budget's window, in seconds: received and sent bytes older than this no longer count.
    #[arg(long, default_value_t = 10, value_name = "S", value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub reflection_window_s: u64,

    /// Most addresses the budget keeps after they left their last session (each for one window,
    /// so the errors that follow a leave are paid by its credit); beyond it an address that
    /// leaves is forgotten at once (fails closed). Every member of a live session is always
    /// tracked, up to --max-players.
    #[arg(long, default_value_t = 65_536, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub reflection_max_tracked: u64,

    /// Budget loopback sources too (by default 127.0.0.0/8 and ::1 are exempt: no third party
    /// can be reached through them). For tests and local measurements.
    #[arg(long)]
    pub reflection_loopback: bool,

    /// With the budget on, a ping is answered i: only when the player list changed, or this many
    /// milliseconds after the last i: that player got (the Godot plugin waits 15 s).
    #[arg(long, default_value_t = 5000, value_name = "MS")]
    pub info_refresh_ms: u64,

    /// With the budget on, the first start round waits until every player's budget allows its
    /// start message (so all peers start together), at most this many milliseconds.
    #[arg(long, default_value_t = 6000, value_name = "MS")]
    pub start_sync_max_ms: u64,

    /// With the budget on, a starting session whose players did not all get a start message is
    /// deleted this many milliseconds after the s: anyway.
    #[arg(long, default_value_t = 12_000, value_name = "MS")]
    pub start_hold_ms: u64,

    /// Sessions and players (h:/c: that create one) per second per source IP; beyond it
    /// error:too_many_requests. 0 = no limit.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub create_rate: u32,

    /// Creations one source IP may save up (token bucket size).
    #[arg(long, default_value_t = 40, value_name = "N")]
    pub create_burst: u32,

    /// Live sessions one source IP may have created; beyond it error:too_many_sessions.
    /// 0 = no limit.
    #[arg(long, default_value_t = 64, value_name = "N")]
    pub max_sessions_per_ip: usize,

    /// Most players held at once over all sessions; beyond it error:server_full. 0 = no limit.
    #[arg(long, default_value_t = 400_000, value_name = "N")]
    pub max_players: usize,

    /// A refusal by a cap is logged at most once per source IP per this many seconds.
    #[arg(long, default_value_t = 10, value_name = "S")]
    pub refusal_log_interval_s: u64,

    /// Log the counts (sessions, players, timers, tracked addresses) at INFO every this many
    /// seconds; 0 = never.
    #[arg(long, default_value_t = 0, value_name = "S")]
    pub stats_interval_s: u64,

    /// Turn the relay off: r: requests are accepted and ignored, no relay grant is sent, relay
    /// frames are dropped. (The relay forwards, on this port, between members of a started session
    /// whose clients asked for it with r:, authenticated by a token each got with its start
    /// message; the Godot plugin never asks and never sees it.)
    #[arg(long)]
    pub no_relay: bool,

    /// Bytes per second one relayed player may send through the relay (frame headers count);
    /// beyond it its frames are refused. A game at 60 packets/s of 1,200 bytes uses 72 KB/s.
    /// 0 turns the relay off.
    #[arg(long, default_value_t = 128 * 1024, value_name = "BYTES")]
    pub relay_rate: u32,

    /// Bytes one relayed player may send at once beyond --relay-rate (its token bucket's size).
    #[arg(long, default_value_t = 256 * 1024, value_name = "BYTES", value_parser = clap::value_parser!(u32).range(2048..))]
    pub relay_burst: u32,

    /// A relayed session is deleted this many seconds after its start, whatever its traffic
    /// (its members that used it are told).
    #[arg(long, default_value_t = 4 * 3600, value_name = "S", value_parser = clap::value_parser!(u64).range(1..))]
    pub relay_lifetime_s: u64,

    /// A relayed player that sent no relay frame (data or bind) for this many seconds is dropped
    /// from the relay; a relayed session with fewer than 2 players left is deleted.
    #[arg(long, default_value_t = 60, value_name = "S", value_parser = clap::value_parser!(u64).range(1..))]
    pub relay_idle_s: u64,

    /// Most relayed players behind one source IP, counted when the grants are made; beyond it a
    /// player gets a refusal instead of a grant. 0 = no limit.
    #[arg(long, default_value_t = 16, value_name = "N")]
    pub relay_max_per_ip: usize,

    /// Bytes per second the server relays in total, over every relayed session (burst: one second
    /// of it). 0 = no limit.
    #[arg(long, default_value_t = 64 * 1024 * 1024, value_name = "BYTES")]
    pub relay_server_rate: u64,

    /// Most relayed sessions at once; beyond it players get a refusal instead of a grant.
    #[arg(long, default_value_t = 100_000, value_name = "N")]
    pub relay_max_sessions: usize,

    /// Datagrams per receive/send system call (recvmmsg/sendmmsg on Linux); 1 reads and writes
    /// one datagram per call.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub io_batch: u32,

    /// Socket receive buffer (SO_RCVBUF) in bytes; 0 keeps the kernel default. Datagrams arriving
    /// while it is full are dropped by the kernel (start storms need room).
    #[arg(long, default_value_t = 4 << 20, value_name = "BYTES")]
    pub recv_buffer: usize,

    /// Socket send buffer (SO_SNDBUF) in bytes; 0 keeps the kernel default.
    #[arg(long, default_value_t = 4 << 20, value_name = "BYTES")]
    pub send_buffer: usize,
}

fn parse_level(s: &str) -> Result<LevelFilter, String> {
    s.parse::<LevelFilter>().map_err(|_| format!("unknown log level {s:?} (error, warn, info, debug, trace)"))
}

impl ServeArgs {
    /// The engine configuration the flags describe.
    pub fn config(&self) -> Config {
        Config {
            player_timeout: Duration::from_millis(self.player_timeout_ms),
            session_lifetime: Duration::from_secs(self.session_lifetime_s),
            start_rounds: self.start_rounds,
            start_interval: Duration::from_millis(self.start_interval_ms),
            error_repeats: self.error_repeats,
            error_interval: Duration::from_millis(self.error_interval_ms),
            max_sessions: self.max_sessions,
            budget: BudgetConfig {
                factor: self.reflection_factor,
                window: Duration::from_secs(self.reflection_window_s),
                max_tracked: usize::try_from(self.reflection_max_tracked).unwrap_or(usize::MAX),
                limit_loopback: self.reflection_loopback,
            },
            info_refresh: Duration::from_millis(self.info_refresh_ms),
            start_sync_max: Duration::from_millis(self.start_sync_max_ms),
            start_hold: Duration::from_millis(self.start_hold_ms),
            create_rate: self.create_rate,
            create_burst: self.create_burst,
            max_sessions_per_ip: self.max_sessions_per_ip,
            max_players: if self.max_players == 0 { usize::MAX } else { self.max_players },
            refusal_log_interval: Duration::from_secs(self.refusal_log_interval_s),
            stats_interval: Duration::from_secs(self.stats_interval_s),
            relay: RelayConfig {
                enabled: !self.no_relay,
                player_rate: self.relay_rate,
                player_burst: self.relay_burst,
                lifetime: Duration::from_secs(self.relay_lifetime_s),
                idle: Duration::from_secs(self.relay_idle_s),
                max_per_ip: self.relay_max_per_ip,
                server_rate: self.relay_server_rate,
                max_sessions: self.relay_max_sessions,
            },
        }
    }
}

/// Parses just `serve`'s flags.
#[derive(Parser, Debug)]
struct ServeOnly {
    #[command(flatten)]
    args: ServeArgs,
}

/// The original's `<port> [DEBUG]` form, if `argv` is that: `argv[1]` all digits (a port),
/// optionally `argv[2] == "DEBUG"`. Anything else is left to the normal parser.
pub fn legacy_args(argv: &[OsString]) -> Option<ServeArgs> {
    let port = argv.get(1)?.to_str()?;
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let level = match argv.get(2).map(|a| a.to_str()) {
        None => "info",
        Some(Some("DEBUG")) => "debug",
        Some(_) => return None,
    };
    if argv.len() > 3 {
        return None;
    }
    let flags = ["serve", "--port", port, "--log-level", level];
    ServeOnly::try_parse_from(flags).ok().map(|s| s.args)
}

/// Runs the server until SIGINT/SIGTERM. Exit 0 on a signal, 1 if it cannot start.
pub fn run(args: ServeArgs) -> ExitCode {
    let log = LogOptions { level: args.log_level, file: (!args.no_log_file).then(|| args.log_file.clone()) };
    if let Err(e) = logging::init(&log) {
        eprintln!("rabid-hole-punch: {e}");
        return ExitCode::FAILURE;
    }
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            error!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(serve(args))
}

async fn serve(args: ServeArgs) -> ExitCode {
    // Signals first, so a SIGTERM right after the "listening" line is already handled.
    let shutdown = match shutdown_signal() {
        Ok(f) => f,
        Err(e) => {
            error!("cannot install signal handlers: {e}");
            return ExitCode::FAILURE;
        }
    };
    let addr = SocketAddr::new(args.bind, args.port);
    let socket_options =
        rhp_server::shell::SocketOptions { recv_buffer: args.recv_buffer, send_buffer: args.send_buffer };
    let socket = match rhp_server::shell::bind_with(addr, &socket_options).await {
        Ok((s, sizes)) => {
            info!("socket buffers: receive {} bytes, send {} bytes", sizes.recv, sizes.send);
            s
        }
        Err(e) => {
            error!("cannot listen on udp://{addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let local = socket.local_addr().unwrap_or(addr);
    let alt = match bind_alt(&args, local).await {
        Ok(alt) => alt,
        Err(code) => return code,
    };
    let config = args.config();
    info!(
        "player timeout {:?}, session lifetime {:?}, {} start rounds every {:?}, timeout errors {}x every {:?}",
        config.player_timeout,
        config.session_lifetime,
        config.start_rounds,
        config.start_interval,
        config.error_repeats,
        config.error_interval
    );
    if config.budget.factor == 0 {
        info!("anti-reflection budget off");
    } else {
        info!(
            "anti-reflection budget {}x over {:?} (every member's address and {} more after they leave{}), i: refresh {:?}",
            config.budget.factor,
            config.budget.window,
            config.budget.max_tracked,
            if config.budget.limit_loopback { ", loopback too" } else { ", loopback exempt" },
            config.info_refresh
        );
    }
    info!(
        "caps: {} sessions ({} per IP), {} players, {} creations/s per IP (burst {})",
        config.max_sessions,
        config.max_sessions_per_ip,
        config.max_players,
        config.create_rate,
        config.create_burst
    );
    let relay = &config.relay;
    if relay.is_on() {
        info!(
            "relay on: {} B/s per player (burst {}), {} B/s in all, {} per IP, {} sessions, lifetime {:?}, idle {:?}",
            relay.player_rate,
            relay.player_burst,
            relay.server_rate,
            relay.max_per_ip,
            relay.max_sessions,
            relay.lifetime,
            relay.idle
        );
    } else {
        info!("relay off");
    }
    info!("listening on udp://{local}");
    match alt.as_ref().and_then(|s| s.local_addr().ok()) {
        Some(alt_local) => info!("STUN alternate port on udp://{alt_local} (STUN on udp://{local} too)"),
        None => info!("STUN on udp://{local}; no alternate port"),
    }
    let shell_options = rhp_server::shell::ShellOptions { io_batch: args.io_batch as usize };
    rhp_server::shell::run_with_alt(socket, alt, Engine::new(config), shutdown, shell_options).await;
    info!("stopped");
    ExitCode::SUCCESS
}

/// The port the alternate STUN socket is to use: `None` for none. The default is the main port + 1
/// (none past 65535), or any free port when the main port was picked by the system.
pub fn alt_port(args: &ServeArgs) -> Option<u16> {
    match args.alt_port {
        Some(0) => None,
        Some(port) => Some(port),
        None if args.port == 0 => Some(0),
        None => args.port.checked_add(1),
    }
}

/// Binds the alternate STUN socket. An explicit `--alt-port` that cannot be bound stops the
/// server (exit 1); the default one is skipped with a warning.
async fn bind_alt(args: &ServeArgs, main: SocketAddr) -> Result<Option<tokio::net::UdpSocket>, ExitCode> {
    let Some(port) = alt_port(args) else { return Ok(None) };
    let addr = SocketAddr::new(main.ip(), port);
    // STUN traffic is small: the kernel's default buffers are enough.
    let small = rhp_server::shell::SocketOptions { recv_buffer: 0, send_buffer: 0 };
    match rhp_server::shell::bind_with(addr, &small).await {
        Ok((socket, _)) => Ok(Some(socket)),
        Err(e) if args.alt_port.is_some() => {
            error!("cannot listen on the alternate port udp://{addr}: {e}");
            Err(ExitCode::FAILURE)
        }
        Err(e) => {
            tracing::warn!(
                "no alternate STUN port: cannot listen on udp://{addr}: {e} (--alt-port sets another)"
            );
            Ok(None)
        }
    }
}

/// A future that completes on SIGINT or SIGTERM (logging which).
pub(crate) fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        Ok(async move {
            tokio::select! {
                _ = term.recv() => info!("SIGTERM received"),
                _ = int.recv() => info!("SIGINT received"),
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            if let Err(e) = tokio::signal::ctrl_c().await {
                tracing::warn!("cannot wait for Ctrl-C: {e}");
                std::future::pending::<()>().await;
            }
            info!("Ctrl-C received");
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(a: &[&str]) -> Vec<OsString> {
        a.iter().map(OsString::from).collect()
    }

    #[test]
    fn legacy_form_is_recognised() {
        let a = legacy_args(&argv(&["rhp", "4000"])).expect("port only");
        assert_eq!((a.port, a.log_level, a.no_log_file), (4000, LevelFilter::INFO, false));
        let a = legacy_args(&argv(&["rhp", "4000", "DEBUG"])).expect("port DEBUG");
        assert_eq!(a.log_level, LevelFilter::DEBUG);
        assert_eq!(a.config(), Config::default());
        for other in [
            &["rhp"][..],
            &["rhp", "serve"],
            &["rhp", "4000", "debug"],
            &["rhp", "40a"],
            &["rhp", "4000", "DEBUG", "x"],
        ] {
            assert!(legacy_args(&argv(other)).is_none(), "{other:?}");
        }
    }

    #[test]
    fn zero_factor_and_no_caps_are_the_original() {
        let flags = [
            "serve",
            "--reflection-factor",
            "0",
            "--create-rate",
            "0",
            "--max-sessions-per-ip",
            "0",
            "--max-players",
            "0",
        ];
        let a = ServeOnly::try_parse_from(flags).expect("flags parse").args;
        assert_eq!(a.config(), Config::original());
    }

    #[test]
    fn alt_port_defaults_to_the_next_port_and_zero_is_off() {
        let parse = |flags: &[&str]| ServeOnly::try_parse_from(flags).expect("flags parse").args;
        assert_eq!(alt_port(&parse(&["serve"])), Some(57776));
        assert_eq!(alt_port(&parse(&["serve", "--port", "4000"])), Some(4001));
        assert_eq!(alt_port(&parse(&["serve", "--port", "65535"])), None);
        assert_eq!(alt_port(&parse(&["serve", "--port", "0"])), Some(0));
        assert_eq!(alt_port(&parse(&["serve", "--alt-port", "0"])), None);
        assert_eq!(alt_port(&parse(&["serve", "--alt-port", "5000"])), Some(5000));
        assert_eq!(alt_port(&legacy_args(&argv(&["rhp", "4000"])).expect("legacy")), Some(4001));
    }

    #[test]
    fn relay_flags_set_the_relay_and_no_relay_turns_it_off() {
        let parse = |flags: &[&str]| ServeOnly::try_parse_from(flags).expect("flags parse").args.config();
        assert_eq!(parse(&["serve"]).relay, RelayConfig::default());
        let relay = RelayConfig::default();
        assert_eq!(
            (relay.player_rate, relay.player_burst, relay.max_per_ip, relay.server_rate, relay.max_sessions),
            (131_072, 262_144, 16, 64 << 20, 100_000)
        );
        assert_eq!((relay.lifetime, relay.idle), (Duration::from_secs(14_400), Duration::from_secs(60)));
        assert!(relay.is_on());
        assert!(!parse(&["serve", "--no-relay"]).relay.is_on());
        assert!(!parse(&["serve", "--relay-rate", "0"]).relay.is_on());
        let c = parse(&[
            "serve",
            "--relay-rate",
            "1000",
            "--relay-burst",
            "4096",
            "--relay-lifetime-s",
            "30",
            "--relay-idle-s",
            "5",
            "--relay-max-per-ip",
            "2",
            "--relay-server-rate",
            "0",
            "--relay-max-sessions",
            "7",
        ])
        .relay;
        assert_eq!(
            c,
            RelayConfig {
                enabled: true,
                player_rate: 1000,
                player_burst: 4096,
                lifetime: Duration::from_secs(30),
                idle: Duration::from_secs(5),
                max_per_ip: 2,
                server_rate: 0,
                max_sessions: 7,
            }
        );
        assert!(ServeOnly::try_parse_from(["serve", "--relay-idle-s", "0"]).is_err());
        assert!(ServeOnly::try_parse_from(["serve", "--relay-burst", "100"]).is_err());
    }

    #[test]
    fn default_flags_are_the_original_timers() {
        let a = ServeOnly::try_parse_from(["serve"]).expect("defaults parse").args;
        assert_eq!(a.config(), Config::default());
        assert_eq!(a.port, 57775);
    }
}
