//! The address family of the client's sockets: that of its server. With no `--bind`, every socket
//! is bound to the unspecified address of the server's family (`[::]:0` for an IPv6 server); an
//! explicit IPv4 bind for an IPv6 server is refused up front (an IPv4 socket cannot send to it).

use crate::error::ClientError;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_family_decides() {
        let v4: SocketAddr = "10.0.0.1:57775".parse().unwrap();
        let v6: SocketAddr = "[2001:db8::1]:57775".parse().unwrap();
        assert_eq!(local(None, v4).unwrap(), "0.0.0.0:0".parse().unwrap());
        assert_eq!(local(None, v6).unwrap(), "[::]:0".parse().unwrap());
        assert!(local(Some("127.0.0.1:0".parse().unwrap()), v6).is_err());
        assert_eq!(local(Some("[::]:5".parse().unwrap()), v4).unwrap(), "[::]:5".parse().unwrap());
    }
}
