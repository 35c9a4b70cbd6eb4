//! One server node of a cluster: the unchanged [`rhp_server::Engine`] plus the cross-node rules
//! (see the crate's docs for the rules and the decisions behind them).
//!
//! # Driving it (the [`rhp_io`] contract, plus the store)
//! 1. Feed an input with [`Node::handle_input`]: datagrams on [`SocketId::MAIN`] and
//!    [`rhp_server::ALT`] as for the engine, frames from other nodes on [`CLUSTER`], timeouts. Feed
//!    each store answer with [`Node::handle_store_result`].
//! 2. Drain [`Node::poll_transmit`] until it returns `false` (send each from the socket it names,
//!    `CLUSTER` included) and [`Node::poll_store`] until it returns `None` (run each request on
//!    the store and feed its answer back when it comes).
//! 3. Wake the node at [`Node::poll_timeout`] with [`Input::Timeout`].
//!
//! # A datagram's way through a node
//! - On `CLUSTER`: a frame, authenticated, from a known peer's address. `ToPlayer`: sent to the
//!   player from the main socket. `ToOwner`: handled as a datagram from the player (below), except
//!   that it is never forwarded again.
//! - On `ALT`, and STUN on `MAIN`: the engine answers (each node its own).
//! - A relay frame: to the owner this node forwards the sender for, else to the engine.
//! - A Rabid request for session `S`: to the engine if this node owns `S` (or its engine holds
//!   it); forwarded if the directory knows `S`'s owner; else held while the store is asked (a
//!   claim for `h:`, a lookup otherwise) and then fed or forwarded; refused at once while the
//!   store is marked down. Anything that does not parse: to the engine (it answers as one node).

use crate::directory::Directory;
use crate::frame::{Frame, Kind};
use crate::hold::{Added, Asking, Held, Hold};
use crate::rate::Bucket;
use crate::routes::Routes;
use crate::store::{RequestId, StoreOp, StoreRequest, StoreResult};
use crate::{ClusterConfig, NodeId, CLUSTER};
use rhp_io::{Input, SocketId, Transmit};
use rhp_proto::relay::is_frame;
use rhp_proto::stun::is_stun;
use rhp_proto::{ErrorCode, Request};
use rhp_server::{Engine, SessionStore};
use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::time::Instant;
use tracing::{debug, info, warn};

/// Most payload buffers kept for reuse.
const POOL_MAX: usize = 256;

/// Most peers a node keeps addresses for ([`Node::set_peer`]).
pub const MAX_PEERS: usize = 1024;

/// What a store request in flight is for.
#[derive(Debug, Clone)]
enum Purpose {
    /// Datagrams wait for it in the hold.
    Held,
    /// An owned name's refresh.
    Refresh(String),
    /// Claiming again a name whose refresh said it was no longer ours.
    Reclaim(String),
    /// The live nodes.
    Nodes,
    /// A release, or a heartbeat: nothing waits.
    Fire,
}

/// A node's counters and state, for `/readyz` and the metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeStatus {
    /// False from a store request's missed deadline until the store answers again.
    pub store_up: bool,
    /// Names this node owns.
    pub owned: usize,
    /// Names in the directory cache (owned by other nodes).
    pub cached: usize,
    /// Players this node forwards to an owner (entry side).
    pub entry_routes: usize,
    /// Players served through another node (owner side).
    pub remote_routes: usize,
    /// Names whose datagrams wait for the store.
    pub held_names: usize,
    /// Store requests in flight.
    pub store_inflight: usize,
    /// Store requests made so far.
    pub store_requests: u64,
    /// Store requests that missed their deadline.
    pub store_timeouts: u64,
    /// Datagrams refused because the store was unreachable.
    pub refused_store: u64,
    /// Frames sent to other nodes.
    pub frames_out: u64,
    /// Frames taken from other nodes.
    pub frames_in: u64,
    /// Datagrams on the cluster socket that were no valid frame from a known peer.
    pub frames_bad: u64,
    /// Datagrams dropped: the hold was full, the store request rate was spent, or a second hop
    /// would have been needed.
    pub dropped: u64,
    /// Owned names found taken by another node on refresh (after a store outage).
    pub claims_lost: u64,
    /// Peers the store reports dead (no heartbeat).
    pub peers_dead: usize,
    /// Datagrams a former owner bounced (this node's cache was stale).
    pub bounced: u64,
}

