//! `rabid-hole-punch serve`: the rendezvous server. Parses flags (and the original's
//! `<port> [DEBUG]` form), sets up logging, binds the socket (and the alternate STUN port), runs the
//! `rhp_server` shell until SIGINT/SIGTERM.

use crate::config_layers::{self, ConfigError};
use crate::logging::{self, LogOptions};
use crate::reload::{self, Reloader};
use rhp_proto::DEFAULT_PORT;
use rhp_server::config::{BudgetConfig, GuardConfig, RelayConfig};
use rhp_server::{Config, Engine};
use std::ffi::OsString;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use tracing::{error, info};
use tracing_subscriber::filter::LevelFilter;

/// Headings of `serve --help`, in the README's order; each is also a table of the `--config`
/// file (see [`crate::config_layers::table_of`]).
pub const SOCKET: &str = "Socket";
pub const TIMERS: &str = "Protocol timers (the original server's values)";
pub const BUDGET: &str = "Anti-reflection budget (never send an address much more than it sent)";
pub const CAPS: &str = "Caps (per source IP and in total)";
pub const NAT: &str = "NAT traversal and relay";
pub const LOGGING: &str = "Logging";
pub const METRICS: &str = "Metrics and health";
pub const CONFIG: &str = "Configuration";

/// Examples and the original's invocation, after the flags in `serve --help`.
const SERVE_AFTER_HELP: &str = "\
Every flag can also be set by an environment variable RHP_<FLAG> (RHP_CREATE_RATE=50 for
--create-rate) or in a TOML file given with --config (key = the flag's name, in the table of its
heading: [socket] [timers] [budget] [caps] [nat] [logging]); flags beat the environment, which beats
the file. --print-config shows the result. SIGHUP re-reads the file: caps, budget, relay limits and
the log level change at once, sessions and players are kept.

Examples:
  rabid-hole-punch serve                                   UDP 57775 and 57776 on every interface
  rabid-hole-punch serve --port 6000 --log-level debug     another port, every datagram logged
  rabid-hole-punch serve --config /etc/rabid-hole-punch.toml
  rabid-hole-punch serve --reflection-factor 0 --create-rate 0 --max-sessions-per-ip 0 --max-players 0
                                                           exactly like the original (no budget, no caps)

The original server's invocation still works: rabid-hole-punch <PORT> [DEBUG]
(for example `rabid-hole-punch 57775 DEBUG`, DEBUG in capitals).";

/// Flags of `serve`.
#[derive(clap::Args, Debug, Clone)]
#[command(after_help = SERVE_AFTER_HELP)]
pub struct ServeArgs {
    /// UDP port for the game clients (0 picks a free one; the address is logged). 57775 is the
    /// Godot plugin's default.
    #[arg(long, default_value_t = DEFAULT_PORT, value_name = "PORT", help_heading = SOCKET)]
    pub port: u16,

    /// Address to listen on: 0.0.0.0 for every IPv4 interface (like the original), 127.0.0.1 for
    /// this machine only.
    #[arg(long, default_value = "0.0.0.0", value_name = "ADDR", help_heading = SOCKET)]
    pub bind: IpAddr,

    /// Datagrams read or written per system call (batched I/O on Linux, which saves most of a UDP
    /// server's CPU under load); 1 = one datagram per call.
    #[arg(long, default_value_t = 32, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024), help_heading = SOCKET)]
    pub io_batch: u32,

    /// Kernel receive buffer of the socket, in bytes (0 = the system default). Datagrams that arrive
    /// while it is full are lost: the start of a big session sends many at once.
    #[arg(long, default_value_t = 4 << 20, value_name = "BYTES", help_heading = SOCKET)]
    pub recv_buffer: usize,

    /// Kernel send buffer of the socket, in bytes (0 = the system default).
    #[arg(long, default_value_t = 4 << 20, value_name = "BYTES", help_heading = SOCKET)]
    pub send_buffer: usize,

    /// A player that sends nothing for this long after its last keep-alive (or its join) is
    /// dropped and told it timed out.
    #[arg(long, default_value_t = 5000, value_name = "MS", help_heading = TIMERS)]
    pub player_timeout_ms: u64,

    /// A session that was never started is closed this long after its creation (its players are
    /// told it timed out).
    #[arg(long, default_value_t = 900, value_name = "S", help_heading = TIMERS)]
    pub session_lifetime_s: u64,

