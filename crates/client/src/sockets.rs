//! The client's socket numbering: which [`SocketId`] means what. The main socket is
//! [`SocketId::MAIN`] (from `rhp-io`); the others the engine asks its driver for
//! ([`crate::Output::Open`]) or, for [`WATCH`], the driver opens on its own.

use rhp_io::SocketId;

/// A small socket the driver connects to the server in the lobby: the kernel reports an ICMP
/// "port unreachable" only on a connected UDP socket, so this one tells at once that nothing
/// listens at the server's address ([`crate::Input::Unreachable`]).
pub const WATCH: SocketId = SocketId(u32::MAX);

/// The NAT classification's probe socket.
pub(crate) const PROBE: SocketId = SocketId(1);

/// The birthday path's hard-side sockets are numbered from here.
pub(crate) const FIRST_HARD: u32 = 16;
