//! Address privacy (opt-in, [`crate::NatConfig::private`], our server only): the one rule every
//! datagram passes in the outbox. A private client sends only to the server (its requests, the
//! relay's frames); nobody ever sends to a private peer's placeholder
//! ([`rhp_proto::relay::PRIVATE_PLACEHOLDER`]), which the server lists in its place.
//!
//! The rest of the mode: the engine sends `q:` instead of `r:` (and `q:` right behind a `c:`, so
//! the server knows before anyone can start), classifies nothing and announces no `e:` (a
//! descriptor may carry a port), sends no candidate through the relay, and reports the peers
//! that cannot reach it (not in the relay: Godot peers).

use rhp_proto::relay::PRIVATE_PLACEHOLDER;
use std::net::SocketAddr;

/// Whether a datagram may go to `to`: never to the placeholder; only to `only_to` when that is
/// set (a private client's server addresses).
pub(crate) fn may_send(to: SocketAddr, only_to: &[SocketAddr]) -> bool {
    to.ip().to_canonical() != PRIVATE_PLACEHOLDER.ip() && (only_to.is_empty() || only_to.contains(&to))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule() {
        let server: SocketAddr = "10.0.0.1:57775".parse().unwrap();
        let peer: SocketAddr = "10.0.0.2:4000".parse().unwrap();
        assert!(may_send(peer, &[]));
        assert!(!may_send(PRIVATE_PLACEHOLDER, &[]));
        assert!(!may_send("192.0.2.1:4000".parse().unwrap(), &[]));
        assert!(may_send(server, &[server]));
        assert!(!may_send(peer, &[server]));
        assert!(!may_send("[::ffff:192.0.2.1]:9".parse().unwrap(), &[]));
    }
}
