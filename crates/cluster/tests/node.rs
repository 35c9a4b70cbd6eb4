//! One node driven by hand, the store answered (or not) by the test: claims and releases, a
//! name taken elsewhere forwarded as a frame, the hold's bound, the store's deadline (refusal
//! with the documented code, then at once), recovery, and frames that are not from a peer.

use rhp_cluster::frame::{Frame, Kind};
use rhp_cluster::store::{StoreOp, StoreRequest, StoreResult};
use rhp_cluster::{ClusterConfig, Node, NodeId, CLUSTER};
use rhp_io::{Input, SocketId, Transmit};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const SECRET: &[u8] = b"s";

fn peer() -> SocketAddr {
    "10.99.0.2:7000".parse().unwrap()
}

fn player(n: u8) -> SocketAddr {
    SocketAddr::from(([192, 0, 2, n], 40000))
}

struct T {
    node: Node,
    now: Instant,
}

impl T {
    fn new(tweak: impl Fn(&mut ClusterConfig)) -> T {
        let now = Instant::now();
        let mut c = ClusterConfig::new(NodeId(1), vec![(NodeId(2), peer())], SECRET);
        tweak(&mut c);
        let mut t = T { node: Node::new(rhp_server::Config::default(), c, now), now };
        t.store(); // the first heartbeat and the live-nodes question
        t
    }

    fn send(&mut self, from: SocketAddr, text: &str) {
        let now = self.now;
        self.node.handle_input(Input::Datagram { now, via: SocketId::MAIN, from, data: text.as_bytes() });
    }

    fn out(&mut self) -> Vec<Transmit> {
        let mut t = Transmit::empty();
        let mut v = Vec::new();
        while self.node.poll_transmit(&mut t) {
            v.push(t.clone());
        }
        v
    }

    /// What went to `to` (everything else queued is dropped).
    fn texts_to(&mut self, to: SocketAddr) -> Vec<String> {
        self.out()
            .into_iter()
            .filter(|t| t.to == to)
            .map(|t| String::from_utf8_lossy(&t.data).into_owned())
            .collect()
    }

    fn store(&mut self) -> Vec<StoreRequest> {
        std::iter::from_fn(|| self.node.poll_store()).collect()
    }

    fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        for _ in 0..100_000 {
            match self.node.poll_timeout() {
                Some(t) if t <= end => {
                    self.now = self.now.max(t);
                    self.node.handle_input(Input::Timeout(self.now));
                }
                _ => break,
            }
        }
        self.now = end;
    }
}

fn claim_of(reqs: &[StoreRequest]) -> &StoreRequest {
    reqs.iter().find(|r| matches!(r.op, StoreOp::Claim { .. })).expect("a claim")
}

#[test]
fn a_claimed_name_is_served_here_and_released_when_its_session_ends() {
    let mut t = T::new(|_| {});
    t.send(player(1), "h:S1:amy:4");
    assert!(t.out().is_empty(), "held until the store answers");
    let reqs = t.store();
    let claim = claim_of(&reqs);
    assert!(matches!(&claim.op, StoreOp::Claim { name, owner: NodeId(1), .. } if name == "S1"));
    t.node.handle_store_result(t.now, claim.id, StoreResult::Claimed);
    assert_eq!(t.texts_to(player(1)), ["i:amy"]);
    assert!(t.node.owns("S1"));
    // Served without the store from now on.
    t.send(player(1), "p:S1:amy");
    assert!(t.store().is_empty());
    t.send(player(1), "x:S1:amy");
    let reqs = t.store();
    assert!(reqs.iter().any(|r| matches!(&r.op, StoreOp::Release { name, .. } if name == "S1")), "{reqs:?}");
    assert!(!t.node.owns("S1"));
}

#[test]
fn a_name_taken_elsewhere_goes_to_its_owner_and_the_answer_back_to_the_player() {
    let mut t = T::new(|_| {});
    t.send(player(2), "c:S1:bob");
    let reqs = t.store();
    let lookup = reqs.iter().find(|r| matches!(r.op, StoreOp::Lookup { .. })).expect("a lookup");
    t.node.handle_store_result(t.now, lookup.id, StoreResult::Found(Some(NodeId(2))));
    let out = t.out();
    assert_eq!(out.len(), 1);
    assert_eq!((out[0].via, out[0].to), (CLUSTER, peer()));
    let f = Frame::decode(SECRET, &out[0].data).unwrap();
    assert_eq!(
        (f.kind, f.sender, f.player, f.payload),
        (Kind::ToOwner, NodeId(1), player(2), &b"c:S1:bob"[..])
    );
    // Cached: the next one goes at once.
    t.send(player(2), "p:S1:bob");
    assert!(t.store().is_empty());
    assert_eq!(t.out().len(), 1);
    // The owner's answer goes out of the main socket to the player.
    let mut frame = Vec::new();
    Frame { kind: Kind::ToPlayer, sender: NodeId(2), player: player(2), payload: b"i:amy:bob" }
        .encode(SECRET, &mut frame);
    let now = t.now;
    t.node.handle_input(Input::Datagram { now, via: CLUSTER, from: peer(), data: &frame });
    let out = t.out();
    assert_eq!(
        (out[0].via, out[0].to, out[0].data.as_slice()),
        (SocketId::MAIN, player(2), &b"i:amy:bob"[..])
    );
    // The same frame from another address, or under another secret, is refused.
    let now = t.now;
    t.node.handle_input(Input::Datagram { now, via: CLUSTER, from: player(9), data: &frame });
    frame[10] ^= 1;
    t.node.handle_input(Input::Datagram { now, via: CLUSTER, from: peer(), data: &frame });
    assert!(t.out().is_empty());
    assert_eq!(t.node.status().frames_bad, 2);
}