/// One server node.
#[derive(Debug)]
pub struct Node {
    engine: Engine,
    config: ClusterConfig,
    peers: HashMap<NodeId, SocketAddr>,
    /// Peers whose heartbeat the store no longer has (all peers count as alive until it says).
    dead: HashSet<NodeId>,
    /// Before this instant a peer missing from the live list is not taken for dead (nodes
    /// started together have not all written their first heartbeat yet).
    grace_until: Instant,
    /// When the store last answered: a request sent before it that then misses its deadline
    /// (it failed during the outage that answer ended) does not mark the store down again.
    last_answer: Option<Instant>,
    /// Names this node claimed and has not released.
    owned: HashSet<String>,
    directory: Directory,
    /// Entry side: player → the owner its datagrams go to.
    entry: Routes,
    /// Owner side: player → the entry node its datagrams came through.
    remote: Routes,
    /// Owner side: addresses that sent relay frames straight here (the grant named this node):
    /// the relay's frames to them leave from here, one hop.
    direct_relay: Routes,
    hold: Hold,
    /// Bounds the store requests datagrams cause.
    asks: Bucket,
    inflight: HashMap<RequestId, (Instant, Purpose)>,
    store_out: VecDeque<StoreRequest>,
    next_request: u64,
    out: VecDeque<Transmit>,
    /// Payload buffers given back by [`Node::poll_transmit`], reused (at most [`POOL_MAX`]).
    pool: Vec<Vec<u8>>,
    scratch: Transmit,
    next_tick: Instant,
    next_heartbeat: Instant,
    next_refresh: Instant,
    status: NodeStatus,
}

impl Node {
    /// A node running an engine with `config`, started at `now` (its first heartbeat is due at
    /// once).
    pub fn new(config: rhp_server::Config, cluster: ClusterConfig, now: Instant) -> Node {
        Node {
            engine: Engine::new(config),
            peers: cluster.peers.iter().copied().collect(),
            dead: HashSet::new(),
            grace_until: now + cluster.heartbeat_ttl,
            last_answer: None,
            owned: HashSet::new(),
            directory: Directory::new(cluster.cache_ttl, cluster.cache_max),
            entry: Routes::new(cluster.route_idle, cluster.route_max),
            remote: Routes::new(cluster.route_idle, cluster.route_max),
            direct_relay: Routes::new(cluster.route_idle, cluster.route_max),
            hold: Hold::new(cluster.hold_names, cluster.hold_per_name),
            asks: Bucket::new(cluster.store_rate, cluster.store_burst),
            inflight: HashMap::new(),
            store_out: VecDeque::new(),
            next_request: 0,
            out: VecDeque::new(),
            pool: Vec::new(),
            scratch: Transmit::empty(),
            next_tick: now,
            next_heartbeat: now,
            next_refresh: now + cluster.refresh_every,
            status: NodeStatus { store_up: true, ..NodeStatus::default() },
            config: cluster,
        }
    }

    /// This node's id.
    pub fn id(&self) -> NodeId {
        self.config.id
    }

    /// The engine (read-only: its counters, sessions, invariants).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The engine, for what the shell does to it directly (`seed_tokens`, `reconfigure`). Feeding
    /// it datagrams past the node would bypass the cluster's rules.
    pub fn engine_mut(&mut self) -> &mut Engine {
        &mut self.engine
    }

    /// The node's counters and state.
    pub fn status(&self) -> NodeStatus {
        NodeStatus {
            owned: self.owned.len(),
            cached: self.directory.len(),
            entry_routes: self.entry.len(),
            remote_routes: self.remote.len(),
            held_names: self.hold.len(),
            store_inflight: self.inflight.len(),
            peers_dead: self.dead.len(),
            ..self.status.clone()
        }
    }

