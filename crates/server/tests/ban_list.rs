//! A session's ban list (`rhp_server::bans`): by name and network, lifted, bounded.

use rhp_server::bans::*;
use std::net::SocketAddr;

fn a(ip: u8, port: u16) -> SocketAddr {
    SocketAddr::from(([10, 0, 0, ip], port))
}

#[test]
fn by_name_and_network_until_lifted_and_bounded() {
    let mut b = Bans::default();
    assert!(!b.refuses("Bob", a(2, 1)));
    b.add("Bob", a(2, 1));
    assert!(b.refuses("Bob", a(9, 9)), "by name");
    assert!(b.refuses("Eve", a(2, 1)), "by address");
    assert!(b.refuses("Eve", a(2, 7)), "by IP");
    assert!(!b.refuses("Eve", a(3, 1)));
    assert!(!b.lift("Eve"));
    assert!(b.lift("Bob"));
    assert!(b.is_empty() && !b.refuses("Bob", a(2, 1)));
    for i in 0..100u16 {
        b.add(&format!("P{i}"), a((i % 200) as u8, i));
    }
    assert_eq!(b.len(), MAX_BANS);
    assert!(b.refuses("P99", a(250, 1)) && !b.refuses("P0", a(250, 1)), "the oldest went");
}
