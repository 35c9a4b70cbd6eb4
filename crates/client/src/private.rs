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
