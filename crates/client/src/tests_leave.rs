//! Peers that leave or fall silent after the start, and the host hand-over, on the simulated
//! network (the fake server answers `e:` with `n:`, so the engines know their peers are ours).

use crate::sim::{Sim, SERVER};
use crate::{Config, Engine, Event, Input, LeaveReason, Output, PeerStatus, SocketId};
use std::time::{Duration, Instant};

const MS: Duration = Duration::from_millis(1);

/// Timers of every player: a short silence so the tests stay short in virtual time.
fn timed(mut c: Config, silence: Duration) -> Config {
    c.timers.keepalive = 500 * MS;
    c.timers.peer_silence = silence;
    c
}

/// `n` players (P0 hosts) that announce their NAT to the server before the start; `plain`
/// players do not (like a Godot peer: no `e:`, so never known as ours). Returns when every
/// player's peer phase is over.
fn session(sim: &mut Sim, n: usize, plain: &[usize], silence: Duration) -> Vec<usize> {
    sim.server.nat_notes = true;
    let config = |k: usize| {
        let c =
            if k == 0 { Sim::host_config("S1", "P0", 12) } else { Sim::join_config("S1", &format!("P{k}")) };
        let c = timed(c, silence);
        if plain.contains(&k) {
            c.without_nat_classification()
        } else {
            c
        }
    };
    let mut ids = vec![sim.add(config(0))];
    sim.run_for(20 * MS);
    for k in 1..n {
        ids.push(sim.add(config(k)));
    }
    sim.run_until(Duration::from_secs(5), |s| s.nodes[0].engine.players().len() == n);
    let announced = n - plain.len();
    sim.run_until(Duration::from_secs(5), |s| s.server.described("S1") == announced);
    sim.run_for(50 * MS);
    sim.command(0, |e, now| e.start(now));
    sim.run_until(Duration::from_secs(5), |s| {
        (0..s.nodes.len()).all(|i| matches!(s.nodes[i].outcome, Some(Ok(()))))
    });
    ids
}

fn left_events(sim: &Sim, i: usize) -> Vec<(Instant, String, LeaveReason)> {
    sim.nodes[i]
        .events
        .iter()
        .filter_map(|(t, e)| match e {
            Event::PeerLeft { peer, reason } => Some((*t, peer.clone(), *reason)),
            _ => None,
        })
        .collect()
}

