//! Several nodes under races and faults: two `h:` for one name on two nodes at once (one wins,
//! the other gets `error:session_exists`); a node killed (its sessions gone, its names free after
//! the TTL, the other nodes' sessions go on, a member who entered through it times out like a
//! silent player); the store unreachable and back (local sessions never notice, what needs the
//! store is refused with the documented codes, it recovers with no restart).

use rhp_sim::cluster::ClusterNet;
use std::time::Duration;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn three() -> ClusterNet {
    ClusterNet::cluster(3, rhp_server::Config::default(), |_| {})
}

fn got(net: &ClusterNet, p: usize, text: &str) -> bool {
    net.players[p].texts().iter().any(|t| t == text)
}

/// Every player in `who` pings its session, one second, `n` times.
fn ping_for(net: &mut ClusterNet, who: &[(usize, &str)], n: usize) {
    for _ in 0..n {
        for (p, req) in who {
            net.send(*p, req);
            net.run_for(ms(20));
        }
        net.run_for(ms(1000 - 20 * who.len() as u64));
    }
}

#[test]
fn two_hosts_of_one_name_on_two_nodes_at_once_one_wins() {
    for (first, second) in [(0, 1), (2, 1), (1, 0)] {
        let mut net = three();
        let a = net.add_player(first);
        let b = net.add_player(second);
        net.send(a, "h:Race:amy:4");
        net.send(b, "h:Race:ben:4");
        net.run_for(ms(500));
        let (wa, wb) = (got(&net, a, "i:amy"), got(&net, b, "i:ben"));
        assert!(wa ^ wb, "exactly one wins: {:?} {:?}", net.players[a].texts(), net.players[b].texts());
        let loser = if wa { b } else { a };
        assert!(got(&net, loser, "error:session_exists"), "{:?}", net.players[loser].texts());
        let owners: Vec<usize> = (0..3).filter(|k| net.node(*k).expect("node").owns("Race")).collect();
        assert_eq!(owners.len(), 1, "one owner");
        // The loser's datagrams went through its node to the owner, which answered.
        assert!(net.players[loser].inbox.iter().all(|(_, from, _)| *from == net.players[loser].server));
    }
}

#[test]
fn a_dead_node_loses_its_sessions_frees_its_names_and_disturbs_no_other() {
    let mut net = three();
    let ttl = rhp_cluster::ClusterConfig::new(rhp_cluster::NodeId(1), Vec::new(), b"").claim_ttl;
    // S1 lives on node 0 (host there, a joiner through node 1); S2 on node 1, with a member
    // through node 0 (to die) and one through node 2.
    let (h1, j1) = (net.add_player(0), net.add_player(1));
    let (h2, via_dead, j2) = (net.add_player(1), net.add_player(0), net.add_player(2));
    net.send(h1, "h:S1:h1:4");
    net.send(h2, "h:S2:h2:4");
    net.run_for(ms(200));
    net.send(j1, "c:S1:j1");
    net.send(via_dead, "c:S2:dead");
    net.run_for(ms(200));
    net.send(j2, "c:S2:j2");
    net.run_for(ms(200));
    assert!(got(&net, j2, "i:h2:dead:j2"), "{:?}", net.players[j2].texts());
    assert!(got(&net, j1, "i:h1:j1"));

    net.kill_node(0);
    let killed = net.now;
    let s2 = [(h2, "p:S2:h2"), (j2, "p:S2:j2")];
    // The member who entered through the dead node falls silent: it times out as on one node.
    ping_for(&mut net, &s2, 8);
    assert!(got(&net, h2, "i:h2:j2"), "dead's timeout reached the host: {:?}", net.players[h2].texts());
    assert!(got(&net, j2, "i:h2:j2"));
    // S2 goes on: it starts for the two left.
    net.send(h2, "s:S2:h2");
    net.run_for(ms(100));
    for (p, n) in [(h2, "h2"), (j2, "j2")] {
        net.send(p, &format!("y:S2:{n}"));
        net.run_for(ms(20));
    }
    net.run_for(secs(1));
    for p in [h2, j2] {
        assert!(
            net.players[p].texts().iter().any(|t| t.starts_with("s:")),
            "{p}: {:?} {:?}",
            net.players[h2].texts(),
            net.players[j2].texts()
        );
    }
    // S1's player through node 1: silence from the dead owner (as from a dead single server),
    // then, once the dead node's heartbeat ran out, "no such session" from node 1.
    let before = net.players[j1].inbox.len();
    ping_for(&mut net, &[(j1, "p:S1:j1")], 3);
    let after: Vec<String> = net.players[j1].texts().split_off(before);
    assert!(after.iter().all(|t| t == "error:session_non_existent"), "{after:?}");
    assert!(!after.is_empty(), "node 1 knows node 0 is dead by now");
    assert!(net.node(1).expect("node 1").status().peers_dead == 1);

    // Its name is still claimed (by the dead node) before the TTL, free after it.
    let again = net.add_player(2);
    net.send(again, "h:S1:again:4");
    net.run_for(ms(300));
    assert_eq!(net.players[again].texts(), ["error:session_exists"], "S1 taken before the TTL");
    let free_at = killed + ttl + ms(200);
    net.run_for(free_at.saturating_duration_since(net.now));
    net.send(again, "h:S1:again:4");
    net.run_for(ms(300));
    assert!(got(&net, again, "i:again"), "S1 free again after the TTL: {:?}", net.players[again].texts());
    assert!(net.node(2).expect("node 2").owns("S1"));
    // Nothing is kept for the dead node's players beyond the routes' lifetime.
    net.run_for(secs(31));
    let n1 = net.node(1).expect("node 1").status();
    assert_eq!(n1.remote_routes, 0, "{n1:?}");
    assert!(net.store.get(net.now, "n:1").is_none(), "the dead node's heartbeat expired");
    assert!(net.store.get(net.now, "n:2").is_some());
    net.check_invariants().unwrap();
}

