//! Black-box, cluster mode: real clients across three `serve` nodes sharing a real Redis, each
//! player given one node's address: our `host`/`join` binaries (a direct mesh, and a relayed
//! pair whose relay runs on the owner and is reached through the entry node), and the scripted
//! Godot double as host on node 1 with clients on nodes 2 and 3.

mod support;

use std::time::Duration;
use support::cluster::Cluster;
use support::godot_double::godot;
use support::player::Player;

const WAIT: Duration = Duration::from_secs(45);

fn connected(p: &Player, peer: &str) -> bool {
    p.stdout().iter().any(|l| l.starts_with(&format!("connected peer={peer} addr=127.0.0.1:")))
}

#[test]
fn host_and_joiners_on_three_nodes_connect() {
    if support::cluster::redis::skip() {
        return;
    }
    let c = Cluster::start(3, &[]);
    let mut host = Player::host(c.addr(0), "CmS", "CmHost", 3, &["--send", "from CmHost", "--expect", "2"]);
    assert!(host.wait_stderr("in the session", Duration::from_secs(10)), "{}", host.dump());
    let mut a = Player::join(c.addr(1), "CmS", "CmA", &["--send", "from CmA", "--expect", "2"]);
    let mut b = Player::join(c.addr(2), "CmS", "CmB", &["--send", "from CmB", "--expect", "2"]);
    for p in [&mut host, &mut a, &mut b] {
        assert_eq!(p.wait(WAIT), Some(0), "{}", p.dump());
        assert_eq!(p.line_fields("punch-done").expect("punch-done")[0].1, "2/2", "{}", p.dump());
    }
    for (p, others) in [(&host, ["CmA", "CmB"]), (&a, ["CmHost", "CmB"]), (&b, ["CmHost", "CmA"])] {
        for o in others {
            assert!(connected(p, o), "{} lacks {o}\n{}", p.name, p.dump());
            assert!(
                p.stdout().contains(&format!("{o}: from {o}")),
                "{} lacks data from {o}\n{}",
                p.name,
                p.dump()
            );
        }
    }
}

#[test]
fn a_relayed_pair_across_two_nodes() {
    if support::cluster::redis::skip() {
        return;
    }
    let c = Cluster::start(2, &[]);
    let mut host = Player::host(c.addr(0), "CrS", "CrHost", 2, &["--send", "from CrHost", "--expect", "1"]);
    assert!(host.wait_stderr("in the session", Duration::from_secs(10)), "{}", host.dump());
    let srv = c.addr(1).to_string();
    let mut joiner = Player::with_args(
        "CrJoin",
        &["join", "CrS", "CrJoin", "--server", &srv, "--private", "--send", "from CrJoin", "--expect", "1"],
    );
    for p in [&mut host, &mut joiner] {
        assert_eq!(p.wait(WAIT), Some(0), "{}", p.dump());
    }
    // Through the owner's relay in one hop: the relay's address is node 1's (where the session
    // lives), not node 2's, which the joiner talks to.
    let owner = format!("connected peer=CrHost addr={} ", c.addr(0));
    assert!(
        joiner.stdout().iter().any(|l| l.starts_with(&owner) && l.contains("method=relay")),
        "the private joiner reached the host through the owner's relay, one hop:\n{}",
        joiner.dump()
    );
    assert!(joiner.stdout().contains(&"CrHost: from CrHost".to_string()), "{}", joiner.dump());
    assert!(host.stdout().contains(&"CrJoin: from CrJoin".to_string()), "{}", host.dump());
}

#[test]
fn godot_host_on_node_1_with_clients_on_nodes_2_and_3() {
    if support::cluster::redis::skip() {
        return;
    }
    let c = Cluster::start(3, &[]);
    let host = godot(c.addr(0), "CgS", "CgHost", Some(3), 3);
    // The clients join once the session exists (as on one server: a join before it is refused).
    assert!(c.wait_owned(0, 1, Duration::from_secs(10)), "the Godot host's session on node 1");
    let client = godot(c.addr(1), "CgS", "CgClient", None, 0);
    let mut rust = Player::join(c.addr(2), "CgS", "CgRust", &["--send", "hi", "--expect", "0"]);
    for (name, result) in [("host", host.join()), ("client", client.join())] {
        assert!(result.ok, "Godot {name}: {result:?}\n{}", rust.dump());
        assert_eq!(result.wrong_field3, 0, "{result:?}");
        assert!(result.confirmed_by.iter().any(|n| n == "CgRust"), "{result:?}");
    }
    assert_eq!(rust.wait(WAIT), Some(0), "{}", rust.dump());
    assert_eq!(rust.line_fields("punch-done").expect("punch-done")[0].1, "2/2", "{}", rust.dump());
}
