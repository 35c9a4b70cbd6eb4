//! The address family of the client's sockets: that of its server, or both when the client is
//! dual-stack (its configuration names the server in both families, and this machine has a
//! route in both: [`settle`]). With no `--bind`, every socket is bound to the unspecified address
//! of the server's family (`[::]:0` for an IPv6 server, and for a dual-stack client); an
//! explicit IPv4 bind for an IPv6 server is refused up front (an IPv4 socket cannot send to it).
//!
//! An IPv6 socket bound to `[::]` is dual-stack: IPv4 peers reach it from IPv4-mapped addresses
//! (`::ffff:10.0.0.2`). The engine never sees those ([`canonical`] on the way in, as the server's
//! shell does), so an IPv4 peer matches the address its `s:` entry gives; on the way out an IPv4
//! destination is mapped for the IPv6 socket ([`on_socket`]).

use crate::config::Config;
use crate::error::ClientError;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

pub(crate) use rhp_io::{canonical, on_socket};

/// The unspecified address of `server`'s family, at `port`.
pub(crate) fn any(server: SocketAddr, port: u16) -> SocketAddr {
    match server {
        SocketAddr::V4(_) => SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)),
        SocketAddr::V6(_) => SocketAddr::from((Ipv6Addr::UNSPECIFIED, port)),
    }
}

/// `bind`, or [`any`] port of `server`'s family; an error for an IPv4 `bind` with an IPv6 server.
pub(crate) fn local(bind: Option<SocketAddr>, server: SocketAddr) -> Result<SocketAddr, ClientError> {
    match bind {
        Some(b) if b.is_ipv4() && server.is_ipv6() => Err(ClientError::InvalidConfig(format!(
            "the local address {b} is IPv4 and the server {server} is IPv6: bind an IPv6 address (or none)"
        ))),
        Some(b) => Ok(b),
        None => Ok(any(server, 0)),
    }
}

/// The families a client uses: with the server named in both ([`Config::server_other`]), both
/// only when no `bind` pins one (an unspecified IPv6 bind serves both) and `routable` says both
/// have a route; otherwise the one that works becomes the session's, alone. The session's
/// family is IPv4 when both work (the one Godot peers can be told about).
pub(crate) fn settle(
    mut config: Config,
    bind: Option<SocketAddr>,
    routable: impl Fn(SocketAddr) -> bool,
) -> Config {
    let Some(other) = config.server_other else { return config };
    let pinned = bind.filter(|b| !(b.is_ipv6() && b.ip().is_unspecified()));
    let (server_ok, other_ok) = match pinned {
        Some(b) => (b.is_ipv4() == config.server.is_ipv4(), b.is_ipv4() == other.is_ipv4()),
        None => (routable(config.server), routable(other)),
    };
    match (server_ok, other_ok) {
        (true, true) => {}
        (false, true) => {
            tracing::debug!(server = %other, "no route to {}: one family", config.server);
            config.server = other;
            config.server_other = None;
        }
        (true, false) | (false, false) => {
            tracing::debug!(server = %config.server, "no route to {other}: one family");
            config.server_other = None;
        }
    }
    config
}
