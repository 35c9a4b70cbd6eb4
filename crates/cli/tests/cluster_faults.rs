//! Black-box, cluster mode, faults: `kill -9` of one of three nodes while sessions run on all
//! three (the others' sessions complete their start, the dead node's names are free again
//! within the claim's TTL), and the store stopped and restarted under load (nothing crashes,
//! `/readyz` goes red with the reason then green, sessions owned and reached locally never
//! notice — every ping of theirs answered on time throughout — every new session asked for is
//! answered, refused while the store is away, names are claimed again by themselves).

mod support;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use support::cluster::{redis::Redis, Cluster};
use support::Peer;

/// The claim TTL of the test nodes (`support::cluster::FAST`).
const CLAIM_TTL: Duration = Duration::from_millis(2000);

/// `h:`/`c:` from `peer`, resent every 100 ms (as clients do) until the answer satisfies `done`
/// (bounded by `within`); the answer and when it came.
fn resend_until(
    peer: &Peer,
    text: &str,
    within: Duration,
    done: impl Fn(&str) -> bool,
) -> Option<(String, Instant)> {
    let end = Instant::now() + within;
    while Instant::now() < end {
        peer.send(text);
        if let Some(got) = peer.recv_until(Duration::from_millis(100), |m| done(m)) {
            return Some((got, Instant::now()));
        }
    }
    None
}

/// What the pings saw: sent, answered, and the longest a player went without an answer.
#[derive(Debug, Default)]
struct Pings {
    sent: usize,
    answered: usize,
    longest_gap: Duration,
}

/// Sessions asked for, and the answers each got (none is silence).
#[derive(Debug, Default)]
struct Creates {
    asked: usize,
    created: usize,
    refused: usize,
    silent: usize,
}

/// Until `stop`: `players` (in sessions already, each talking to the node of its session) ping
/// every 50 ms, as a game's lobby does at 20×.
fn pinging(players: Vec<(Peer, String)>, stop: Arc<AtomicBool>) -> JoinHandle<Pings> {
    std::thread::spawn(move || {
        let mut l = Pings::default();
        let mut last: Vec<Instant> = vec![Instant::now(); players.len()];
        let end = Instant::now() + Duration::from_secs(60);
        // Answers are read without blocking (a read timeout of 1 ms is a scheduler tick).
        let mut read = |l: &mut Pings| {
            let mut buf = [0u8; 512];
            for (i, (p, _)) in players.iter().enumerate() {
                let _ = p.sock.set_nonblocking(true);
                while let Ok(n) = p.sock.recv(&mut buf) {
                    if buf[..n].starts_with(b"i:") {
                        l.answered += 1;
                        l.longest_gap = l.longest_gap.max(last[i].elapsed());
                        last[i] = Instant::now();
                    }
                }
            }
        };
        while !stop.load(Ordering::Relaxed) && Instant::now() < end {
            for (p, ping) in &players {
                p.send(ping);
                l.sent += 1;
            }
            std::thread::sleep(Duration::from_millis(50));
            read(&mut l);
        }
        std::thread::sleep(Duration::from_millis(100));
        read(&mut l);
        l
    })
}

