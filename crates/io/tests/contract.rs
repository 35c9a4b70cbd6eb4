//! The engine contract (`rhp_io`): every input carries its instant; socket ids print as numbers.

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
