//! The sans-IO engine: bytes and instants in, datagrams, events and the next deadline out.
//!
//! No socket, no clock, no sleeping. The caller (the [`driver`](crate::driver), or a test) feeds
//! [`Input`]s and app commands ([`Engine::start`], [`Engine::exit`], [`Engine::kick`],
//! [`Engine::send`]), and after every call drains [`Engine::poll_output`] until it returns
//! [`Output::Timeout`]; it calls `handle_input(Input::Timeout(now))` at (or after) that instant.
//! An early timeout does nothing.
//!
//! The engine is a router over four components, each owning its state and deadlines and
//! answering "when do you next need me?":
//! - the lobby (`lobby.rs`, with `rendezvous.rs`): everything said to and heard from the server;
//! - the peers (`punch.rs`): the peer phase, from the server's `s:` on, and after it (late Godot
//!   peers still finish, application data, keepalives, leaves, the host hand-over);
//! - NAT classification (`classification.rs`): STUN to the server's two ports while joining;
//! - the relay agent (`relay_agent.rs`): the server's relay, once granted.
//!
//! It routes each datagram once, by its socket, its source and its first byte (see the crate's
//! "A datagram's way through the client engine"), hands what one component learned to the
//! others, and asks to be woken at the earliest of their deadlines.

use crate::classification::Classification;
use crate::config::Config;
use crate::error::ClientError;
use crate::events::{Event, LeaveReason, PeerInfo};
use crate::lobby::{Heard, Lobby};
use crate::nat_report::NatReport;
use crate::outbox::{Outbox, SocketOp};
use crate::punch::{Punch, PunchNat, PunchState};
use crate::relay::RelayIn;
use crate::relay_agent::RelayAgent;
use crate::rng::Rng;
use crate::sockets::{FIRST_HARD, WATCH};
use rhp_io::{Input, SocketId, Transmit};
use rhp_proto::PeerMessage;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Peer datagrams that arrive before our own `s:` (a faster peer greets early) are kept, at most
/// this many, and replayed when the peer phase starts.
const MAX_EARLY: usize = 64;

/// How far ahead an idle engine asks to be woken (it has nothing to do; this only bounds sleeps).
const IDLE: Duration = Duration::from_secs(3600);

/// What the engine wants done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send this datagram.
    Transmit(Transmit),
    /// Bind a new UDP socket (same family as the main one, any port) under this id, then feed
    /// [`Input::Opened`].
    Open(SocketId),
    /// Close the socket with this id (never [`SocketId::MAIN`]).
    Close(SocketId),
    /// Report this event.
    Event(Event),
    /// Nothing more now; call again with `Input::Timeout` at this instant (or on a datagram).
    Timeout(Instant),
}

/// The end of the run, handed out once.
#[derive(Debug)]
enum Outcome {
    Open,
    Ready(Result<(), ClientError>),
    Taken,
}

/// Where a datagram goes (decided once, in [`Engine::route`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum To {
    /// The watch socket's STUN answer: the server is there; nothing else in it matters.
    Watch,
    /// A STUN answer: the classification's probes, or the relay's public-address request.
    Stun,
    /// The relay's grant (`r:`) or one of its frames.
    Relay,
    /// Anything else from the server.
    Lobby,
    /// From anyone else: a peer.
    Peers,
}

/// One player's whole run, from `h:`/`c:` to a punched mesh.
#[derive(Debug)]
pub struct Engine {
    config: Config,
    out: Outbox,
    lobby: Lobby,
    /// The peer phase, from the server's `s:` on.
    peers: Option<Punch>,
    /// Peer datagrams that came before it.
    early: VecDeque<(SocketAddr, Vec<u8>)>,
    nat: Classification,
    relay: RelayAgent,
    rng: Rng,
    last_now: Instant,
    outcome: Outcome,
}

