//! Several server nodes in one virtual network (issue 19's first step): N real
//! [`rhp_cluster::Node`]s (each around the real, unchanged server engine) or one plain engine for
//! comparison, a model of the shared store, scripted players speaking raw datagrams, and real
//! client engines, on one virtual clock.
//!
//! It is its own small network, beside [`crate::net::Sim`] (which stays one server with NATs):
//! players and clients here have public addresses (no NAT), every link has a fixed delay (player
//! ↔ node [`ClusterNet::player_delay`], node ↔ node [`ClusterNet::node_delay`], node ↔ store
//! [`StoreModel::delay`] each way) and loses nothing unless a node is killed or the store is
//! made unreachable. Deterministic: no randomness but the engines' seeded tokens.
//!
//! Every player and client sits behind the filter a NAT applies ([`ClusterNet::filtered`], on by
//! default): a socket hears only from addresses it has sent to (port-restricted filtering, the
//! mapping keeping the address), so a node answering another node's player directly would be
//! dropped, as a real NAT drops it.
//!
//! Addresses: node `k` (0-based) listens at `198.51.100.(10+k)` ports 57775 (main) and 57776
//! (alternate STUN), and at `10.99.0.(k+1):7000` for frames from the other nodes; scripted player
//! `p` is `192.0.2.(10+p):40000`; client `i`'s sockets are at `192.0.2.(100+i)`.

use crate::endpoint::{ClientEndpoint, ClientOut};
use rhp_client::{ClientError, Event};
use rhp_cluster::store::{RequestId, StoreOp, StoreRequest, StoreResult};
use rhp_cluster::{ClusterConfig, Node, NodeId, CLUSTER};
use rhp_io::{Input, SocketId, Transmit};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

/// Most steps of one run (only a livelock reaches it).
const MAX_STEPS: u64 = 5_000_000;
/// The cluster secret of every run.
pub const SECRET: &[u8] = b"sim cluster secret";

/// Node `k`'s main address.
pub fn node_addr(k: usize) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 10 + k as u8)), 57775)
}

/// Node `k`'s alternate STUN address.
pub fn node_alt(k: usize) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 10 + k as u8)), 57776)
}

/// Node `k`'s address for frames from the other nodes.
pub fn node_cluster_addr(k: usize) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 99, 0, 1 + k as u8)), 7000)
}

/// Node `k`'s id (ids start at 1).
pub fn node_id(k: usize) -> NodeId {
    NodeId(k as u16 + 1)
}

/// The shared store, as a model: keys with values and expiries on the virtual clock, answered
/// after [`StoreModel::delay`]; while unreachable, requests that reach it are lost.
#[derive(Debug)]
pub struct StoreModel {
    keys: HashMap<String, (NodeId, Instant)>,
    /// One way's delay between a node and the store.
    pub delay: Duration,
    /// False: requests are lost (and so are answers on their way back).
    pub reachable: bool,
    /// Operations applied, by kind (`claim`, `refresh`, `release`, `lookup`, `heartbeat`, `nodes`).
    pub ops: BTreeMap<&'static str, u64>,
}

impl StoreModel {
    fn new() -> StoreModel {
        StoreModel {
            keys: HashMap::new(),
            delay: Duration::from_millis(1),
            reachable: true,
            ops: BTreeMap::new(),
        }
    }

    /// The value of `key` at `now` (`s:<name>` for a session name, `n:<id>` for a heartbeat).
    pub fn get(&self, now: Instant, key: &str) -> Option<NodeId> {
        self.keys.get(key).filter(|(_, exp)| *exp > now).map(|(v, _)| *v)
    }

    /// Operations applied over all kinds.
    pub fn op_count(&self) -> u64 {
        self.ops.values().sum()
    }

