//! Black-box: the default caps let a carrier-grade NAT through. On loopback every player shares
//! one source IP, as players behind one carrier NAT address do: 100 lobbies created within 2 s
//! are all accepted, with their players.

mod support;
use std::time::{Duration, Instant};
use support::Server;

#[test]
fn one_address_creates_100_lobbies_within_2_s_with_the_default_caps() {
    let srv = Server::start(&[]);
    let t0 = Instant::now();
    let hosts: Vec<_> = (0..100).map(|_| srv.peer()).collect();
    for (i, host) in hosts.iter().enumerate() {
        host.ask(&format!("h:L{i}:Host{i}:4"), &format!("i:Host{i}"));
    }
    let guest = srv.peer();
    guest.ask("c:L0:Guest", "i:Host0:Guest");
    assert!(t0.elapsed() < Duration::from_secs(2), "took {:?}", t0.elapsed());
    hosts[0].expect("i:Host0:Guest");
}