    /// When the host starts a session, every player is sent its start message (the other players'
    /// addresses) this many times, the first at once; then the session is deleted.
    #[arg(long, default_value_t = 8, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000), help_heading = TIMERS)]
    pub start_rounds: u32,

    /// Time between two rounds of start messages (and from the last one to the deletion).
    #[arg(long, default_value_t = 100, value_name = "MS", help_heading = TIMERS)]
    pub start_interval_ms: u64,

    /// Copies sent of each timeout error (a lost one would leave a player waiting).
    #[arg(long, default_value_t = 3, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100), help_heading = TIMERS)]
    pub error_repeats: u32,

    /// Time between two copies of a timeout error.
    #[arg(long, default_value_t = 50, value_name = "MS", help_heading = TIMERS)]
    pub error_interval_ms: u64,

    /// Never send an IP address more than N times the bytes received from it over the window, so
    /// forged requests cannot turn the server into an amplifier against a third party. 0 turns the
    /// budget off and gives the original's replies (an answer to every keep-alive, start messages on
    /// the timer alone).
    #[arg(long, default_value_t = 3, value_name = "N", help_heading = BUDGET)]
    pub reflection_factor: u32,

    /// The budget's window: bytes received and sent longer ago than this no longer count.
    #[arg(long, default_value_t = 10, value_name = "S", value_parser = clap::value_parser!(u64).range(1..=3600), help_heading = BUDGET)]
    pub reflection_window_s: u64,

    /// Most addresses the budget keeps after they left their last session (each for one window,
    /// so the errors that follow a leave are paid by its credit); beyond it an address that
    /// leaves is forgotten at once (it gets less, never more). Every member of a live session is always
    /// tracked, up to --max-players.
    #[arg(long, default_value_t = 65_536, value_name = "N", value_parser = clap::value_parser!(u64).range(1..), help_heading = BUDGET)]
    pub reflection_max_tracked: u64,

    /// Apply the budget to loopback sources too (127.0.0.0/8 and ::1 are exempt by default: no
    /// third party can be reached through them). For tests and local measurements.
    #[arg(long, help_heading = BUDGET)]
    pub reflection_loopback: bool,

    /// With the budget on, a keep-alive gets the player list back only when it changed, or this
    /// long after the last list that player got (the Godot plugin waits 15 s).
    #[arg(long, default_value_t = 5000, value_name = "MS", help_heading = BUDGET)]
    pub info_refresh_ms: u64,

    /// With the budget on, the first round of start messages waits until every player's budget
    /// allows its message (so all peers start together), at most this long.
    #[arg(long, default_value_t = 6000, value_name = "MS", help_heading = BUDGET)]
    pub start_sync_max_ms: u64,

    /// With the budget on, a starting session is deleted this long after the host's start at the
    /// latest, even if some players did not get their start message.
    #[arg(long, default_value_t = 12_000, value_name = "MS", help_heading = BUDGET)]
    pub start_hold_ms: u64,

    /// Sessions and players one source IP may create per second (a token bucket; one carrier-grade
    /// NAT address can carry thousands of players); beyond it the request is refused with
    /// error:too_many_requests. 0 = no limit.
    #[arg(long, default_value_t = 50, value_name = "N", help_heading = CAPS)]
    pub create_rate: u32,

    /// Creations one source IP may save up and spend at once (the token bucket's size).
    #[arg(long, default_value_t = 200, value_name = "N", help_heading = CAPS)]
    pub create_burst: u32,

    /// Live sessions one source IP may have created; beyond it error:too_many_sessions.
    /// 0 = no limit.
    #[arg(long, default_value_t = 1024, value_name = "N", help_heading = CAPS)]
    pub max_sessions_per_ip: usize,

    /// Live players behind one source IP (an IPv6 /64 counts as one), over all sessions; beyond it
    /// error:too_many_requests. 0 = no limit.
    #[arg(long, default_value_t = 4096, value_name = "N", help_heading = CAPS)]
    pub max_players_per_ip: usize,

    /// Most sessions at once, over all sources; beyond it error:too_many_sessions.
    #[arg(long, default_value_t = 1 << 20, value_name = "N", help_heading = CAPS)]
    pub max_sessions: usize,

