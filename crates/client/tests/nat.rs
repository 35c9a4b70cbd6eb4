//! Unit tests of NAT classification, the `e:`/`n:` announcement and the direct methods, on an
//! injected clock with injected STUN answers and socket outcomes (no sockets, no sleeping).

mod common;

use common::{
    addr, classify, drain, feed, is_stun, join, opened, text, tick, Out, ALICE, ALT, LOCAL_PORT, MS,
    PUBLIC_IP, SERVER,
};
use rhp_client::{Config, Engine, Event, Method, NatKind, SocketId};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

fn kind_of(e: &Engine) -> NatKind {
    e.nat_report().expect("classified").kind
}

#[test]
fn same_port_towards_both_server_ports_is_independent() {
    let (e, _, out) = classify(join(), [Some(LOCAL_PORT), Some(LOCAL_PORT), None, None]);
    assert_eq!(kind_of(&e), NatKind::Independent);
    let r = e.nat_report().unwrap();
    assert_eq!(r.preserves_port, Some(true));
    assert_eq!(r.public, Some(addr(&format!("{PUBLIC_IP}:{LOCAL_PORT}"))));
    assert_eq!(out.closed, vec![SocketId(1)], "the probe socket is closed once decided");
    assert!(out.events.iter().any(|ev| matches!(ev, Event::Nat(r) if r.kind == NatKind::Independent)));
}

#[test]
fn a_fixed_step_is_predictable_and_random_steps_are_not() {
    let (e, _, _) = classify(join(), [Some(40000), Some(40001), Some(40002), Some(40003)]);
    assert_eq!(kind_of(&e), NatKind::Predictable { last: 40003, step: 1 });
    let (e, _, _) = classify(join(), [Some(40000), Some(39998), Some(39996), Some(39994)]);
    assert_eq!(kind_of(&e), NatKind::Predictable { last: 39994, step: -2 });
    // Probe 2 lost before the NAT and retransmitted after probe 3: allocated out of order.
    let (e, _, _) = classify(join(), [Some(40000), Some(40001), Some(40003), Some(40002)]);
    assert_eq!(kind_of(&e), NatKind::Predictable { last: 40003, step: 1 });
    // The probe socket's flows reached the NAT before the main socket's: still upwards.
    let (e, _, _) = classify(join(), [Some(40003), Some(40004), Some(40001), Some(40002)]);
    assert_eq!(kind_of(&e), NatKind::Predictable { last: 40004, step: 1 });
    let (e, _, _) = classify(join(), [Some(40000), Some(40001), Some(40002), Some(40004)]);
    assert_eq!(kind_of(&e), NatKind::Random, "uneven gaps");
    let (e, _, _) = classify(join(), [Some(40000), Some(51234), Some(2345), Some(60001)]);
    assert_eq!(kind_of(&e), NatKind::Random);
    assert_eq!(e.nat_report().unwrap().preserves_port, Some(false));
    // Port-preserving symmetric: the first mapping keeps the local port, the rest are random.
    let (e, _, _) = classify(join(), [Some(LOCAL_PORT), Some(33333), Some(6000), Some(44444)]);
    assert_eq!(kind_of(&e), NatKind::Random);
    assert_eq!(e.nat_report().unwrap().preserves_port, Some(true));
    // Only probes 0 and 1 answered and different: not provably predictable.
    let (e, _, _) = classify(join(), [Some(40000), Some(40001), None, None]);
    assert_eq!(kind_of(&e), NatKind::Random);
}

#[test]
fn no_stun_answer_is_unknown_after_the_retransmissions_and_nothing_is_announced() {
    let (mut e, now, out) = classify(join(), [None, None, None, None]);
    assert_eq!(kind_of(&e), NatKind::Unknown);
    // Five tries of each request, 250 ms apart.
    let to_alt = out.ts.iter().filter(|t| is_stun(t) && t.to == addr(ALT) && t.via == SocketId::MAIN).count();
    assert_eq!(to_alt, 5, "the first send and 4 retransmissions");
    // A server without STUN answers our probes error:invalid_request: the run goes on.
    // (That answer is the first sign of the server: only now is "unknown" concluded.)
    let o = feed(&mut e, now, SocketId::MAIN, SERVER, b"error:invalid_request");
    assert!(matches!(o.events.as_slice(), [Event::Nat(_)]), "{:?}", o.events);
    let o = feed(&mut e, now, SocketId::MAIN, SERVER, b"i:Alice:Bob");
    assert!(matches!(o.events.first(), Some(Event::Joined { .. })));
    // Classified as unknown: the e: still goes (peers learn we speak the extension).
    assert!(o.ts.iter().any(|t| text(t) == "e:S1:Bob:u"), "{:?}", o.ts.iter().map(text).collect::<Vec<_>>());
}

