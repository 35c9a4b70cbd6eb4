//! IPv4 on a dual-stack socket: a socket bound to `[::]` with IPV6_V6ONLY off also receives IPv4
//! datagrams, from IPv4-mapped addresses (`::ffff:10.0.0.2`). The engine never sees those: they
//! are turned into plain IPv4 on the way in ([`canonical`]), so it keys an IPv4 player exactly as
//! on an IPv4 socket (the same per-IP tables, budgets and `s:` text), and turned back into mapped
//! addresses on the way out of an IPv6 socket ([`on_socket`]).

use std::net::{IpAddr, SocketAddr};

/// `from` with an IPv4-mapped IPv6 address turned into plain IPv4; any other address unchanged.
pub(crate) fn canonical(from: SocketAddr) -> SocketAddr {
    match from {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), v6.port()),
            None => from,
        },
        SocketAddr::V4(_) => from,
    }
}

/// `to` as a socket of family `v6` takes it: an IPv4 address becomes IPv4-mapped on an IPv6
/// socket (what the dual-stack socket expects); anything else unchanged.
pub(crate) fn on_socket(to: SocketAddr, v6: bool) -> SocketAddr {
    match to {
        SocketAddr::V4(v4) if v6 => SocketAddr::new(IpAddr::V6(v4.ip().to_ipv6_mapped()), v4.port()),
        _ => to,
    }
}