    /// Most players at once, over all sessions; beyond it error:server_full. 0 = no limit.
    #[arg(long, default_value_t = 1 << 22, value_name = "N", help_heading = CAPS)]
    pub max_players: usize,

    /// Wrong passwords one network (IPv4 address, IPv6 /64) may have checked per minute after a
    /// burst of 5; beyond it a guess is refused unchecked (error:too_many_requests). 0 = every
    /// guess checked (the original).
    #[arg(long, default_value_t = 3, value_name = "N", help_heading = CAPS)]
    pub guess_rate: u32,

    /// Guesses from networks that failed recently one session has checked per minute, all
    /// together, after a burst of 10 (networks with no recent failure are always checked).
    #[arg(long, default_value_t = 6, value_name = "N", help_heading = CAPS)]
    pub guess_session_rate: u32,

    /// A refusal by a cap is logged at most once per source IP per this many seconds (with a count
    /// of those not logged).
    #[arg(long, default_value_t = 10, value_name = "S", help_heading = CAPS)]
    pub refusal_log_interval_s: u64,

    /// Second UDP port that only answers "what is my public address?" (STUN), so a client can see
    /// whether its NAT keeps one public port for two destinations. Default: the main port + 1 (with
    /// --port 0, any free port; if the default cannot be bound the server runs without it). 0 = off.
    #[arg(long, value_name = "PORT", help_heading = NAT)]
    pub alt_port: Option<u16>,

    /// Turn the relay off. (The relay forwards data, on the main port, between players of a started
    /// session whose NATs allow no direct path; only our clients ask for it, with a token each got
    /// with its start message; the Godot plugin never uses it.)
    #[arg(long, help_heading = NAT)]
    pub no_relay: bool,

    /// Bytes per second one relayed player may send through the relay (headers count); beyond it
    /// its data is refused. A game at 60 packets/s of 1,200 bytes needs 72 KB/s. 0 = off.
    #[arg(long, default_value_t = 128 * 1024, value_name = "BYTES", help_heading = NAT)]
    pub relay_rate: u32,

    /// Bytes one relayed player may send at once beyond --relay-rate (its token bucket's size).
    #[arg(long, default_value_t = 256 * 1024, value_name = "BYTES", value_parser = clap::value_parser!(u32).range(2048..), help_heading = NAT)]
    pub relay_burst: u32,

    /// A relayed session is ended this long after its start, whatever its traffic.
    #[arg(long, default_value_t = 4 * 3600, value_name = "S", value_parser = clap::value_parser!(u64).range(1..), help_heading = NAT)]
    pub relay_lifetime_s: u64,

    /// A relayed player that sent nothing through the relay (data or keep-alive) for this long is
    /// dropped from it; a relayed session with fewer than 2 players left is ended.
    #[arg(long, default_value_t = 60, value_name = "S", value_parser = clap::value_parser!(u64).range(1..), help_heading = NAT)]
    pub relay_idle_s: u64,

    /// Most relayed players behind one source IP; beyond it a player is refused the relay.
    /// 0 = no limit.
    #[arg(long, default_value_t = 32, value_name = "N", help_heading = NAT)]
    pub relay_max_per_ip: usize,

    /// Bytes per second the server relays in all relayed sessions together (one second of it
    /// may be saved up). 0 = no limit.
    #[arg(long, default_value_t = 64 * 1024 * 1024, value_name = "BYTES", help_heading = NAT)]
    pub relay_server_rate: u64,

    /// Most relayed sessions at once; beyond it players are refused the relay.
    #[arg(long, default_value_t = 100_000, value_name = "N", help_heading = NAT)]
    pub relay_max_sessions: usize,

    /// Most detailed log level: error, warn, info, debug or trace. debug logs every datagram in and
    /// out (escaped).
    #[arg(long, default_value = "info", value_name = "LEVEL", value_parser = parse_level, help_heading = LOGGING)]
    pub log_level: LevelFilter,

    /// Log file besides stderr, rotated at 10 MB with 10 backups. A relative path is in the
    /// working directory.
    #[arg(long, default_value = "rabid-hole-punch.log", value_name = "FILE", help_heading = LOGGING)]
    pub log_file: PathBuf,

    /// Log to stderr only.
    #[arg(long, conflicts_with = "log_file", help_heading = LOGGING)]
    pub no_log_file: bool,