    /// Learns (or updates) peer `id`'s cluster address, as the shell reads it from the peer's
    /// heartbeat in the store ([`ClusterConfig::peers`] is the static alternative). This node's
    /// own id is ignored; at most [`MAX_PEERS`] peers are kept (a new one beyond is ignored).
    pub fn set_peer(&mut self, id: NodeId, addr: SocketAddr) {
        if id == self.config.id || (self.peers.len() >= MAX_PEERS && !self.peers.contains_key(&id)) {
            return;
        }
        self.peers.insert(id, addr);
    }

    /// The node is stopping (a graceful shutdown): every name it owns is released in the store at
    /// once (queued for [`Node::poll_store`]), so that its sessions' names are free for other
    /// nodes now, not a claim's TTL later. Its sessions end with the process.
    pub fn shutdown(&mut self, now: Instant) {
        let mut names: Vec<String> = self.owned.drain().collect();
        names.sort_unstable();
        for name in names {
            self.ask(now, StoreOp::Release { name, owner: self.config.id }, Purpose::Fire);
        }
    }

    /// Whether this node owns `name` (it claimed it and has not released it).
    pub fn owns(&self, name: &str) -> bool {
        self.owned.contains(name)
    }

    /// Feeds one input: a datagram on `MAIN`, `ALT` or [`CLUSTER`], or a timeout.
    pub fn handle_input(&mut self, input: Input<'_>) {
        match input {
            Input::Datagram { now, via, from, data } => self.on_datagram(now, via, from, data),
            Input::Timeout(now) => self.on_timeout(now),
            Input::Opened { .. } | Input::Unreachable { .. } => {}
        }
    }

    /// The next datagram to send, into `out`; false when none is queued.
    /// The caller's buffer is kept for reuse, so a warm node allocates nothing to hand one over.
    pub fn poll_transmit(&mut self, out: &mut Transmit) -> bool {
        let Some(mut t) = self.out.pop_front() else { return false };
        std::mem::swap(out, &mut t);
        if self.pool.len() < POOL_MAX {
            t.data.clear();
            self.pool.push(t.data);
        }
        true
    }

    /// A transmit carrying a copy of `data` (in a pooled buffer).
    fn transmit(&mut self, via: SocketId, to: SocketAddr, data: &[u8]) -> Transmit {
        let mut buf = self.pool.pop().unwrap_or_default();
        buf.extend_from_slice(data);
        Transmit { via, to, data: buf }
    }

    /// The next request for the store; `None` when none is queued.
    pub fn poll_store(&mut self) -> Option<StoreRequest> {
        self.store_out.pop_front()
    }

    /// When the node must next be woken.
    pub fn poll_timeout(&self) -> Option<Instant> {
        Some(self.engine.poll_timeout().map_or(self.next_tick, |t| t.min(self.next_tick)))
    }

    /// The store's answer to request `id`, received at `now`. An answer of any kind says the
    /// store is reachable; one that comes after its deadline changes nothing else (what waited
    /// for it was refused already; a late claim lives until its TTL).
    pub fn handle_store_result(&mut self, now: Instant, id: RequestId, result: StoreResult) {
        if !self.status.store_up {
            info!("{}: the store answers again", self.config.id);
            self.status.store_up = true;
            // Claims may have run out meanwhile: refresh (and claim back) at the next tick.
            self.next_refresh = now;
            // A store that restarted empty has lost every heartbeat: a peer missing from the
            // live list is not taken for dead before it had the time to write its own again.
            self.grace_until = self.grace_until.max(now + self.config.heartbeat_ttl);
        }
        self.last_answer = Some(now);
        let Some((_, purpose)) = self.inflight.remove(&id) else { return };
        match purpose {
            Purpose::Held => {
                if let Some((name, asking, held)) = self.hold.take(id) {
                    self.on_answer(now, &name, asking, held, result);
                }
            }
            Purpose::Refresh(name) => {
                if result == StoreResult::Refreshed(false) && self.owned.contains(&name) {
                    let ttl = self.config.claim_ttl;
                    let op = StoreOp::Claim { name: name.clone(), owner: self.config.id, ttl };
                    self.ask(now, op, Purpose::Reclaim(name));
                }
            }
            Purpose::Reclaim(name) => match result {
                StoreResult::Taken(other) if other != self.config.id => {
                    warn!(
                        "{}: session {name:?} is claimed by {other} too; it stays here until it ends",
                        self.config.id
                    );
                    self.status.claims_lost += 1;
                    self.owned.remove(&name);
                }
                _ => {}
            },
            Purpose::Nodes => {
                if let StoreResult::Nodes(live) = result {
                    self.on_live_nodes(now, &live);
                }
            }
            Purpose::Fire => {}
        }
        self.drain_engine(now);
    }