#[test]
fn the_kind_is_announced_once_joined_until_the_server_lists_it() {
    let (mut e, now, out) = classify(join(), [Some(LOCAL_PORT), Some(LOCAL_PORT), None, None]);
    assert!(!out.ts.iter().any(|t| text(t).starts_with("e:")), "no e: before the server accepted us");
    let o = feed(&mut e, now, SocketId::MAIN, SERVER, b"i:Alice:Bob");
    assert_eq!(o.ts.iter().filter(|t| text(t) == "e:S1:Bob:e").count(), 1);
    // Resent with the resend interval while unacknowledged...
    let o = tick(&mut e, now + 500 * MS);
    assert!(o.ts.iter().any(|t| text(t) == "e:S1:Bob:e"));
    // ...and no more once an n: lists us.
    let o = feed(&mut e, now + 510 * MS, SocketId::MAIN, SERVER, b"n:Alice:r:Bob:e");
    assert!(o.ts.is_empty() && o.events.is_empty());
    for i in 1..=4 {
        let o = tick(&mut e, now + 510 * MS + 500 * MS * i);
        assert!(!o.ts.iter().any(|t| text(t).starts_with("e:")));
    }
}

#[test]
fn without_classification_nothing_new_goes_out() {
    let t0 = Instant::now();
    let mut e = Engine::new(join().without_nat_classification(), t0).unwrap();
    let o = drain(&mut e);
    assert_eq!(o.ts.iter().map(text).collect::<Vec<_>>(), vec!["c:S1:Bob"]);
    assert!(o.opened.is_empty());
    let o = feed(&mut e, t0, SocketId::MAIN, SERVER, b"i:Alice:Bob");
    assert!(o.ts.is_empty());
}

/// Classified as `ports`, joined, told the peers' kinds by `n:`, started with Alice (host) at
/// 203.0.113.5:7000.
fn started(ports: [Option<u16>; 4], n: &str) -> (Engine, Instant, Out) {
    let (mut e, now, _) = classify(join(), ports);
    feed(&mut e, now, SocketId::MAIN, SERVER, b"i:Alice:Bob");
    feed(&mut e, now, SocketId::MAIN, SERVER, n.as_bytes());
    let out = feed(&mut e, now, SocketId::MAIN, SERVER, b"s:40000:Alice:203.0.113.5:7000");
    (e, now, out)
}

#[test]
fn a_predictable_peer_gets_its_predicted_ports_first_then_the_window() {
    let (_, _, out) = started([Some(LOCAL_PORT), Some(LOCAL_PORT), None, None], "n:Alice:s40010+2:Bob:e");
    let greets: Vec<u16> = out.ts.iter().filter(|t| text(t).starts_with("g:")).map(|t| t.to.port()).collect();
    let predicted: Vec<u16> = (1..=32).map(|i| 40010 + 2 * i).collect();
    assert_eq!(&greets[..32], &predicted[..], "the 32 predicted ports first, in order");
    assert!(
        greets.contains(&7000) && greets.contains(&6992) && greets.contains(&7008),
        "then the plain window"
    );
    assert!(out.ts.iter().all(|t| t.to.ip() == addr(ALICE).ip() || t.to == SERVER));
}

#[test]
fn a_godot_peer_without_a_descriptor_gets_plain_punching_only() {
    let (mut e, now, out) = started([Some(40000), Some(51234), Some(2345), Some(60001)], "n:Bob:r");
    let greets: Vec<u16> = out.ts.iter().filter(|t| text(t).starts_with("g:")).map(|t| t.to.port()).collect();
    assert_eq!(greets.len(), 17, "reported port and the ±8 window");
    // No hard-side sockets, no probes, ever.
    for i in 1..=40 {
        let o = tick(&mut e, now + 50 * MS * i);
        assert!(o.opened.is_empty());
        assert!(o
            .ts
            .iter()
            .all(|t| t.via == SocketId::MAIN && (6992..=7008).contains(&t.to.port()) || t.to == SERVER));
    }
}