/// Until `stop` and a session created after the last refusal (at most 60 s): `creator` asks its
/// node for a new session (`h:`, which needs the store) every 50 ms, waits for the answer and
/// leaves the session it got; `refused` counts the refusals as they come.
fn creating(creator: Peer, stop: Arc<AtomicBool>, refused: Arc<AtomicUsize>) -> JoinHandle<Creates> {
    std::thread::spawn(move || {
        let mut l = Creates::default();
        let mut created_since_refused = false;
        let end = Instant::now() + Duration::from_secs(60);
        while !(stop.load(Ordering::Relaxed) && created_since_refused) && Instant::now() < end {
            l.asked += 1;
            let n = l.asked;
            creator.send(&format!("h:Load{n}:Zed:2"));
            match creator
                .recv_until(Duration::from_secs(1), |m| m.starts_with("i:") || m.starts_with("error:"))
            {
                Some(m) if m == "i:Zed" => {
                    l.created += 1;
                    created_since_refused = true;
                    creator.send(&format!("x:Load{n}:Zed"));
                    let _ = creator.recv_until(Duration::from_millis(200), |m| m.starts_with("error:"));
                }
                Some(m) if m == "error:too_many_sessions" => {
                    l.refused += 1;
                    refused.fetch_add(1, Ordering::Relaxed);
                    created_since_refused = false;
                }
                Some(m) => panic!("h:Load{n}: unexpected {m}"),
                None => l.silent += 1,
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        l
    })
}

#[test]
fn kill_9_of_one_node_spares_the_others_sessions_and_frees_its_names() {
    if support::cluster::redis::skip() {
        return;
    }
    let mut c = Cluster::start(3, &[]);
    // Sessions on all three: A owned by node 1 (a joiner through node 2), B owned by node 2 (a
    // joiner through node 1, and one through node 3), D owned by node 3 (a joiner through 1).
    let a = (c.peer(0), c.peer(1));
    a.0.ask("h:A:Host:4", "i:Host");
    a.1.ask("c:A:Joe", "i:Host:Joe");
    a.0.expect("i:Host:Joe");
    let b = (c.peer(1), c.peer(0), c.peer(2));
    b.0.ask("h:B:Host:4", "i:Host");
    b.1.ask("c:B:Joe", "i:Host:Joe");
    b.0.expect("i:Host:Joe");
    b.2.ask("c:B:Zoe", "i:Host:Joe:Zoe");
    b.0.expect("i:Host:Joe:Zoe");
    b.1.expect("i:Host:Joe:Zoe");
    let d = (c.peer(2), c.peer(0));
    d.0.ask("h:D:Host:4", "i:Host");
    d.1.ask("c:D:Joe", "i:Host:Joe");
    let killed = Instant::now();
    c.kill9(2);
    // A and B start: every player not entered through the dead node gets its start message.
    a.0.send("s:A:Host");
    assert!(a.0.recv_until(Duration::from_secs(2), |m| m.starts_with("s:")).is_some());
    assert!(a.1.recv_until(Duration::from_secs(2), |m| m.starts_with("s:")).is_some());
    b.0.send("s:B:Host");
    assert!(b.0.recv_until(Duration::from_secs(2), |m| m.starts_with("s:")).is_some());
    assert!(b.1.recv_until(Duration::from_secs(2), |m| m.starts_with("s:")).is_some());
    // D's name is free again within the claim's TTL (plus a heartbeat TTL and a tick): created
    // anew on node 1; until then the answer is silence or error:session_exists.
    let again = c.peer(0);
    let got = resend_until(&again, "h:D:New:4", CLAIM_TTL * 3, |m| m == "i:New");
    let (_, at) = got.expect("the dead node's name is created again");
    let freed = at - killed;
    eprintln!("dead node's name free again after {freed:?} (claim TTL {CLAIM_TTL:?})");
    assert!(freed <= CLAIM_TTL + Duration::from_millis(1500), "{freed:?}");
    // The survivors report the dead peer.
    let m = c.metrics(0);
    assert_eq!(m.get("rhp_cluster_peers_dead"), Some(&1.0), "{m:?}");
}

#[test]
fn the_store_stopped_and_restarted() {
    if support::cluster::redis::skip() {
        return;
    }
    let mut c = Cluster::start(3, &[]);
    // A session owned and reached on node 1; one owned by node 1 reached through node 2.
    let local = (c.peer(0), c.peer(0));
    local.0.ask("h:Local:Alice:4", "i:Alice");
    local.1.ask("c:Local:Bob", "i:Alice:Bob");
    local.0.expect("i:Alice:Bob");
    let cross = (c.peer(0), c.peer(1));
    cross.0.ask("h:Cross:Alice:4", "i:Alice");
    cross.1.ask("c:Cross:Bob", "i:Alice:Bob");
    cross.0.expect("i:Alice:Bob");
    for k in 0..3 {
        assert_eq!(c.readyz(k).map(|r| r.0), Some(200));
    }
    // The load: fifty sessions of two owned and reached on node 1, fifty on node 3, all pinging
    // 20 times a second (4,000 pings/s); new sessions asked for on node 2 all along.
    let mut players = Vec::new();
    for (node, tag) in [(0, "A"), (2, "C")] {
        for i in 0..50 {
            let (h, j) = (c.peer(node), c.peer(node));
            let name = format!("L{tag}{i}");
            h.ask(&format!("h:{name}:Host:2"), "i:Host");
            j.ask(&format!("c:{name}:Joe"), "i:Host:Joe");
            h.expect("i:Host:Joe");
            players.push((h, format!("p:{name}:Host")));
            players.push((j, format!("p:{name}:Joe")));
        }
    }
    let load_players = players.len();
    let stop = Arc::new(AtomicBool::new(false));
    let refused = Arc::new(AtomicUsize::new(0));
    let pings = pinging(players, stop.clone());
    let creates = creating(c.peer(1), stop.clone(), refused.clone());
    let port = c.redis.port;
    c.redis.stop();
    for k in 0..3 {
        let (code, body) = c.wait_ready(k, 503, Duration::from_secs(5)).expect("readyz");
        assert_eq!(code, 503, "node {} red while the store is down: {body}", k + 1);
        assert!(body.contains("cluster_store_reachable failing: cluster store unreachable"), "{body}");
    }
    // Meanwhile the local session goes on: a third player joins, everyone hears it; the session
    // reached through node 2 still answers (node 2 keeps what it knew).
    let carol = c.peer(0);
    carol.ask("c:Local:Carol", "i:Alice:Bob:Carol");
    local.0.expect("i:Alice:Bob:Carol");
    local.1.expect("i:Alice:Bob:Carol");
    cross.1.ask("x:Cross:Bob", "error:player_exited_session");
    cross.0.expect("i:Alice");
    // What needs the store is refused at once: a new session (too many sessions: try later).
    c.peer(1).ask("h:New:Zed:4", "error:too_many_sessions");
    // The load goes on through the outage: a few refusals seen (bounded) before the store returns.
    let outage = Instant::now();
    while refused.load(Ordering::Relaxed) < 10 && outage.elapsed() < Duration::from_secs(10) {
        assert!(local.0.recv_until(Duration::from_millis(50), |_| false).is_none());
    }
    // The store comes back (empty: nothing on disk): every node turns green by itself.
    c.redis = Redis::start_on(port);
    for k in 0..3 {
        let (code, body) = c.wait_ready(k, 200, Duration::from_secs(5)).expect("readyz");
        assert_eq!(code, 200, "node {} green again: {body}", k + 1);
    }
    // The load ends once a session has been created again with the store back.
    stop.store(true, Ordering::Relaxed);
    let (p, n) = (pings.join().expect("pings ran"), creates.join().expect("creates ran"));
    eprintln!("under load while the store was stopped and restarted: {p:?} {n:?}");
    assert!(p.sent >= load_players * 10, "the pings ran through the outage: {p:?}");
    assert!(p.answered * 100 >= p.sent * 99, "local pings answered: {p:?}");
    assert!(p.longest_gap < Duration::from_millis(300), "no local player waited: {p:?}");
    assert_eq!(n.silent, 0, "every new session asked for was answered: {n:?}");
    assert!(n.refused >= 10 && n.created > 0, "refused while away, created otherwise: {n:?}");
    // The local session starts as if nothing happened.
    local.0.send("s:Local:Alice");
    for p in [&local.0, &local.1, &carol] {
        assert!(p.recv_until(Duration::from_secs(2), |m| m.starts_with("s:")).is_some(), "{}", p.addr());
    }
    // Names were claimed back: the local session's name is node 1's, a new session works.
    let zed = c.peer(1);
    let got = resend_until(&zed, "h:Cross:Zed:4", Duration::from_secs(3), |m| {
        m.starts_with("error:") || m.starts_with("i:")
    });
    assert_eq!(got.map(|g| g.0).as_deref(), Some("error:session_exists"), "Cross is still node 1's");
    zed.ask("h:New:Zed:4", "i:Zed");
    for k in 0..3 {
        assert!(c.metrics(k).get("rhp_cluster_store_up") == Some(&1.0));
    }
}

#[test]
fn a_graceful_stop_frees_the_nodes_names_at_once() {
    if support::cluster::redis::skip() {
        return;
    }
    // Claims for 30 s: freed by the stop, not by their TTL.
    let mut c = Cluster::start(2, &["--cluster-claim-ttl-ms", "30000"]);
    c.peer(1).ask("h:Gone:Host:4", "i:Host");
    let stopped = Instant::now();
    c.nodes[1].as_ref().expect("node 2").server.signal("TERM");
    assert!(c.nodes[1].as_mut().expect("node 2").server.wait_exit(Duration::from_secs(5)).is_some());
    let p = c.peer(0);
    let got = resend_until(&p, "h:Gone:New:4", Duration::from_secs(5), |m| m == "i:New");
    let (_, at) = got.expect("the stopped node's name is free");
    assert!(at - stopped < Duration::from_secs(5), "{:?}", at - stopped);
}
