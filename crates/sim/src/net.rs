//! The virtual network: one clock, the real server, N real clients behind their NAT routers
//! ("sites"), each client's access link, and the datagrams in flight.
//!
//! A datagram's way: the sender's engine emits it → the test's filter hook (pass, drop,
//! duplicate, hold) → the sender's link (loss, delay, jitter, reordering, duplication) → the
//! sender's NATs, innermost first ([`Nat::egress`]) → the internet (no delay) → the destination:
//! the server's main or alternate port, or a site's NATs outermost first ([`Nat::ingress`]) →
//! the receiver's link → the receiving socket. A datagram from the watch socket to an address
//! nobody listens at comes back as `Input::Unreachable`.
//!
//! [`Sim::step`] takes the earliest delivery or engine deadline; [`Sim::run_until`] and
//! [`Sim::run_until_idle`] are bounded and panic (fail the test) when the bound is hit. Every
//! delivery goes into a digest ([`Sim::digest_value`]): same seed, same digest.

use crate::endpoint::{ClientEndpoint, ClientOut, ServerEndpoint, ALT, WATCH};
use crate::firewall::Firewall;
use crate::link::Link;
use crate::nat::Nat;
use crate::rng::Rng;
use crate::trace::Digest;
use rhp_client::{ClientError, Event};
use rhp_io::{Input, SocketId, Transmit};
use rhp_lab::nat::NatType;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

/// The server's main address.
pub const SERVER: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 10)), 57775);
/// The server's alternate STUN address (the clients' default: main port + 1).
pub const SERVER_ALT: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 10)), 57776);
/// The server's IPv6 address (the same one dual-stack socket: the engine sees `MAIN`).
pub const SERVER6: SocketAddr =
    SocketAddr::new(IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0xffff, 0, 0, 0, 0, 0x10)), 57775);
/// The server's IPv6 alternate STUN address.
pub const SERVER6_ALT: SocketAddr =
    SocketAddr::new(IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0xffff, 0, 0, 0, 0, 0x10)), 57776);

/// Most steps of one run: a bound that only a livelock reaches.
const MAX_STEPS: u64 = 20_000_000;
/// Most steps at one instant: more means an engine keeps asking to be woken at a time that
/// has come without doing anything that moves it.
const MAX_SAME_INSTANT: u64 = 1_000_000;
/// A client's main socket's port (inside its site); further sockets count up from it.
const MAIN_PORT: u16 = 50000;
/// A client's watch socket's port.
const WATCH_PORT: u16 = 49000;

/// Who sent or receives a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Node {
    /// The rendezvous server.
    Server,
    /// Client number `n` (in the order added).
    Client(usize),
}

/// One datagram as its sender emitted it (`from`: the sender's own address, before any NAT).
#[derive(Debug, Clone)]
pub struct Packet {
    /// Sequence number over the whole run.
    pub id: u64,
    /// When it was sent.
    pub at: Instant,
    /// The sender.
    pub sender: Node,
    /// The sender's socket.
    pub via: SocketId,
    /// The sender's local address.
    pub from: SocketAddr,
    /// The destination.
    pub to: SocketAddr,
    /// The payload.
    pub data: Vec<u8>,
}

impl Packet {
    /// The payload as text (lossy), for filters and assertions.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.data).into_owned()
    }
}

/// What the filter hook does with one datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// On its way as usual.
    Pass,
    /// Lost.
    Drop,
    /// Sent twice.
    Duplicate,
    /// Kept aside until [`Sim::release`].
    Hold,
}

/// A site: one or more NAT routers in a chain (innermost first), and the clients behind them.
/// No NAT at all: the clients have public addresses. A dual-stack site also routes IPv6,
/// untranslated, through a stateful firewall: its clients have `2001:db8:<n>::<k>` too.
#[derive(Debug)]
pub struct Site {
    /// The routers, innermost first.
    pub nats: Vec<Nat>,
    /// Its IPv6 firewall; `None`: no IPv6 at this site.
    pub firewall: Option<Firewall>,
    /// The second octet of the inside prefix: clients are `10.<n>.0.<k>`.
    net: u8,
    members: usize,
}

