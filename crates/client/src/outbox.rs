//! The engine's output queues: datagrams to send, sockets to open or close, and events to report,
//! all bounded.
//!
//! The engine only ever appends here; [`crate::Engine::poll_output`] drains. A full queue drops the
//! newest item (the protocol resends everything that matters on its timers), and counts it.

use crate::events::Event;
use std::collections::VecDeque;
use std::fmt;
use std::net::SocketAddr;

/// Most datagrams queued at once: a 12-player start burst is 11 × 17 = 187; a birthday-path
/// hard side greets from 256 sockets at once.
pub(crate) const MAX_TRANSMITS: usize = 4096;
/// Most events queued at once.
pub(crate) const MAX_EVENTS: usize = 4096;

/// Which of the client's UDP sockets a datagram leaves from or arrived on. [`SocketId::MAIN`] is
/// the socket of the whole run (the server sees it; plain punching uses it); the engine asks the
/// driver for others (a NAT-classification probe socket, the birthday path's K sockets) with
/// [`crate::Output::Open`] and gives them back with [`crate::Output::Close`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SocketId(pub u32);

impl SocketId {
    /// The socket of the whole run.
    pub const MAIN: SocketId = SocketId(0);
    /// A small socket the driver connects to the server in the lobby: the kernel reports an
    /// ICMP "port unreachable" only on a connected UDP socket, so this one tells at once that
    /// nothing listens at the server's address ([`crate::Input::Unreachable`]).
    pub const WATCH: SocketId = SocketId(u32::MAX);
}

impl fmt::Display for SocketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// One datagram to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Destination.
    pub to: SocketAddr,
    /// Payload.
    pub data: Vec<u8>,
    /// The socket to send it from.
    pub via: SocketId,
}

/// A request to the driver about its sockets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SocketOp {
    /// Bind a new socket (same family as the main one, any port) under this id and report it
    /// with `Input::Opened`.
    Open(SocketId),
    /// Close the socket with this id.
    Close(SocketId),
}

/// Bounded queues of datagrams, socket requests and events.
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    pub(crate) transmits: VecDeque<Transmit>,
    pub(crate) sockets: VecDeque<SocketOp>,
    pub(crate) events: VecDeque<Event>,
    pub(crate) dropped: u64,
    /// Set for a private client ([`crate::NatConfig::private`]): the only destinations allowed
    /// (the server's addresses); anything else is withheld.
    pub(crate) only_to: Vec<SocketAddr>,
    /// Datagrams withheld: to a private peer's placeholder, or (private) to anyone but the server.
    pub(crate) withheld: u64,
}

impl Outbox {
    /// Queue a datagram from the main socket.
    pub(crate) fn send(&mut self, to: SocketAddr, data: Vec<u8>) {
        self.send_via(SocketId::MAIN, to, data);
    }

    /// Queue a datagram from socket `via`.
    pub(crate) fn send_via(&mut self, via: SocketId, to: SocketAddr, data: Vec<u8>) {
        if !crate::private::may_send(to, &self.only_to) {
            self.withheld += 1;
            return;
        }
        if self.transmits.len() < MAX_TRANSMITS {
            self.transmits.push_back(Transmit { to, data, via });
        } else {
            self.dropped += 1;
        }
    }

    pub(crate) fn socket(&mut self, op: SocketOp) {
        // Never dropped: a lost Close would leak a socket until the run ends.
        self.sockets.push_back(op);
    }

    pub(crate) fn event(&mut self, event: Event) {
        if self.events.len() < MAX_EVENTS {
            self.events.push_back(event);
        } else {
            self.dropped += 1;
        }
    }
}
