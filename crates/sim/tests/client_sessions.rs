//! Whole sessions of real clients with the real server (moved here from the client's FakeServer
//! harness): 2, 3 and 12 players, a peer behind a NAT that maps each destination to a new port,
//! heavy loss between peers, a silent peer, a start message that comes late. Plain punching
//! (no classification, no relay), as the FakeServer tests ran them.

mod common;

use common::*;
use rhp_client::{Event, PeerStatus};
use rhp_lab::nat::NatType;
use rhp_sim::session::*;
use rhp_sim::{Link, Node, Sim, Verdict};
use std::time::Duration;

const MS: Duration = Duration::from_millis(1);

/// 2.5 ms one way per access link: 5 ms between two players, as the old harness had.
const LAN: Link = Link { delay: Duration::from_micros(2500), ..Link::CLEAN };

fn plain(c: &mut rhp_client::Config) {
    *c = c.clone().without_nat_classification();
}

fn server() -> rhp_server::Config {
    rhp_server::Config::default()
}

#[test]
fn two_three_and_twelve_players_connect_in_a_few_round_trips() {
    for n in [2, 3, 12] {
        let mut sim = Sim::new(n as u64, server());
        sim.record = true;
        let ids = public_session(&mut sim, n, LAN, plain);
        let start = sim.now;
        sim.run_until(Duration::from_secs(5), all_finished_ok);
        for &i in &ids {
            let peers = sim.clients[i].endpoint.engine().peers();
            assert!(peers.iter().all(|p| p.status == PeerStatus::Connected), "{peers:?}");
        }
        // The hardened server sends s: once every player's budget allows it (a ping or two later),
        // and never later than its start sync bound.
        let first_start = ids
            .iter()
            .filter_map(|i| event_time(&sim, *i, |e| matches!(e, Event::Started { .. })))
            .min()
            .unwrap();
        let sync = server().start_sync_max;
        assert!(first_start - start <= sync, "{n} players: start after {:?}", first_start - start);
        // From the s: on, greeting + c: (two legs each) ≈ 10 ms.
        let took = sim.now - first_start;
        assert!(took <= 40 * MS, "{n} players took {took:?}");
        // Nothing echoes forever once done: bounded traffic in the next 10 s (pings, the host's
        // s: rounds; no keepalives, as no peer announced itself ours).
        let before = sim.wire.len();
        sim.run_for(Duration::from_secs(10));
        let after = sim.wire.len() - before;
        assert!(after <= 40 * n, "{after} datagrams after done for {n} players");
    }
}

#[test]
fn a_nat_that_maps_each_destination_to_a_new_port_is_handled_by_pinning() {
    let mut sim = Sim::new(7, server());
    // P0 behind a sequential symmetric NAT (its peers see other ports than the server did, within
    // the ±8 window), the others behind full cones.
    let sites = [
        sim.add_site(&[NatType::SymmetricSequential]),
        sim.add_site(&[NatType::FullCone]),
        sim.add_site(&[NatType::FullCone]),
    ];
    let ids = add_players(&mut sim, &sites, LAN, plain);
    start_when_full(&mut sim, &ids);
    sim.run_until(Duration::from_secs(5), all_finished_ok);
    let mut shifted = 0;
    for &i in &ids[1..] {
        let p0 = sim.clients[i].endpoint.engine().peers().into_iter().find(|p| p.name == "P0").unwrap();
        let real = p0.addr.unwrap();
        assert_ne!(real.port(), p0.reported.port(), "pinned to the real source, not the reported port");
        assert!(real.port().abs_diff(p0.reported.port()) <= 8);
        shifted += 1;
        // P0 learned the port this peer sees from its greetings' field 3.
        let seen_by =
            sim.clients[ids[0]].endpoint.engine().peers().into_iter().find(|p| p.name == name(i)).unwrap();
        assert_eq!(seen_by.status, PeerStatus::Connected);
    }
    assert_eq!(shifted, 2);
    // Each player learned its own port as its peers see it (the greetings' field 3): P0 one of
    // the ports its peers pinned, the others the port their full cones preserve.
    let pinned: Vec<u16> = ids[1..]
        .iter()
        .map(|i| {
            let p0 = sim.clients[*i].endpoint.engine().peers().into_iter().find(|p| p.name == "P0").unwrap();
            p0.addr.unwrap().port()
        })
        .collect();
    let my = sim.clients[ids[0]].endpoint.engine().my_port().unwrap();
    assert!(pinned.contains(&my), "{my} in {pinned:?}");
    for &i in &ids[1..] {
        assert_eq!(sim.clients[i].endpoint.engine().my_port(), Some(50000));
    }
}

#[test]
fn punching_survives_heavy_loss_between_peers() {
    for seed in 1..=5u64 {
        let mut sim = Sim::new(seed, server());
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        // 40% of the datagrams between players are lost; the server's are not.
        sim.set_filter(move |p| {
            if p.sender == Node::Server || p.to.ip() == rhp_sim::SERVER.ip() {
                return Verdict::Pass;
            }
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if x % 10 < 4 {
                Verdict::Drop
            } else {
                Verdict::Pass
            }
        });
        public_session(&mut sim, 4, LAN, plain);
        sim.run_until(Duration::from_secs(10), all_finished_ok);
    }
}

#[test]
fn a_silent_peer_fails_and_the_others_finish() {
    let mut sim = Sim::new(3, server());
    let ids = public_session(&mut sim, 3, LAN, plain);
    let filter = cut_off(&sim, ids[2]);
    sim.set_filter(filter);
    let start = sim.now;
    sim.run_until(Duration::from_secs(25), |s| {
        s.clients[ids[0]].outcome.is_some() && s.clients[ids[1]].outcome.is_some()
    });
    assert!(sim.now - start >= Duration::from_secs(20), "failed at the peer deadline, not before");
    for i in [ids[0], ids[1]] {
        assert!(matches!(sim.clients[i].outcome, Some(Ok(()))));
        assert!(event_time(&sim, i, |e| matches!(e, Event::Failed { peer, .. } if peer == "P2")).is_some());
    }
}

#[test]
fn early_greetings_before_our_start_message_are_kept() {
    let mut sim = Sim::new(5, server());
    let sites = [sim.add_site(&[]), sim.add_site(&[])];
    let ids = add_players(&mut sim, &sites, LAN, plain);
    // The server's first s: to P1 is held back until P0's greetings have reached P1.
    let p1_ip = sim.public_ip(ids[1]);
    let mut held = false;
    sim.set_filter(move |p| {
        if p.sender == Node::Server && p.to.ip() == p1_ip && p.data.starts_with(b"s:") && !held {
            held = true;
            return Verdict::Hold;
        }
        Verdict::Pass
    });
    sim.record = true;
    start_when_full(&mut sim, &ids);
    sim.run_until(Duration::from_secs(1), |s| {
        s.wire
            .iter()
            .any(|p| p.sender == Node::Client(ids[0]) && p.to.ip() == p1_ip && p.data.starts_with(b"g:"))
    });
    sim.run_for(10 * MS);
    assert_eq!(sim.held().len(), 1);
    assert!(!sim.clients[ids[1]].events.iter().any(|(_, e)| matches!(e, Event::Started { .. })));
    sim.clear_filter();
    sim.release();
    sim.run_until(Duration::from_secs(5), all_finished_ok);
    let started = event_time(&sim, ids[1], |e| matches!(e, Event::Started { .. })).unwrap();
    let connected = event_time(&sim, ids[1], |e| matches!(e, Event::Connected { .. })).unwrap();
    assert!(connected - started <= 10 * MS, "the kept greeting counted at once: {:?}", connected - started);
}
