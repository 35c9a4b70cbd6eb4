//! What the engine tells the application as it goes: lobby changes, the start, every peer heard,
//! connected or failed, the end of the peer phase, peers that leave or fall silent, a new host,
//! and application data.

use crate::nat_report::NatReport;
use crate::strategy::Method;
use rhp_io::SocketId;
use rhp_proto::{ErrorCode, PeerAddr};
use std::net::SocketAddr;
use std::time::Duration;

/// Progress of a run, in the order it happens.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// Our NAT was classified (STUN to the server's two ports, while joining).
    Nat(NatReport),
    /// The server stopped answering (or is gone) before the session started, and the driver
    /// joins again through the next of [`Config::server_fallbacks`](crate::Config::server_fallbacks)
    /// (a host creates its session again there): a new run of the lobby, on the same socket.
    ServerSwitched {
        /// The server that stopped answering.
        from: SocketAddr,
        /// The one we join through now.
        to: SocketAddr,
        /// What happened to the first, in words.
        reason: String,
    },
    /// The server accepted us (first `i:`): the players in join order, the first is the host.
    Joined {
        /// Players in join order.
        players: Vec<String>,
        /// Whether we are the host.
        is_host: bool,
    },
    /// The player list changed (a later `i:`).
    Players(Vec<String>),
    /// The host left and we are the host now (we head the `i:` list).
    BecameHost,
    /// Nothing has come from the server for a while (reported every few seconds while it lasts;
    /// the run fails once the silence reaches [`crate::Timers::server_timeout`]).
    ServerSilent {
        /// Time since the last datagram from the server (or since the start).
        silent_for: Duration,
        /// The server had answered before (it stopped), or never did (wrong address, firewall).
        answered_before: bool,
    },
    /// A datagram could not be sent (a firewall rule, a full buffer, no route for a moment). The
    /// run goes on; reported at once, then at most once a second while sends keep failing.
    SendFailed {
        /// Where the datagram was going.
        to: SocketAddr,
        /// What the kernel said.
        error: String,
        /// Sends that failed so far in this run.
        failures: u64,
    },
    /// The server refused a start or a kick (`non_host_player`, `only_one_player_in_session`,
    /// `non_existent_player`); we stay in the session and ping on.
    Refused(ErrorCode),
    /// The server's `s:` arrived: the peer phase begins now.
    Started {
        /// Our port as the server saw it.
        own_port: u16,
        /// The other players and the addresses the server saw.
        peers: Vec<PeerAddr>,
        /// The host's name (us, if we are host).
        host: String,
    },
    /// The first valid datagram from a peer arrived (its address is pinned to `from`).
    Heard {
        /// The peer.
        peer: String,
        /// The datagram's source address.
        from: SocketAddr,
    },
    /// A peer is connected: we heard it and it heard us (its `c:` came), or (`method` is
    /// [`Method::Relay`]) the server's relay carries our datagrams both ways.
    Connected {
        /// The peer.
        peer: String,
        /// The address to use for it (the server's, for the relay).
        addr: SocketAddr,
        /// Time since the server's `s:` arrived.
        after_start: Duration,
        /// How the path was found.
        method: Method,
        /// Birthday probes we sent until then (easy side of the birthday path only).
        probes: Option<u32>,
    },
    /// A peer that was reached through the relay now has a direct path too, or a dual-stack peer
    /// connected over IPv4 answered over IPv6: its datagrams go there from now on (those still
    /// in flight on the old path are still delivered).
    Upgraded {
        /// The peer.
        peer: String,
        /// Its direct address.
        addr: SocketAddr,
        /// Time since the server's `s:` arrived.
        after_start: Duration,
        /// How the direct path was found.
        method: Method,
        /// Birthday probes we sent until then (easy side of the birthday path only).
        probes: Option<u32>,
    },
    /// The server's relay refused one of our frames (a cap bit); its datagrams may be lost
    /// until the cap allows them again.
    RelayRefused(rhp_proto::relay::Refusal),
    /// We are private ([`NatConfig::private`](crate::NatConfig::private)) and these peers
    /// cannot reach us: they are not in the server's relay (Godot peers, or our clients without
    /// the relay), and our address is kept from them. Once, in the peer phase, when our relay
    /// grant is settled (empty when every peer can reach us).
    PrivateUnreachable {
        /// The peers, in the start message's order.
        peers: Vec<String>,
    },
    /// A peer did not connect before the peer deadline.
    Failed {
        /// The peer.
        peer: String,
        /// Why.
        reason: FailReason,
    },
    /// The peer phase is over (every peer connected, or the deadline passed).
    Done {
        /// Peers connected.
        connected: usize,
        /// Peers in the session, us excluded.
        total: usize,
        /// Time since the server's `s:` arrived.
        after_start: Duration,
    },
    /// A peer is gone: it said so (`l:`, our clients only) or nothing came from it for
    /// [`Timers::peer_silence`](crate::Timers::peer_silence) (only peers that are our clients:
    /// they send keepalives). Data can no longer be sent to it.
    PeerLeft {
        /// The peer.
        peer: String,
        /// How we know.
        reason: LeaveReason,
    },
    /// The host left (or fell silent) after the start: the remaining players agreed on a new one
    /// without the server (the earliest in the session's join order among us and the peers that
    /// are our clients and still reachable; every remaining player computes the same).
    HostChanged {
        /// The new host's name.
        host: String,
        /// Whether it is us.
        is_us: bool,
    },
    /// Application data (`d:<bytes>`) from a peer.
    Data {
        /// The sender.
        peer: String,
        /// The bytes after `d:`.
        data: Vec<u8>,
    },
}

