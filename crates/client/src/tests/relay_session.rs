//! A relay session as its member sees it ([`crate::relay`]): the grant, binds, hellos, data,
//! keepalives.

use crate::outbox::Outbox;
use crate::relay::*;
use rhp_proto::relay::{FromServer, Grant, Refusal, ToServer};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

impl Relay {
    /// Whether `name` is a member we can reach through the relay (once up).
    fn is_member(&self, name: &str) -> bool {
        self.members.iter().any(|m| m.name == name)
    }
}

fn server() -> SocketAddr {
    "198.51.100.10:7000".parse().unwrap()
}

fn grant(token: u64, names: &[&str]) -> Vec<u8> {
    let mut g = Vec::new();
    Grant::write(token, names.iter().copied(), &mut g);
    g
}

fn from_server(from: u8, payload: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    FromServer::Data { from, payload }.write_to(&mut b);
    b
}

#[test]
fn a_grant_that_does_not_name_us_is_not_ours() {
    let now = Instant::now();
    assert!(Relay::from_grant(&grant(7, &["Alice", "Bob"]), "Carol", server(), now).is_none());
    assert!(Relay::from_grant(b"r:zz:Alice", "Alice", server(), now).is_none());
    let r = Relay::from_grant(&grant(7, &["Alice", "Bob", "Carol"]), "Bob", server(), now).unwrap();
    assert!(r.is_member("Alice") && r.is_member("Carol") && !r.is_member("Bob"));
    // A late member shows up in a later grant of the same relay.
    let mut r = Relay::from_grant(&grant(7, &["Alice", "Bob"]), "Bob", server(), now).unwrap();
    r.absorb(Relay::from_grant(&grant(7, &["Alice", "Bob", "Dave"]), "Bob", server(), now).unwrap());
    assert!(r.is_member("Dave") && r.is_member("Alice"));
    assert_eq!(r.members.len(), 2);
}

#[test]
fn binds_until_bound_then_hellos_until_acked_then_data_flows() {
    let now = Instant::now();
    let mut out = Outbox::default();
    let mut r = Relay::from_grant(&grant(0xabc, &["Alice", "Bob"]), "Bob", server(), now).unwrap();
    r.handle_timeout(now, &mut out);
    let bind = out.transmits.pop_front().unwrap();
    assert_eq!(ToServer::parse(&bind.data), Ok(ToServer::Bind { token: 0xabc }));
    assert!(out.transmits.is_empty(), "no hello before the peer phase");
    assert_eq!(r.poll_timeout(), now + BIND_EVERY);
    r.handle_frame(now, &[0xF5, 0x82, 1], &mut out);
    r.activate(now + BIND_EVERY, &mut out);
    let sent: Vec<Vec<u8>> = out.transmits.drain(..).map(|t| t.data).collect();
    assert!(sent
        .iter()
        .any(|d| ToServer::parse(d) == Ok(ToServer::Data { token: 0xabc, to: 0, payload: b"\x01Bob" })));
    assert_eq!(r.poll_timeout(), now + BIND_EVERY + HELLO_EVERY);
    assert_eq!(r.data_frame("Alice", b"x"), None, "not up yet");
    // Alice's hello is answered; her ack brings the relay up (reported once).
    assert_eq!(r.handle_frame(now, &from_server(0, &[HELLO]), &mut out), None);
    let ack = out.transmits.pop_front().unwrap();
    assert_eq!(ToServer::parse(&ack.data), Ok(ToServer::Data { token: 0xabc, to: 0, payload: &[ACK] }));
    assert_eq!(r.handle_frame(now, &from_server(0, &[ACK]), &mut out), Some(RelayIn::Up("Alice".into())));
    assert_eq!(r.handle_frame(now, &from_server(0, &[ACK]), &mut out), None);
    let f = r.data_frame("Alice", b"hi").unwrap();
    assert_eq!(ToServer::parse(&f), Ok(ToServer::Data { token: 0xabc, to: 0, payload: &[DATA, b'h', b'i'] }));
    assert_eq!(
        r.handle_frame(now, &from_server(0, &[DATA, 7, 8]), &mut out),
        Some(RelayIn::Data("Alice".into(), vec![7, 8]))
    );
    // Keepalive every 5 s once bound; no more hellos.
    assert_eq!(r.poll_timeout(), now + BIND_EVERY + KEEPALIVE);
}

