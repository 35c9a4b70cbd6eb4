//! The engine's output queues: datagrams to send, sockets to open or close, and events to report,
//! all bounded.
//!
//! The engine only ever appends here; [`crate::Engine::poll_output`] drains. A full queue drops the
//! newest item (the protocol resends everything that matters on its timers), and counts it.

use crate::events::Event;
use rhp_io::{SocketId, Transmit};
use std::collections::VecDeque;
use std::net::SocketAddr;

/// Most datagrams queued at once: a 12-player start burst is 11 × 17 = 187; a birthday-path
/// hard side greets from 256 sockets at once.
pub(crate) const MAX_TRANSMITS: usize = 4096;
/// Most events queued at once.
pub(crate) const MAX_EVENTS: usize = 4096;

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
            self.transmits.push_back(Transmit { via, to, data });
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
