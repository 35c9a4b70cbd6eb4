//! What a client is asked to do: which server, which session, which player, which role, and the
//! timers of both phases. Validated locally before anything is sent, so a bad name is a clear
//! error here rather than an `error:invalid_request` from the server.

use crate::error::ClientError;
use rhp_proto::name::{is_password, is_player_name, is_session_name, MAX_PLAYERS, MIN_PLAYERS};
use std::net::SocketAddr;
use std::time::Duration;

/// Whether this player creates the session or joins one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Create the session (`h:`) for at most `max_players` players (2..=12).
    Host {
        /// Most players in the session, this one included.
        max_players: u8,
    },
    /// Join an existing session (`c:`).
    Join,
}

/// Every timer of the client. The defaults follow the Godot plugin where the wire needs it
/// (0.5 s resends, 15 s server silence, 50 ms peer ticks) and are upper bounds everywhere else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timers {
    /// Resend interval of `h:`/`c:` until the first `i:` (0.5 s).
    pub resend: Duration,
    /// Ping interval in the session; also the resend interval of `s:` and `x:` (0.5 s).
    pub ping: Duration,
    /// Give up after this long without any datagram from the server (15 s).
    pub server_timeout: Duration,
    /// Per-peer tick of the peer phase: one datagram per peer per tick (50 ms, so ≤ 20/s).
    pub peer_tick: Duration,
    /// Peers not connected this long after the server's `s:` arrived are reported failed (20 s;
    /// must exceed the Godot peers' ≈15 s schedule when Godot peers take part).
    pub peer_deadline: Duration,
    /// How long a host keeps sending `s:<n>` to a connected peer that does not answer `y:` (1.5 s).
    pub host_start_for: Duration,
    /// A keepalive (`a:`) to each reachable peer that is one of our clients, this often (2 s).
    /// Godot peers never get one.
    pub keepalive: Duration,
    /// A peer that is one of our clients and sent nothing (keepalives included) this long is
    /// reported gone ([`Event::PeerLeft`](crate::Event::PeerLeft), silent) (15 s; must exceed
    /// `keepalive`).
    pub peer_silence: Duration,
}

impl Default for Timers {
    fn default() -> Self {
        Timers {
            resend: Duration::from_millis(500),
            ping: Duration::from_millis(500),
            server_timeout: Duration::from_secs(15),
            peer_tick: Duration::from_millis(50),
            peer_deadline: Duration::from_secs(20),
            host_start_for: Duration::from_millis(1500),
            keepalive: Duration::from_secs(2),
            peer_silence: Duration::from_secs(15),
        }
    }
}

/// The birthday path's numbers (one side's mapping is random; see [`crate::birthday`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BirthdayConfig {
    /// Hard side: how many extra sockets it opens, each greeting the easy side (256).
    pub sockets: u16,
    /// Easy side: probes per second to random ports of the hard side's IP (1,000).
    pub rate: u32,
    /// Easy side: most probes per peer (8,192: a 99.9% chance with 256 sockets is ≈1,740).
    pub max_probes: u32,
    /// Hard side: how often each of its sockets greets the easy side again (1 s).
    pub resend: Duration,
    /// Hard side: plain punching alone this long before the sockets open (250 ms), so a peer
    /// that plain punching reaches (full or restricted cone) costs no extra sockets.
    pub grace: Duration,
}

impl Default for BirthdayConfig {
    fn default() -> Self {
        BirthdayConfig {
            sockets: 256,
            rate: 1000,
            max_probes: 8192,
            resend: Duration::from_secs(1),
            grace: Duration::from_millis(250),
        }
    }
}

/// NAT classification and the direct methods beyond plain punching. Only used with peers whose
/// client announced its NAT through the server (this project's clients); Godot peers only ever
/// see plain punching.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NatConfig {
    /// Classify our NAT with STUN Binding requests to the server's two ports while joining, and
    /// announce the result to the server (`e:`). Off: plain punching only, exactly as before.
    pub classify: bool,
    /// The server's second STUN port (default: the server's port + 1).
    pub alt_port: Option<u16>,
    /// Retransmission interval of a STUN request (250 ms).
    pub stun_rto: Duration,
    /// Sends of each STUN request before it counts as unanswered (5).
    pub stun_tries: u32,
    /// Ports predicted for a peer whose mapping moves by a fixed step (32).
    pub predict_window: u16,
    /// The birthday path.
    pub birthday: BirthdayConfig,
    /// Host: how long a start waits for every player's NAT announcement (2 s; 0: never). A player
    /// that announced has its `i:` (and some credit with the server's budget for its start
    /// messages); one whose `i:` was lost twice on a bad link would otherwise miss the start.
    pub start_wait: Duration,
    /// Ask the server for its relay (`r:`): peers that also asked are reachable through it at
    /// once, while direct paths are tried (on by default; a server that does not relay simply
    /// grants nothing).
    pub relay: bool,
    /// Keep our address from every peer (our server only, `q:`): the server lists us to the
    /// others at a placeholder, and we reach our clients through the relay only: no greeting, no
    /// STUN-derived candidate, no datagram at all to a peer address. Godot peers cannot reach us
    /// then (reported as [`Event::PrivateUnreachable`](crate::Event::PrivateUnreachable)). Needs
    /// [`NatConfig::relay`]; off by default.
    pub private: bool,
}

