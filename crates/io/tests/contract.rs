//! The engine contract (`rhp_io`): every input carries its instant; socket ids print as numbers;
//! IPv4-mapped addresses are plain IPv4 inside an engine and mapped again on an IPv6 socket.

use rhp_io::*;
use std::net::SocketAddr;
use std::time::Instant;

#[test]
fn every_input_carries_its_instant() {
    let now = Instant::now();
    let from = SocketAddr::from(([127, 0, 0, 1], 9));
    let inputs = [
        Input::Datagram { now, via: SocketId::MAIN, from, data: b"x" },
        Input::Timeout(now),
        Input::Opened { now, id: SocketId(3), local_port: Some(9) },
        Input::Unreachable { now, to: from },
    ];
    assert!(inputs.iter().all(|i| i.now() == now));
}

#[test]
fn socket_ids_print_as_numbers() {
    assert_eq!(SocketId::MAIN.to_string(), "#0");
    assert_eq!(SocketId(16).to_string(), "#16");
}

#[test]
fn mapped_addresses_are_plain_ipv4_inside_and_mapped_on_an_ipv6_socket() {
    let v4: SocketAddr = "10.0.0.2:5555".parse().unwrap();
    let mapped: SocketAddr = "[::ffff:10.0.0.2]:5555".parse().unwrap();
    let v6: SocketAddr = "[2001:db8::1]:5555".parse().unwrap();
    assert_eq!((canonical(mapped), canonical(v4), canonical(v6)), (v4, v4, v6));
    assert_eq!((on_socket(v4, true), on_socket(v4, false), on_socket(v6, true)), (mapped, v4, v6));
}