#[test]
fn the_hold_is_bounded() {
    let mut t = T::new(|c| {
        c.hold_names = 4;
        c.hold_per_name = 2;
    });
    for n in 0..10 {
        t.send(player(n), &format!("h:Name{n}:p:4"));
    }
    for _ in 0..5 {
        t.send(player(20), "c:Name0:q");
    }
    assert_eq!(t.store().len(), 4, "one request per held name");
    let s = t.node.status();
    assert_eq!((s.held_names, s.dropped), (4, 6 + 4), "{s:?}");
}

#[test]
fn an_unreachable_store_is_reported_refused_with_the_documented_codes_and_recovers() {
    let mut t = T::new(|_| {});
    t.send(player(1), "h:S1:amy:4");
    t.send(player(2), "c:S2:bobby");
    let _lost = t.store();
    t.advance(Duration::from_millis(700));
    assert!(!t.node.status().store_up);
    let out: Vec<(SocketAddr, Vec<u8>)> = t.out().into_iter().map(|t| (t.to, t.data)).collect();
    assert_eq!(
        out,
        [
            (player(1), b"error:too_many_sessions".to_vec()),
            (player(2), b"error:session_non_existent".to_vec())
        ]
    );
    // Refused at once now, nothing held.
    t.send(player(3), "h:S3:cat:4");
    assert_eq!(t.texts_to(player(3)), ["error:too_many_sessions"]);
    assert_eq!(t.node.status().held_names, 0);
    // Any answer (here the heartbeat's, late) says the store is back.
    t.advance(Duration::from_secs(1));
    let reqs = t.store();
    let hb = reqs.iter().find(|r| matches!(r.op, StoreOp::Heartbeat { .. })).expect("a heartbeat");
    t.node.handle_store_result(t.now, hb.id, StoreResult::Done);
    assert!(t.node.status().store_up);
    t.send(player(3), "h:S3:cat:4");
    let reqs = t.store();
    t.node.handle_store_result(t.now, claim_of(&reqs).id, StoreResult::Claimed);
    assert_eq!(t.texts_to(player(3)), ["i:cat"]);
    // Requests in flight stay bounded while nobody answers: each expires at its deadline.
    for _ in 0..100 {
        t.advance(Duration::from_secs(1));
        let _ = t.store();
    }
    assert!(t.node.status().store_inflight < 10, "{:?}", t.node.status());
}

#[test]
fn stun_is_answered_by_the_node_it_reached_from_the_socket_it_came_on() {
    let mut t = T::new(|_| {});
    let mut req = Vec::new();
    rhp_proto::stun::write_binding_request([7; 12], &mut req);
    for via in [SocketId::MAIN, rhp_server::ALT] {
        let now = t.now;
        t.node.handle_input(Input::Datagram { now, via, from: player(4), data: &req });
        let out = t.out();
        assert_eq!(out.len(), 1, "{via}");
        assert_eq!((out[0].via, out[0].to), (via, player(4)));
        let (txid, mapped) = rhp_proto::stun::parse_binding_response(&out[0].data).unwrap();
        assert_eq!((txid, mapped), ([7; 12], player(4)));
    }
    assert!(t.store().is_empty(), "STUN never asks the store");
}

#[test]
fn a_forwarded_player_is_answered_through_its_entry_node() {
    let mut t = T::new(|_| {});
    // amy hosts here.
    t.send(player(1), "h:S1:amy:4");
    let reqs = t.store();
    t.node.handle_store_result(t.now, claim_of(&reqs).id, StoreResult::Claimed);
    t.out();
    // bob's join comes through node 2.
    let mut frame = Vec::new();
    Frame { kind: Kind::ToOwner, sender: NodeId(2), player: player(2), payload: b"c:S1:bob" }
        .encode(SECRET, &mut frame);
    let now = t.now;
    t.node.handle_input(Input::Datagram { now, via: CLUSTER, from: peer(), data: &frame });
    let out = t.out();
    // amy hears it straight, bob through node 2.
    let to_amy: Vec<&Transmit> = out.iter().filter(|o| o.to == player(1)).collect();
    assert_eq!(to_amy.len(), 1);
    assert_eq!(to_amy[0].data, b"i:amy:bob");
    let to_node2: Vec<&Transmit> = out.iter().filter(|o| o.to == peer()).collect();
    assert_eq!(to_node2.len(), 1, "{out:?}");
    let f = Frame::decode(SECRET, &to_node2[0].data).unwrap();
    assert_eq!((f.kind, f.player, f.payload), (Kind::ToPlayer, player(2), &b"i:amy:bob"[..]));
    assert_eq!(t.node.status().remote_routes, 1);
    // bob now talks to this node directly: answered directly.
    t.send(player(2), "p:S1:bob");
    assert!(t.out().iter().all(|o| o.to == player(2) && o.via == SocketId::MAIN));
    assert_eq!(t.node.status().remote_routes, 0);
}

#[test]
fn a_flood_of_unknown_names_costs_the_store_a_bounded_rate() {
    let mut t = T::new(|c| {
        c.store_rate = 100;
        c.store_burst = 10;
    });
    let mut asked = 0;
    // Two seconds of 1,000 requests a second, each for a new name, answered at once.
    for ms in 0..2000u64 {
        t.now += Duration::from_millis(1);
        t.send(player(1), &format!("p:N{ms}:x"));
        for r in t.store() {
            if matches!(r.op, StoreOp::Lookup { .. }) {
                asked += 1;
                t.node.handle_store_result(t.now, r.id, StoreResult::Found(None));
            }
        }
    }
    assert!((200..=211).contains(&asked), "{asked} lookups");
    assert!(t.node.status().dropped >= 1700);
}