    // ---- datagrams ----

    fn on_datagram(&mut self, now: Instant, via: SocketId, from: SocketAddr, data: &[u8]) {
        if via == CLUSTER {
            return self.on_frame(now, from, data);
        }
        if via != SocketId::MAIN || is_stun(data) {
            // Each node's own, answered from the socket it came on.
            self.engine.handle_datagram(now, via, from, data);
            return self.drain_engine(now);
        }
        if is_frame(data) && self.remote.get(now, from).is_some() {
            // A relay frame straight from a player served through another node (its grant named
            // this node): the relay's frames to it leave from here; its other messages still go
            // through the node it talks to (only that one's replies pass its NAT for them).
            self.direct_relay.touch(now, from, self.config.id);
            return self.feed(now, None, from, data);
        }
        // Straight from the player: replies to it leave from here from now on.
        self.remote.remove(from);
        if is_frame(data) {
            return match self.entry.get(now, from) {
                Some(owner) if self.dead.contains(&owner) => self.status.dropped += 1,
                Some(owner) => self.forward(now, owner, from, data),
                None => self.feed(now, None, from, data),
            };
        }
        self.on_request(now, None, from, data);
    }

    /// A datagram that is not STUN: a Rabid request (or garbage), from the player or forwarded.
    fn on_request(&mut self, now: Instant, through: Option<NodeId>, from: SocketAddr, data: &[u8]) {
        match Request::parse(data) {
            Ok(r) => {
                let host = matches!(r, Request::Host { .. });
                self.route(now, through, from, data, r.session(), host)
            }
            Err(_) => self.feed(now, through, from, data),
        }
    }

    /// A request for session `name`: local, forwarded, held for the store, or refused.
    fn route(
        &mut self,
        now: Instant,
        through: Option<NodeId>,
        from: SocketAddr,
        data: &[u8],
        name: &str,
        host: bool,
    ) {
        if self.owned.contains(name) || self.engine.store().get(name).is_some() {
            self.feed(now, through, from, data);
            return self.check_name(now, name);
        }
        let known = match self.status.store_up {
            true => self.directory.get(now, name),
            false => self.directory.get_stale(name),
        };
        if let Some(owner) = known {
            return match through {
                _ if self.dead.contains(&owner) => self.owner_dead(through, from, data.len(), host),
                None => self.forward(now, owner, from, data),
                Some(entry) => self.bounce(entry, from, data),
            };
        }
        if !self.status.store_up {
            return self.refuse(through, from, data.len(), host);
        }
        if !self.hold.waits(name) && !self.asks.take(now) {
            self.status.dropped += 1;
            return;
        }
        let held = Held { from, through, data: data.to_vec(), host };
        match self.hold.add(name, held, RequestId(self.next_request)) {
            Added::Joined => {}
            Added::Dropped => self.status.dropped += 1,
            Added::Ask(asking) => {
                let op = match asking {
                    Asking::Claim => StoreOp::Claim {
                        name: name.to_owned(),
                        owner: self.config.id,
                        ttl: self.config.claim_ttl,
                    },
                    Asking::Lookup => StoreOp::Lookup { name: name.to_owned() },
                };
                self.ask(now, op, Purpose::Held);
            }
        }
    }