#[test]
fn birthday_hard_side_opens_k_sockets_after_the_grace_and_keeps_only_the_winner() {
    let mut config = join();
    config.nat.birthday.sockets = 8;
    let (mut e, now, out) = {
        let (mut e, now, _) = classify(config, [Some(40000), Some(51234), Some(2345), Some(60001)]);
        feed(&mut e, now, SocketId::MAIN, SERVER, b"i:Alice:Bob");
        feed(&mut e, now, SocketId::MAIN, SERVER, b"n:Alice:e:Bob:r");
        let out = feed(&mut e, now, SocketId::MAIN, SERVER, b"s:40000:Alice:203.0.113.5:7000");
        (e, now, out)
    };
    assert_eq!(kind_of(&e), NatKind::Random);
    assert!(out.opened.is_empty(), "plain punching alone during the grace");
    let o = tick(&mut e, now + 100 * MS);
    assert!(o.opened.is_empty());
    let o = tick(&mut e, now + 250 * MS);
    assert_eq!(o.opened.len(), 8);
    let ids = o.opened.clone();
    for (n, id) in ids.iter().enumerate() {
        let o = opened(&mut e, now + 251 * MS, *id, 30000 + n as u16);
        assert_eq!(o.ts.len(), 1);
        assert_eq!((o.ts[0].via, o.ts[0].to), (*id, addr(ALICE)), "each socket greets the peer");
        assert_eq!(text(&o.ts[0]), "g:Bob:40000:7000");
    }
    // Greeted again from every socket each second.
    let o = tick(&mut e, now + 1250 * MS);
    assert_eq!(o.ts.iter().filter(|t| t.via != SocketId::MAIN && t.to == addr(ALICE)).count(), 8);
    // Alice's probe hits socket ids[3]: pinned there, confirmed through it.
    let hit = ids[3];
    let o = feed(&mut e, now + 1300 * MS, hit, addr(ALICE), b"g:Alice:7000:31234");
    assert!(o.ts.iter().any(|t| t.via == hit && t.to == addr(ALICE) && text(t).starts_with("c:Bob:")));
    let o = feed(&mut e, now + 1310 * MS, hit, addr(ALICE), b"c:Alice:7000");
    let connected = o.events.iter().find_map(|ev| match ev {
        Event::Connected { method, probes, .. } => Some((*method, *probes)),
        _ => None,
    });
    assert_eq!(connected, Some((Method::Birthday, None)));
    let mut closed = o.closed.clone();
    closed.sort();
    let mut others: Vec<SocketId> = ids.iter().copied().filter(|s| *s != hit).collect();
    others.sort();
    assert_eq!(closed, others, "every socket but the winner closes");
    // Application data goes through the winner; a late datagram on another socket moves nothing.
    assert_eq!(e.data_to("Alice", b"x").unwrap().via, hit);
    let o = feed(&mut e, now + 1400 * MS, ids[5], addr(ALICE), b"g:Alice:7000:30005");
    assert!(o.ts.is_empty());
    assert_eq!(e.data_to("Alice", b"x").unwrap().via, hit);
}

/// The two sides pin independently: here the hard side connects on its main socket while the
/// easy side had pinned the hard side's birthday socket it heard first. Data on either path is
/// accepted, and the socket the peer was heard on stays open (the lab saw 10% of lossy attempts
/// "connected" with no data getting through before this).
#[test]
fn birthday_hard_side_keeps_every_socket_the_peer_was_heard_on_and_takes_data_on_it() {
    let mut config = join();
    config.nat.birthday.sockets = 4;
    let (mut e, now, _) = classify(config, [Some(40000), Some(51234), Some(2345), Some(60001)]);
    feed(&mut e, now, SocketId::MAIN, SERVER, b"i:Alice:Bob");
    feed(&mut e, now, SocketId::MAIN, SERVER, b"n:Alice:e:Bob:r");
    feed(&mut e, now, SocketId::MAIN, SERVER, b"s:40000:Alice:203.0.113.5:7000");
    let ids = tick(&mut e, now + 250 * MS).opened;
    for (n, id) in ids.iter().enumerate() {
        opened(&mut e, now + 251 * MS, *id, 30000 + n as u16);
    }
    let k = ids[2];
    // Alice's greeting reaches socket k first, then her c: arrives on the main socket.
    feed(&mut e, now + 300 * MS, k, addr(ALICE), b"g:Alice:7000:31234");
    let o = feed(&mut e, now + 310 * MS, SocketId::MAIN, addr(ALICE), b"c:Alice:7000");
    assert!(o.events.iter().any(|ev| matches!(ev, Event::Connected { .. })));
    assert!(!o.closed.contains(&k), "socket k was heard from: kept");
    assert_eq!(o.closed.len(), 3, "the three silent sockets close");
    // Alice pinned socket k and sends her data there: it is hers.
    let o = feed(&mut e, now + 400 * MS, k, addr(ALICE), b"d:hello");
    assert!(o
        .events
        .iter()
        .any(|ev| matches!(ev, Event::Data { peer, data } if peer == "Alice" && data == b"hello")));
    // A stranger's data on that socket is not.
    let o = feed(&mut e, now + 410 * MS, k, addr("203.0.113.9:7000"), b"d:nope");
    assert!(o.events.is_empty());
    // Data from Alice's IP on a path never heard (its greetings were lost) is still hers.
    let o = feed(&mut e, now + 420 * MS, ids[0], addr("203.0.113.5:40123"), b"d:late");
    assert!(o
        .events
        .iter()
        .any(|ev| matches!(ev, Event::Data { peer, data } if peer == "Alice" && data == b"late")));
}