    fn apply(&mut self, now: Instant, op: &StoreOp) -> StoreResult {
        let kind = match op {
            StoreOp::Claim { .. } => "claim",
            StoreOp::Refresh { .. } => "refresh",
            StoreOp::Release { .. } => "release",
            StoreOp::Lookup { .. } => "lookup",
            StoreOp::Heartbeat { .. } => "heartbeat",
            StoreOp::Nodes => "nodes",
        };
        *self.ops.entry(kind).or_insert(0) += 1;
        match op {
            StoreOp::Claim { name, owner, ttl } => {
                let key = format!("s:{name}");
                match self.get(now, &key) {
                    Some(other) => StoreResult::Taken(other),
                    None => {
                        self.keys.insert(key, (*owner, now + *ttl));
                        StoreResult::Claimed
                    }
                }
            }
            StoreOp::Refresh { name, owner, ttl } => {
                let key = format!("s:{name}");
                let ours = self.get(now, &key) == Some(*owner);
                if ours {
                    self.keys.insert(key, (*owner, now + *ttl));
                }
                StoreResult::Refreshed(ours)
            }
            StoreOp::Release { name, owner } => {
                let key = format!("s:{name}");
                if self.get(now, &key) == Some(*owner) {
                    self.keys.remove(&key);
                }
                StoreResult::Done
            }
            StoreOp::Lookup { name } => StoreResult::Found(self.get(now, &format!("s:{name}"))),
            StoreOp::Heartbeat { node, ttl } => {
                self.keys.insert(format!("n:{}", node.0), (*node, now + *ttl));
                StoreResult::Done
            }
            StoreOp::Nodes => {
                let mut live: Vec<NodeId> = self
                    .keys
                    .iter()
                    .filter(|(k, (_, exp))| k.starts_with("n:") && *exp > now)
                    .map(|(_, (n, _))| *n)
                    .collect();
                live.sort();
                StoreResult::Nodes(live)
            }
        }
    }
}

/// A server: a cluster node, or the plain engine (the one-node baseline).
#[allow(clippy::large_enum_variant)]
pub enum Server {
    /// A node of the cluster.
    Node(Node),
    /// The plain engine, no cluster.
    Plain(rhp_server::Engine),
}

impl Server {
    /// The engine inside.
    pub fn engine(&self) -> &rhp_server::Engine {
        match self {
            Server::Node(n) => n.engine(),
            Server::Plain(e) => e,
        }
    }

    /// The node (None for the plain engine).
    pub fn node(&self) -> Option<&Node> {
        match self {
            Server::Node(n) => Some(n),
            Server::Plain(_) => None,
        }
    }
}

/// A scripted player: raw datagrams out, everything it receives kept.
#[derive(Debug)]
pub struct Player {
    /// Its address.
    pub addr: SocketAddr,
    /// The node address it talks to.
    pub server: SocketAddr,
    /// What it received: when, from where, what.
    pub inbox: Vec<(Instant, SocketAddr, Vec<u8>)>,
}

impl Player {
    /// The payloads it received, as text, in order.
    pub fn texts(&self) -> Vec<String> {
        self.inbox.iter().map(|(_, _, d)| String::from_utf8_lossy(d).into_owned()).collect()
    }
}

/// A real client engine with a public address.
pub struct Client {
    /// The engine.
    pub endpoint: ClientEndpoint,
    /// Its IP.
    pub ip: IpAddr,
    sockets: BTreeMap<SocketId, u16>,
    next_port: u16,
    /// When it wants to be woken.
    pub next: Instant,
    /// What it reported.
    pub events: Vec<(Instant, Event)>,
    /// Its run's end, once known.
    pub outcome: Option<Result<(), ClientError>>,
}

enum Flight {
    /// A datagram on the wire.
    Datagram { from: SocketAddr, to: SocketAddr, data: Vec<u8> },
    /// A request reaching the store.
    ToStore { node: usize, request: StoreRequest },
    /// An answer reaching a node.
    FromStore { node: usize, id: RequestId, result: StoreResult },
}

struct Slot {
    server: Option<Server>,
    next: Option<Instant>,
}

/// The network of several nodes.
pub struct ClusterNet {
    /// The virtual clock.
    pub now: Instant,
    /// The run's first instant.
    pub t0: Instant,
    slots: Vec<Slot>,
    /// The store.
    pub store: StoreModel,
    /// The scripted players.
    pub players: Vec<Player>,
    /// The real clients.
    pub clients: Vec<Client>,
    /// Player ↔ node and client ↔ anything, one way.
    pub player_delay: Duration,
    /// Node ↔ node, one way.
    pub node_delay: Duration,
    /// Players and clients hear only from addresses they sent to (see the module's docs).
    pub filtered: bool,
    /// Datagrams a filter dropped.
    pub filtered_out: u64,
    /// Relay frames each client sent, per destination: (client, to) → count.
    pub relay_frames: BTreeMap<(usize, SocketAddr), u64>,
    /// (local, remote) pairs a player's or client's socket has sent to.
    sent: HashSet<(SocketAddr, SocketAddr)>,
    heap: BinaryHeap<Reverse<(Instant, u64)>>,
    flights: HashMap<u64, Flight>,
    seq: u64,
    steps: u64,
    scratch: Transmit,
}

