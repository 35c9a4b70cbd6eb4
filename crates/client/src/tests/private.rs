//! Unit tests of address privacy ([`crate::NatConfig::private`]) on an injected clock: a private
//! client sends `q:` (right behind its join, and with its pings), classifies nothing, announces
//! no `e:`, sends nothing to any peer address (no greeting, no confirmation, no keepalive, no
//! farewell) and no candidate through the relay; it reaches our clients through the relay and
//! reports the peers that cannot reach it. A non-private client never sends to a private peer's
//! placeholder.

use super::util::{addr, drain, feed, opened, text, tick, Out, ALICE, LOCAL_PORT, MS, SERVER};
use crate::relay::{ACK, ALIVE, CANDIDATE};
use crate::{Config, Engine, Event, Method, SocketId};
use rhp_proto::relay::{FromServer, ToServer, PRIVATE_PLACEHOLDER};
use std::time::{Duration, Instant};

const TOKEN: u64 = 0xab;
const CAROL: &str = "203.0.113.6:8000";

fn relay_in(from: u8, payload: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    FromServer::Data { from, payload }.write_to(&mut b);
    b
}

/// Payloads of our relay frames to the server.
fn payloads(out: &Out) -> Vec<Vec<u8>> {
    out.ts
        .iter()
        .filter_map(|t| match ToServer::parse(&t.data) {
            Ok(ToServer::Data { token: TOKEN, payload, .. }) => Some(payload.to_vec()),
            _ => None,
        })
        .collect()
}

fn private_join() -> Config {
    let mut c = Config::join(SERVER, "S1", "Bob");
    c.nat.private = true;
    c
}

/// Private Bob joins Alice's session (Carol too, a Godot peer: not in the relay) and it starts.
/// Returns everything it sent and reported.
fn private_start() -> (Engine, Instant, Out) {
    let t0 = Instant::now();
    let mut e = Engine::new(private_join(), t0).unwrap();
    let mut all = drain(&mut e);
    let o = opened(&mut e, t0, SocketId::MAIN, LOCAL_PORT);
    all.ts.extend(o.ts);
    assert!(all.opened.is_empty(), "no probe socket: a private client classifies nothing");
    let texts: Vec<String> = all.ts.iter().map(text).collect();
    assert_eq!(texts, ["c:S1:Bob", "q:S1:Bob"], "q: right behind the join, no STUN");
    // A q: that overtook the join is answered non_existent_player: not fatal while joining.
    let o = feed(&mut e, t0, SocketId::MAIN, SERVER, b"error:non_existent_player");
    all.ts.extend(o.ts);
    assert!(e.take_outcome().is_none());
    let o = feed(&mut e, t0 + MS, SocketId::MAIN, SERVER, b"i:Alice:Bob:Carol");
    assert!(o.ts.iter().any(|t| text(t) == "q:S1:Bob"), "q: once joined");
    all.ts.extend(o.ts);
    feed(&mut e, t0 + MS, SocketId::MAIN, SERVER, b"n:Alice:e");
    all.ts.extend(feed(&mut e, t0 + 2 * MS, SocketId::MAIN, SERVER, b"r:00000000000000ab:Alice:Bob").ts);
    let start = format!("s:40000:Alice:{ALICE};Carol:{CAROL}");
    let o = feed(&mut e, t0 + 3 * MS, SocketId::MAIN, SERVER, start.as_bytes());
    all.ts.extend(o.ts);
    all.events.extend(o.events);
    (e, t0 + 3 * MS, all)
}

fn assert_only_to_server(out: &Out) {
    for t in &out.ts {
        assert_eq!(t.to, SERVER, "a private client sent {:?} to {}", text(t), t.to);
        assert!(!text(t).starts_with("e:") && !text(t).starts_with("r:"), "{:?}", text(t));
    }
}

