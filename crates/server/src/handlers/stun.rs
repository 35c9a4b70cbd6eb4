//! STUN Binding requests (RFC 8489, and classic RFC 3489 ones), on the main port and the alternate
//! one: answered with the address the request came from, from the socket it arrived on, through the
//! same anti-reflection budget as every reply. Other STUN messages are dropped silently.

use crate::engine::{Engine, Local};
use crate::store::SessionStore;
use rhp_proto::stun::{parse_binding_request, write_binding_response};
use std::net::SocketAddr;
use std::time::Instant;
use tracing::debug;

impl<S: SessionStore> Engine<S> {
    pub(crate) fn on_stun(&mut self, now: Instant, local: Local, from: SocketAddr, data: &[u8]) {
        self.housekeeping(now);
        // Like any datagram that is not a member's request: it credits an existing account, or a
        // one-datagram account that pays for the answer to this datagram only.
        self.outbox.budget.received(now, from, data.len());
        match parse_binding_request(data) {
            Ok(req) => {
                let render = |b: &mut Vec<u8>| write_binding_response(&req, from, b);
                match local {
                    Local::Main => self.outbox.push_with(now, from, render),
                    Local::Alt => self.outbox.push_alt_with(now, from, render),
                };
            }
            Err(e) => debug!("stun from {from} on {local:?} dropped: {e}"),
        }
        self.outbox.budget.forget_transient();
    }
}