impl ClusterNet {
    /// `n` cluster nodes with the engine's `config` and `tweak` applied to each node's cluster
    /// settings.
    pub fn cluster(n: usize, config: rhp_server::Config, tweak: impl Fn(&mut ClusterConfig)) -> ClusterNet {
        let mut net = ClusterNet::empty();
        for k in 0..n {
            let peers = (0..n).filter(|j| *j != k).map(|j| (node_id(j), node_cluster_addr(j))).collect();
            let mut cc = ClusterConfig::new(node_id(k), peers, SECRET);
            tweak(&mut cc);
            let mut node = Node::new(config.clone(), cc, net.now);
            node.engine_mut().seed_tokens(k as u64 + 1);
            net.slots.push(Slot { server: Some(Server::Node(node)), next: None });
            net.drain_node(k);
        }
        net
    }

    /// One plain engine (no cluster, no store): the baseline.
    pub fn plain(config: rhp_server::Config) -> ClusterNet {
        let mut net = ClusterNet::empty();
        let mut engine = rhp_server::Engine::new(config);
        engine.seed_tokens(1);
        net.slots.push(Slot { server: Some(Server::Plain(engine)), next: None });
        net.drain_node(0);
        net
    }

    fn empty() -> ClusterNet {
        let t0 = Instant::now();
        ClusterNet {
            now: t0,
            t0,
            slots: Vec::new(),
            store: StoreModel::new(),
            players: Vec::new(),
            clients: Vec::new(),
            player_delay: Duration::from_millis(10),
            node_delay: Duration::from_millis(1),
            filtered: true,
            filtered_out: 0,
            relay_frames: BTreeMap::new(),
            sent: HashSet::new(),
            heap: BinaryHeap::new(),
            flights: HashMap::new(),
            seq: 0,
            steps: 0,
            scratch: Transmit::empty(),
        }
    }

    /// Server `k` (None once killed).
    pub fn server(&self, k: usize) -> Option<&Server> {
        self.slots.get(k).and_then(|s| s.server.as_ref())
    }

    /// Node `k` (None once killed, or for the plain engine).
    pub fn node(&self, k: usize) -> Option<&Node> {
        self.server(k).and_then(Server::node)
    }

    /// Checks every live engine's invariants (`rhp_server::Engine::check_invariants`).
    pub fn check_invariants(&self) -> Result<(), String> {
        for (k, slot) in self.slots.iter().enumerate() {
            if let Some(s) = &slot.server {
                s.engine().check_invariants().map_err(|e| format!("server {k}: {e}"))?;
            }
        }
        Ok(())
    }

    /// How many server slots (live or killed).
    pub fn server_count(&self) -> usize {
        self.slots.len()
    }

    /// Node `k` dies at once: nothing listens at its addresses, its requests in flight to the
    /// store still arrive (they were sent), answers to it are lost.
    pub fn kill_node(&mut self, k: usize) {
        self.slots[k] = Slot { server: None, next: None };
    }