/// The easy side hears the hard side's main socket, then a burst of greetings from its K
/// birthday sockets (none moves the pin: greetings never do); the hard side connects on its main
/// socket, closes the K others and sends its data from the main socket. That data connects us and
/// pins its own path: our data must go there, not to the closed socket greeted last (the lab saw
/// 1 lossy attempt in 20 "connected" one way only before this).
#[test]
fn birthday_easy_side_pins_the_path_the_connecting_data_came_on() {
    let (mut e, now, _) = started([Some(LOCAL_PORT), Some(LOCAL_PORT), None, None], "n:Alice:r:Bob:e");
    let main = addr("203.0.113.5:41000");
    let o = feed(&mut e, now + 100 * MS, SocketId::MAIN, main, b"g:Alice:7000:5000");
    assert!(o.events.iter().any(|ev| matches!(ev, Event::Heard { .. })));
    for port in 30001..=30004 {
        let from = SocketAddr::new(main.ip(), port);
        let o = feed(&mut e, now + 260 * MS, SocketId::MAIN, from, b"g:Alice:7000:5000");
        assert!(!o.events.iter().any(|ev| matches!(ev, Event::Connected { .. })));
    }
    let o = feed(&mut e, now + 300 * MS, SocketId::MAIN, main, b"d:hello");
    let at = o.events.iter().find_map(|ev| match ev {
        Event::Connected { addr, .. } => Some(*addr),
        _ => None,
    });
    assert_eq!(at, Some(main), "connected on the path the data came on");
    assert!(o.events.iter().any(|ev| matches!(ev, Event::Data { data, .. } if data == b"hello")));
    assert_eq!(e.data_to("Alice", b"x").unwrap().to, main);
}

/// The easy side pins the hard-side socket it heard first; a later greeting from another of
/// the K sockets (late on a jittery link; the hard side may close that socket once connected on
/// the first) does not move the pin, so the confirmations keep going to the first socket. A `c:`
/// from another socket does move it: the hard side answers only where it heard us, and keeps
/// that socket.
#[test]
fn birthday_easy_side_keeps_its_pin_on_a_later_greeting_and_moves_it_on_an_answer() {
    let a = addr("203.0.113.5:30007");
    let b = addr("203.0.113.5:30005");
    let confirms_to = |o: &Out| -> Vec<SocketAddr> {
        o.ts.iter().filter(|t| text(t).starts_with("c:Bob:")).map(|t| t.to).collect()
    };
    let (mut e, now, _) = started([Some(LOCAL_PORT), Some(LOCAL_PORT), None, None], "n:Alice:r:Bob:e");
    let o = feed(&mut e, now + 100 * MS, SocketId::MAIN, a, b"g:Alice:7000:5000");
    assert_eq!(confirms_to(&o), [a], "heard first on a: confirmed there at once");
    let o = feed(&mut e, now + 110 * MS, SocketId::MAIN, b, b"g:Alice:7000:5000");
    assert!(o.ts.is_empty() && o.events.is_empty(), "{:?}", o.events);
    let mut confirms = Vec::new();
    for k in 1..=6 {
        confirms.extend(confirms_to(&tick(&mut e, now + 110 * MS + k * 50 * MS)));
    }
    assert!(!confirms.is_empty(), "the ticks confirm");
    assert!(confirms.iter().all(|to| *to == a), "only to the first socket: {confirms:?}");
    // The hard side answers there: connected on a.
    let o = feed(&mut e, now + 500 * MS, SocketId::MAIN, a, b"c:Alice:7000");
    let at = o.events.iter().find_map(|ev| match ev {
        Event::Connected { addr, .. } => Some(*addr),
        _ => None,
    });
    assert_eq!(at, Some(a));
    assert_eq!(e.data_to("Alice", b"x").unwrap().to, a);

    // Pinned on a, an answer from b moves the pin to b.
    let (mut e, now, _) = started([Some(LOCAL_PORT), Some(LOCAL_PORT), None, None], "n:Alice:r:Bob:e");
    feed(&mut e, now + 100 * MS, SocketId::MAIN, a, b"g:Alice:7000:5000");
    let o = feed(&mut e, now + 110 * MS, SocketId::MAIN, b, b"c:Alice:7000");
    let at = o.events.iter().find_map(|ev| match ev {
        Event::Connected { addr, .. } => Some(*addr),
        _ => None,
    });
    assert_eq!(at, Some(b));
    assert_eq!(confirms_to(&o), [b], "the c: that connects is answered on its path");
    assert_eq!(e.data_to("Alice", b"x").unwrap().to, b);
}