    /// Log the counts (sessions, players, timers, tracked addresses, relay) every this many
    /// seconds; 0 = never.
    #[arg(long, default_value_t = 0, value_name = "S", help_heading = LOGGING)]
    pub stats_interval_s: u64,

    #[command(flatten)]
    pub ops: crate::ops::OpsArgs,

    /// Read settings from this TOML file (every flag above has a key; see
    /// config/rabid-hole-punch.toml). Flags and RHP_* variables beat it. SIGHUP re-reads it.
    #[arg(long, value_name = "FILE", help_heading = CONFIG)]
    pub config: Option<PathBuf>,

    /// Print the effective configuration as TOML (a file --config accepts) and exit.
    #[arg(long, help_heading = CONFIG)]
    pub print_config: bool,
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
            max_players_per_ip: self.max_players_per_ip,
            max_players: if self.max_players == 0 { usize::MAX } else { self.max_players },
            refusal_log_interval: Duration::from_secs(self.refusal_log_interval_s),
            stats_interval: Duration::from_secs(self.stats_interval_s),
            guard: GuardConfig {
                per_net_per_min: self.guess_rate,
                session_per_min: self.guess_session_rate,
                ..GuardConfig::default()
            },
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

/// The original's `<port> [DEBUG]` form, if `argv` is that (`argv[1]` all digits, a port,
/// optionally `argv[2] == "DEBUG"`): the same as `serve` flags. Anything else is left to the normal
/// parser.
pub fn legacy_args(argv: &[OsString]) -> Option<Vec<OsString>> {
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
    Some(["--port", port, "--log-level", level].iter().map(OsString::from).collect())
}

/// What to say to a positional argument the original's form does not take (`serve 57810`,
/// `rabid-hole-punch 57810 debug`): the forms that would work. `None` when `argv` has no such
/// mistake.
pub fn positional_hint(argv: &[OsString]) -> Option<String> {
    fn is_port(a: Option<&OsString>) -> Option<&str> {
        a.and_then(|a| a.to_str()).filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
    }
    let arg1 = argv.get(1).and_then(|a| a.to_str());
    if arg1 == Some("serve") {
        let port = is_port(argv.get(2))?;
        return Some(format!(
            "`serve` takes the port as a flag: rabid-hole-punch serve --port {port}\n\
             (or the original server's form: rabid-hole-punch {port})"
        ));
    }
    let port = is_port(argv.get(1))?;
    let rest: Vec<String> = argv.iter().skip(2).map(|a| a.to_string_lossy().into_owned()).collect();
    let debug = rest.first().is_some_and(|a| a.eq_ignore_ascii_case("debug"));
    let mut hint = format!(
        "the original server's form is: rabid-hole-punch <PORT> [DEBUG] (got {port} {})",
        rest.join(" ")
    );
    if debug {
        hint.push_str(&format!(
            "\ndid you mean: rabid-hole-punch {port} DEBUG   (DEBUG in capitals)\n\
             or:           rabid-hole-punch serve --port {port} --log-level debug"
        ));
    } else {
        hint.push_str(&format!("\nfor every other setting: rabid-hole-punch serve --port {port} --help"));
    }
    Some(hint)
}

/// `rabid-hole-punch serve <user_args>` (or the original's form, as flags): resolves the settings
/// (flags, `RHP_*` variables, `--config` file, defaults), prints them with `--print-config`, or runs
/// the server. A refused configuration exits 2 before anything is bound.
pub fn main(user_args: Vec<OsString>) -> ExitCode {
    let resolved = match config_layers::resolve(&user_args) {
        Ok(r) => r,
        Err(ConfigError::Clap(e)) => e.exit(),
        Err(ConfigError::Message(m)) => {
            eprintln!("rabid-hole-punch: {m}");
            return ExitCode::from(2);
        }
    };
    if resolved.args.print_config {
        for name in &resolved.unknown_env {
            eprintln!("rabid-hole-punch: warning: {}", unknown_env_warning(name));
        }
        print!("{}", resolved.toml);
        return ExitCode::SUCCESS;
    }
    run(resolved.args, user_args, &resolved.toml, &resolved.unknown_env)
}

/// What to say about an `RHP_*` variable that sets nothing.
fn unknown_env_warning(name: &str) -> String {
    format!("environment variable {name} is not a serve setting: ignored (`serve --help` lists them)")
}

/// Runs the server until SIGINT/SIGTERM; SIGHUP reloads (see [`crate::reload`]) from `user_args`
/// and the file, compared with `toml` (the settings as printed). Exit 0 on a signal, 1 if it cannot
/// start.
pub fn run(args: ServeArgs, user_args: Vec<OsString>, toml: &str, unknown_env: &[String]) -> ExitCode {
    let log = LogOptions {
        level: args.log_level,
        file: (!args.no_log_file).then(|| args.log_file.clone()),
        format: args.ops.log_format,
    };
    let level = match logging::init(&log) {
        Ok(level) => level,
        Err(e) => {
            eprintln!("rabid-hole-punch: {e}");
            return ExitCode::FAILURE;
        }
    };
    for name in unknown_env {
        tracing::warn!("{}", unknown_env_warning(name));
    }
    let (engine_tx, engine_rx) = tokio::sync::mpsc::unbounded_channel();
    let reloader = Reloader { user_args, running: reload::settings(toml), level, engine: engine_tx };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            error!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(serve(args, reloader, engine_rx))
}

async fn serve(args: ServeArgs, reloader: Reloader, reconfigure: rhp_server::shell::Reconfigure) -> ExitCode {
    // Signals first, so a SIGTERM right after the "listening" line is already handled.
    let shutdown = match shutdown_signal() {
        Ok(f) => f,
        Err(e) => {
            error!("cannot install signal handlers: {e}");
            return ExitCode::FAILURE;
        }
    };
    match reloader.install() {
        Ok(reloads) => drop(tokio::spawn(reloads)),
        Err(e) => {
            error!("cannot install the SIGHUP handler: {e}");
            return ExitCode::FAILURE;
        }
    }
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
        "caps: {} sessions ({} per IP), {} players ({} per IP), {} creations/s per IP (burst {})",
        config.max_sessions,
        config.max_sessions_per_ip,
        config.max_players,
        config.max_players_per_ip,
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
    let (ops, monitor) = match crate::ops::start(&args.ops, &socket, alt.as_ref()) {
        Ok(started) => started,
        Err(e) => {
            error!("{e}");
            return ExitCode::FAILURE;
        }
    };
    ops.ready(&format!("listening on udp://{local}"));
    let engine = Engine::new(config);
    rhp_server::shell::run_serving(socket, alt, engine, shutdown, shell_options, Some(reconfigure), monitor)
        .await;
    ops.stopping();
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
    use crate::config_layers::ServeOnly;
    use clap::Parser;

    fn argv(a: &[&str]) -> Vec<OsString> {
        a.iter().map(OsString::from).collect()
    }

    #[test]
    fn legacy_form_is_recognised() {
        let legacy = |a: &[&str]| {
            let flags = legacy_args(&argv(a)).expect("legacy form");
            ServeOnly::try_parse_from(std::iter::once(OsString::from("serve")).chain(flags))
                .expect("flags")
                .args
        };
        let a = legacy(&["rhp", "4000"]);
        assert_eq!((a.port, a.log_level, a.no_log_file), (4000, LevelFilter::INFO, false));
        let a = legacy(&["rhp", "4000", "DEBUG"]);
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
            "--max-players-per-ip",
            "0",
            "--reflection-factor",
            "0",
            "--create-rate",
            "0",
            "--max-sessions-per-ip",
            "0",
            "--max-players",
            "0",
            "--guess-rate",
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
        let legacy = legacy_args(&argv(&["rhp", "4000"])).expect("legacy");
        let legacy =
            ServeOnly::try_parse_from(std::iter::once(OsString::from("serve")).chain(legacy)).expect("flags");
        assert_eq!(alt_port(&legacy.args), Some(4001));
    }

    #[test]
    fn relay_flags_set_the_relay_and_no_relay_turns_it_off() {
        let parse = |flags: &[&str]| ServeOnly::try_parse_from(flags).expect("flags parse").args.config();
        assert_eq!(parse(&["serve"]).relay, RelayConfig::default());
        let relay = RelayConfig::default();
        assert_eq!(
            (relay.player_rate, relay.player_burst, relay.max_per_ip, relay.server_rate, relay.max_sessions),
            (131_072, 262_144, 32, 64 << 20, 100_000)
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
