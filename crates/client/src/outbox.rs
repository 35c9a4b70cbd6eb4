//! The engine's output queues: datagrams to send and events to report, both bounded.
//!
//! The engine only ever appends here; [`crate::Engine::poll_output`] drains. A full queue drops the
//! newest item (the protocol resends everything that matters on its timers), and counts it.

use crate::events::Event;
use std::collections::VecDeque;
use std::net::SocketAddr;

/// Most datagrams queued at once: a 12-player start burst is 11 × 17 = 187.
pub(crate) const MAX_TRANSMITS: usize = 4096;
/// Most events queued at once.
pub(crate) const MAX_EVENTS: usize = 4096;

/// One datagram to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Destination.
    pub to: SocketAddr,
    /// Payload.
    pub data: Vec<u8>,
}

/// Bounded queues of datagrams and events.
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    pub(crate) transmits: VecDeque<Transmit>,
    pub(crate) events: VecDeque<Event>,
    pub(crate) dropped: u64,
}

impl Outbox {
    pub(crate) fn send(&mut self, to: SocketAddr, data: Vec<u8>) {
        if self.transmits.len() < MAX_TRANSMITS {
            self.transmits.push_back(Transmit { to, data });
        } else {
            self.dropped += 1;
        }
    }

    pub(crate) fn event(&mut self, event: Event) {
        if self.events.len() < MAX_EVENTS {
            self.events.push_back(event);
        } else {
            self.dropped += 1;
        }
    }
}