/// A client in the simulation.
pub struct Client {
    /// The engine behind its adapter.
    pub endpoint: ClientEndpoint,
    /// Its site.
    pub site: usize,
    /// Its inside address.
    pub ip: IpAddr,
    /// Its IPv6 address (a dual-stack site's clients): its sockets serve both families.
    pub ip6: Option<IpAddr>,
    /// Its access link (both directions).
    pub link: Link,
    /// Its sockets: id → local port.
    sockets: BTreeMap<SocketId, u16>,
    next_port: u16,
    /// When it wants to be woken.
    pub next: Instant,
    /// Everything it reported, stamped.
    pub events: Vec<(Instant, Event)>,
    /// Its run's end, once known.
    pub outcome: Option<Result<(), ClientError>>,
    /// False once it stopped (left, or crashed): it neither hears nor sends.
    pub running: bool,
}

impl Client {
    /// The local address of socket `id`.
    pub fn local(&self, id: SocketId) -> Option<SocketAddr> {
        self.sockets.get(&id).map(|p| SocketAddr::new(self.ip, *p))
    }

    /// The source address of socket `id` towards `to`: its IPv6 address for an IPv6
    /// destination (none without one), else its IPv4 one.
    pub fn local_towards(&self, id: SocketId, to: SocketAddr) -> Option<SocketAddr> {
        let ip = if to.is_ipv6() { self.ip6? } else { self.ip };
        self.sockets.get(&id).map(|p| SocketAddr::new(ip, *p))
    }
}

enum Stage {
    /// Crossed the sender's side: meets the destination's NATs (or the server) now.
    Arrive { from: SocketAddr, sender: Node, sender_via: SocketId },
    /// Crossed the receiver's link: into the engine.
    Deliver { node: Node, via: SocketId, from: SocketAddr },
    /// An ICMP "port unreachable" back to a client's watch socket.
    Unreachable { client: usize },
}

struct Flight {
    stage: Stage,
    to: SocketAddr,
    data: Vec<u8>,
}

type Filter = Box<dyn FnMut(&Packet) -> Verdict>;

/// The virtual network.
pub struct Sim {
    /// The virtual clock.
    pub now: Instant,
    /// The instant the run began.
    pub t0: Instant,
    rng: Rng,
    /// The seed of this run (named in every failure, to replay it).
    pub seed: u64,
    server: Option<ServerEndpoint>,
    server_next: Option<Instant>,
    /// A muted server hears nothing and sends nothing, and nothing reports it gone (a firewall
    /// that drops): a silent server. A stopped one ([`Sim::stop_server`]) is gone: nothing listens.
    pub server_muted: bool,
    /// The clients, in the order added.
    pub clients: Vec<Client>,
    /// The sites.
    pub sites: Vec<Site>,
    heap: BinaryHeap<Reverse<(Instant, u64)>>,
    flights: HashMap<u64, Flight>,
    seq: u64,
    packets: u64,
    filter: Option<Filter>,
    held: Vec<Packet>,
    /// Every datagram sent, if [`Sim::record`] is on.
    pub wire: Vec<Packet>,
    /// Keep every datagram in [`Sim::wire`].
    pub record: bool,
    /// The run's digest (keep its lines with `digest.lines = Some(Vec::new())`).
    pub digest: Digest,
    steps: u64,
    /// Steps taken without the clock moving.
    same_instant: u64,
    scratch: Transmit,
}

impl Sim {
    /// An empty network with the real server (`config`), seeded with `seed`.
    pub fn new(seed: u64, config: rhp_server::Config) -> Sim {
        let t0 = Instant::now();
        let mut sim = Sim {
            now: t0,
            t0,
            rng: Rng::new(seed),
            seed,
            server: Some(ServerEndpoint::new(config, seed)),
            server_next: None,
            server_muted: false,
            clients: Vec::new(),
            sites: Vec::new(),
            heap: BinaryHeap::new(),
            flights: HashMap::new(),
            seq: 0,
            packets: 0,
            filter: None,
            held: Vec::new(),
            wire: Vec::new(),
            record: false,
            digest: Digest::default(),
            steps: 0,
            same_instant: 0,
            scratch: Transmit::empty(),
        };
        sim.server_next = sim.server.as_ref().and_then(ServerEndpoint::poll_timeout);
        sim
    }

    /// The server (None once stopped).
    pub fn server(&self) -> Option<&ServerEndpoint> {
        self.server.as_ref()
    }

    /// The server is gone: nothing listens at its ports any more.
    pub fn stop_server(&mut self) {
        self.server = None;
        self.server_next = None;
    }

