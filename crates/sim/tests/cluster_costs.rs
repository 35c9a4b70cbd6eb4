//! What the store costs: the store operations of one session's life across nodes (create on
//! node 0, three joins through nodes 1, 2 and 1, pings, start, end), counted exactly, and none
//! per ping.

use rhp_sim::cluster::ClusterNet;
use std::time::Duration;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn one_session_costs_a_claim_a_lookup_per_entry_node_and_a_release() {
    let mut net = ClusterNet::cluster(3, rhp_server::Config::default(), |_| {});
    let names = ["h", "a", "b", "c"];
    let ps: Vec<usize> = [0, 1, 2, 1].iter().map(|k| net.add_player(*k)).collect();
    let before = net.store.ops.clone();
    net.send(ps[0], "h:S1:h:4");
    net.run_for(ms(200));
    for (p, n) in ps.iter().zip(names).skip(1) {
        net.send(*p, &format!("c:S1:{n}"));
        net.run_for(ms(200));
    }
    // Five seconds of pings from everyone: no store operation for them.
    for _ in 0..5 {
        for (p, n) in ps.iter().zip(names) {
            net.send(*p, &format!("p:S1:{n}"));
            net.run_for(ms(20));
        }
        net.run_for(ms(920));
    }
    net.send(ps[0], "s:S1:h");
    net.run_for(ms(100));
    for (p, n) in ps.iter().zip(names) {
        net.send(*p, &format!("y:S1:{n}"));
        net.run_for(ms(20));
    }
    // The session ends after its start (at most the engine's start hold).
    net.run_until(Duration::from_secs(20), |n| {
        (0..3).all(|k| n.node(k).is_some_and(|x| x.engine().session_count() == 0))
    });
    net.run_for(ms(300));
    let count = |k: &str| net.store.ops.get(k).copied().unwrap_or(0) - before.get(k).copied().unwrap_or(0);
    let per_session = (count("claim"), count("lookup"), count("release"));
    eprintln!("store operations for one session: {:?} (all: {:?})", per_session, net.store.ops);
    assert_eq!(per_session, (1, 2, 1), "claim, lookups (one per entry node), release");
    assert!(count("refresh") <= 2, "a refresh every 10 s at most");
    assert!(net.store.get(net.now, "s:S1").is_none());
    assert!(net.players.iter().all(|p| p.texts().iter().any(|t| t.starts_with("s:"))), "everyone started");
    for k in 0..3 {
        assert_eq!(net.node(k).expect("node").status().owned, 0);
    }
}
