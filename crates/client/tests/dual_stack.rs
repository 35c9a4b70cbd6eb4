//! A dual-stack client's engine ([`Config::server_other`]): the two steps of `v:` (token from the
//! session address, proof from the other family), `e:` held until they are settled, the bounded
//! tries, and a start message whose peers are listed in both families greeted over IPv6 first.

mod common;

use common::*;
use rhp_client::{Config, Engine, SocketId};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const SERVER6: &str = "[2001:db8::1]:57775";

fn dual(config: Config) -> Config {
    config.with_other_server(Some(addr(SERVER6)))
}

/// A joiner without NAT classification (so no STUN in the way), the relay asked for as by default.
fn joiner() -> (Engine, Instant) {
    let mut c = dual(Config::join(SERVER, "S", "Bob"));
    c.nat.classify = false;
    let now = Instant::now();
    let mut e = Engine::new(c, now).unwrap();
    drain(&mut e);
    (e, now)
}

fn texts(o: &Out) -> Vec<(SocketAddr, String)> {
    o.ts.iter().map(|t| (t.to, text(t))).collect()
}

#[test]
fn the_other_address_is_announced_in_two_steps() {
    let (mut e, now) = joiner();
    let o = feed(&mut e, now, SocketId::MAIN, SERVER, b"i:Alice:Bob");
    let sent = texts(&o);
    assert!(sent.contains(&(SERVER, "r:S:Bob".into())), "{sent:?}");
    assert!(sent.contains(&(SERVER, "v:S:Bob".into())), "step 1 goes to the session address: {sent:?}");
    // The token comes back from the session address; step 2 leaves for the other family at once.
    let o = feed(&mut e, now + 5 * MS, SocketId::MAIN, SERVER, b"v:0123456789ab");
    assert_eq!(texts(&o), vec![(addr(SERVER6), "v:S:Bob:0123456789ab".into())]);
    // A token from anywhere else is not taken.
    let o = feed(&mut e, now + 6 * MS, SocketId::MAIN, addr("10.9.9.9:1"), b"v:ffffffffffff");
    assert!(o.ts.iter().all(|t| !text(t).starts_with("v:")), "{:?}", texts(&o));
    // `v:ok` from the other family ends it: nothing more about `v:` however long we wait.
    feed(&mut e, now + 10 * MS, SocketId::MAIN, addr(SERVER6), b"v:ok");
    let mut later = Vec::new();
    for i in 1..=20 {
        later.extend(texts(&tick(&mut e, now + i * Duration::from_millis(500))));
    }
    assert!(later.iter().all(|(_, t)| !t.starts_with("v:")), "{later:?}");
}

#[test]
fn unanswered_steps_stop_after_a_bounded_number_of_tries() {
    let (mut e, now) = joiner();
    let mut sent = texts(&feed(&mut e, now, SocketId::MAIN, SERVER, b"i:Alice:Bob"));
    for i in 1..=40u32 {
        sent.extend(texts(&tick(&mut e, now + i * Duration::from_millis(250))));
        // Keep the session alive meanwhile.
        feed(&mut e, now + i * Duration::from_millis(250), SocketId::MAIN, SERVER, b"i:Alice:Bob");
    }
    let steps = sent.iter().filter(|(_, t)| t.starts_with("v:")).count();
    assert!((2..=8).contains(&steps), "{steps} v: sent: {sent:?}");
}

/// Everything a joiner with `c` sends in its first 5 s in the session.
fn five_seconds_of(mut c: Config) -> Vec<(SocketAddr, String)> {
    c.nat.classify = false;
    let now = Instant::now();
    let mut e = Engine::new(c, now).unwrap();
    let mut sent = texts(&drain(&mut e));
    sent.extend(texts(&feed(&mut e, now, SocketId::MAIN, SERVER, b"i:Alice:Bob")));
    for i in 1..=10u32 {
        sent.extend(texts(&tick(&mut e, now + i * Duration::from_millis(500))));
    }
    sent
}

#[test]
fn a_single_family_client_never_sends_v() {
    let sent = five_seconds_of(Config::join(SERVER, "S", "Bob"));
    assert!(sent.iter().all(|(_, t)| !t.starts_with("v:")), "{sent:?}");
}

#[test]
fn a_private_client_never_announces_a_second_address() {
    let mut c = dual(Config::join(SERVER, "S", "Bob"));
    c.nat.private = true;
    let sent = five_seconds_of(c);
    assert!(sent.iter().all(|(_, t)| !t.starts_with("v:")), "{sent:?}");
}