#[test]
fn the_store_unreachable_and_back() {
    let mut net = three();
    let (host, joiner) = (net.add_player(0), net.add_player(1));
    net.send(host, "h:S1:host:4");
    net.run_for(ms(200));
    net.send(joiner, "c:S1:joiner");
    net.run_for(ms(200));
    assert!(got(&net, joiner, "i:host:joiner"));

    net.store.reachable = false;
    let s1 = [(host, "p:S1:host"), (joiner, "p:S1:joiner")];
    // Longer than the claims' and the cache's lifetimes: the session never notices.
    let before = (net.players[host].inbox.len(), net.players[joiner].inbox.len());
    ping_for(&mut net, &s1, 40);
    for (p, n) in [(host, before.0), (joiner, before.1)] {
        let new: Vec<String> = net.players[p].texts().split_off(n);
        assert!(!new.is_empty() && new.iter().all(|t| t == "i:host:joiner"), "{new:?}");
    }
    for k in 0..3 {
        let s = net.node(k).expect("node").status();
        assert!(!s.store_up, "node {k} reports the store down: {s:?}");
    }
    // What needs the store is refused: a new session, a join of a name the node does not know.
    let (newcomer, lost) = (net.add_player(2), net.add_player(2));
    net.send(newcomer, "h:S2:new:4");
    net.send(lost, "c:S1:lost");
    net.run_for(ms(300));
    assert_eq!(net.players[newcomer].texts(), ["error:too_many_sessions"]);
    assert_eq!(net.players[lost].texts(), ["error:session_non_existent"]);
    assert!(net.node(2).expect("node 2").status().refused_store >= 2);

    // Back: no restart, within a heartbeat and a tick.
    net.store.reachable = true;
    ping_for(&mut net, &s1, 2);
    for k in 0..3 {
        assert!(net.node(k).expect("node").status().store_up, "node {k} sees the store again");
    }
    // The owner took its name back (its claim ran out during the outage).
    assert_eq!(net.store.get(net.now, "s:S1"), Some(rhp_sim::cluster::node_id(0)));
    net.send(newcomer, "h:S2:new:4");
    net.send(lost, "c:S1:lost");
    net.run_for(ms(300));
    assert!(got(&net, newcomer, "i:new"), "{:?}", net.players[newcomer].texts());
    assert!(got(&net, lost, "i:host:joiner:lost"), "{:?}", net.players[lost].texts());
    net.check_invariants().unwrap();
}

#[test]
fn a_name_created_again_on_another_node_is_reached_through_a_stale_cache_after_one_resend() {
    let mut net = three();
    let (a, b, c, d) = (net.add_player(0), net.add_player(1), net.add_player(2), net.add_player(1));
    net.send(a, "h:S1:a:4");
    net.run_for(ms(200));
    net.send(b, "c:S1:b");
    net.run_for(ms(200));
    // Node 1 has S1 cached on node 0. The session ends; S1 is created again on node 2.
    net.send(a, "x:S1:a");
    net.run_for(ms(200));
    net.send(b, "x:S1:b");
    net.run_for(ms(200));
    assert_eq!(net.node(0).expect("node 0").engine().session_count(), 0);
    net.send(c, "h:S1:c:4");
    net.run_for(ms(200));
    assert!(got(&net, c, "i:c"));
    // d's first join goes to node 0 (stale), which bounces it; its resend reaches node 2.
    net.send(d, "c:S1:d");
    net.run_for(ms(500));
    assert!(net.players[d].texts().is_empty(), "{:?}", net.players[d].texts());
    assert_eq!(net.node(1).expect("node 1").status().bounced, 1);
    net.send(d, "c:S1:d");
    net.run_for(ms(200));
    assert_eq!(net.players[d].texts(), ["i:c:d"]);
    assert!(got(&net, c, "i:c:d"));
}
