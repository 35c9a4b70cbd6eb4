//! Test harness: several engines and a minimal rendezvous server on one virtual clock, with an
//! in-flight queue, latency, optional loss and a simple port-shifting NAT per node.
//!
//! `step()` jumps to the earliest delivery or engine deadline; `run_until` is bounded and panics
//! when the bound is hit, so a livelock fails the test instead of hanging it.

use crate::{ClientError, Config, Engine, Event, Input, Output};
use rhp_proto::{Reply, Request};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

pub(crate) const SERVER: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 57775);

/// One datagram on the virtual wire.
#[derive(Debug, Clone)]
pub(crate) struct Datagram {
    pub(crate) at: Instant,
    pub(crate) from: SocketAddr,
    pub(crate) to: SocketAddr,
    pub(crate) data: Vec<u8>,
}

impl Datagram {
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.data).into_owned()
    }
}

/// A player: its engine behind a NAT that maps its socket to `ip:base` towards the server and to
/// `ip:base+shift` towards peers (shift 0: no NAT quirks).
pub(crate) struct Node {
    pub(crate) engine: Engine,
    pub(crate) ip: IpAddr,
    pub(crate) base: u16,
    pub(crate) shift: u16,
    /// Drops everything addressed to this node (a peer that never answers).
    pub(crate) deaf: bool,
    /// Sends nothing to peers (mute) while still talking to the server.
    pub(crate) mute_to_peers: bool,
    pub(crate) next: Instant,
    pub(crate) outcome: Option<Result<(), ClientError>>,
    pub(crate) events: Vec<(Instant, Event)>,
}

impl Node {
    fn public_for(&self, to: SocketAddr) -> SocketAddr {
        let port = if to == SERVER { self.base } else { self.base.wrapping_add(self.shift) };
        SocketAddr::new(self.ip, port)
    }

    /// The NAT's filter: the server's mapping only lets the server in; the peers' mapping lets
    /// anyone in.
    fn accepts(&self, from: SocketAddr, to: SocketAddr) -> bool {
        let peer_port = self.base.wrapping_add(self.shift);
        to.ip() == self.ip && (to.port() == peer_port || (to.port() == self.base && from == SERVER))
    }
}

struct Session {
    name: String,
    players: Vec<(String, SocketAddr)>,
    started: bool,
    /// NAT descriptors announced with `e:` (only kept with `nat_notes`).
    descs: Vec<(String, String)>,
}

/// The smallest server that lets the engines run: h, c, p, s, y, x, k; with `nat_notes` also
/// `e:` (answered with `n:` to every player, as the real server does), so the engines know
/// which peers are our clients.
#[derive(Default)]
pub(crate) struct FakeServer {
    sessions: Vec<Session>,
    pub(crate) nat_notes: bool,
}

impl FakeServer {
    /// How many players of `session` announced their NAT (`e:`).
    pub(crate) fn described(&self, session: &str) -> usize {
        self.sessions.iter().find(|s| s.name == session).map_or(0, |s| s.descs.len())
    }

    fn handle(&mut self, from: SocketAddr, data: &[u8]) -> Vec<(SocketAddr, Vec<u8>)> {
        let Ok(req) = Request::parse(data) else { return vec![] };
        let names = |s: &Session| -> Vec<u8> {
            Reply::Info(s.players.iter().map(|p| p.0.clone()).collect()).to_bytes()
        };
        let starts = |s: &Session, only: Option<SocketAddr>| -> Vec<(SocketAddr, Vec<u8>)> {
            s.players
                .iter()
                .filter(|(_, a)| only.is_none_or(|o| o == *a))
                .map(|(n, a)| {
                    let peers = s
                        .players
                        .iter()
                        .filter(|(m, _)| m != n)
                        .map(|(m, b)| rhp_proto::PeerAddr { name: m.clone(), addr: *b })
                        .collect();
                    (*a, Reply::Start { own_port: a.port(), peers }.to_bytes())
                })
                .collect()
        };
        let session = self.sessions.iter_mut().find(|s| s.name == req.session());
        match (req, session) {
            (Request::Host { session, player, .. }, None) => {
                let s = Session {
                    name: session.into(),
                    players: vec![(player.into(), from)],
                    started: false,
                    descs: Vec::new(),
                };
                let reply = names(&s);
                self.sessions.push(s);
                vec![(from, reply)]
            }
            (Request::Connect { player, .. }, Some(s)) if !s.started => {
                if !s.players.iter().any(|p| p.0 == player) {
                    s.players.push((player.into(), from));
                }
                let reply = names(s);
                s.players.iter().map(|p| (p.1, reply.clone())).collect()
            }
            (Request::Ext { player, nat, .. }, Some(s)) if self.nat_notes => {
                s.descs.retain(|(n, _)| n != player);
                s.descs.push((player.into(), nat.into()));
                let entries = s
                    .descs
                    .iter()
                    .map(|(n, d)| rhp_proto::NatEntry { player: n.clone(), desc: d.clone() })
                    .collect();
                let note = Reply::Nat(entries).to_bytes();
                s.players.iter().map(|p| (p.1, note.clone())).collect()
            }
            (Request::Ping { .. }, Some(s)) if s.started => starts(s, Some(from)),
            (Request::Ping { .. }, Some(s)) => vec![(from, names(s))],
            (Request::Start { .. }, Some(s)) => {
                if s.players.first().map(|p| p.1) != Some(from) {
                    return vec![(from, b"error:non_host_player".to_vec())];
                }
                if s.players.len() < 2 {
                    return vec![(from, b"error:only_one_player_in_session".to_vec())];
                }
                s.started = true;
                starts(s, None)
            }
            (Request::Exit { player, .. }, Some(s)) => {
                s.players.retain(|p| p.0 != player);
                let mut out = vec![(from, b"error:player_exited_session".to_vec())];
                let reply = names(s);
                out.extend(s.players.iter().map(|p| (p.1, reply.clone())));
                out
            }
            _ => vec![],
        }
    }
}