    /// A scripted player talking to server `k` (the plain engine is server 0).
    pub fn add_player(&mut self, k: usize) -> usize {
        let p = self.players.len();
        let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10 + p as u8)), 40000);
        self.players.push(Player { addr, server: node_addr(k), inbox: Vec::new() });
        p
    }

    /// Player `p` sends `text` to its node.
    pub fn send(&mut self, p: usize, text: &str) {
        self.send_bytes(p, text.as_bytes());
    }

    /// Player `p` sends `data` to its node.
    pub fn send_bytes(&mut self, p: usize, data: &[u8]) {
        let (from, to) = (self.players[p].addr, self.players[p].server);
        self.sent.insert((from, to));
        self.schedule(self.now + self.player_delay, Flight::Datagram { from, to, data: data.to_vec() });
    }

    /// A real client engine with `config` (its server address decides its node).
    pub fn add_client(&mut self, mut config: rhp_client::Config) -> usize {
        let i = self.clients.len();
        config.seed = 1000 + i as u64;
        let ip = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100 + i as u8));
        let endpoint = ClientEndpoint::new(config, self.now).expect("a valid client config");
        let mut sockets = BTreeMap::new();
        sockets.insert(SocketId::MAIN, 50000);
        sockets.insert(rhp_client::WATCH, 49000);
        self.clients.push(Client {
            endpoint,
            ip,
            sockets,
            next_port: 50001,
            next: self.now,
            events: Vec::new(),
            outcome: None,
        });
        let now = self.now;
        self.clients[i].endpoint.handle(Input::Opened { now, id: SocketId::MAIN, local_port: Some(50000) });
        self.drain_client(i);
        i
    }

    /// Runs an app command on client `i`, then drains it.
    pub fn command<R>(&mut self, i: usize, f: impl FnOnce(&mut ClientEndpoint, Instant) -> R) -> R {
        let now = self.now;
        let r = f(&mut self.clients[i].endpoint, now);
        self.drain_client(i);
        r
    }

    // ---- running ----

    fn next_event(&self) -> Option<Instant> {
        let flight = self.heap.peek().map(|Reverse((t, _))| *t);
        let nodes = self.slots.iter().filter_map(|s| s.next).min();
        let clients = self.clients.iter().map(|c| c.next).min();
        [flight, nodes, clients].into_iter().flatten().min()
    }

    /// Advances to the earliest delivery or deadline and handles everything due then.
    pub fn step(&mut self) -> bool {
        self.steps += 1;
        assert!(self.steps < MAX_STEPS, "cluster simulation livelocked");
        let Some(t) = self.next_event() else { return false };
        self.now = self.now.max(t);
        let now = self.now;
        if let Some(Reverse((at, id))) = self.heap.peek().copied() {
            if at <= now {
                self.heap.pop();
                if let Some(f) = self.flights.remove(&id) {
                    self.fly(f);
                }
                return true;
            }
        }
        for k in 0..self.slots.len() {
            if self.slots[k].next.is_some_and(|t| t <= now) {
                match &mut self.slots[k].server {
                    Some(Server::Node(n)) => n.handle_input(Input::Timeout(now)),
                    Some(Server::Plain(e)) => e.handle_timeout(now),
                    None => {}
                }
                self.drain_node(k);
                return true;
            }
        }
        for i in 0..self.clients.len() {
            if self.clients[i].next <= now {
                self.clients[i].endpoint.handle(Input::Timeout(now));
                self.drain_client(i);
                return true;
            }
        }
        true
    }

    /// Runs for `d` of virtual time.
    pub fn run_for(&mut self, d: Duration) {
        let end = self.now + d;
        while self.next_event().is_some_and(|t| t <= end) {
            self.step();
        }
        self.now = self.now.max(end);
    }

    /// Runs until `goal` holds; panics if it does not within `limit` of virtual time.
    pub fn run_until(&mut self, limit: Duration, mut goal: impl FnMut(&ClusterNet) -> bool) {
        let end = self.now + limit;
        while !goal(self) {
            assert!(self.now <= end, "goal not reached within {limit:?}");
            if !self.step() {
                panic!("ran out of events before reaching the goal");
            }
        }
    }

    fn schedule(&mut self, at: Instant, f: Flight) {
        let id = self.seq;
        self.seq += 1;
        self.flights.insert(id, f);
        self.heap.push(Reverse((at, id)));
    }

    fn fly(&mut self, f: Flight) {
        let now = self.now;
        match f {
            Flight::Datagram { from, to, data } => self.deliver(from, to, &data),
            Flight::ToStore { node, request } => {
                if self.store.reachable {
                    let result = self.store.apply(now, &request.op);
                    let f = Flight::FromStore { node, id: request.id, result };
                    self.schedule(now + self.store.delay, f);
                }
            }
            Flight::FromStore { node, id, result } => {
                if !self.store.reachable {
                    return;
                }
                if let Some(Some(Server::Node(n))) = self.slots.get_mut(node).map(|s| s.server.as_mut()) {
                    n.handle_store_result(now, id, result);
                    self.drain_node(node);
                }
            }
        }
    }

    fn deliver(&mut self, from: SocketAddr, to: SocketAddr, data: &[u8]) {
        let now = self.now;
        let to_node =
            (0..self.slots.len()).any(|k| [node_addr(k), node_alt(k), node_cluster_addr(k)].contains(&to));
        if !to_node && self.filtered && !self.sent.contains(&(to, from)) {
            self.filtered_out += 1;
            return;
        }
        for k in 0..self.slots.len() {
            let via = if to == node_addr(k) {
                SocketId::MAIN
            } else if to == node_alt(k) {
                rhp_server::ALT
            } else if to == node_cluster_addr(k) {
                CLUSTER
            } else {
                continue;
            };
            let input = Input::Datagram { now, via, from, data };
            match &mut self.slots[k].server {
                Some(Server::Node(n)) => n.handle_input(input),
                Some(Server::Plain(e)) if via != CLUSTER => e.handle_input(input),
                _ => return,
            }
            return self.drain_node(k);
        }
        if let Some(p) = self.players.iter_mut().find(|p| p.addr == to) {
            p.inbox.push((now, from, data.to_vec()));
            return;
        }
        let found = self.clients.iter().enumerate().find_map(|(i, c)| {
            (c.ip == to.ip())
                .then(|| c.sockets.iter().find(|(_, port)| **port == to.port()).map(|(id, _)| (i, *id)))?
        });
        if let Some((i, via)) = found {
            self.clients[i].endpoint.handle(Input::Datagram { now, via, from, data });
            self.drain_client(i);
        }
    }

    fn drain_node(&mut self, k: usize) {
        let mut out = std::mem::replace(&mut self.scratch, Transmit::empty());
        let mut sends = Vec::new();
        let mut asks = Vec::new();
        match &mut self.slots[k].server {
            Some(Server::Node(n)) => {
                while n.poll_transmit(&mut out) {
                    sends.push((out.via, out.to, std::mem::take(&mut out.data)));
                    assert!(sends.len() < 1_000_000, "node {k} keeps sending");
                }
                while let Some(r) = n.poll_store() {
                    asks.push(r);
                }
                self.slots[k].next = n.poll_timeout();
            }
            Some(Server::Plain(e)) => {
                while e.poll_transmit(&mut out) {
                    sends.push((out.via, out.to, out.data.clone()));
                    assert!(sends.len() < 1_000_000, "server keeps sending");
                }
                self.slots[k].next = e.poll_timeout();
            }
            None => self.slots[k].next = None,
        }
        self.scratch = out;
        for (via, to, data) in sends {
            let (from, delay) = match via {
                CLUSTER => (node_cluster_addr(k), self.node_delay),
                rhp_server::ALT => (node_alt(k), self.player_delay),
                _ => (node_addr(k), self.player_delay),
            };
            self.schedule(self.now + delay, Flight::Datagram { from, to, data });
        }
        for request in asks {
            self.schedule(self.now + self.store.delay, Flight::ToStore { node: k, request });
        }
    }

    fn drain_client(&mut self, i: usize) {
        for _ in 0..64 {
            let mut opened = Vec::new();
            for n in 0.. {
                assert!(n < 1_000_000, "client {i} keeps sending");
                match self.clients[i].endpoint.poll() {
                    ClientOut::Transmit(t) => {
                        let c = &self.clients[i];
                        let Some(port) = c.sockets.get(&t.via) else { continue };
                        let from = SocketAddr::new(c.ip, *port);
                        self.sent.insert((from, t.to));
                        if rhp_proto::relay::is_frame(&t.data) {
                            *self.relay_frames.entry((i, t.to)).or_insert(0) += 1;
                        }
                        self.schedule(
                            self.now + self.player_delay,
                            Flight::Datagram { from, to: t.to, data: t.data },
                        );
                    }
                    ClientOut::Open(id) => {
                        let c = &mut self.clients[i];
                        let port = c.next_port;
                        c.next_port = c.next_port.wrapping_add(1);
                        c.sockets.insert(id, port);
                        opened.push((id, port));
                    }
                    ClientOut::Close(id) => {
                        self.clients[i].sockets.remove(&id);
                    }
                    ClientOut::Event(e) => self.clients[i].events.push((self.now, e)),
                    ClientOut::Timeout(t) => {
                        self.clients[i].next = t;
                        break;
                    }
                }
            }
            if self.clients[i].outcome.is_none() {
                self.clients[i].outcome = self.clients[i].endpoint.take_outcome();
            }
            if opened.is_empty() {
                return;
            }
            let now = self.now;
            for (id, port) in opened {
                self.clients[i].endpoint.handle(Input::Opened { now, id, local_port: Some(port) });
            }
        }
        panic!("client {i} keeps opening sockets");
    }
}