    /// The store answered about `name`, for which `held` waited.
    fn on_answer(&mut self, now: Instant, name: &str, asking: Asking, held: Vec<Held>, result: StoreResult) {
        let owner = match result {
            StoreResult::Claimed => Some(self.config.id),
            StoreResult::Taken(n) => Some(n),
            StoreResult::Found(n) => n,
            StoreResult::Refreshed(_) | StoreResult::Done | StoreResult::Nodes(_) => None,
        };
        debug!("{}: {asking:?} {name:?} -> {owner:?}", self.config.id);
        match owner {
            Some(me) if me == self.config.id => {
                self.owned.insert(name.to_owned());
                for h in held {
                    self.feed(now, h.through, h.from, &h.data);
                }
                self.check_name(now, name);
            }
            Some(dead) if self.dead.contains(&dead) => {
                for h in held {
                    self.owner_dead(h.through, h.from, h.data.len(), h.host);
                }
            }
            Some(other) => {
                self.directory.insert(now, name, other);
                for h in held {
                    match h.through {
                        None => self.forward(now, other, h.from, &h.data),
                        Some(entry) => self.bounce(entry, h.from, &h.data),
                    }
                }
            }
            None => {
                // Free: the lookups' datagrams go to the engine (it answers as one node would);
                // from the first `h:` on, they wait for a claim.
                let mut claiming = false;
                for h in held {
                    if h.host || claiming {
                        claiming = true;
                        self.route(now, h.through, h.from, &h.data, name, h.host);
                    } else {
                        self.feed(now, h.through, h.from, &h.data);
                    }
                }
            }
        }
    }

    /// Into the local engine (as from the player, whichever node it came through).
    fn feed(&mut self, now: Instant, through: Option<NodeId>, from: SocketAddr, data: &[u8]) {
        if let Some(n) = through {
            self.remote.touch(now, from, n);
        }
        self.engine.handle_datagram(now, SocketId::MAIN, from, data);
        self.drain_engine(now);
    }

    /// To `owner`, as the player's datagram.
    fn forward(&mut self, now: Instant, owner: NodeId, from: SocketAddr, data: &[u8]) {
        if owner == self.config.id {
            return self.feed(now, None, from, data);
        }
        self.entry.touch(now, from, owner);
        self.send_frame(owner, Kind::ToOwner, from, data);
    }

    /// A forwarded datagram for a session another node holds: back to the entry node, so that it
    /// forgets its stale cache entry (one hop only: the datagram itself is dropped).
    fn bounce(&mut self, entry: NodeId, player: SocketAddr, data: &[u8]) {
        self.status.dropped += 1;
        self.send_frame(entry, Kind::Bounce, player, data);
    }

    fn send_frame(&mut self, to: NodeId, kind: Kind, player: SocketAddr, payload: &[u8]) {
        let Some(addr) = self.peers.get(&to).copied() else {
            self.status.dropped += 1;
            return;
        };
        let mut data = self.pool.pop().unwrap_or_default();
        Frame { kind, sender: self.config.id, player, payload }.encode(&self.config.secret, &mut data);
        self.status.frames_out += 1;
        self.out.push_back(Transmit { via: CLUSTER, to: addr, data });
    }

    fn on_frame(&mut self, now: Instant, from: SocketAddr, data: &[u8]) {
        let frame = match Frame::decode(&self.config.secret, data) {
            Ok(f) if self.peers.get(&f.sender) == Some(&from) => f,
            _ => {
                self.status.frames_bad += 1;
                return;
            }
        };
        self.status.frames_in += 1;
        match frame.kind {
            Kind::ToPlayer => {
                let t = self.transmit(SocketId::MAIN, frame.player, frame.payload);
                self.out.push_back(t);
            }
            Kind::Bounce => {
                // Forget the bouncer as the name's owner; the player's next datagram asks afresh.
                if let Ok(r) = Request::parse(frame.payload) {
                    let name = r.session();
                    if self.directory.get_stale(name) == Some(frame.sender) {
                        self.directory.remove(name);
                    }
                }
                self.status.bounced += 1;
            }
            // STUN is each node's own: the entry node answers it and never forwards it.
            Kind::ToOwner if is_stun(frame.payload) => self.status.dropped += 1,
            Kind::ToOwner if is_frame(frame.payload) => {
                self.feed(now, Some(frame.sender), frame.player, frame.payload)
            }
            Kind::ToOwner => self.on_request(now, Some(frame.sender), frame.player, frame.payload),
        }
    }

