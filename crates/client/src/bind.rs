//! The client's sockets as the shell binds them: which families this machine can use towards the
//! server (a dual-stack configuration keeps both only when both have a route), and one UDP
//! socket that serves both families when it is dual-stack (`[::]` with `IPV6_V6ONLY` off, set
//! explicitly rather than left to the system's default).

use crate::config::Config;
use crate::error::ClientError;
use crate::family;
use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use std::net::{Ipv6Addr, SocketAddr};

/// Whether this machine has a route to `to` (a UDP `connect` sends nothing; it fails at once
/// with "network unreachable" when no interface of that family can reach it).
pub(crate) fn routable(to: SocketAddr) -> bool {
    std::net::UdpSocket::bind(family::any(to, 0)).and_then(|s| s.connect(to)).is_ok()
}

/// `config` with the families this machine can use (see [`family::settle`]), and the local
/// address to bind.
pub(crate) fn settle(config: Config, bind: Option<SocketAddr>) -> Result<(Config, SocketAddr), ClientError> {
    let config = family::settle(config, bind, routable);
    let local = match (bind, config.server_other) {
        (None, Some(_)) => SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0)),
        _ => family::local(bind, config.server)?,
    };
    Ok((config, local))
}

/// A non-blocking UDP socket bound to `addr`; an unspecified IPv6 address gives one socket for
/// both families (IPv4 peers arrive and are sent to as IPv4-mapped addresses).
pub(crate) fn udp(addr: SocketAddr) -> io::Result<std::net::UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if let SocketAddr::V6(v6) = addr {
        if v6.ip().is_unspecified() {
            socket.set_only_v6(false)?;
        }
    }
    socket.bind(&addr.into())?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}