#[test]
fn a_private_client_talks_to_the_server_only_and_reaches_our_clients_through_the_relay() {
    let (mut e, now, mut all) = private_start();
    assert!(
        all.events.contains(&Event::PrivateUnreachable { peers: vec!["Carol".into()] }),
        "Carol (not in the relay) is reported: {:?}",
        all.events
    );
    // Alice hellos us through the relay; her ack brings the relay path up.
    all.ts.extend(feed(&mut e, now + 5 * MS, SocketId::MAIN, SERVER, &relay_in(0, b"\x01Alice")).ts);
    let o = feed(&mut e, now + 6 * MS, SocketId::MAIN, SERVER, &relay_in(0, &[ACK]));
    let connected = o.events.iter().find_map(|ev| match ev {
        Event::Connected { peer, method, .. } => Some((peer.clone(), *method)),
        _ => None,
    });
    assert_eq!(connected, Some(("Alice".into(), Method::Relay)));
    all.ts.extend(o.ts);
    // Alice and Carol greet us directly (say they guessed): nothing goes back to them.
    all.ts.extend(feed(&mut e, now + 7 * MS, SocketId::MAIN, addr(ALICE), b"g:Alice:7000:40000").ts);
    all.ts.extend(feed(&mut e, now + 7 * MS, SocketId::MAIN, addr(CAROL), b"g:Carol:8000:40000").ts);
    // Alice tells us her public address through the relay (she may): we never greet it.
    all.ts
        .extend(feed(&mut e, now + 8 * MS, SocketId::MAIN, SERVER, &relay_in(0, b"\x04203.0.113.5:9999")).ts);
    // 30 s of the peer phase and after: retries, keepalives, the deadline.
    let mut t = now;
    for n in 0..600u32 {
        t += 50 * MS;
        if n % 40 == 0 {
            all.ts.extend(feed(&mut e, t, SocketId::MAIN, SERVER, &relay_in(0, &[ALIVE])).ts);
        }
        all.ts.extend(tick(&mut e, t).ts);
    }
    // Data goes through the relay; the farewell too.
    assert_eq!(e.data_to("Alice", b"x").unwrap().to, SERVER);
    assert!(e.farewell().iter().all(|t| t.to == SERVER));
    assert_only_to_server(&all);
    assert!(payloads(&all).iter().all(|p| p.first() != Some(&CANDIDATE)), "no candidate frame");
    assert!(payloads(&all).contains(&vec![ALIVE]), "keepalives through the relay");
}

#[test]
fn every_peer_in_the_relay_means_none_reported() {
    let t0 = Instant::now();
    let mut e = Engine::new(private_join(), t0).unwrap();
    drain(&mut e);
    feed(&mut e, t0, SocketId::MAIN, SERVER, b"i:Alice:Bob");
    feed(&mut e, t0, SocketId::MAIN, SERVER, b"r:00000000000000ab:Alice:Bob");
    let o = feed(&mut e, t0, SocketId::MAIN, SERVER, format!("s:40000:Alice:{ALICE}").as_bytes());
    assert!(o.events.contains(&Event::PrivateUnreachable { peers: vec![] }));
    assert_only_to_server(&o);
}

#[test]
fn private_needs_the_relay() {
    let mut c = private_join();
    c.nat.relay = false;
    assert!(Engine::new(c, Instant::now()).is_err());
}

#[test]
fn nobody_sends_to_a_private_peers_placeholder() {
    let t0 = Instant::now();
    let mut e = Engine::new(Config::join(SERVER, "S1", "Bob").without_nat_classification(), t0).unwrap();
    let mut all = drain(&mut e);
    feed(&mut e, t0, SocketId::MAIN, SERVER, b"i:Alice:Bob");
    let start =
        format!("s:40000:Alice:{}:{};Carol:{CAROL}", PRIVATE_PLACEHOLDER.ip(), PRIVATE_PLACEHOLDER.port());
    all.ts.extend(feed(&mut e, t0, SocketId::MAIN, SERVER, start.as_bytes()).ts);
    let mut t = t0;
    while t < t0 + Duration::from_secs(25) {
        t += 50 * MS;
        all.ts.extend(tick(&mut e, t).ts);
    }
    assert!(all.ts.iter().any(|x| x.to == addr(CAROL)), "Carol is greeted");
    assert!(all.ts.iter().all(|x| x.to.ip() != PRIVATE_PLACEHOLDER.ip()), "never the placeholder");
}
