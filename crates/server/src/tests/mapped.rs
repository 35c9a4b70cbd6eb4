//! IPv4-mapped addresses on a dual-stack socket ([`crate::shell::mapped`]).

use crate::shell::mapped::*;
use std::net::SocketAddr;

#[test]
fn mapped_addresses_round_trip_as_plain_ipv4() {
    let v4: SocketAddr = "10.0.0.2:5555".parse().unwrap();
    let mapped: SocketAddr = "[::ffff:10.0.0.2]:5555".parse().unwrap();
    let v6: SocketAddr = "[2001:db8::1]:5555".parse().unwrap();
    assert_eq!(canonical(mapped), v4);
    assert_eq!(canonical(v4), v4);
    assert_eq!(canonical(v6), v6);
    assert_eq!(on_socket(v4, true), mapped);
    assert_eq!(on_socket(v4, false), v4);
    assert_eq!(on_socket(v6, true), v6);
}
