//! Address privacy (`q:`), on a fake clock: a private member's address (its ip:port, and its
//! port in any form) appears in no datagram sent to any other member — start messages, `n:`,
//! grants, relay frames — over random sessions (a property test); the other members see the
//! placeholder in its place; a server without the relay refuses `q:` and drops the player before
//! anyone learns its address.

mod common;
use common::*;
use proptest::prelude::*;
use rhp_proto::relay::{Grant, ToServer, PRIVATE_PLACEHOLDER};
use rhp_server::{Config, RelayConfig};
use std::net::SocketAddr;
use std::time::Duration;

fn config(enabled: bool) -> Config {
    Config { relay: RelayConfig { enabled, ..RelayConfig::default() }, ..Config::original() }
}

/// Player `i`'s address: distinct ports far from every other number in the messages.
fn at(i: usize) -> SocketAddr {
    SocketAddr::from(([10, 0, 0, 10 + i as u8], 41_000 + 37 * i as u16))
}

/// Whether `bytes` carries `a` in any form a leak could take: its IP text, its port as text, or
/// its port / IP as raw bytes.
fn carries(bytes: &[u8], a: SocketAddr) -> bool {
    let text = String::from_utf8_lossy(bytes);
    let port = a.port();
    let ip_octets = match a.ip() {
        std::net::IpAddr::V4(v4) => v4.octets().to_vec(),
        std::net::IpAddr::V6(v6) => v6.octets().to_vec(),
    };
    text.contains(&a.ip().to_string())
        || text.contains(&port.to_string())
        || bytes.windows(2).any(|w| w == port.to_be_bytes() || w == port.to_le_bytes())
        || bytes.windows(ip_octets.len()).any(|w| w == ip_octets.as_slice())
}

/// Runs a session of `n` players (host 0) where `private[i]` sends `q:`, `relay[i]` sends `r:`
/// and `ext[i]` sends `e:`; then the granted members send each other relay frames. Returns
/// everything the engine sent, and the grants.
fn run(n: usize, private: &[bool], relay: &[bool], ext: &[bool]) -> (Vec<Sent>, Vec<Option<Grant>>) {
    let mut h = H::with(config(true));
    let names: Vec<String> = (0..n).map(|i| format!("P{i}")).collect();
    let mut out = h.send_bytes(at(0), format!("h:Room:{}:12", names[0]).as_bytes());
    for (i, name) in names.iter().enumerate().skip(1) {
        out.extend(h.send_bytes(at(i), format!("c:Room:{name}").as_bytes()));
    }
    for _ in 0..6 {
        for i in 0..n {
            if private[i] {
                out.extend(h.send_bytes(at(i), format!("q:Room:{}", names[i]).as_bytes()));
            } else if relay[i] {
                out.extend(h.send_bytes(at(i), format!("r:Room:{}", names[i]).as_bytes()));
            }
            if ext[i] {
                out.extend(
                    h.send_bytes(at(i), format!("e:Room:{}:s{}+2", names[i], at(i).port()).as_bytes()),
                );
            }
            out.extend(h.send_bytes(at(i), format!("p:Room:{}", names[i]).as_bytes()));
        }
    }
    out.extend(h.send_bytes(at(0), format!("s:Room:{}", names[0]).as_bytes()));
    out.extend(h.advance(Duration::from_secs(1)));
    let grants: Vec<Option<Grant>> = (0..n)
        .map(|i| out.iter().filter(|s| s.to == at(i)).find_map(|s| Grant::parse(&s.bytes).ok()))
        .collect();
    for (i, g) in grants.iter().enumerate() {
        let Some(g) = g else { continue };
        for to in 0..g.members.len() {
            let mut frame = Vec::new();
            ToServer::Data { token: g.token, to: to as u8, payload: b"hello there" }.write_to(&mut frame);
            out.extend(h.send_bytes(at(i), &frame));
        }
        let mut frame = Vec::new();
        ToServer::Bind { token: g.token }.write_to(&mut frame);
        out.extend(h.send_bytes(at(i), &frame));
    }
    (out, grants)
}