#[test]
fn birthday_easy_side_probes_random_ports_of_the_peer_ip_at_the_rate() {
    let (mut e, now, out) = started([Some(LOCAL_PORT), Some(LOCAL_PORT), None, None], "n:Alice:r:Bob:e");
    let mut ports: Vec<u16> = Vec::new();
    let mut collect = |o: &Out| {
        for t in &o.ts {
            if t.to != SERVER {
                assert_eq!(t.to.ip(), addr(ALICE).ip(), "probes only go to the IP the server reported");
                assert_eq!(t.via, SocketId::MAIN);
                ports.push(t.to.port());
            }
        }
    };
    collect(&out);
    assert!(out.ts.len() <= 18, "no probe before the hard side's grace is over");
    let mut t = now;
    while t < now + Duration::from_millis(1250) {
        t += 10 * MS;
        collect(&tick(&mut e, t));
    }
    // 1,000 probes per second plus the plain window and its ticks.
    assert!((1000..=1060).contains(&ports.len()), "{}", ports.len());
    let hit = *ports.iter().rev().find(|p| !(6992..=7008).contains(*p)).unwrap();
    let from = SocketAddr::new(addr(ALICE).ip(), hit);
    feed(&mut e, t, SocketId::MAIN, from, b"g:Alice:7000:5000");
    let o = feed(&mut e, t, SocketId::MAIN, from, b"c:Alice:7000");
    let connected = o.events.iter().find_map(|ev| match ev {
        Event::Connected { method, probes, addr, .. } => Some((*method, *probes, *addr)),
        _ => None,
    });
    let (method, probes, at) = connected.unwrap();
    assert_eq!((method, at), (Method::Birthday, from));
    assert!(probes.unwrap() >= 1000);
    // Probing stops once connected.
    let o = tick(&mut e, t + 10 * MS);
    assert!(o.ts.iter().all(|t| t.to == from || t.to == SERVER), "{:?}", o.ts.len());
}

#[test]
fn a_host_start_waits_for_every_players_nat_or_two_seconds() {
    let host = || Config::host(SERVER, "S1", "Alice", 2);
    // Bob's kind arrives 300 ms after the start was asked for: the s: goes then.
    let (mut e, now, _) = classify(host(), [Some(LOCAL_PORT), Some(LOCAL_PORT), None, None]);
    feed(&mut e, now, SocketId::MAIN, SERVER, b"i:Alice:Bob");
    e.start(now);
    let o = drain(&mut e);
    assert!(!o.ts.iter().any(|t| text(t) == "s:S1:Alice"), "not before Bob's NAT is known");
    let o = feed(&mut e, now + 300 * MS, SocketId::MAIN, SERVER, b"n:Alice:e:Bob:r");
    assert!(o.ts.iter().any(|t| text(t) == "s:S1:Alice"));
    // A Godot player never announces: the start goes after 2 s.
    let (mut e, now, _) = classify(host(), [Some(LOCAL_PORT), Some(LOCAL_PORT), None, None]);
    feed(&mut e, now, SocketId::MAIN, SERVER, b"i:Alice:Godot");
    feed(&mut e, now, SocketId::MAIN, SERVER, b"n:Alice:e");
    e.start(now);
    assert!(!tick(&mut e, now + 1999 * MS).ts.iter().any(|t| text(t) == "s:S1:Alice"));
    assert!(tick(&mut e, now + 2000 * MS).ts.iter().any(|t| text(t) == "s:S1:Alice"));
}
