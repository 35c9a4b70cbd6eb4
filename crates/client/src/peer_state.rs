//! One other player during and after the peer phase: the ports to try, the pinned address, what
//! it has told us (`g:`, `c:`, `s:`, `y:`), and when its next datagram is due.

use crate::birthday::Prober;
use crate::events::{FailReason, PeerInfo, PeerStatus};
use crate::nat_kind::NatKind;
use crate::strategy::{Method, Plan};
use rhp_io::SocketId;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Half-width of the port window around a peer's reported port (the plugin's ±8).
pub const PORT_WINDOW: u16 = 8;

/// The candidate ports for a reported port: `[p, p-8..p-1, p+1..p+8]`, invalid ports skipped.
pub fn candidate_ports(p: u16) -> Vec<u16> {
    let mut ports = vec![p];
    let lo = i32::from(p) - i32::from(PORT_WINDOW);
    let hi = i32::from(p) + i32::from(PORT_WINDOW);
    for port in lo..=hi {
        if port != i32::from(p) && (1..=65535).contains(&port) {
            if let Ok(port) = u16::try_from(port) {
                ports.push(port);
            }
        }
    }
    ports
}

/// What the next pinned-but-unconfirmed tick sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Alternate {
    Greet,
    Confirm,
}

/// The state of one peer.
#[derive(Debug, Clone)]
pub(crate) struct PeerState {
    pub(crate) name: String,
    pub(crate) reported: SocketAddr,
    /// Its address in the other family, when it is dual-stack and so are we (a second entry
    /// under its name in our start message): greeted on every unpinned tick before the
    /// reported window, exactly (no NAT translates an IPv6 port; a firewall opens for the
    /// greetings both sides send).
    pub(crate) other: Option<SocketAddr>,
    pub(crate) is_host: bool,
    pub(crate) window: Vec<u16>,
    /// Next index into `window` for unpinned greetings.
    pub(crate) cursor: usize,
    /// The source address of its first valid datagram, moved (until connected) to the source of
    /// a later one that answers us (`c:`, `s:<n>`, `y:`, data), never to a later greeting's.
    pub(crate) pinned: Option<SocketAddr>,
    /// The socket that datagram arrived on: everything to this peer leaves from it.
    pub(crate) via: SocketId,
    /// What we do towards it (from both NAT kinds).
    pub(crate) plan: Plan,
    /// Ports greeted from `window` per tick (1 for plain punching, more for a prediction).
    pub(crate) per_tick: usize,
    /// Ports predicted for it (a fixed-step mapping).
    pub(crate) predicted: Vec<u16>,
    /// The birthday path's easy-side probes to it.
    pub(crate) prober: Option<Prober>,
    /// How it connected.
    pub(crate) method: Option<Method>,
    /// Birthday probes sent until it connected.
    pub(crate) probes: Option<u32>,
    /// A `c:` (or `s:`/`y:`, which imply it) came from it: it heard us.
    pub(crate) confirmed: bool,
    pub(crate) status: PeerStatus,
    pub(crate) next_tick: Instant,
    pub(crate) alternate: Alternate,
    /// `c:` received since our last reactive `c:` to it.
    pub(crate) unanswered_confirms: u32,
    /// Host only: when we began sending `s:<n>` to it, and whether its `y:` came.
    pub(crate) start_since: Option<Instant>,
    pub(crate) start_acked: bool,
    pub(crate) connected_after: Option<Duration>,
    /// Every path (our socket, its source address) a valid message from it came on, at most
    /// [`MAX_HEARD_PATHS`]. The two sides pin independently (each its first datagram heard), so
    /// the peer may be sending on another of these than our pinned one: its data is accepted on
    /// each, and the birthday path keeps their sockets open.
    pub(crate) heard_paths: Vec<(SocketId, SocketAddr)>,
    /// The relay carries datagrams both ways between us (see [`crate::relay`]).
    pub(crate) relayed: bool,
    /// Its current public address as it told us through the relay (same IP as reported).
    pub(crate) candidate: Option<SocketAddr>,
    /// Relayed and not directly connected: when the next background attempt at a direct path
    /// goes out.
    pub(crate) next_retry: Option<Instant>,
    /// It is one of our clients (it announced its NAT through the server, is a relay member, or
    /// sent us `a:`/`l:`): it may get `a:`/`l:`, and it is expected to keep alive.
    pub(crate) ours: bool,
    /// When the last valid datagram from it (direct or relayed) arrived.
    pub(crate) last_heard: Option<Instant>,
    /// When our next keepalive to it is due (ours and reachable only).
    pub(crate) next_alive: Option<Instant>,
}

/// Most paths remembered per peer.
pub(crate) const MAX_HEARD_PATHS: usize = 8;