impl Default for NatConfig {
    fn default() -> Self {
        NatConfig {
            classify: true,
            alt_port: None,
            stun_rto: Duration::from_millis(250),
            stun_tries: 5,
            predict_window: 32,
            birthday: BirthdayConfig::default(),
            start_wait: Duration::from_secs(2),
            relay: true,
            private: false,
        }
    }
}

impl NatConfig {
    /// The server's STUN alternate address.
    pub fn alt_addr(&self, server: SocketAddr) -> SocketAddr {
        let port = self.alt_port.unwrap_or_else(|| server.port().wrapping_add(1).max(1));
        SocketAddr::new(server.ip(), port)
    }
}

/// Most [`Config::server_fallbacks`].
pub const MAX_FALLBACKS: usize = 8;

/// Everything the engine needs to run one player from rendezvous to a punched mesh. Its `Debug`
/// hides the password (so a logged config never shows it).
#[derive(Clone, PartialEq, Eq)]
pub struct Config {
    /// The rendezvous server: the address the session is played through (for a dual-stack
    /// client, its IPv4 address: the family Godot peers can be told about).
    pub server: SocketAddr,
    /// The same server's address in the other family, if this client has both (a dual-stack
    /// client): it announces its own address in that family through it (`v:`), and every peer of
    /// ours that has one too is greeted in both families at once (IPv6 first); the first direct
    /// path that answers is kept. `None`: one family, the server's.
    pub server_other: Option<SocketAddr>,
    /// Other nodes of the same service, in `server`'s family (a name resolving to several, or a
    /// list): when the server stops answering (or is gone) before the session starts, the
    /// driver joins again (a host creates again) through the next one
    /// ([`Event::ServerSwitched`](crate::Event::ServerSwitched)). At most 8.
    pub server_fallbacks: Vec<SocketAddr>,
    /// Session name, `[A-Za-z0-9]{1,10}`.
    pub session: String,
    /// This player's name, `[A-Za-z0-9]{1,12}`.
    pub player: String,
    /// Optional session password, `[A-Za-z0-9]{1,12}`.
    pub password: Option<String>,
    /// Host or join.
    pub role: Role,
    /// The `n` of the `s:<n>` a host sends its peers ("the game starts in n seconds"); Godot
    /// clients succeed n seconds after it. 1 by default (the plugin's host uses 3).
    pub start_in_secs: u32,
    /// Timers.
    pub timers: Timers,
    /// NAT classification and the direct methods beyond plain punching.
    pub nat: NatConfig,
    /// Seed of the engine's random numbers (STUN transaction ids, birthday probe order). The
    /// driver seeds it from the OS; tests fix it.
    pub seed: u64,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("server", &self.server)
            .field("server_other", &self.server_other)
            .field("server_fallbacks", &self.server_fallbacks)
            .field("session", &self.session)
            .field("player", &self.player)
            .field("password", &self.password.as_ref().map(|_| rhp_proto::redact::REDACTED))
            .field("role", &self.role)
            .field("start_in_secs", &self.start_in_secs)
            .field("timers", &self.timers)
            .field("nat", &self.nat)
            .field("seed", &self.seed)
            .finish()
    }
}

impl Config {
    /// A host's configuration with default timers.
    pub fn host(server: SocketAddr, session: &str, player: &str, max_players: u8) -> Config {
        Config {
            server,
            server_other: None,
            server_fallbacks: Vec::new(),
            session: session.to_owned(),
            player: player.to_owned(),
            password: None,
            role: Role::Host { max_players },
            start_in_secs: 1,
            timers: Timers::default(),
            nat: NatConfig::default(),
            seed: 0x5eed,
        }
    }

    /// A joining player's configuration with default timers.
    pub fn join(server: SocketAddr, session: &str, player: &str) -> Config {
        Config { role: Role::Join, ..Config::host(server, session, player, 2) }
    }

    /// Turns NAT classification (and with it every method beyond plain punching) off.
    pub fn without_nat_classification(mut self) -> Config {
        self.nat.classify = false;
        self.nat.relay = false;
        self
    }

    /// Makes the client dual-stack: `other` is the server's address in the other family (see
    /// [`Config::server_other`]).
    pub fn with_other_server(mut self, other: Option<SocketAddr>) -> Config {
        self.server_other = other;
        self
    }