#[test]
fn e_waits_for_the_other_address() {
    // Classified at once (every probe answered), then in the session: `e:` only after `v:ok`.
    let (mut e, now, _) = classify(
        dual(Config::join(SERVER, "S", "Bob")),
        [Some(40000), Some(40000), Some(40000), Some(40000)],
    );
    let sent = texts(&feed(&mut e, now, SocketId::MAIN, SERVER, b"i:Alice:Bob"));
    assert!(sent.iter().all(|(_, t)| !t.starts_with("e:")), "{sent:?}");
    let sent = texts(&feed(&mut e, now + MS, SocketId::MAIN, SERVER, b"v:0123456789ab"));
    assert!(sent.iter().all(|(_, t)| !t.starts_with("e:")), "{sent:?}");
    let sent = texts(&feed(&mut e, now + 2 * MS, SocketId::MAIN, addr(SERVER6), b"v:ok"));
    assert!(sent.iter().any(|(to, t)| *to == SERVER && t.starts_with("e:S:Bob:")), "{sent:?}");
}

#[test]
fn a_peer_listed_in_both_families_is_greeted_over_ipv6_first_and_connects_there() {
    let (mut e, now) = joiner();
    feed(&mut e, now, SocketId::MAIN, SERVER, b"i:Alice:Bob");
    let start = b"s:40001:Alice:203.0.113.9:41000;Alice:[2001:db8::9]:41000";
    let o = feed(&mut e, now + 10 * MS, SocketId::MAIN, SERVER, start);
    let greetings: Vec<_> = o.ts.iter().filter(|t| text(t).starts_with("g:Bob:")).map(|t| t.to).collect();
    assert_eq!(greetings.first(), Some(&addr("[2001:db8::9]:41000")), "{greetings:?}");
    assert!(greetings.contains(&addr("203.0.113.9:41000")), "{greetings:?}");
    // Alice answers over IPv6: she is pinned and connected there.
    let v6 = addr("[2001:db8::9]:41000");
    feed(&mut e, now + 20 * MS, SocketId::MAIN, v6, b"g:Alice:41000:40001");
    let o = feed(&mut e, now + 21 * MS, SocketId::MAIN, v6, b"c:Alice:41000");
    let peers = e.peers();
    assert_eq!(peers.len(), 1, "one peer, not one per entry: {peers:?}");
    assert_eq!(peers[0].addr, Some(v6), "{peers:?} {:?}", texts(&o));
    assert!(peers[0].status == rhp_client::PeerStatus::Connected, "{peers:?}");
}

#[test]
fn another_ip_under_the_peer_name_is_not_taken() {
    let (mut e, now) = joiner();
    feed(&mut e, now, SocketId::MAIN, SERVER, b"i:Alice:Bob");
    feed(
        &mut e,
        now + 10 * MS,
        SocketId::MAIN,
        SERVER,
        b"s:40001:Alice:203.0.113.9:41000;Alice:[2001:db8::9]:41000",
    );
    feed(&mut e, now + 20 * MS, SocketId::MAIN, addr("[2001:db8::66]:41000"), b"c:Alice:41000");
    assert_eq!(e.peers()[0].addr, None, "{:?}", e.peers());
}

#[test]
fn a_peer_connected_over_ipv4_moves_to_ipv6_when_it_answers_there() {
    let (mut e, now) = joiner();
    feed(&mut e, now, SocketId::MAIN, SERVER, b"i:Alice:Bob");
    feed(
        &mut e,
        now + 10 * MS,
        SocketId::MAIN,
        SERVER,
        b"s:40001:Alice:203.0.113.9:41000;Alice:[2001:db8::9]:41000",
    );
    let v4 = addr("203.0.113.9:41000");
    feed(&mut e, now + 20 * MS, SocketId::MAIN, v4, b"g:Alice:41000:40001");
    feed(&mut e, now + 21 * MS, SocketId::MAIN, v4, b"c:Alice:41000");
    assert_eq!(e.peers()[0].addr, Some(v4));
    // A keepalive from another IPv6 address is not hers: nothing moves.
    feed(&mut e, now + 30 * MS, SocketId::MAIN, addr("[2001:db8::66]:41000"), b"a:Alice");
    assert_eq!(e.peers()[0].addr, Some(v4));
    // Hers: the path moves to IPv6, reported as an upgrade.
    let v6 = addr("[2001:db8::9]:41000");
    let o = feed(&mut e, now + 40 * MS, SocketId::MAIN, v6, b"a:Alice");
    assert_eq!(e.peers()[0].addr, Some(v6));
    assert!(
        o.events.iter().any(|ev| matches!(ev, rhp_client::Event::Upgraded { addr, .. } if *addr == v6)),
        "{:?}",
        o.events
    );
    // And it stays there: IPv4 answers no longer move it back.
    feed(&mut e, now + 50 * MS, SocketId::MAIN, v4, b"c:Alice:41000");
    assert_eq!(e.peers()[0].addr, Some(v6));
}
