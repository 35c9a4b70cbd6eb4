//! Where a private client may send ([`crate::private`]).

use crate::private::*;
use rhp_proto::relay::PRIVATE_PLACEHOLDER;
use std::net::SocketAddr;

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