/// The virtual network.
pub(crate) struct Sim {
    pub(crate) now: Instant,
    pub(crate) nodes: Vec<Node>,
    pub(crate) server: FakeServer,
    in_flight: BinaryHeap<Reverse<(Instant, u64)>>,
    queued: Vec<Option<Datagram>>,
    pub(crate) latency: Duration,
    /// Every datagram sent, in order (also the lost ones).
    pub(crate) wire: Vec<Datagram>,
    /// Decides per datagram whether it is lost.
    pub(crate) lose: Box<dyn FnMut(&Datagram) -> bool>,
    seq: u64,
}

impl Sim {
    pub(crate) fn new() -> Sim {
        Sim {
            now: Instant::now(),
            nodes: Vec::new(),
            server: FakeServer::default(),
            in_flight: BinaryHeap::new(),
            queued: Vec::new(),
            latency: Duration::from_millis(5),
            wire: Vec::new(),
            lose: Box::new(|_| false),
            seq: 0,
        }
    }

    /// Adds a player at 10.0.1.<n>:<40000+n*100>; returns its index.
    pub(crate) fn add(&mut self, config: Config) -> usize {
        let n = self.nodes.len();
        let ip = IpAddr::V4(Ipv4Addr::new(10, 0, 1, u8::try_from(n + 2).unwrap_or(255)));
        let base = 40000 + u16::try_from(n).unwrap_or(0) * 100;
        let engine = Engine::new(config, self.now).expect("valid config");
        self.nodes.push(Node {
            engine,
            ip,
            base,
            shift: 0,
            deaf: false,
            mute_to_peers: false,
            next: self.now,
            outcome: None,
            events: Vec::new(),
        });
        self.drain(n);
        n
    }

    /// A host's configuration. The fake server speaks no STUN and no `e:`/`n:`: classification
    /// ends unknown (the fallback path), and the start does not wait for announcements.
    pub(crate) fn host_config(session: &str, player: &str, max: u8) -> Config {
        let mut c = Config::host(SERVER, session, player, max);
        c.nat.start_wait = Duration::ZERO;
        c
    }

    pub(crate) fn join_config(session: &str, player: &str) -> Config {
        Config::join(SERVER, session, player)
    }

    pub(crate) fn addr_of(&self, i: usize) -> SocketAddr {
        SocketAddr::new(self.nodes[i].ip, self.nodes[i].base)
    }

    fn push(&mut self, d: Datagram) {
        self.wire.push(d.clone());
        if (self.lose)(&d) {
            return;
        }
        let at = d.at + self.latency;
        self.queued.push(Some(d));
        self.in_flight.push(Reverse((at, self.seq)));
        self.seq += 1;
    }

