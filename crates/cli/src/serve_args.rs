//! The flags of `rabid-hole-punch serve` ([`ServeArgs`]) and the engine configuration they
//! describe.

use crate::headings::{BUDGET, CAPS, CONFIG, LOGGING, NAT, SOCKET, TIMERS};
use rhp_proto::DEFAULT_PORT;
use rhp_server::config::{BudgetConfig, GuardConfig, RelayConfig};
use rhp_server::Config;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;
use tracing_subscriber::filter::LevelFilter;

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
  rabid-hole-punch serve --bind 127.0.0.1,::1              one socket per address, each answering
                                                           from the address it was asked on
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
    /// this machine only, :: (or the list 0.0.0.0,::) for both families (one dual-stack socket:
    /// IPv4 and IPv6 players; on a machine without IPv6 it falls back to 0.0.0.0 with a warning),
    /// ::1 or another IPv6 address for IPv6 on that address only. Or a comma-separated list of up
    /// to 8 specific addresses of this host (127.0.0.1,::1 or 10.0.0.1:4000,[2001:db8::1]:4000):
    /// one socket each, on the port given with it or --port, and each answers from the address it
    /// was asked on (not with 0.0.0.0 or ::, which already listen everywhere; no address twice).
    /// Each address's alternate STUN port listens on that address.
    #[arg(long, default_value = "0.0.0.0", value_name = "ADDR", value_parser = parse_bind, help_heading = SOCKET)]
    pub bind: Binds,

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

    #[command(flatten)]
    pub cluster: Box<crate::serve_cluster::ClusterArgs>,

    /// Read settings from this TOML file (every flag above has a key; see
    /// config/rabid-hole-punch.toml). Flags and RHP_* variables beat it. SIGHUP re-reads it.
    #[arg(long, value_name = "FILE", help_heading = CONFIG)]
    pub config: Option<PathBuf>,

    /// Print the effective configuration as TOML (a file --config accepts) and exit.
    #[arg(long, help_heading = CONFIG)]
    pub print_config: bool,
}

/// Most addresses `--bind` takes (the server's [`rhp_server::shell::MAX_PAIRS`]).
pub const MAX_BINDS: usize = rhp_server::shell::MAX_PAIRS;

/// What `--bind` asks for: the addresses to listen on, each with its own port or `None` for
/// `--port`. One entry for a single address (`::` being one dual-stack socket for both families),
/// several for a list of specific addresses (one socket each).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binds(pub Vec<(IpAddr, Option<u16>)>);

impl Binds {
    /// The one address when `--bind` named one without a port (`::` included).
    pub fn single(&self) -> Option<IpAddr> {
        match self.0.as_slice() {
            [(ip, None)] => Some(*ip),
            _ => None,
        }
    }
}

/// One `--bind` item: `IP`, `IPv4:PORT` or `[IPv6]:PORT`.
fn parse_bind_item(a: &str) -> Result<(IpAddr, Option<u16>), String> {
    if let Ok(ip) = a.parse::<IpAddr>() {
        return Ok((ip, None));
    }
    match a.parse::<SocketAddr>() {
        Ok(sa) => Ok((sa.ip(), Some(sa.port()))),
        Err(_) => Err(format!("{a:?} is not an IP address (nor IP:PORT, [IPv6]:PORT)")),
    }
}

/// `--bind`: one address, the list `0.0.0.0,::` (either order: the one dual-stack socket `::`
/// serves both families with), or a list of up to [`MAX_BINDS`] specific addresses, each maybe
/// with its port. Refused: an address listed twice, a wildcard (`0.0.0.0`, `::`) beside a
/// specific address, more than [`MAX_BINDS`].
pub(crate) fn parse_bind(s: &str) -> Result<Binds, String> {
    let mut items: Vec<(IpAddr, Option<u16>)> = Vec::new();
    for a in s.split(',').map(str::trim) {
        let item = parse_bind_item(a)?;
        if items.contains(&item) {
            if item.0.is_unspecified() && item.1.is_none() {
                continue;
            }
            return Err(format!("{s:?}: {a} is listed twice"));
        }
        items.push(item);
    }
    let both = [IpAddr::V4(Ipv4Addr::UNSPECIFIED), IpAddr::V6(Ipv6Addr::UNSPECIFIED)];
    match items.as_slice() {
        [one] => return Ok(Binds(vec![*one])),
        [(a, None), (b, None)] if both.contains(a) && both.contains(b) => {
            return Ok(Binds(vec![(both[1], None)]))
        }
        _ => {}
    }
    if let Some((ip, _)) = items.iter().find(|(ip, _)| ip.is_unspecified()) {
        return Err(format!(
            "{s:?}: {ip} listens on every address already: give it alone (or 0.0.0.0,:: for both \
             families), or a list of specific addresses"
        ));
    }
    if items.len() > MAX_BINDS {
        return Err(format!("{s:?}: at most {MAX_BINDS} addresses"));
    }
    Ok(Binds(items))
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
