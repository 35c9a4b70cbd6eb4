//! STUN Binding requests (RFC 8489, and classic RFC 3489 ones), on the main port and the alternate
//! one: answered with the address the request came from, from the socket it arrived on, through the
//! same anti-reflection budget as every reply. Other STUN messages are dropped silently.

use super::Cx;
use crate::store::SessionStore;
use rhp_io::SocketId;
use rhp_proto::stun::{parse_binding_request, write_binding_response};
use std::net::SocketAddr;
use std::time::Instant;
use tracing::debug;

impl<S: SessionStore> Cx<'_, S> {
    pub(crate) fn on_stun(&mut self, now: Instant, via: SocketId, from: SocketAddr, data: &[u8]) {
        // Like any datagram that is not a member's request: it credits an existing account, or a
        // one-datagram account that pays for the answer to this datagram only.
        self.out.credit(now, from, data.len());
        match parse_binding_request(data) {
            Ok(req) => {
                self.out.push_on(via, now, from, |b| write_binding_response(&req, from, b));
            }
            Err(e) => debug!("stun from {from} on {via} dropped: {e}"),
        }
        self.out.forget_transient();
    }
}