    /// The store is down: what needs it is refused at once (see the crate's docs for the codes).
    /// Sent only when the answer is at most 3× the request (the budget's factor for an address
    /// that is not a member) or the address is a player this node forwarded for lately (its
    /// datagrams came from it: not spoofed), so a spoofed request cannot make the node a
    /// reflector.
    fn refuse(&mut self, through: Option<NodeId>, to: SocketAddr, request_len: usize, host: bool) {
        self.status.refused_store += 1;
        let code = if host { ErrorCode::TooManySessions } else { ErrorCode::SessionNonExistent };
        self.answer(through, to, request_len, code);
    }

    /// The name's owner is dead: its session is gone, its name taken until its claim runs out.
    /// A `h:` is answered `error:session_exists` (the name is in use, as on one node until the
    /// session's end), anything else `error:session_non_existent` (the session is gone).
    fn owner_dead(&mut self, through: Option<NodeId>, to: SocketAddr, request_len: usize, host: bool) {
        let code = if host { ErrorCode::SessionExists } else { ErrorCode::SessionNonExistent };
        self.answer(through, to, request_len, code);
    }

    /// Sends `error:<code>` to the player, if at most 3× the request (see [`Node::refuse`]).
    fn answer(&mut self, through: Option<NodeId>, to: SocketAddr, request_len: usize, code: ErrorCode) {
        let text = code.wire().as_bytes();
        let known = through.is_none() && self.entry.get_any(to);
        if text.len() > 3 * request_len && !known {
            return;
        }
        match through {
            None => {
                let t = self.transmit(SocketId::MAIN, to, text);
                self.out.push_back(t);
            }
            Some(n) => self.send_frame(n, Kind::ToPlayer, to, text),
        }
    }

    /// Moves what the engine queued to the node's queue; what is for a player served through
    /// another node becomes a frame to that node.
    fn drain_engine(&mut self, now: Instant) {
        let mut t = std::mem::replace(&mut self.scratch, Transmit::empty());
        while self.engine.poll_transmit(&mut t) {
            let direct = is_frame(&t.data) && self.direct_relay.get(now, t.to).is_some();
            match (t.via == SocketId::MAIN && !direct).then(|| self.remote.get(now, t.to)).flatten() {
                Some(entry) if t.data.starts_with(b"r:") && self.config.public.is_some() => {
                    // A relay grant through the entry node: it names this node for the frames.
                    let mut grant = t.data.clone();
                    if let Some(at) = self.config.public {
                        rhp_proto::relay::Grant::append_relay_at(&mut grant, at);
                    }
                    self.send_frame(entry, Kind::ToPlayer, t.to, &grant);
                }
                Some(entry) => self.send_frame(entry, Kind::ToPlayer, t.to, &t.data),
                None => {
                    let copy = self.transmit(t.via, t.to, &t.data);
                    self.out.push_back(copy);
                }
            }
        }
        self.scratch = t;
    }

    // ---- the store ----

    fn ask(&mut self, now: Instant, op: StoreOp, purpose: Purpose) {
        let id = RequestId(self.next_request);
        self.next_request += 1;
        let deadline = now + self.config.store_timeout;
        self.inflight.insert(id, (deadline, purpose));
        self.status.store_requests += 1;
        self.store_out.push_back(StoreRequest { id, op, deadline });
    }