#[test]
fn a_member_that_joined_after_our_grant_is_learnt_from_its_hello() {
    let now = Instant::now();
    let mut out = Outbox::default();
    let mut r = Relay::from_grant(&grant(1, &["Alice", "Bob"]), "Bob", server(), now).unwrap();
    r.activate(now, &mut out);
    out.transmits.clear();
    assert_eq!(r.handle_frame(now, &from_server(2, b"\x01Dave"), &mut out), None);
    assert!(r.is_member("Dave"));
    let ack = out.transmits.pop_front().unwrap();
    assert_eq!(ToServer::parse(&ack.data), Ok(ToServer::Data { token: 1, to: 2, payload: &[ACK] }));
    r.handle_timeout(now, &mut out);
    assert!(out
        .transmits
        .iter()
        .any(|t| ToServer::parse(&t.data) == Ok(ToServer::Data { token: 1, to: 2, payload: b"\x01Bob" })));
    assert_eq!(r.handle_frame(now, &from_server(2, &[ACK]), &mut out), Some(RelayIn::Up("Dave".into())));
    // Not ourselves, not a second index for a known name, not a bad name.
    for bad in [&b"\x01Bob"[..], b"\x01Alice", b"\x01Da ve", b"\x01"] {
        assert_eq!(r.handle_frame(now, &from_server(3, bad), &mut out), None);
        assert_eq!(r.members.len(), 2, "{bad:?}");
    }
}

#[test]
fn unknown_members_garbage_and_repeated_refusals_are_ignored() {
    let now = Instant::now();
    let mut out = Outbox::default();
    let mut r = Relay::from_grant(&grant(1, &["Alice", "Bob"]), "Bob", server(), now).unwrap();
    assert_eq!(r.handle_frame(now, &from_server(5, &[DATA, 1]), &mut out), None);
    assert_eq!(r.handle_frame(now, &from_server(0, &[]), &mut out), None);
    assert_eq!(r.handle_frame(now, &from_server(0, &[CANDIDATE, b'x']), &mut out), None);
    assert_eq!(r.handle_frame(now, &[0xF5], &mut out), None);
    assert_eq!(
        r.handle_frame(now, &from_server(0, b"\x04203.0.113.5:4000"), &mut out),
        Some(RelayIn::Candidate("Alice".into(), "203.0.113.5:4000".parse().unwrap()))
    );
    let refused = [0xF5, 0x83, Refusal::PlayerRate.code()];
    assert_eq!(r.handle_frame(now, &refused, &mut out), Some(RelayIn::Refused(Refusal::PlayerRate)));
    assert_eq!(r.handle_frame(now, &refused, &mut out), None, "reported once");
    assert!(out.transmits.is_empty());
}

#[test]
fn hellos_slow_down_after_fifty_unanswered() {
    let now = Instant::now();
    let mut out = Outbox::default();
    let mut r = Relay::from_grant(&grant(1, &["Alice", "Bob"]), "Bob", server(), now).unwrap();
    r.activate(now, &mut out);
    let mut t = now;
    for _ in 0..60 {
        t = r.poll_timeout().max(t);
        r.handle_timeout(t, &mut out);
    }
    let hellos = out.transmits.iter().filter(|x| x.data.len() == rhp_proto::relay::TO_HEADER + 4).count();
    assert!(hellos <= 60);
    assert!(t >= now + Duration::from_millis(200 * 49), "fast at first");
    assert!(t - now <= Duration::from_secs(60), "bounded rate");
}