/// Checks that no datagram to another player carries a private player's address, and that every
/// start message lists the private players at the placeholder.
fn check(n: usize, private: &[bool], out: &[Sent]) {
    for p in (0..n).filter(|&p| private[p]) {
        for s in out.iter().filter(|s| s.to != at(p)) {
            assert!(!carries(&s.bytes, at(p)), "P{p}'s address {} leaked to {}: {:?}", at(p), s.to, s.text);
        }
        for i in (0..n).filter(|&i| i != p) {
            let starts: Vec<&Sent> =
                out.iter().filter(|s| s.to == at(i) && s.text.starts_with("s:")).collect();
            assert!(!starts.is_empty(), "P{i} got no start message");
            let shown = format!("P{p}:{}:{}", PRIVATE_PLACEHOLDER.ip(), PRIVATE_PLACEHOLDER.port());
            for s in starts {
                assert!(s.text.contains(&shown), "P{i}'s start message {:?} lacks {shown}", s.text);
            }
        }
    }
}

#[test]
fn peers_see_the_placeholder_and_never_the_private_address() {
    let (out, grants) = run(3, &[false, true, false], &[true, false, true], &[true, true, true]);
    check(3, &[false, true, false], &out);
    // The private player implies the relay: all three are members, and frames flow both ways.
    let g = grants[1].as_ref().expect("the private player got a grant");
    assert_eq!(g.members, ["P0", "P1", "P2"]);
    assert!(grants[0].is_some() && grants[2].is_some());
    // Its own start message is unchanged (its port, the others' real addresses).
    let own = to(&out, at(1)).into_iter().find(|t| t.starts_with("s:")).expect("its start");
    assert_eq!(
        own,
        format!("s:{}:P0:{}:{};P2:{}:{}", at(1).port(), at(0).ip(), at(0).port(), at(2).ip(), at(2).port())
    );
    // `n:` never lists it (its descriptor may carry its port).
    assert!(to(&out, at(0)).iter().filter(|t| t.starts_with("n:")).all(|t| !t.contains("P1")));
    // Relay frames to the others come from its member index (2 bytes: F5 81 <index>).
    let from_it: Vec<&Sent> =
        out.iter().filter(|s| s.to != at(1) && s.bytes.starts_with(&[0xF5, 0x81, 1])).collect();
    assert_eq!(from_it.len(), 2, "one frame from P1 to each of the others");
}

#[test]
fn a_private_host_is_hidden_too() {
    let (out, _) = run(4, &[true, false, false, true], &[false, true, false, false], &[false; 4]);
    check(4, &[true, false, false, true], &out);
}

#[test]
fn without_the_relay_q_is_refused_and_the_player_dropped() {
    let mut h = H::with(config(false));
    h.ask(at(0), "h:Room:Host:4", "i:Host");
    assert_eq!(h.send(at(1), "c:Room:Priv").len(), 2);
    let out = h.send(at(1), "q:Room:Priv");
    assert!(out.contains(&(at(1), "error:invalid_request".to_string())), "{out:?}");
    assert!(out.contains(&(at(0), "i:Host".to_string())), "{out:?}");
    let mut all = h.send_bytes(at(0), b"s:Room:Host");
    all.extend(h.advance(Duration::from_secs(1)));
    assert!(all.iter().all(|s| !carries(&s.bytes, at(1)) || s.to == at(1)), "{all:?}");
}

#[test]
fn q_from_another_address_is_refused_like_a_ping() {
    let mut h = H::with(config(true));
    h.ask(at(0), "h:Room:Host:4", "i:Host");
    h.send(at(1), "c:Room:Bob");
    let out = h.send(at(2), "q:Room:Bob");
    assert_eq!(out, vec![(at(2), "error:non_existent_player".to_string())]);
    let mut all = h.send_bytes(at(0), b"s:Room:Host");
    all.extend(h.advance(Duration::from_secs(1)));
    assert!(to(&all, at(0)).iter().any(|t| t.contains(&at(1).port().to_string())), "Bob stays public");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
    #[test]
    fn no_private_address_reaches_another_player(
        n in 2usize..=8,
        private in proptest::collection::vec(any::<bool>(), 8),
        relay in proptest::collection::vec(any::<bool>(), 8),
        ext in proptest::collection::vec(any::<bool>(), 8),
    ) {
        let (out, _) = run(n, &private[..n], &relay[..n], &ext[..n]);
        check(n, &private[..n], &out);
    }
}