impl Engine {
    /// Validates `config` and queues the first `h:`/`c:`.
    pub fn new(config: Config, now: Instant) -> Result<Engine, ClientError> {
        config.validate()?;
        let mut out = Outbox::default();
        if config.nat.private {
            out.only_to = vec![config.server, config.nat.alt_addr(config.server)];
        }
        out.ipv4_only = config.server.is_ipv4() && config.server_other.is_none();
        let lobby = Lobby::new(config.clone(), now, &mut out);
        let mut rng = Rng::new(config.seed);
        let nat = Classification::new(&config, &mut rng, now, &mut out);
        let relay = RelayAgent::new(&config.player, config.server, config.nat.private);
        Ok(Engine {
            config,
            out,
            lobby,
            peers: None,
            early: VecDeque::new(),
            nat,
            relay,
            rng,
            last_now: now,
            outcome: Outcome::Open,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Feeds one input. Never panics, whatever the bytes.
    pub fn handle_input(&mut self, input: Input<'_>) {
        self.last_now = input.now();
        match input {
            Input::Datagram { now, via, from, data } => self.on_datagram(now, via, from, data),
            Input::Opened { now, id, local_port } => {
                self.nat.opened(id, local_port, now, &mut self.out);
                if let Some(p) = &mut self.peers {
                    p.opened(id, local_port, &mut self.out);
                }
            }
            Input::Timeout(now) => self.on_timeout(now),
            Input::Unreachable { to, .. } => {
                if let Some(err) = self.lobby.unreachable(to) {
                    self.fail(err);
                }
            }
        }
        self.after_input();
    }

    /// Our NAT's classification, once done.
    pub fn nat_report(&self) -> Option<&NatReport> {
        self.nat.report()
    }

    /// After every input, what fell due in the components, in this order: a held-back `y:`,
    /// the `r:` asks, the relay's timers, a deferred start, the NAT's report, the `e:`
    /// announcement.
    fn after_input(&mut self) {
        let now = self.last_now;
        if self.lobby.confirm_if_due(now, &mut self.out) {
            self.report_unreachable();
        }
        self.lobby.ask_relay(now, &mut self.out);
        self.relay.handle_timeout(now, self.peers.as_ref(), &mut self.rng, &mut self.out);
        self.lobby.start_if_due(now, &mut self.out);
        self.nat.report_once(self.lobby.server_answered(), &mut self.out);
        self.lobby.announce_nat(now, self.nat.kind(), &mut self.out);
        self.lobby.announce_other_family(now, &mut self.out);
    }

    /// The next thing to do. Drain until [`Output::Timeout`] after every input or command.
    pub fn poll_output(&mut self) -> Output {
        if let Some(t) = self.out.transmits.pop_front() {
            return Output::Transmit(t);
        }
        if let Some(op) = self.out.sockets.pop_front() {
            return match op {
                SocketOp::Open(id) => Output::Open(id),
                SocketOp::Close(id) => Output::Close(id),
            };
        }
        if let Some(e) = self.out.events.pop_front() {
            return Output::Event(e);
        }
        Output::Timeout(self.poll_timeout().unwrap_or(self.last_now + IDLE))
    }

    /// The earliest of the components' deadlines (none but the lobby's once the run failed in
    /// the server phase).
    fn poll_timeout(&self) -> Option<Instant> {
        let running = !self.lobby.is_stopped();
        [
            self.lobby.poll_timeout(self.last_now),
            self.peers.as_ref().and_then(Punch::poll_timeout),
            self.nat.poll_timeout().filter(|_| running),
            self.relay.poll_timeout().filter(|_| running),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Host: ask the server to start the session (resent until the `s:` arrives). Before the
    /// first `i:` it is remembered; after the start it does nothing.
    ///
    /// With NAT classification on, the request waits (at most [`NatConfig::start_wait`]) until
    /// the server's `n:` lists every player: a player that joined a moment ago may not have
    /// announced its NAT yet, and without it the peers would fall back to plain punching.
    /// Players that never announce (Godot clients) cost that wait once.
    ///
    /// [`NatConfig::start_wait`]: crate::NatConfig::start_wait
    pub fn start(&mut self, now: Instant) {
        self.last_now = now;
        if self.lobby.start(now, &mut self.out) {
            self.after_input();
        }
    }

    /// Leave the session (resent until the server confirms; the run then ends with
    /// `player_exited_session`).
    pub fn exit(&mut self, now: Instant) {
        self.last_now = now;
        self.lobby.exit(now, &mut self.out);
    }

    /// Host: kick `victim` from the session (sent once). A refusal comes back as
    /// [`Event::Refused`].
    pub fn kick(&mut self, now: Instant, victim: &str) -> Result<(), ClientError> {
        self.last_now = now;
        self.lobby.kick(now, victim, &mut self.out)
    }

    /// Host: let `player`, kicked earlier, join again (`u:`; sent once). Our server answers with
    /// the list; a refusal comes back as [`Event::Refused`].
    pub fn unban(&mut self, now: Instant, player: &str) -> Result<(), ClientError> {
        self.last_now = now;
        self.lobby.unban(now, player, &mut self.out)
    }

    /// The end of the run, once: `Ok` when the peer phase is over (see [`Engine::peers`] for who
    /// connected), `Err` when the run failed. `None` while it goes on.
    pub fn take_outcome(&mut self) -> Option<Result<(), ClientError>> {
        let done = self.peers.as_ref().is_some_and(|p| *p.state() == PunchState::Done || p.is_ready());
        match std::mem::replace(&mut self.outcome, Outcome::Taken) {
            Outcome::Ready(r) => Some(r),
            Outcome::Open if done => Some(Ok(())),
            other => {
                self.outcome = other;
                None
            }
        }
    }

    /// True once the server phase is over.
    pub fn in_peer_phase(&self) -> bool {
        self.peers.is_some()
    }

    /// True when this player is (now) the session's host.
    pub fn is_host(&self) -> bool {
        self.peers.as_ref().map_or(self.lobby.is_host(), Punch::is_host)
    }

    /// The host's name, once the session started (after a hand-over, the new host's:
    /// [`Event::HostChanged`]).
    pub fn host(&self) -> Option<&str> {
        self.peers.as_ref().map(Punch::host)
    }

    /// Players in the session (server phase; empty before the first `i:`).
    pub fn players(&self) -> &[String] {
        self.lobby.players()
    }

    /// Every other player (peer phase; empty before).
    pub fn peers(&self) -> Vec<PeerInfo> {
        self.peers.as_ref().map(Punch::peers).unwrap_or_default()
    }

    /// Our port as the peers see it (peer phase).
    pub fn my_port(&self) -> Option<u16> {
        self.peers.as_ref().map(Punch::my_port)
    }

    /// When the server's `s:` arrived.
    pub fn started_at(&self) -> Option<Instant> {
        self.peers.as_ref().map(Punch::started_at)
    }

    /// True when the peer phase is over and no timed duty is left (a host's `s:<n>` rounds).
    pub fn is_settled(&self) -> bool {
        match &self.peers {
            Some(p) => p.is_settled(),
            None => self.lobby.is_stopped(),
        }
    }

    /// True when we owe no peer anything timed: as host, every connected peer has had its
    /// `s:<n>` rounds (a Godot client finishes on them). Direct attempts may still be running.
    pub fn host_duties_done(&self) -> bool {
        self.peers.as_ref().is_none_or(Punch::owes_no_start)
    }

    /// Gives the server's relay back (the application is done): the datagram to send, if we
    /// had a grant. Relayed peers are unreachable afterwards.
    pub fn leave_relay(&mut self) -> Option<Transmit> {
        let t = self.relay.leave()?;
        self.lobby.relay_granted(false, &mut self.out);
        Some(t)
    }

    /// We leave the session (the application is done): the datagrams that tell every reachable
    /// peer that is one of our clients (`l:` on a direct path, the relay's leave through it).
    /// Godot peers get nothing. Send them before [`Engine::leave_relay`], a few times (UDP may
    /// lose one; a repeated leave is ignored). The engine itself does not change.
    pub fn farewell(&self) -> Vec<Transmit> {
        let Some(p) = &self.peers else { return Vec::new() };
        let (mut out, relayed) = p.farewell();
        out.retain(|t| self.out.may_send(t.to));
        out.extend(self.relay.farewell(relayed));
        out
    }

    /// Queues `data` for connected peer `peer`: as `d:<data>` on its direct path, else through
    /// the server's relay. It leaves through [`Engine::poll_output`] like every other datagram;
    /// the answer is the socket it leaves from. An unknown or unreachable peer is an error.
    pub fn send(&mut self, peer: &str, data: &[u8]) -> Result<SocketId, ClientError> {
        let t = self.data_to(peer, data)?;
        let via = t.via;
        self.out.send_via(t.via, t.to, t.data);
        Ok(via)
    }

    /// Queues [`Engine::farewell`]'s datagrams (one round of them) for [`Engine::poll_output`].
    pub fn send_farewell(&mut self) {
        for t in self.farewell() {
            self.out.send_via(t.via, t.to, t.data);
        }
    }

    /// Gives the server's relay back ([`Engine::leave_relay`]) and queues the datagram twice (the
    /// second copy is ignored by the server) for [`Engine::poll_output`].
    pub fn send_leave_relay(&mut self) {
        if let Some(t) = self.leave_relay() {
            self.out.send_via(t.via, t.to, t.data.clone());
            self.out.send_via(t.via, t.to, t.data);
        }
    }

    /// The datagram [`Engine::send`] queues for `peer` (as `d:<data>`), without queuing it.
    pub fn data_to(&self, peer: &str, data: &[u8]) -> Result<Transmit, ClientError> {
        let unknown = || ClientError::UnknownPeer(peer.to_owned());
        let p = self.peers.as_ref().ok_or_else(unknown)?;
        if let Some((via, to)) = p.peer_addr(peer).filter(|(_, to)| self.out.may_send(*to)) {
            return Ok(Transmit { via, to, data: PeerMessage::Data(data).to_bytes() });
        }
        p.is_relayed_only(peer).then(|| self.relay.data_to(peer, data)).flatten().ok_or_else(unknown)
    }

    /// Where a datagram goes: by the socket it came on, its source, and its first byte.
    fn route(&self, via: SocketId, from: SocketAddr, data: &[u8]) -> To {
        let from_server = from == self.config.server && via == SocketId::MAIN;
        let from_other_server = Some(from) == self.config.server_other && via == SocketId::MAIN;
        let from_relay = via == SocketId::MAIN && self.relay.relay_at() == Some(from);
        if via == WATCH {
            To::Watch
        } else if rhp_proto::stun::is_stun(data) {
            To::Stun
        } else if (from_server && data.starts_with(b"r:"))
            || ((from_server || from_relay) && rhp_proto::relay::is_frame(data))
        {
            To::Relay
        } else if from_server || from_other_server {
            To::Lobby
        } else {
            To::Peers
        }
    }

    fn on_datagram(&mut self, now: Instant, via: SocketId, from: SocketAddr, data: &[u8]) {
        let to = self.route(via, from, data);
        if to == To::Watch || from == self.config.server && via == SocketId::MAIN {
            // Whatever the server sent (a STUN answer, `n:`, the relay's grant) proves it is there.
            self.lobby.heard(now);
        }
        match to {
            To::Watch => {}
            To::Stun => {
                // Ours (a probe's or the relay's answer), or a late or foreign one: nothing more.
                let relay_side = from == self.config.server || self.relay.relay_at() == Some(from);
                if !self.nat.handle_datagram(via, from, data, &mut self.out)
                    && relay_side
                    && via == SocketId::MAIN
                {
                    self.relay.handle_stun(data, self.peers.as_ref(), &mut self.out);
                }
            }
            To::Relay => self.on_relay(now, data),
            To::Lobby => match self.lobby.handle_datagram(now, from, data, &mut self.out) {
                Heard::Nothing => {}
                Heard::Failed(err) => self.fail(err),
                Heard::Started { own_port, peers, is_host, players } => {
                    self.start_peers(now, own_port, peers, is_host, &players);
                }
                Heard::Nat(kinds) => {
                    if let Some(p) = &mut self.peers {
                        p.update_nat(&kinds, now);
                    }
                }
            },
            To::Peers => match &mut self.peers {
                Some(p) => {
                    if let Some((peer, data)) = p.handle_datagram(now, via, from, data, &mut self.out) {
                        self.out.event(Event::Data { peer, data });
                    }
                }
                None if self.lobby.is_stopped() => {}
                None => {
                    if via == SocketId::MAIN
                        && self.early.len() < MAX_EARLY
                        && PeerMessage::parse(data).is_ok()
                    {
                        self.early.push_back((from, data.to_vec()));
                    }
                }
            },
        }
    }

    /// The relay's grant or one of its frames; what a frame says about a peer goes to the peers.
    fn on_relay(&mut self, now: Instant, data: &[u8]) {
        if data.starts_with(b"r:") {
            let Some(fresh) = self.relay.grant(now, data) else { return };
            // A private client sends only to the server: and to the node the grant names.
            if let Some(at) = self.relay.relay_at().filter(|_| self.config.nat.private) {
                if !self.out.only_to.contains(&at) && self.out.only_to.len() < 8 {
                    self.out.only_to.push(at);
                }
            }
            if fresh {
                self.lobby.relay_granted(true, &mut self.out);
                self.lobby.start_under_way(now);
                self.report_unreachable();
            }
            if self.peers.is_some() {
                self.relay.activate_now(now, &mut self.out);
            }
            return;
        }
        let Some(said) = self.relay.handle_frame(now, data, &mut self.out) else { return };
        let peers = self.peers.as_mut();
        match said {
            RelayIn::Up(name) => {
                if let Some(p) = peers {
                    let at = self.relay.relay_at().unwrap_or(self.config.server);
                    p.relay_up(&name, at, now, &mut self.out);
                }
            }
            RelayIn::Data(peer, data) => {
                // Before the peer phase (a member faster than us) it is delivered as is.
                if peers.is_none_or(|p| p.relay_heard(&peer, now)) {
                    self.out.event(Event::Data { peer, data });
                }
            }
            RelayIn::Candidate(name, addr) => {
                if let Some(p) = peers {
                    if p.relay_heard(&name, now) {
                        p.relay_candidate(&name, addr, now);
                    }
                }
            }
            RelayIn::Alive(name) => {
                if let Some(p) = peers {
                    p.relay_heard(&name, now);
                }
            }
            RelayIn::Leave(name) => {
                if let Some(p) = peers {
                    p.peer_left(&name, LeaveReason::Left, now, &mut self.out);
                }
            }
            RelayIn::Refused(r) => {
                tracing::warn!("the server's relay refused a frame: {}", r.describe());
                self.out.event(Event::RelayRefused(r));
            }
        }
    }

    fn on_timeout(&mut self, now: Instant) {
        self.nat.handle_timeout(now, &mut self.out);
        match &mut self.peers {
            None => {
                if let Some(err) = self.lobby.handle_timeout(now, &mut self.out) {
                    self.fail(err);
                }
            }
            Some(p) => {
                let failed = p.handle_timeout(now, &mut self.out);
                let due = std::mem::take(&mut p.relay_alive);
                if let Some(err) = failed {
                    self.fail(err);
                }
                self.relay.send_alive(due, &mut self.out);
            }
        }
    }

    /// The server's `s:` arrived: the peer phase begins, with what the lobby and the
    /// classification learned; the relay becomes active; early peer datagrams are replayed.
    fn start_peers(
        &mut self,
        now: Instant,
        own_port: u16,
        peers: Vec<rhp_proto::PeerAddr>,
        is_host: bool,
        lobby: &[String],
    ) {
        let nat = PunchNat {
            me: self.nat.kind(),
            peers: self.lobby.peer_nats().to_vec(),
            predict_window: self.config.nat.predict_window,
            birthday: self.config.nat.birthday,
            rng: Rng::new(self.rng.next_u64()),
            first_socket: FIRST_HARD,
        };
        let punch = Punch::new(&self.config, own_port, peers, is_host, lobby, now, &mut self.out, nat);
        self.peers = Some(punch);
        self.relay.activate(now, &mut self.out);
        self.report_unreachable();
        let early: Vec<_> = self.early.drain(..).collect();
        for (from, data) in early {
            self.on_datagram(now, SocketId::MAIN, from, &data);
        }
    }

    /// Private: once the grant is settled in the peer phase, the peers that cannot reach us.
    fn report_unreachable(&mut self) {
        let settled = self.lobby.confirm_settled();
        self.relay.report_unreachable(settled, self.peers.as_ref(), &mut self.out);
    }

    fn fail(&mut self, err: ClientError) {
        tracing::debug!(%err, "run failed");
        if let Outcome::Open = self.outcome {
            self.outcome = Outcome::Ready(Err(err));
        }
        // Keep the peer list readable after a peer-phase failure; stop all sending.
        self.lobby.stop();
    }

    /// Time since the server's `s:` arrived, if it did.
    pub fn since_start(&self, now: Instant) -> Option<Duration> {
        self.peers.as_ref().map(|p| p.since_start(now))
    }
}