    /// Other nodes of the same service to join through when the server stops answering in the
    /// lobby (see [`Config::server_fallbacks`]).
    pub fn with_fallbacks(mut self, fallbacks: Vec<SocketAddr>) -> Config {
        self.server_fallbacks = fallbacks;
        self
    }

    /// Sets the password.
    pub fn with_password(mut self, password: Option<&str>) -> Config {
        self.password = password.map(str::to_owned);
        self
    }

    /// Checks names, password, max players and timers; the error says which field is wrong.
    pub fn validate(&self) -> Result<(), ClientError> {
        let bad = |what: String| Err(ClientError::InvalidConfig(what));
        if self.nat.private && !self.nat.relay {
            return bad("a private address needs the relay (private without relay)".to_owned());
        }
        if self.server_fallbacks.len() > MAX_FALLBACKS {
            return bad(format!(
                "at most {MAX_FALLBACKS} other server addresses, not {}",
                self.server_fallbacks.len()
            ));
        }
        if let Some(f) =
            self.server_fallbacks.iter().find(|f| f.is_ipv4() != self.server.is_ipv4() || **f == self.server)
        {
            return bad(format!(
                "the other server address {f} must differ from {} and be of its family",
                self.server
            ));
        }
        if let Some(other) = self.server_other {
            if other.ip().to_canonical().is_ipv4() == self.server.ip().to_canonical().is_ipv4() {
                return bad(format!(
                    "the server's other address {other} must be of the other family than {}",
                    self.server
                ));
            }
        }
        if !is_session_name(&self.session) {
            return bad(format!(
                "session name {:?} must be 1 to 10 letters or digits (A-Z, a-z, 0-9)",
                self.session
            ));
        }
        if !is_player_name(&self.player) {
            return bad(format!(
                "player name {:?} must be 1 to 12 letters or digits (A-Z, a-z, 0-9)",
                self.player
            ));
        }
        if let Some(pw) = &self.password {
            if !is_password(pw) {
                return bad("the password must be 1 to 12 letters or digits (A-Z, a-z, 0-9)".into());
            }
        }
        if let Role::Host { max_players } = self.role {
            if !(MIN_PLAYERS..=MAX_PLAYERS).contains(&max_players) {
                return bad(format!("max players must be 2 to 12, not {max_players}"));
            }
        }
        if self.start_in_secs == 0 || self.start_in_secs > 999_999 {
            return bad("the start delay sent to peers must be 1 to 999999 seconds".into());
        }
        let t = &self.timers;
        for (name, d) in [
            ("resend", t.resend),
            ("ping", t.ping),
            ("server timeout", t.server_timeout),
            ("peer tick", t.peer_tick),
            ("peer deadline", t.peer_deadline),
            ("keepalive", t.keepalive),
            ("peer silence", t.peer_silence),
        ] {
            if d < Duration::from_millis(1) || d > Duration::from_secs(24 * 3600) {
                return bad(format!("the {name} timer must be between 1 ms and 24 h"));
            }
        }
        if t.peer_silence <= t.keepalive {
            return bad("the peer silence must be longer than the keepalive interval".into());
        }
        if t.host_start_for > Duration::from_secs(3600) {
            return bad("the host start window must be at most 1 h".into());
        }
        let n = &self.nat;
        if n.stun_rto < Duration::from_millis(1)
            || n.stun_rto > Duration::from_secs(60)
            || n.stun_tries == 0
            || n.stun_tries > 100
        {
            return bad("STUN retransmission must be 1 ms to 60 s, 1 to 100 tries".into());
        }
        if n.start_wait > Duration::from_secs(60) {
            return bad("the start wait for NAT announcements must be at most 60 s".into());
        }
        if n.predict_window == 0 || n.predict_window > 1024 {
            return bad(format!("the prediction window must be 1 to 1024 ports, not {}", n.predict_window));
        }
        let b = &n.birthday;
        if b.sockets == 0 || b.sockets > 1024 {
            return bad(format!("birthday sockets must be 1 to 1024, not {}", b.sockets));
        }
        if b.rate == 0 || b.rate > 100_000 {
            return bad(format!("the birthday probe rate must be 1 to 100000 per second, not {}", b.rate));
        }
        if b.max_probes == 0 || b.max_probes > 65_535 {
            return bad(format!("birthday probes must be 1 to 65535, not {}", b.max_probes));
        }
        if b.resend < Duration::from_millis(10) || b.resend > Duration::from_secs(60) {
            return bad("the birthday resend interval must be 10 ms to 60 s".into());
        }
        if b.grace > Duration::from_secs(60) {
            return bad("the birthday grace must be at most 60 s".into());
        }
        Ok(())
    }

    /// True when this player created the session.
    pub fn is_creator(&self) -> bool {
        matches!(self.role, Role::Host { .. })
    }
}