    /// The store's list of live nodes: a peer missing from it is dead (its names forgotten from
    /// the cache, nothing forwarded to it); one back in it is alive again.
    fn on_live_nodes(&mut self, now: Instant, live: &[NodeId]) {
        let peers: Vec<NodeId> = self.peers.keys().copied().collect();
        for peer in peers {
            let alive = live.contains(&peer);
            if !alive && now >= self.grace_until && self.dead.insert(peer) {
                warn!("{}: {peer} has no heartbeat: dead", self.config.id);
                self.directory.forget_node(peer);
            } else if alive && self.dead.remove(&peer) {
                info!("{}: {peer} is alive again", self.config.id);
            }
        }
    }

    /// Releases `name` if this node owns it and its session is gone.
    fn check_name(&mut self, now: Instant, name: &str) {
        if self.owned.contains(name) && self.engine.store().get(name).is_none() {
            self.owned.remove(name);
            self.ask(now, StoreOp::Release { name: name.to_owned(), owner: self.config.id }, Purpose::Fire);
        }
    }

    // ---- time ----

    fn on_timeout(&mut self, now: Instant) {
        if self.engine.poll_timeout().is_some_and(|t| t <= now) {
            self.engine.handle_timeout(now);
            self.drain_engine(now);
        }
        if now >= self.next_tick {
            self.next_tick = now + self.config.tick;
            self.housekeeping(now);
        }
    }

    fn housekeeping(&mut self, now: Instant) {
        // Missed deadlines: the store is unreachable; what waited is refused.
        // (In request order, and names sorted below: a run is the same whatever the hashing.)
        let mut missed: Vec<RequestId> =
            self.inflight.iter().filter(|(_, (d, _))| *d <= now).map(|(id, _)| *id).collect();
        missed.sort_unstable();
        for id in missed {
            self.status.store_timeouts += 1;
            // Sent after the store's last answer: it says the store is unreachable now.
            let sent = self.inflight.get(&id).map(|(d, _)| *d - self.config.store_timeout);
            let news = match (sent, self.last_answer) {
                (Some(sent), Some(answer)) => sent >= answer,
                _ => true,
            };
            if self.status.store_up && news {
                warn!(
                    "{}: the store did not answer in {:?}: unreachable",
                    self.config.id, self.config.store_timeout
                );
                self.status.store_up = false;
            }
            if let Some((_, Purpose::Held)) = self.inflight.remove(&id) {
                for h in self.hold.take(id).map(|(_, _, held)| held).unwrap_or_default() {
                    self.refuse(h.through, h.from, h.data.len(), h.host);
                }
            }
        }
        // Sessions that ended (a timeout): their names go back. Every session the engine holds
        // is owned, so fewer sessions than names means some ended (an O(1) check first).
        if self.engine.session_count() < self.owned.len() {
            let store = self.engine.store();
            let mut gone: Vec<String> =
                self.owned.iter().filter(|n| store.get(n).is_none()).cloned().collect();
            gone.sort_unstable();
            for name in gone {
                self.check_name(now, &name);
            }
        }
        if now >= self.next_heartbeat {
            self.next_heartbeat = now + self.config.heartbeat_every;
            let op = StoreOp::Heartbeat { node: self.config.id, ttl: self.config.heartbeat_ttl };
            self.ask(now, op, Purpose::Fire);
            self.ask(now, StoreOp::Nodes, Purpose::Nodes);
        }
        // (Not while the store is down: the heartbeat probes it, and the claims are refreshed as
        // soon as it answers.)
        if now >= self.next_refresh && self.status.store_up {
            self.next_refresh = now + self.config.refresh_every;
            let mut names: Vec<String> = self.owned.iter().cloned().collect();
            names.sort_unstable();
            for name in names {
                self.check_name(now, &name);
                if !self.owned.contains(&name) {
                    continue;
                }
                let op = StoreOp::Refresh {
                    name: name.clone(),
                    owner: self.config.id,
                    ttl: self.config.claim_ttl,
                };
                self.ask(now, op, Purpose::Refresh(name));
            }
        }
        // While the store is down the cache is all the node knows: it keeps it.
        if self.status.store_up {
            self.directory.expire(now);
        }
        self.entry.expire(now);
        self.remote.expire(now);
    }
}
