//! Peers that leave or fall silent after the start, and the host hand-over (moved here from the
//! client's FakeServer harness): real clients that announce their NAT to the real server (so
//! each knows its peers are ours), relay off, public addresses.

mod common;

use common::*;
use rhp_client::{Event, LeaveReason, PeerStatus};
use rhp_sim::session::*;
use rhp_sim::{Link, Node, Sim, Verdict};
use std::time::{Duration, Instant};

const MS: Duration = Duration::from_millis(1);
const LAN: Link = Link { delay: Duration::from_micros(2500), ..Link::CLEAN };

/// `n` players (P0 hosts); `plain` ones announce nothing (like a Godot peer: never known as
/// ours). A short silence, keepalives every 0.5 s. Returns when every peer phase is over.
fn session(sim: &mut Sim, n: usize, plain: &[usize], silence: Duration) -> Vec<usize> {
    let sites: Vec<usize> = (0..n).map(|_| sim.add_site(&[])).collect();
    let plain = plain.to_vec();
    let ids = add_players(sim, &sites, LAN, |c| {
        c.timers.keepalive = 500 * MS;
        c.timers.peer_silence = silence;
        c.nat.relay = false;
        if plain.contains(&name_index(&c.player)) {
            *c = c.clone().without_nat_classification();
        }
    });
    start_when_full(sim, &ids);
    sim.run_until(Duration::from_secs(10), all_finished_ok);
    ids
}

fn name_index(player: &str) -> usize {
    player[1..].parse().unwrap()
}

fn left_events(sim: &Sim, i: usize) -> Vec<(Instant, String, LeaveReason)> {
    sim.clients[i]
        .events
        .iter()
        .filter_map(|(t, e)| match e {
            Event::PeerLeft { peer, reason } => Some((*t, peer.clone(), *reason)),
            _ => None,
        })
        .collect()
}

fn host_changes(sim: &Sim, i: usize) -> Vec<(String, bool)> {
    sim.clients[i]
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
    let mut sim = Sim::new(1, rhp_server::Config::default());
    let ids = session(&mut sim, 3, &[], Duration::from_secs(15));
    sim.run_for(Duration::from_secs(3));
    assert!(left_events(&sim, 0).is_empty() && left_events(&sim, 1).is_empty(), "keepalives keep all");
    let t = sim.now;
    sim.leave(ids[2]);
    sim.run_until(Duration::from_secs(1), |s| !left_events(s, 0).is_empty() && !left_events(s, 1).is_empty());
    sim.run_for(Duration::from_secs(1));
    for i in [0, 1] {
        let left = left_events(&sim, i);
        assert_eq!(left.len(), 1, "reported once although sent three times: {left:?}");
        assert_eq!((left[0].1.as_str(), left[0].2), ("P2", LeaveReason::Left));
        assert!(left[0].0 - t <= 20 * MS, "at once, not after the silence");
        let p2 = sim.clients[i].endpoint.engine().peers().into_iter().find(|p| p.name == "P2").unwrap();
        assert_eq!(p2.status, PeerStatus::Left(LeaveReason::Left));
        assert!(p2.path().is_none());
        assert!(sim.command(i, |e, now| e.send(now, "P2", b"x")).is_err(), "nothing more goes to it");
    }
    // P2 was not the host: nobody changes host.
    assert!(host_changes(&sim, 0).is_empty() && host_changes(&sim, 1).is_empty());
}

#[test]
fn a_silent_peer_is_reported_after_the_configured_silence() {
    let mut sim = Sim::new(2, rhp_server::Config::default());
    let silence = Duration::from_secs(3);
    let ids = session(&mut sim, 3, &[], silence);
    // Connected and idle for three times the silence: the keepalives keep everyone.
    sim.run_for(silence * 3);
    for i in 0..3 {
        assert!(left_events(&sim, i).is_empty(), "{:?}", left_events(&sim, i));
    }
    // P1 disappears without a word (its traffic with its peers is dropped both ways).
    let t = sim.now;
    let filter = cut_off(&sim, ids[1]);
    sim.set_filter(filter);
    sim.run_until(silence * 2, |s| !left_events(s, 0).is_empty() && !left_events(s, 2).is_empty());
    for i in [0, 2] {
        let left = left_events(&sim, i);
        assert_eq!((left[0].1.as_str(), left[0].2), ("P1", LeaveReason::Silent));
        let after = left[0].0 - t;
        // Last heard at most one keepalive (+ latency) before it went quiet; a datagram already
        // in flight (5 ms) may still arrive.
        assert!(after >= silence - 520 * MS && after <= silence + 10 * MS, "{after:?}");
    }
}

