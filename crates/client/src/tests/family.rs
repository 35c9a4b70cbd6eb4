//! The address family the server decides ([`crate::family`]).

use crate::family::*;
use std::net::SocketAddr;

#[test]
fn the_server_family_decides() {
    let v4: SocketAddr = "10.0.0.1:57775".parse().unwrap();
    let v6: SocketAddr = "[2001:db8::1]:57775".parse().unwrap();
    assert_eq!(local(None, v4).unwrap(), "0.0.0.0:0".parse().unwrap());
    assert_eq!(local(None, v6).unwrap(), "[::]:0".parse().unwrap());
    assert!(local(Some("127.0.0.1:0".parse().unwrap()), v6).is_err());
    assert_eq!(local(Some("[::]:5".parse().unwrap()), v4).unwrap(), "[::]:5".parse().unwrap());
}