    /// A site behind `nats` (innermost first; empty: public addresses). Its routers' public
    /// addresses: `203.0.113.<n>` outside, `100.64.<n>.<k>` between routers.
    pub fn add_site(&mut self, nats: &[NatType]) -> usize {
        let n = self.sites.len();
        let net = u8::try_from(n + 1).unwrap_or(u8::MAX);
        let last = nats.len().saturating_sub(1);
        let nats = nats
            .iter()
            .enumerate()
            .map(|(k, kind)| {
                let ip = if k == last {
                    Ipv4Addr::new(203, 0, 113, net)
                } else {
                    Ipv4Addr::new(100, 64, net, u8::try_from(k + 1).unwrap_or(u8::MAX))
                };
                Nat::new(*kind, IpAddr::V4(ip), self.rng.fork())
            })
            .collect();
        self.sites.push(Site { nats, firewall: None, net, members: 0 });
        n
    }

    /// A dual-stack site: behind `nats` for IPv4 (as [`Sim::add_site`]), and on IPv6 with public
    /// addresses behind a stateful firewall ([`Firewall`]).
    pub fn add_dual_site(&mut self, nats: &[NatType]) -> usize {
        let n = self.add_site(nats);
        self.sites[n].firewall = Some(Firewall::default());
        n
    }