#[test]
fn when_the_host_leaves_every_remaining_player_names_the_same_new_host() {
    let mut sim = Sim::new(3, rhp_server::Config::default());
    let ids = session(&mut sim, 3, &[], Duration::from_secs(15));
    sim.run_for(Duration::from_secs(1));
    sim.leave(ids[0]);
    sim.run_until(Duration::from_secs(1), |s| {
        !host_changes(s, 1).is_empty() && !host_changes(s, 2).is_empty()
    });
    assert_eq!(host_changes(&sim, 1), [("P1".to_owned(), true)]);
    assert_eq!(host_changes(&sim, 2), [("P1".to_owned(), false)]);
    assert!(sim.clients[ids[1]].endpoint.engine().is_host());
    for i in [1, 2] {
        assert_eq!(sim.clients[ids[i]].endpoint.engine().host(), Some("P1"));
    }
    let p1_seen_by_p2 =
        sim.clients[ids[2]].endpoint.engine().peers().into_iter().find(|p| p.name == "P1").unwrap();
    assert!(p1_seen_by_p2.is_host);
    // The promoted host owes no s:<n> rounds: nothing but keepalives goes between them.
    sim.record = true;
    sim.run_for(Duration::from_secs(2));
    let extra: Vec<String> = sim
        .wire
        .iter()
        .filter(|p| p.sender != Node::Server && p.to.ip() != rhp_sim::SERVER.ip())
        .map(|p| p.text())
        .filter(|t| !t.starts_with("a:") && !t.starts_with("y:"))
        .collect();
    assert!(extra.is_empty(), "{extra:?}");
}

#[test]
fn a_silent_host_then_the_next_one_leaving_hands_over_twice_the_same_everywhere() {
    let mut sim = Sim::new(4, rhp_server::Config::default());
    let silence = Duration::from_secs(2);
    let ids = session(&mut sim, 4, &[], silence);
    sim.run_for(Duration::from_secs(1));
    let filter = cut_off(&sim, ids[0]);
    sim.set_filter(filter);
    sim.run_until(silence * 2, |s| (1..4).all(|i| !host_changes(s, i).is_empty()));
    for i in 1..4 {
        assert_eq!(host_changes(&sim, i)[0], ("P1".to_owned(), i == 1), "player {i}");
    }
    sim.leave(ids[1]);
    sim.run_until(Duration::from_secs(1), |s| (2..4).all(|i| host_changes(s, i).len() == 2));
    for (i, &node) in ids.iter().enumerate().skip(2) {
        assert_eq!(host_changes(&sim, node)[1], ("P2".to_owned(), i == 2), "player {i}");
        assert_eq!(sim.clients[node].endpoint.engine().host(), Some("P2"));
    }
}

#[test]
fn a_peer_that_is_not_ours_never_gets_a_leave_or_a_keepalive_and_is_never_called_silent() {
    let mut sim = Sim::new(5, rhp_server::Config::default());
    let silence = Duration::from_secs(2);
    // P2 announces nothing and speaks only the plugin's messages (like the Godot plugin): our
    // client's own `a:`/`l:` from it never leave its host.
    sim.set_filter(|p| {
        if p.sender == Node::Client(2) && (p.data.starts_with(b"a:") || p.data.starts_with(b"l:")) {
            Verdict::Drop
        } else {
            Verdict::Pass
        }
    });
    sim.record = true;
    let ids = session(&mut sim, 3, &[2], silence);
    assert_eq!(ids[2], 2);
    sim.run_for(silence * 5);
    sim.leave(ids[0]);
    sim.run_for(Duration::from_secs(1));
    let p2 = sim.public_ip(ids[2]);
    let to_p2: Vec<String> =
        sim.wire.iter().filter(|p| p.to.ip() == p2 && p.sender != Node::Server).map(|p| p.text()).collect();
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
    // P1 takes over (P2, not ours, is no candidate); P2's own engine stands in for a Godot peer
    // here, which has no such events: what it reports is not looked at.
    assert_eq!(host_changes(&sim, 1), [("P1".to_owned(), true)]);
}

/// A NAT that forgets its mappings (its timeout cut to 1 ms once the players are connected)
/// cuts the direct path: each keepalive reaches a router that no longer knows the flow, and
/// both players report the other silent; with the lab's 180 s nothing is lost.
#[test]
fn a_nat_that_forgets_its_mappings_cuts_the_path_and_both_sides_report_silence() {
    for (timeout, lost) in [(Duration::from_millis(1), true), (rhp_sim::nat::MAPPING_TIMEOUT, false)] {
        let mut sim = Sim::new(9, rhp_server::Config::default());
        let kind = rhp_lab::nat::NatType::PortRestrictedCone;
        let sites = [sim.add_site(&[kind]), sim.add_site(&[kind])];
        let ids = add_players(&mut sim, &sites, LAN, |c| c.nat.relay = false);
        start_when_full(&mut sim, &ids);
        run_to_done(&mut sim, &ids, Duration::from_secs(10));
        assert!(pair_outcome(&sim, (ids[0], "P0"), (ids[1], "P1")).0, "connected first");
        for s in sites {
            sim.sites[s].nats[0].timeout = timeout;
        }
        sim.run_for(Duration::from_secs(20));
        for (i, peer) in [(ids[0], "P1"), (ids[1], "P0")] {
            let silent = left_events(&sim, i).iter().any(|(_, n, r)| n == peer && *r == LeaveReason::Silent);
            assert_eq!(silent, lost, "mapping timeout {timeout:?}");
        }
    }
}