/// Why a peer failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailReason {
    /// Not one datagram from it arrived.
    NeverHeard,
    /// We heard it, but it never confirmed hearing us (no `c:`).
    NeverConfirmed,
}

impl FailReason {
    /// Short token for machine-readable output: `no_reply` or `no_confirm`.
    pub fn short(self) -> &'static str {
        match self {
            FailReason::NeverHeard => "no_reply",
            FailReason::NeverConfirmed => "no_confirm",
        }
    }
}

impl std::fmt::Display for FailReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FailReason::NeverHeard => "no datagram from this player ever arrived",
            FailReason::NeverConfirmed => "this player was heard but never confirmed hearing us",
        })
    }
}

/// Why a peer is gone ([`Event::PeerLeft`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LeaveReason {
    /// It told us it leaves.
    Left,
    /// Nothing came from it for the configured silence.
    Silent,
}

impl LeaveReason {
    /// Short token for machine-readable output: `left` or `silent`.
    pub fn short(self) -> &'static str {
        match self {
            LeaveReason::Left => "left",
            LeaveReason::Silent => "silent",
        }
    }
}

impl std::fmt::Display for LeaveReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LeaveReason::Left => "it left the session",
            LeaveReason::Silent => "nothing came from it for too long",
        })
    }
}

/// Where a peer stands in the peer phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerStatus {
    /// Nothing heard yet.
    Trying,
    /// Heard (address pinned), not yet confirmed.
    Heard,
    /// Heard and confirmed: usable.
    Connected,
    /// Not connected by the deadline.
    Failed(FailReason),
    /// Gone after it was reachable (see [`Event::PeerLeft`]).
    Left(LeaveReason),
}

/// One peer as the application sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerInfo {
    /// Its player name.
    pub name: String,
    /// The address the server reported.
    pub reported: SocketAddr,
    /// The address its datagrams come from (pinned), once heard.
    pub addr: Option<SocketAddr>,
    /// Its status.
    pub status: PeerStatus,
    /// Whether it is the session's host.
    pub is_host: bool,
    /// When it connected, counted from the server's `s:`.
    pub connected_after: Option<Duration>,
    /// How it connected.
    pub method: Option<Method>,
    /// The socket its path uses ([`SocketId::MAIN`] unless the birthday path opened another).
    pub via: SocketId,
    /// The server's relay carries our datagrams to it (used while it has no direct path).
    pub relayed: bool,
}

/// The path application data to a peer takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    /// Straight to this address, from this socket.
    Direct(SocketId, SocketAddr),
    /// Through the rendezvous server's relay.
    Relay,
}

impl PeerInfo {
    /// The path in use: direct once connected directly, else the relay if it is up, else none.
    pub fn path(&self) -> Option<Path> {
        match (self.status, self.addr) {
            (PeerStatus::Left(_), _) => None,
            (PeerStatus::Connected, Some(a)) => Some(Path::Direct(self.via, a)),
            _ if self.relayed => Some(Path::Relay),
            _ => None,
        }
    }

    /// Whether data can be sent to it (directly or through the relay).
    pub fn reachable(&self) -> bool {
        self.path().is_some()
    }

    /// Whether it left or fell silent after it was reachable.
    pub fn has_left(&self) -> bool {
        matches!(self.status, PeerStatus::Left(_))
    }
}
