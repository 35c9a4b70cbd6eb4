//! Real client engines across nodes: each client is given one node's address (the host node 0,
//! the joiners nodes 1 and 2), the session lives on node 0, and every pair connects; a private
//! player on node 2 reaches the others through node 0's relay: its frames through node 2, or,
//! when the nodes know their public addresses, straight to node 0 (the grant names it: one hop).

use rhp_client::{Config, Event, Method};
use rhp_sim::cluster::{node_addr, ClusterNet};
use std::time::Duration;

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// Host P0 on node 0, P1 on node 1, P2 on node 2 (with `tweak`); started once all are in; run
/// until every peer phase ended.
fn session(tweak: impl Fn(&mut Config)) -> ClusterNet {
    session_on(ClusterNet::cluster(3, rhp_server::Config::default(), |_| {}), tweak)
}

fn session_on(mut net: ClusterNet, tweak: impl Fn(&mut Config)) -> ClusterNet {
    let mut host = Config::host(node_addr(0), "S1", "P0", 3);
    tweak(&mut host);
    let h = net.add_client(host);
    net.run_until(secs(30), |n| n.clients[h].events.iter().any(|(_, e)| matches!(e, Event::Joined { .. })));
    for k in 1..3 {
        let mut c = Config::join(node_addr(k), "S1", &format!("P{k}"));
        tweak(&mut c);
        net.add_client(c);
    }
    net.run_until(secs(60), |n| n.clients[h].endpoint.engine().players().len() == 3);
    net.command(h, |e, now| e.engine_mut().start(now));
    net.run_until(secs(60), |n| {
        n.clients
            .iter()
            .all(|c| c.outcome.is_some() || c.events.iter().any(|(_, e)| matches!(e, Event::Done { .. })))
    });
    net.run_for(secs(2));
    net
}

fn reaches(net: &ClusterNet, i: usize, peer: &str) -> bool {
    net.clients[i].endpoint.engine().peers().iter().any(|p| p.name == peer && p.reachable())
}

fn method(net: &ClusterNet, i: usize, peer: &str) -> Option<Method> {
    net.clients[i].events.iter().rev().find_map(|(_, e)| match e {
        Event::Connected { peer: p, method, .. } | Event::Upgraded { peer: p, method, .. } if p == peer => {
            Some(*method)
        }
        _ => None,
    })
}

#[test]
fn real_clients_on_three_nodes_connect() {
    let net = session(|_| {});
    for a in 0..3 {
        for b in 0..3 {
            if a != b {
                assert!(reaches(&net, a, &format!("P{b}")), "P{a} reaches P{b}: {:?}", net.clients[a].events);
            }
        }
    }
    // The filters were in force: a pair's first greetings meet the other's filter, as a NAT's.
    assert!(net.filtered_out > 0);
    // The session lived on node 0; nodes 1 and 2 forwarded their players.
    assert!(net.node(0).expect("node 0").owns("S1") || net.store.get(net.now, "s:S1").is_none());
    for k in 1..3 {
        let s = net.node(k).expect("node").status();
        assert!(s.frames_out > 0 && s.frames_in > 0, "node {k}: {s:?}");
        assert_eq!(net.node(k).expect("node").engine().session_count(), 0, "node {k} holds no session");
    }
}

#[test]
fn a_private_player_on_another_node_goes_through_the_owners_relay() {
    let net = session(|c| c.nat.private = c.player == "P2");
    for a in [0, 1] {
        assert!(reaches(&net, a, "P2") && reaches(&net, 2, &format!("P{a}")), "P{a} × P2");
        assert_eq!(method(&net, a, "P2"), Some(Method::Relay));
    }
    assert!(reaches(&net, 0, "P1") && reaches(&net, 1, "P0"));
    let relay = net.node(0).expect("node 0").engine().relay_stats();
    assert!(relay.frames_forwarded > 0, "{relay:?}");
}

#[test]
fn with_public_addresses_relay_frames_take_one_hop_to_the_owner() {
    let nodes = ClusterNet::cluster(3, rhp_server::Config::default(), |cc| {
        cc.public = Some(node_addr(usize::from(cc.id.0) - 1));
    });
    let net = session_on(nodes, |c| c.nat.private = c.player == "P2");
    for a in [0, 1] {
        assert!(reaches(&net, a, "P2") && reaches(&net, 2, &format!("P{a}")), "P{a} × P2");
        assert_eq!(method(&net, a, "P2"), Some(Method::Relay));
    }
    // P2 (client 2, on node 2) sent its relay frames to node 0, none to node 2.
    let to = |k: usize| net.relay_frames.get(&(2, node_addr(k))).copied().unwrap_or(0);
    assert!(to(0) > 0, "{:?}", net.relay_frames);
    assert_eq!(to(2), 0, "{:?}", net.relay_frames);
    // P1 (on node 1, asked for the relay as our clients do) likewise: its node is not the owner.
    assert_eq!(net.relay_frames.get(&(1, node_addr(1))).copied().unwrap_or(0), 0, "{:?}", net.relay_frames);
}

#[test]
fn without_public_addresses_relay_frames_go_through_the_entry_node() {
    let net = session(|c| c.nat.private = c.player == "P2");
    assert!(net.relay_frames.get(&(2, node_addr(2))).copied().unwrap_or(0) > 0, "{:?}", net.relay_frames);
    assert_eq!(net.relay_frames.get(&(2, node_addr(0))).copied().unwrap_or(0), 0, "{:?}", net.relay_frames);
}