    /// Drains node `i`'s outputs onto the wire.
    pub(crate) fn drain(&mut self, i: usize) {
        loop {
            let out = self.nodes[i].engine.poll_output();
            match out {
                // The sim models the main socket only (no STUN server, no extra sockets).
                Output::Transmit(t) if t.via != crate::SocketId::MAIN => {}
                Output::Open(_) | Output::Close(_) => {}
                Output::Transmit(t) => {
                    let node = &self.nodes[i];
                    if node.mute_to_peers && t.to != SERVER {
                        continue;
                    }
                    let from = node.public_for(t.to);
                    let d = Datagram { at: self.now, from, to: t.to, data: t.data };
                    self.push(d);
                }
                Output::Event(e) => self.nodes[i].events.push((self.now, e)),
                Output::Timeout(t) => {
                    self.nodes[i].next = t;
                    break;
                }
            }
        }
        if self.nodes[i].outcome.is_none() {
            self.nodes[i].outcome = self.nodes[i].engine.take_outcome();
        }
    }

    /// Node `i` leaves as [`crate::Mesh::close`] does (its farewell, three times), then falls
    /// silent for good.
    pub(crate) fn close(&mut self, i: usize) {
        let bye = self.nodes[i].engine.farewell();
        for _ in 0..3 {
            for t in &bye {
                let from = self.nodes[i].public_for(t.to);
                self.push(Datagram { at: self.now, from, to: t.to, data: t.data.clone() });
            }
        }
        self.nodes[i].deaf = true;
        self.nodes[i].mute_to_peers = true;
    }

    /// Runs app commands on node `i` (start, exit, kick) through `f`, then drains it.
    pub(crate) fn command(&mut self, i: usize, f: impl FnOnce(&mut Engine, Instant)) {
        let now = self.now;
        f(&mut self.nodes[i].engine, now);
        self.drain(i);
    }

    /// Advances to the next delivery or deadline and handles it.
    pub(crate) fn step(&mut self) {
        let next_delivery = self.in_flight.peek().map(|Reverse((t, _))| *t);
        let next_timer = self.nodes.iter().map(|n| n.next).min();
        let t = match (next_delivery, next_timer) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) => a,
            (None, Some(b)) => b,
            (None, None) => return,
        };
        self.now = self.now.max(t);
        if next_delivery == Some(t) {
            let Some(Reverse((_, seq))) = self.in_flight.pop() else { return };
            let Some(d) =
                self.queued.get_mut(usize::try_from(seq).unwrap_or(usize::MAX)).and_then(Option::take)
            else {
                return;
            };
            self.deliver(d);
        } else {
            for i in 0..self.nodes.len() {
                if self.nodes[i].next <= self.now {
                    let now = self.now;
                    self.nodes[i].engine.handle_input(Input::Timeout(now));
                    self.drain(i);
                }
            }
        }
    }

    fn deliver(&mut self, d: Datagram) {
        if d.to == SERVER {
            let replies = self.server.handle(d.from, &d.data);
            for (to, data) in replies {
                self.push(Datagram { at: self.now, from: SERVER, to, data });
            }
            return;
        }
        let Some(i) = self.nodes.iter().position(|n| n.accepts(d.from, d.to)) else { return };
        if self.nodes[i].deaf {
            return;
        }
        let now = self.now;
        self.nodes[i].engine.handle_input(Input::Datagram {
            now,
            via: crate::SocketId::MAIN,
            from: d.from,
            data: &d.data,
        });
        self.drain(i);
    }

    /// Steps until `done(self)` or `limit` of virtual time passed (then panics).
    pub(crate) fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&Sim) -> bool) {
        let end = self.now + limit;
        for _ in 0..2_000_000 {
            if done(self) {
                return;
            }
            assert!(self.now <= end, "simulation did not reach its goal within {limit:?}");
            self.step();
        }
        panic!("simulation livelocked (step bound hit)");
    }

    /// Runs for `d` of virtual time.
    pub(crate) fn run_for(&mut self, d: Duration) {
        let end = self.now + d;
        for _ in 0..2_000_000 {
            let next_delivery = self.in_flight.peek().map(|Reverse((t, _))| *t);
            let next_timer = self.nodes.iter().map(|n| n.next).min();
            let next = [next_delivery, next_timer].into_iter().flatten().min();
            match next {
                Some(t) if t <= end => self.step(),
                _ => {
                    self.now = self.now.max(end);
                    return;
                }
            }
        }
        panic!("simulation livelocked (step bound hit)");
    }

    /// True when node `i`'s run has ended (either way).
    pub(crate) fn finished(&self, i: usize) -> bool {
        self.nodes[i].outcome.is_some()
    }

    /// When node `i` reported `pred`.
    pub(crate) fn event_time(&self, i: usize, pred: impl Fn(&Event) -> bool) -> Option<Instant> {
        self.nodes[i].events.iter().find(|(_, e)| pred(e)).map(|(t, _)| *t)
    }
}