impl PeerState {
    pub(crate) fn new(name: String, reported: SocketAddr, is_host: bool, now: Instant) -> PeerState {
        PeerState {
            window: candidate_ports(reported.port()),
            name,
            reported,
            other: None,
            is_host,
            cursor: 0,
            pinned: None,
            via: SocketId::MAIN,
            plan: Plan::Plain,
            per_tick: 1,
            predicted: Vec::new(),
            prober: None,
            method: None,
            probes: None,
            confirmed: false,
            status: PeerStatus::Trying,
            next_tick: now,
            alternate: Alternate::Greet,
            unanswered_confirms: 0,
            start_since: None,
            start_acked: false,
            connected_after: None,
            heard_paths: Vec::new(),
            relayed: false,
            candidate: None,
            next_retry: None,
            ours: false,
            last_heard: None,
            next_alive: None,
        }
    }

    /// Whether `ip` is one the server reported for it (its session address or its other one):
    /// its messages are taken only from these.
    pub(crate) fn knows_ip(&self, ip: std::net::IpAddr) -> bool {
        self.reported.ip() == ip || self.other.is_some_and(|o| o.ip() == ip)
    }

    /// Whether a datagram that answers us on (`via`, `from`) moves its connected path: it came
    /// from its IPv6 address (see `Punch::prefer_other_family`) while the path is IPv4.
    pub(crate) fn prefers(&self, via: SocketId, from: SocketAddr) -> bool {
        self.is_connected()
            && via == SocketId::MAIN
            && from.is_ipv6()
            && self.other == Some(from)
            && self.pinned.is_some_and(|a| a.is_ipv4())
    }

    /// It left or fell silent.
    pub(crate) fn is_gone(&self) -> bool {
        matches!(self.status, PeerStatus::Left(_))
    }

    /// Data can reach it now (a direct path, or the relay), and it has not left.
    pub(crate) fn is_reachable(&self) -> bool {
        !self.is_gone() && (self.is_connected() || self.relayed)
    }

    /// Remembers that a valid message from this peer came on `(via, from)`.
    pub(crate) fn heard_on(&mut self, via: SocketId, from: SocketAddr) {
        if !self.heard_paths.contains(&(via, from)) && self.heard_paths.len() < MAX_HEARD_PATHS {
            self.heard_paths.push((via, from));
        }
    }

    /// Whether data arriving on `(via, from)` is this peer's: its pinned path or one it was heard on.
    pub(crate) fn owns_path(&self, via: SocketId, from: SocketAddr) -> bool {
        (self.pinned == Some(from) && self.via == via) || self.heard_paths.contains(&(via, from))
    }

    /// Where to send now: the pinned address, else the next window port (advancing the cursor).
    pub(crate) fn next_unpinned_target(&mut self) -> SocketAddr {
        let port = self.window.get(self.cursor).copied().unwrap_or(self.reported.port());
        self.cursor = (self.cursor + 1) % self.window.len().max(1);
        SocketAddr::new(self.reported.ip(), port)
    }

    /// Follows `plan`: the predicted ports join (or, in lockstep, replace) the window.
    pub(crate) fn set_plan(&mut self, plan: Plan, predict_window: u16) {
        self.plan = plan;
        if let Plan::PredictPeer { last, step, lockstep } = plan {
            self.predicted =
                (1..=predict_window).filter_map(|i| NatKind::predicted_port(last, step, i)).collect();
            let mut window = self.predicted.clone();
            if !lockstep {
                window.extend(
                    candidate_ports(self.reported.port()).into_iter().filter(|p| !self.predicted.contains(p)),
                );
            }
            if !window.is_empty() {
                self.window = window;
            }
            self.cursor = 0;
            // The whole window about every 10 ticks.
            self.per_tick = self.window.len().div_ceil(10).max(1);
        }
    }

    /// How it connected, from the plan and the path: a birthday or predicted plan counts only
    /// when the path is one it opened (a hard-side socket, a probed or predicted port).
    pub(crate) fn method_for(&self, addr: SocketAddr) -> Method {
        match self.plan {
            Plan::BirthdayHard if self.via != SocketId::MAIN => Method::Birthday,
            Plan::BirthdayEasy if self.prober.as_ref().is_some_and(|p| p.was_probed(addr.port())) => {
                Method::Birthday
            }
            Plan::PredictPeer { .. } if self.predicted.contains(&addr.port()) => Method::Predicted,
            Plan::PredictedByPeer => Method::Predicted,
            _ => Method::Plain,
        }
    }

    pub(crate) fn is_connected(&self) -> bool {
        self.status == PeerStatus::Connected
    }

    /// Why it failed, if it fails now.
    pub(crate) fn fail_reason(&self) -> FailReason {
        if self.pinned.is_some() {
            FailReason::NeverConfirmed
        } else {
            FailReason::NeverHeard
        }
    }

    pub(crate) fn info(&self) -> PeerInfo {
        PeerInfo {
            name: self.name.clone(),
            reported: self.reported,
            addr: self.pinned,
            status: self.status,
            is_host: self.is_host,
            connected_after: self.connected_after,
            method: self.method,
            via: self.via,
            relayed: self.relayed,
        }
    }
}
