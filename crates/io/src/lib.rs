//! The one contract between a sans-IO engine (the server's or a client's) and whatever drives it:
//! a tokio shell with real sockets, or `rhp-sim`'s virtual network.
//!
//! # The contract
//! - An engine owns no socket and reads no clock. Everything that happens to it arrives as an
//!   [`Input`], stamped with the instant the driver observed it.
//! - Everything it wants sent leaves as a [`Transmit`]: the bytes, the destination, and the
//!   [`SocketId`] of the local socket to send from. A reply to a datagram leaves through the socket
//!   the datagram came in on (a NAT only lets in replies from the address it sent to).
//! - **The drain rule.** After every input, the driver drains the engine's output until it is
//!   empty (the server: `poll_transmit` until it returns `false`; a client: `poll_output` until it
//!   returns its `Timeout`), then asks when to wake it next (`poll_timeout`) and feeds
//!   [`Input::Timeout`] at that instant unless another input comes first. An early or repeated
//!   timeout does nothing; a late one does everything that fell due.
//!
//! - **Addresses are canonical inside an engine.** A socket bound to `[::]` with IPV6_V6ONLY off
//!   also carries IPv4, from IPv4-mapped addresses (`::ffff:10.0.0.2`). A shell hands the engine
//!   plain IPv4 ([`canonical`]) and maps an IPv4 destination back for such a socket
//!   ([`on_socket`]), so an engine keys an IPv4 peer the same on either kind of socket.
//!
//! This crate has no dependencies and no state: types and these two rules only, shared by
//! `rhp-server`, `rhp-client` and `rhp-sim`, so one name means one thing across the tree.
#![deny(missing_docs)]

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

/// Which of an engine's local UDP sockets a datagram arrived on or leaves from.
///
/// [`SocketId::MAIN`] is the socket every engine has. The server's second one is its alternate
/// STUN port (`rhp_server::ALT`); a client asks its driver for more (a NAT probe socket, the
/// birthday path's sockets) and numbers them itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SocketId(pub u32);

impl SocketId {
    /// The socket of the whole run: the server's main port, a client's socket to the server.
    pub const MAIN: SocketId = SocketId(0);
}

impl fmt::Display for SocketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Something that happened to an engine. The server uses the first two kinds and ignores the
/// others; a client uses all four.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input<'a> {
    /// A datagram arrived.
    Datagram {
        /// When it arrived.
        now: Instant,
        /// The local socket it arrived on.
        via: SocketId,
        /// Its source address.
        from: SocketAddr,
        /// Its payload (borrowed: the engine copies what it keeps).
        data: &'a [u8],
    },
    /// Time has reached this instant (at least the one the engine last asked to be woken at).
    Timeout(Instant),
    /// The driver bound a socket the engine asked for (`local_port` `None`: it could not).
    Opened {
        /// When.
        now: Instant,
        /// Which socket.
        id: SocketId,
        /// Its local port.
        local_port: Option<u16>,
    },
    /// The kernel reported that nothing listens at `to` (an ICMP "port unreachable", which Linux
    /// reports only on a connected UDP socket).
    Unreachable {
        /// When.
        now: Instant,
        /// The address nothing listens at.
        to: SocketAddr,
    },
}

impl Input<'_> {
    /// The instant this input carries.
    pub fn now(&self) -> Instant {
        match *self {
            Input::Datagram { now, .. }
            | Input::Timeout(now)
            | Input::Opened { now, .. }
            | Input::Unreachable { now, .. } => now,
        }
    }
}

/// One datagram to send: its bytes, where to, and from which local socket.
///
/// The server's hot path reuses one `Transmit` for every datagram (its `poll_transmit` swaps the
/// payload buffer in place), so the warm ping path allocates nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// The local socket to send from.
    pub via: SocketId,
    /// The destination.
    pub to: SocketAddr,
    /// The payload.
    pub data: Vec<u8>,
}

impl Transmit {
    /// A transmit to fill with `poll_transmit`: main socket, unspecified address, empty payload
    /// (with room for the longest datagram the engines send without reallocating).
    pub fn empty() -> Transmit {
        Transmit {
            via: SocketId::MAIN,
            to: SocketAddr::from(([0, 0, 0, 0], 0)),
            data: Vec::with_capacity(1500),
        }
    }
}

/// `from` with an IPv4-mapped IPv6 address turned into plain IPv4; any other address unchanged
/// (what a shell hands its engine for a datagram's source).
pub fn canonical(from: SocketAddr) -> SocketAddr {
    match from {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), v6.port()),
            None => from,
        },
        SocketAddr::V4(_) => from,
    }
}

/// `to` as a socket of family `v6` takes it: an IPv4 address becomes IPv4-mapped on an IPv6
/// socket (what a dual-stack socket expects); anything else unchanged.
pub fn on_socket(to: SocketAddr, v6: bool) -> SocketAddr {
    match to {
        SocketAddr::V4(v4) if v6 => SocketAddr::new(IpAddr::V6(v4.ip().to_ipv6_mapped()), v4.port()),
        _ => to,
    }
}