fn host_changes(sim: &Sim, i: usize) -> Vec<(String, bool)> {
    sim.nodes[i]
        .events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::HostChanged { host, is_us } => Some((host.clone(), *is_us)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_peer_that_closes_is_reported_left_at_once_by_every_peer() {
    let mut sim = Sim::new();
    let ids = session(&mut sim, 3, &[], Duration::from_secs(15));
    sim.run_for(Duration::from_secs(3));
    assert!(left_events(&sim, 0).is_empty() && left_events(&sim, 1).is_empty(), "keepalives keep all");
    let t = sim.now;
    sim.close(ids[2]);
    sim.run_until(Duration::from_secs(1), |s| !left_events(s, 0).is_empty() && !left_events(s, 1).is_empty());
    sim.run_for(Duration::from_secs(1));
    for i in [0, 1] {
        let left = left_events(&sim, i);
        assert_eq!(left.len(), 1, "reported once although sent three times: {left:?}");
        assert_eq!((left[0].1.as_str(), left[0].2), ("P2", LeaveReason::Left));
        assert!(left[0].0 - t <= 20 * MS, "at once, not after the silence");
        let p2 = sim.nodes[i].engine.peers().into_iter().find(|p| p.name == "P2").unwrap();
        assert_eq!(p2.status, PeerStatus::Left(LeaveReason::Left));
        assert!(p2.path().is_none());
        assert!(sim.nodes[i].engine.data_to("P2", b"x").is_err(), "nothing more goes to it");
    }
    // P2 was not the host: nobody changes host.
    assert!(host_changes(&sim, 0).is_empty() && host_changes(&sim, 1).is_empty());
}

#[test]
fn a_silent_peer_is_reported_after_the_configured_silence() {
    let mut sim = Sim::new();
    let silence = Duration::from_secs(3);
    let ids = session(&mut sim, 3, &[], silence);
    // Connected and idle for three times the silence: the keepalives keep everyone.
    sim.run_for(silence * 3);
    for i in 0..3 {
        assert!(left_events(&sim, i).is_empty(), "{:?}", left_events(&sim, i));
    }
    // P1 disappears without a word (its traffic is dropped both ways).
    let t = sim.now;
    sim.nodes[ids[1]].deaf = true;
    sim.nodes[ids[1]].mute_to_peers = true;
    sim.run_until(silence * 2, |s| !left_events(s, 0).is_empty() && !left_events(s, 2).is_empty());
    for i in [0, 2] {
        let left = left_events(&sim, i);
        assert_eq!((left[0].1.as_str(), left[0].2), ("P1", LeaveReason::Silent));
        let after = left[0].0 - t;
        // Last heard at most one keepalive (+ latency) before it went quiet.
        // (A datagram already in flight, 5 ms, may still arrive.)
        assert!(after >= silence - 520 * MS && after <= silence + 10 * MS, "{after:?}");
    }
}

#[test]
fn when_the_host_leaves_every_remaining_player_names_the_same_new_host() {
    let mut sim = Sim::new();
    let ids = session(&mut sim, 3, &[], Duration::from_secs(15));
    sim.run_for(Duration::from_secs(1));
    sim.close(ids[0]);
    sim.run_until(Duration::from_secs(1), |s| {
        !host_changes(s, 1).is_empty() && !host_changes(s, 2).is_empty()
    });
    assert_eq!(host_changes(&sim, 1), [("P1".to_owned(), true)]);
    assert_eq!(host_changes(&sim, 2), [("P1".to_owned(), false)]);
    assert!(sim.nodes[ids[1]].engine.is_host());
    for i in [1, 2] {
        assert_eq!(sim.nodes[ids[i]].engine.host(), Some("P1"));
    }
    let p1_seen_by_p2 = sim.nodes[ids[2]].engine.peers().into_iter().find(|p| p.name == "P1").unwrap();
    assert!(p1_seen_by_p2.is_host);
    // The promoted host owes no s:<n> rounds: nothing but keepalives goes between them.
    let before = sim.wire.len();
    sim.run_for(Duration::from_secs(2));
    let extra: Vec<String> = sim.wire[before..]
        .iter()
        .map(|d| d.text())
        .filter(|t| !t.starts_with("a:") && !t.starts_with("y:"))
        .collect();
    assert!(extra.is_empty(), "{extra:?}");
}

#[test]
fn a_silent_host_then_the_next_one_leaving_hands_over_twice_the_same_everywhere() {
    let mut sim = Sim::new();
    let silence = Duration::from_secs(2);
    let ids = session(&mut sim, 4, &[], silence);
    sim.run_for(Duration::from_secs(1));
    sim.nodes[ids[0]].deaf = true;
    sim.nodes[ids[0]].mute_to_peers = true;
    sim.run_until(silence * 2, |s| (1..4).all(|i| !host_changes(s, i).is_empty()));
    for i in 1..4 {
        assert_eq!(host_changes(&sim, i)[0], ("P1".to_owned(), i == 1), "player {i}");
    }
    sim.close(ids[1]);
    sim.run_until(Duration::from_secs(1), |s| (2..4).all(|i| host_changes(s, i).len() == 2));
    for (i, &node) in ids.iter().enumerate().skip(2) {
        assert_eq!(host_changes(&sim, node)[1], ("P2".to_owned(), i == 2), "player {i}");
        assert_eq!(sim.nodes[node].engine.host(), Some("P2"));
    }
}

#[test]
fn a_peer_that_is_not_ours_never_gets_a_leave_or_a_keepalive_and_is_never_called_silent() {
    let mut sim = Sim::new();
    let silence = Duration::from_secs(2);
    // P2 announces nothing and speaks only the plugin's messages (like the Godot plugin): our
    // client's own `a:`/`l:` from it never leave its host.
    let p2_ip = std::net::IpAddr::from([10, 0, 1, 4]);
    sim.lose =
        Box::new(move |d| d.from.ip() == p2_ip && (d.data.starts_with(b"a:") || d.data.starts_with(b"l:")));
    let ids = session(&mut sim, 3, &[2], silence);
    assert_eq!(sim.addr_of(ids[2]).ip(), p2_ip);
    sim.run_for(silence * 5);
    sim.close(ids[0]);
    sim.run_for(Duration::from_secs(1));
    let p2 = sim.addr_of(ids[2]);
    let to_p2: Vec<String> = sim
        .wire
        .iter()
        .filter(|d| d.to.ip() == p2.ip() && d.from != crate::sim::SERVER)
        .map(|d| d.text())
        .collect();
    assert!(!to_p2.is_empty());
    for t in &to_p2 {
        assert!(
            ["g:", "c:", "s:", "y:"].iter().any(|k| t.starts_with(k)),
            "new message to a plain peer: {t:?}"
        );
    }
    // Nobody reports P2 gone (it sends no keepalives: it is not expected to); P1 hears P0 leave.
    for i in [0, 1] {
        assert!(left_events(&sim, i).iter().all(|(_, n, _)| n != "P2"), "{:?}", left_events(&sim, i));
    }
    assert_eq!(
        left_events(&sim, 1).iter().map(|(_, n, r)| (n.as_str(), *r)).collect::<Vec<_>>(),
        [("P0", LeaveReason::Left)]
    );
    // P1 takes over (P2, not ours, is no candidate); P2's own engine stands in for a Godot
    // peer here, which has no such events: what it reports is not looked at.
    assert_eq!(host_changes(&sim, 1), [("P1".to_owned(), true)]);
}

/// Feeds one datagram (or a timeout, `data` None) and returns the events.
fn input(e: &mut Engine, now: Instant, from: std::net::SocketAddr, data: Option<&str>) -> Vec<Event> {
    match data {
        Some(d) => e.handle_input(Input::Datagram { now, via: SocketId::MAIN, from, data: d.as_bytes() }),
        None => e.handle_input(Input::Timeout(now)),
    }
    let mut events = Vec::new();
    loop {
        match e.poll_output() {
            Output::Event(ev) => events.push(ev),
            Output::Timeout(_) => return events,
            _ => {}
        }
    }
}

#[test]
fn an_application_that_stopped_driving_the_engine_does_not_call_its_peers_silent() {
    let t0 = Instant::now();
    let alice: std::net::SocketAddr = "10.0.0.9:5555".parse().unwrap();
    let mut e = Engine::new(Config::join(SERVER, "S1", "Bob").without_nat_classification(), t0).unwrap();
    input(&mut e, t0, SERVER, Some("i:Alice:Bob"));
    input(&mut e, t0, SERVER, Some("n:Alice:e:Bob:e"));
    input(&mut e, t0, SERVER, Some("s:40000:Alice:10.0.0.9:5555"));
    let evs = input(&mut e, t0 + 5 * MS, alice, Some("c:Alice:5555"));
    assert!(evs.iter().any(|ev| matches!(ev, Event::Connected { .. })), "{evs:?}");
    input(&mut e, t0 + Duration::from_secs(1), alice, Some("a:Alice"));
    // Not driven for 30 s (Alice's keepalives wait unread in the socket): the first timeout
    // after the stall must not judge her by the last datagram read.
    let resumed = t0 + Duration::from_secs(31);
    let evs = input(&mut e, resumed, SERVER, None);
    assert!(!evs.iter().any(|ev| matches!(ev, Event::PeerLeft { .. })), "{evs:?}");
    // Really silent from then on: gone one silence (counted from a keepalive before) later.
    let silence = Config::join(SERVER, "S1", "Bob").timers.peer_silence;
    let keepalive = Config::join(SERVER, "S1", "Bob").timers.keepalive;
    let mut t = resumed;
    let mut left = None;
    for _ in 0..100 {
        t += 200 * MS;
        let evs = input(&mut e, t, SERVER, None);
        if evs.iter().any(|ev| matches!(ev, Event::PeerLeft { reason: LeaveReason::Silent, .. })) {
            left = Some(t);
            break;
        }
    }
    let left = left.expect("reported silent");
    assert!(left - resumed >= silence - keepalive && left - resumed <= silence, "{:?}", left - resumed);
}