    /// A client with `config` (its seed replaced by one from the sim's generator) in `site`,
    /// on `link`. Its main socket is bound at once.
    pub fn add_client(&mut self, site: usize, mut config: rhp_client::Config, link: Link) -> usize {
        config.seed = self.rng.next_u64();
        let i = self.clients.len();
        let s = &mut self.sites[site];
        s.members += 1;
        let host = u8::try_from(s.members + 1).unwrap_or(u8::MAX);
        let ip = if s.nats.is_empty() {
            IpAddr::V4(Ipv4Addr::new(192, 0, 2, u8::try_from(i + 2).unwrap_or(u8::MAX)))
        } else {
            IpAddr::V4(Ipv4Addr::new(10, s.net, 0, host))
        };
        let ip6 = s
            .firewall
            .as_ref()
            .map(|_| IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, u16::from(s.net), 0, 0, 0, 0, u16::from(host))));
        let endpoint = ClientEndpoint::new(config, self.now).expect("a valid client config");
        let mut sockets = BTreeMap::new();
        sockets.insert(SocketId::MAIN, MAIN_PORT);
        sockets.insert(WATCH, WATCH_PORT);
        self.clients.push(Client {
            endpoint,
            site,
            ip,
            ip6,
            link,
            sockets,
            next_port: MAIN_PORT + 1,
            next: self.now,
            events: Vec::new(),
            outcome: None,
            running: true,
        });
        let now = self.now;
        self.clients[i].endpoint.handle(Input::Opened {
            now,
            id: SocketId::MAIN,
            local_port: Some(MAIN_PORT),
        });
        self.drain_client(i);
        i
    }

    /// Installs the filter hook: every datagram an engine emits passes it first.
    pub fn set_filter(&mut self, f: impl FnMut(&Packet) -> Verdict + 'static) {
        self.filter = Some(Box::new(f));
    }

    /// Removes the filter hook.
    pub fn clear_filter(&mut self) {
        self.filter = None;
    }

    /// The datagrams held by the filter.
    pub fn held(&self) -> &[Packet] {
        &self.held
    }

    /// Sends every held datagram on its way now.
    pub fn release(&mut self) {
        for p in std::mem::take(&mut self.held) {
            self.carry(p);
        }
    }

    /// The digest of everything delivered so far (same seed and same test: same digest).
    pub fn digest_value(&self) -> u64 {
        self.digest.value()
    }

    /// Datagrams sent so far.
    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// Runs an app command on client `i` (start, exit, kick, data), then drains it.
    pub fn command<R>(&mut self, i: usize, f: impl FnOnce(&mut ClientEndpoint, Instant) -> R) -> R {
        let now = self.now;
        let r = f(&mut self.clients[i].endpoint, now);
        self.drain_client(i);
        r
    }

    /// Client `i` leaves as `Mesh::close` does (farewell three times, the relay given back), then
    /// stops for good.
    pub fn leave(&mut self, i: usize) {
        self.command(i, |e, now| e.leave(now, 3));
        self.clients[i].running = false;
    }

    /// Client `i` stops at once, saying nothing (a crash, a pulled cable).
    pub fn kill(&mut self, i: usize) {
        self.clients[i].running = false;
    }

    fn next_event(&self) -> Option<Instant> {
        let flight = self.heap.peek().map(|Reverse((t, _))| *t);
        let client = self.clients.iter().filter(|c| c.running).map(|c| c.next).min();
        [flight, client, self.server_next].into_iter().flatten().min()
    }

    /// Advances to the earliest delivery or deadline and handles it; false when nothing is left.
    pub fn step(&mut self) -> bool {
        self.steps += 1;
        assert!(self.steps < MAX_STEPS, "simulation livelocked: {MAX_STEPS} steps (seed {})", self.seed);
        let Some(t) = self.next_event() else { return false };
        if t > self.now {
            self.now = t;
            self.same_instant = 0;
        }
        self.same_instant += 1;
        if self.same_instant > MAX_SAME_INSTANT {
            panic!(
                "simulation livelocked at {:?} (seed {}): {}",
                self.now - self.t0,
                self.seed,
                self.who_is_due()
            );
        }
        if let Some(Reverse((at, id))) = self.heap.peek().copied() {
            if at <= self.now {
                self.heap.pop();
                if let Some(f) = self.flights.remove(&id) {
                    self.fly(f);
                }
                return true;
            }
        }
        if self.server_next.is_some_and(|s| s <= self.now) {
            let now = self.now;
            if let Some(s) = &mut self.server {
                s.handle(Input::Timeout(now));
            }
            self.drain_server();
            return true;
        }
        for i in 0..self.clients.len() {
            if self.clients[i].running && self.clients[i].next <= self.now {
                let now = self.now;
                self.clients[i].endpoint.handle(Input::Timeout(now));
                self.drain_client(i);
            }
        }
        true
    }

    fn who_is_due(&self) -> String {
        let flights = self.heap.iter().filter(|Reverse((t, _))| *t <= self.now).count();
        let clients: Vec<usize> = (0..self.clients.len())
            .filter(|i| self.clients[*i].running && self.clients[*i].next <= self.now)
            .collect();
        let server = self.server_next.is_some_and(|t| t <= self.now);
        format!("{flights} datagrams due, clients due {clients:?}, server due {server}")
    }

    /// Steps until `done(self)`; panics when `limit` of virtual time passes first.
    pub fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&Sim) -> bool) {
        let end = self.now + limit;
        while !done(self) {
            assert!(
                self.now <= end,
                "simulation did not reach its goal within {limit:?} (seed {})",
                self.seed
            );
            if !self.step() {
                panic!("simulation ran out of events before reaching its goal (seed {})", self.seed);
            }
        }
    }

    /// Runs for `d` of virtual time.
    pub fn run_for(&mut self, d: Duration) {
        let end = self.now + d;
        while self.next_event().is_some_and(|t| t <= end) {
            self.step();
        }
        self.now = self.now.max(end);
    }

    /// Steps until nothing is in flight and no engine needs waking within `horizon`; panics
    /// when that takes more than `limit` of virtual time (something keeps everyone busy).
    pub fn run_until_idle(&mut self, horizon: Duration, limit: Duration) {
        self.run_until(limit, |s| s.heap.is_empty() && s.next_event().is_none_or(|t| t > s.now + horizon));
    }

    // ---- sending ----

    fn drain_server(&mut self) {
        let mut out = std::mem::replace(&mut self.scratch, Transmit::empty());
        let mut n = 0;
        while self.server.as_mut().is_some_and(|s| s.poll_transmit(&mut out)) {
            n += 1;
            assert!(n < 1_000_000, "the server keeps sending");
            let from = match (out.via == ALT, out.to.is_ipv6()) {
                (false, false) => SERVER,
                (true, false) => SERVER_ALT,
                (false, true) => SERVER6,
                (true, true) => SERVER6_ALT,
            };
            if !self.server_muted {
                self.emit(Node::Server, out.via, from, out.to, out.data.clone());
            }
        }
        self.scratch = out;
        self.server_next = self.server.as_ref().and_then(ServerEndpoint::poll_timeout);
    }

    fn drain_client(&mut self, i: usize) {
        for _ in 0..64 {
            let mut opened = Vec::new();
            // As the driver does: the watch socket's and the extra sockets' datagrams leave at
            // once, the main socket's once the engine is drained (so a NAT maps them in that
            // order: it matters to a sequential allocator and the classification reading it).
            let mut main = Vec::new();
            for n in 0.. {
                assert!(n < 1_000_000, "client {i} keeps sending");
                match self.clients[i].endpoint.poll() {
                    ClientOut::Transmit(t) if t.via == SocketId::MAIN => main.push(t),
                    ClientOut::Transmit(t) => {
                        let Some(from) = self.clients[i].local_towards(t.via, t.to) else { continue };
                        if self.clients[i].running {
                            self.emit(Node::Client(i), t.via, from, t.to, t.data);
                        }
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
                    ClientOut::Event(e) => {
                        self.digest.add(self.now - self.t0, &format!("{i} {e:?}"));
                        self.clients[i].events.push((self.now, e));
                    }
                    ClientOut::Timeout(t) => {
                        self.clients[i].next = t;
                        break;
                    }
                }
            }
            for t in main {
                let Some(from) = self.clients[i].local_towards(t.via, t.to) else { continue };
                if self.clients[i].running {
                    self.emit(Node::Client(i), t.via, from, t.to, t.data);
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

    fn emit(&mut self, sender: Node, via: SocketId, from: SocketAddr, to: SocketAddr, data: Vec<u8>) {
        let p = Packet { id: self.packets, at: self.now, sender, via, from, to, data };
        self.packets += 1;
        if self.record {
            self.wire.push(p.clone());
        }
        let verdict = self.filter.as_mut().map_or(Verdict::Pass, |f| f(&p));
        match verdict {
            Verdict::Pass => self.carry(p),
            Verdict::Drop => {}
            Verdict::Duplicate => {
                self.carry(p.clone());
                self.carry(p);
            }
            Verdict::Hold => self.held.push(p),
        }
    }

    /// The sender's side: its link, then its NATs (a datagram lost on the link never reaches
    /// the router, so it makes no mapping).
    fn carry(&mut self, p: Packet) {
        let (delays, public) = match p.sender {
            Node::Server => (vec![Duration::ZERO], p.from),
            Node::Client(i) => {
                let link = self.clients[i].link;
                let delays = link.carry(&mut self.rng);
                if delays.is_empty() {
                    return;
                }
                let now = self.now;
                let site = &mut self.sites[self.clients[i].site];
                if p.to.is_ipv6() {
                    // Untranslated, through the site's firewall (no IPv6 there: nowhere).
                    let Some(fw) = &mut site.firewall else { return };
                    fw.egress(now, p.from, p.to);
                    (delays, p.from)
                } else {
                    if site.nats.len() == 1 && p.to.ip() == site.nats[0].public_ip {
                        return self.hairpin(i, p, &delays);
                    }
                    let mut src = p.from;
                    for nat in &mut site.nats {
                        src = nat.egress(now, src, p.to);
                    }
                    (delays, src)
                }
            }
        };
        for d in delays {
            let stage = Stage::Arrive { from: public, sender: p.sender, sender_via: p.via };
            self.schedule(self.now + d, Flight { stage, to: p.to, data: p.data.clone() });
        }
    }

    /// NAT loopback: from inside a site to its own public address.
    fn hairpin(&mut self, i: usize, p: Packet, delays: &[Duration]) {
        let now = self.now;
        let site_n = self.clients[i].site;
        let nat = &mut self.sites[site_n].nats[0];
        if !nat.hairpin {
            return;
        }
        let public = nat.egress(now, p.from, p.to);
        let Ok(inside) = nat.ingress(now, public, p.to.port(), true) else { return };
        let Some((j, via)) = self.listener(site_n, inside) else { return };
        let link = self.clients[j].link;
        for d in delays {
            for back in link.carry(&mut self.rng) {
                let stage = Stage::Deliver { node: Node::Client(j), via, from: public };
                self.schedule(now + *d + back, Flight { stage, to: inside, data: p.data.clone() });
            }
        }
    }

    fn schedule(&mut self, at: Instant, f: Flight) {
        let id = self.seq;
        self.seq += 1;
        self.flights.insert(id, f);
        self.heap.push(Reverse((at, id)));
    }

    /// The client of `site` with a socket bound at `addr`.
    fn listener(&self, site: usize, addr: SocketAddr) -> Option<(usize, SocketId)> {
        self.clients
            .iter()
            .enumerate()
            .filter(|(_, c)| c.site == site && c.ip == addr.ip())
            .find_map(|(i, c)| c.sockets.iter().find(|(_, p)| **p == addr.port()).map(|(id, _)| (i, *id)))
    }

    // ---- receiving ----

    fn fly(&mut self, f: Flight) {
        match f.stage {
            Stage::Arrive { from, sender, sender_via } => self.arrive(from, sender, sender_via, f.to, f.data),
            Stage::Deliver { node, via, from } => self.deliver(node, via, from, &f.data),
            Stage::Unreachable { client } => {
                if self.clients[client].running {
                    let now = self.now;
                    self.digest.add(now - self.t0, &format!("{client} unreachable {}", f.to));
                    self.clients[client].endpoint.handle(Input::Unreachable { now, to: f.to });
                    self.drain_client(client);
                }
            }
        }
    }

    /// At the destination's edge: the server, or a site's routers, outermost first.
    fn arrive(
        &mut self,
        from: SocketAddr,
        sender: Node,
        sender_via: SocketId,
        to: SocketAddr,
        data: Vec<u8>,
    ) {
        if to.ip() == SERVER.ip() || to.ip() == SERVER6.ip() {
            if self.server_muted {
                return;
            }
            let via = match to.port() {
                p if p == SERVER.port() => SocketId::MAIN,
                p if p == SERVER_ALT.port() => ALT,
                _ => SocketId(u32::MAX),
            };
            if self.server.is_some() && via != SocketId(u32::MAX) {
                return self.deliver(Node::Server, via, from, &data);
            }
            // Nobody listens: only the watch socket (connected) hears about it.
            if let (Node::Client(c), true) = (sender, sender_via == WATCH) {
                let back = self.now + self.clients[c].link.delay;
                self.schedule(back, Flight { stage: Stage::Unreachable { client: c }, to, data: Vec::new() });
            }
            return;
        }
        let now = self.now;
        if to.is_ipv6() {
            return self.arrive_v6(from, to, data);
        }
        let Some(site_n) =
            self.sites.iter().position(|s| s.nats.last().is_some_and(|n| n.public_ip == to.ip()))
        else {
            // A public client (no NAT)?
            if let Some((i, via)) = self.public_listener(to) {
                return self.through_link(i, via, from, to, data);
            }
            return;
        };
        let mut inside = to;
        for nat in self.sites[site_n].nats.iter_mut().rev() {
            match nat.ingress(now, from, inside.port(), false) {
                Ok(a) => inside = a,
                Err(_) => return,
            }
        }
        if let Some((i, via)) = self.listener(site_n, inside) {
            self.through_link(i, via, from, inside, data);
        }
    }

    /// An IPv6 datagram at a dual-stack site: its firewall lets it in only on an open flow.
    fn arrive_v6(&mut self, from: SocketAddr, to: SocketAddr, data: Vec<u8>) {
        let now = self.now;
        let Some(i) = self.clients.iter().position(|c| c.ip6 == Some(to.ip())) else { return };
        let site = self.clients[i].site;
        let open = self.sites[site].firewall.as_mut().is_some_and(|fw| fw.ingress(now, from, to));
        let via = self.clients[i].sockets.iter().find(|(_, p)| **p == to.port()).map(|(id, _)| *id);
        if let (true, Some(via)) = (open, via) {
            self.through_link(i, via, from, to, data);
        }
    }

    /// A client with a public address (its site has no NAT) and a socket at `to`.
    fn public_listener(&self, to: SocketAddr) -> Option<(usize, SocketId)> {
        let c = self.clients.iter().find(|c| c.ip == to.ip() && self.sites[c.site].nats.is_empty())?;
        self.listener(c.site, to)
    }

    /// Client `i`'s public address (its outermost router's, or its own without a NAT).
    pub fn public_ip(&self, i: usize) -> IpAddr {
        let c = &self.clients[i];
        self.sites[c.site].nats.last().map_or(c.ip, |n| n.public_ip)
    }

    fn through_link(&mut self, i: usize, via: SocketId, from: SocketAddr, to: SocketAddr, data: Vec<u8>) {
        let link = self.clients[i].link;
        let delays = link.carry(&mut self.rng);
        for d in delays {
            let stage = Stage::Deliver { node: Node::Client(i), via, from };
            self.schedule(self.now + d, Flight { stage, to, data: data.clone() });
        }
    }

    fn deliver(&mut self, node: Node, via: SocketId, from: SocketAddr, data: &[u8]) {
        let now = self.now;
        let label = match node {
            Node::Server => "s".to_owned(),
            Node::Client(i) => i.to_string(),
        };
        self.digest.datagram(now - self.t0, &format!("{label} {via} {from}"), data);
        match node {
            Node::Server => {
                if let Some(s) = &mut self.server {
                    s.handle(Input::Datagram { now, via, from, data });
                }
                self.drain_server();
            }
            Node::Client(i) => {
                if !self.clients[i].running || !self.clients[i].sockets.contains_key(&via) {
                    return;
                }
                self.clients[i].endpoint.handle(Input::Datagram { now, via, from, data });
                self.drain_client(i);
            }
        }
    }
}
