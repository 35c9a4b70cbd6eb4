//! The address family of the client's sockets: that of its server. With no `--bind`, every socket
//! is bound to the unspecified address of the server's family (`[::]:0` for an IPv6 server); an
//! explicit IPv4 bind for an IPv6 server is refused up front (an IPv4 socket cannot send to it).
//!
//! An IPv6 socket bound to `[::]` is dual-stack: IPv4 peers reach it from IPv4-mapped addresses
//! (`::ffff:10.0.0.2`). The engine never sees those ([`canonical`] on the way in, as the server's
//! shell does), so an IPv4 peer matches the address its `s:` entry gives; on the way out an IPv4
//! destination is mapped for the IPv6 socket ([`on_socket`]).

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
