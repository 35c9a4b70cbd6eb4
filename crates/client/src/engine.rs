//! The sans-IO engine: bytes and instants in, datagrams, events and the next deadline out.
//!
//! No socket, no clock, no sleeping. The caller (the [`driver`](crate::driver), or a test) feeds
//! [`Input`]s and app commands ([`Engine::start`], [`Engine::exit`], [`Engine::kick`]), and after
//! every call drains [`Engine::poll_output`] until it returns [`Output::Timeout`]; it calls
//! `handle_input(Input::Timeout(now))` at (or after) that instant. An early timeout does nothing.
//!
//! The engine runs the server phase (`rendezvous.rs`) until the server's `s:`, then the
//! peer phase (`punch.rs`), and keeps answering peers after that phase is over (so late
//! Godot peers still finish) while carrying application data, keeping our clients' paths alive
//! and noticing peers that leave ([`Engine::farewell`] is what we send when we do).
//!
//! While joining it classifies our NAT (`classify.rs`: STUN to the server's two ports, from the
//! main socket and a probe socket it asks the driver for) and, once in the session, announces
//! the result to the server with `e:S:P:<kind>` until the server's `n:` lists it. The `n:`
//! entries (every member that announced one) choose the direct method per peer
//! (`strategy.rs`). A server without STUN or `e:` (the original) answers neither: the run goes
//! on with plain punching, exactly as before.

use crate::classify::{Classifier, NatReport};
use crate::config::Config;
use crate::error::ClientError;
use crate::events::LeaveReason;
use crate::events::{Event, PeerInfo};
use crate::nat_kind::NatKind;
use crate::outbox::{Outbox, SocketOp};
use crate::punch::{Punch, PunchNat, PunchState, RETRY_EVERY};
use crate::relay::{Relay, RelayIn, ALIVE, LEAVE};
use crate::rendezvous::{Rendezvous, Step};
use crate::rng::Rng;
use crate::sockets::{FIRST_HARD, PROBE, WATCH};
use rhp_io::{Input, SocketId, Transmit};
use rhp_proto::{ErrorCode, PeerMessage, Reply, Request};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Peer datagrams that arrive before our own `s:` (a faster peer greets early) are kept, at most
/// this many, and replayed when the peer phase starts.
const MAX_EARLY: usize = 64;

/// How far ahead an idle engine asks to be woken (it has nothing to do; this only bounds sleeps).
const IDLE: Duration = Duration::from_secs(3600);

/// Started without a grant: `r:` at once and again this often…
const LATE_RELAY_ASK: Duration = Duration::from_millis(200);
/// …for this long after the start (the server's start rounds last 0.8 s). Our `y:` waits as long
/// (or until the grant): while it has not come, every start round of the server carries our grant
/// again, so a grant lost on a lossy link gets up to eight more chances besides the asks.
const LATE_RELAY_ASKS_FOR: Duration = Duration::from_millis(800);

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

#[derive(Debug)]
enum Phase {
    Lobby(Rendezvous),
    Peers(Punch),
    Stopped,
}

/// One player's whole run, from `h:`/`c:` to a punched mesh.
#[derive(Debug)]
pub struct Engine {
    config: Config,
    phase: Phase,
    out: Outbox,
    early: VecDeque<(SocketAddr, Vec<u8>)>,
    outcome: Option<Result<(), ClientError>>,
    outcome_taken: bool,
    last_now: Instant,
    rng: Rng,
    classifier: Option<Classifier>,
    /// The NAT kinds the server's `n:` listed (ours included).
    peer_nats: Vec<(String, NatKind)>,
    /// The server's `n:` listed our kind: stop sending `e:`.
    ext_acked: bool,
    next_ext: Instant,
    nat_reported: bool,
    /// The application asked to start; deferred until every player's NAT is known.
    start_wanted_at: Option<Instant>,
    /// The server's relay, once it granted it (see [`crate::relay`]).
    relay: Option<Relay>,
    /// When `r:` is next sent (see [`Engine::relay_asking`]).
    next_relay_ask: Instant,
    /// Started without the grant we asked for: our `y:` to the server waits until it comes, or
    /// until this instant.
    confirm_due: Option<Instant>,
    /// Relayed peers without a direct path: when our public address is next asked for (STUN),
    /// to tell them where to try.
    next_public: Option<Instant>,
    /// Private: the peers that cannot reach us were reported ([`Event::PrivateUnreachable`]).
    unreachable_reported: bool,
}

impl Engine {
    /// Validates `config` and queues the first `h:`/`c:`.
    pub fn new(config: Config, now: Instant) -> Result<Engine, ClientError> {
        config.validate()?;
        let mut out = Outbox::default();
        if config.nat.private {
            out.only_to = vec![config.server, config.nat.alt_addr(config.server)];
        }
        let lobby = Rendezvous::new(config.clone(), now, &mut out);
        let mut rng = Rng::new(config.seed);
        // A private client classifies nothing: it never announces a descriptor (one may carry
        // its port) and never tries a direct path.
        let classifier = (config.nat.classify && !config.nat.private)
            .then(|| Classifier::new(config.server, PROBE, &config.nat, &mut rng, now, &mut out));
        Ok(Engine {
            config,
            phase: Phase::Lobby(lobby),
            out,
            early: VecDeque::new(),
            outcome: None,
            outcome_taken: false,
            last_now: now,
            rng,
            classifier,
            peer_nats: Vec::new(),
            ext_acked: false,
            next_ext: now,
            nat_reported: false,
            start_wanted_at: None,
            relay: None,
            next_relay_ask: now,
            confirm_due: None,
            next_public: None,
            unreachable_reported: false,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Feeds one input. Never panics, whatever the bytes.
    pub fn handle_input(&mut self, input: Input<'_>) {
        match input {
            Input::Datagram { now, via, from, data } => self.on_datagram(now, via, from, data),
            Input::Opened { now, id, local_port } => self.on_opened(now, id, local_port),
            Input::Timeout(now) => self.on_timeout(now),
            Input::Unreachable { now, to } => {
                self.last_now = now;
                if let Phase::Lobby(r) = &mut self.phase {
                    let step = r.unreachable(to);
                    self.apply(now, step);
                }
            }
        }
        self.after_input();
    }

    /// Our NAT's classification, once done.
    pub fn nat_report(&self) -> Option<&NatReport> {
        self.classifier.as_ref().and_then(Classifier::report)
    }

    fn on_opened(&mut self, now: Instant, id: SocketId, local_port: Option<u16>) {
        self.last_now = now;
        if let Some(c) = &mut self.classifier {
            c.opened(id, local_port, now, &mut self.out);
        }
        if let Phase::Peers(p) = &mut self.phase {
            p.opened(id, local_port, &mut self.out);
        }
    }

    /// After every input: report a fresh classification once, and announce it (`e:`) while in
    /// the session until the server's `n:` lists it.
    fn after_input(&mut self) {
        let now = self.last_now;
        if self.confirm_due.is_some_and(|t| now >= t) {
            self.release_confirm();
        }
        self.relay_duties(now);
        if self.start_due(now) {
            self.start_wanted_at = None;
            if let Phase::Lobby(r) = &mut self.phase {
                r.start(now, &mut self.out);
            }
        }
        let Some(report) = self.classifier.as_ref().and_then(Classifier::report) else { return };
        // "Unknown" means nothing while the server has not answered at all: no conclusion then.
        let server_answered = match &self.phase {
            Phase::Lobby(r) => r.answered(),
            Phase::Peers(_) => true,
            // A run that failed in the lobby concludes nothing about the NAT.
            Phase::Stopped => false,
        };
        if !self.nat_reported && (report.kind != NatKind::Unknown || server_answered) {
            self.nat_reported = true;
            tracing::debug!(kind = %report.kind, public = ?report.public, "NAT classified");
            self.out.event(Event::Nat(report.clone()));
        }
        if self.ext_pending() && now >= self.next_ext {
            let token = report.kind.token();
            let req =
                Request::Ext { session: &self.config.session, player: &self.config.player, nat: &token };
            self.out.send(self.config.server, req.to_bytes());
            self.next_ext = now + self.config.timers.resend;
        }
    }

    /// The relay's side jobs: `r:` in the lobby until the start; in the peer phase the relay's
    /// own timers, and (for relayed peers without a direct path) a fresh public address every
    /// [`RETRY_EVERY`], told to them through the relay.
    fn relay_duties(&mut self, now: Instant) {
        if self.relay_asking(now) && now >= self.next_relay_ask {
            let (session, player) = (self.config.session.as_str(), self.config.player.as_str());
            let req = if self.config.nat.private {
                Request::Private { session, player }
            } else {
                Request::Relay { session, player }
            };
            self.out.send(self.config.server, req.to_bytes());
            self.next_relay_ask = match self.phase {
                Phase::Lobby(_) => now + self.config.timers.ping,
                _ => now + LATE_RELAY_ASK,
            };
        }
        let Some(relay) = &mut self.relay else { return };
        if now >= relay.poll_timeout() {
            relay.handle_timeout(now, &mut self.out);
        }
        let Phase::Peers(p) = &self.phase else { return };
        if self.config.nat.private {
            // Our public address is what we keep: never told, never asked for.
        } else if p.relayed_only().is_empty() {
            self.next_public = None;
        } else if self.next_public.is_none_or(|t| now >= t) {
            relay.refresh_public(&mut self.rng, &mut self.out);
            relay.send_candidate(&p.relayed_only(), &mut self.out);
            self.next_public = Some(now + RETRY_EVERY);
        }
    }

    /// We ask for the relay (`r:`): in the lobby once joined, and, if the start came without a
    /// grant (our `r:` may have been lost), a little longer while the server still sends start
    /// rounds (it then adds us to the relay late).
    fn relay_asking(&self, now: Instant) -> bool {
        if !(self.config.nat.relay || self.config.nat.private) || self.relay.is_some() {
            return false;
        }
        match &self.phase {
            Phase::Lobby(r) => r.is_joined(),
            Phase::Peers(p) => p.since_start(now) < LATE_RELAY_ASKS_FOR,
            Phase::Stopped => false,
        }
    }

    /// `e:` is still to be (re)sent: classified, in the session, not yet listed by the server.
    fn ext_pending(&self) -> bool {
        !self.ext_acked
            && self.classifier.as_ref().is_some_and(|c| c.report().is_some())
            && matches!(&self.phase, Phase::Lobby(r) if r.is_joined())
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
        let mut next = match &self.phase {
            Phase::Lobby(r) => Some(r.poll_timeout()),
            Phase::Peers(p) => p.poll_timeout(),
            Phase::Stopped => None,
        };
        let mut consider = |t: Option<Instant>| {
            if let Some(t) = t {
                next = Some(next.map_or(t, |n: Instant| n.min(t)));
            }
        };
        if !matches!(self.phase, Phase::Stopped) {
            consider(self.classifier.as_ref().and_then(Classifier::poll_timeout));
        }
        if self.ext_pending() {
            consider(Some(self.next_ext));
        }
        if let Some(since) = self.start_wanted_at {
            consider(Some(since + self.config.nat.start_wait));
        }
        consider(self.confirm_due);
        if !matches!(self.phase, Phase::Stopped) {
            consider(self.relay.as_ref().map(Relay::poll_timeout));
            consider(self.next_public);
            if self.relay_asking(self.last_now) {
                consider(Some(self.next_relay_ask));
            }
        }
        Output::Timeout(next.unwrap_or(self.last_now + IDLE))
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
        if !matches!(self.phase, Phase::Lobby(_)) {
            return;
        }
        if self.config.nat.classify && !self.config.nat.start_wait.is_zero() {
            self.start_wanted_at.get_or_insert(now);
            self.after_input();
        } else if let Phase::Lobby(r) = &mut self.phase {
            r.start(now, &mut self.out);
        }
    }

    /// A deferred start is due: every player's NAT is known, or the wait is over.
    fn start_due(&self, now: Instant) -> bool {
        let Some(since) = self.start_wanted_at else { return false };
        let Phase::Lobby(r) = &self.phase else { return false };
        let all_known =
            !r.players().is_empty() && r.players().iter().all(|p| self.peer_nats.iter().any(|(n, _)| n == p));
        all_known || now >= since + self.config.nat.start_wait
    }

    /// Leave the session (resent until the server confirms; the run then ends with
    /// `player_exited_session`).
    pub fn exit(&mut self, now: Instant) {
        self.last_now = now;
        if let Phase::Lobby(r) = &mut self.phase {
            r.exit(now, &mut self.out);
        }
    }

    /// Host: kick `victim` from the session (sent once). A refusal comes back as
    /// [`Event::Refused`].
    pub fn kick(&mut self, now: Instant, victim: &str) -> Result<(), ClientError> {
        self.last_now = now;
        match &mut self.phase {
            Phase::Lobby(r) => r.kick(now, victim, &mut self.out),
            _ => Ok(()),
        }
    }

    /// Host: let `player`, kicked earlier, join again (`u:`; sent once). Our server answers with
    /// the list; a refusal comes back as [`Event::Refused`].
    pub fn unban(&mut self, now: Instant, player: &str) -> Result<(), ClientError> {
        self.last_now = now;
        match &mut self.phase {
            Phase::Lobby(r) => r.unban(now, player, &mut self.out),
            _ => Ok(()),
        }
    }

    /// The end of the run, once: `Ok` when the peer phase is over (see [`Engine::peers`] for who
    /// connected), `Err` when the run failed. `None` while it goes on.
    pub fn take_outcome(&mut self) -> Option<Result<(), ClientError>> {
        if self.outcome_taken {
            return None;
        }
        let done = matches!(&self.phase, Phase::Peers(p) if *p.state() == PunchState::Done || p.is_ready());
        if self.outcome.is_none() && done {
            self.outcome = Some(Ok(()));
        }
        let outcome = self.outcome.take();
        if outcome.is_some() {
            self.outcome_taken = true;
        }
        outcome
    }

    /// True once the server phase is over.
    pub fn in_peer_phase(&self) -> bool {
        matches!(self.phase, Phase::Peers(_))
    }

    /// True when this player is (now) the session's host.
    pub fn is_host(&self) -> bool {
        match &self.phase {
            Phase::Lobby(r) => r.is_host(),
            Phase::Peers(p) => p.is_host(),
            Phase::Stopped => false,
        }
    }

    /// The host's name, once the session started (after a hand-over, the new host's:
    /// [`Event::HostChanged`]).
    pub fn host(&self) -> Option<&str> {
        match &self.phase {
            Phase::Peers(p) => Some(p.host()),
            _ => None,
        }
    }

    /// Players in the session (server phase; empty before the first `i:`).
    pub fn players(&self) -> &[String] {
        match &self.phase {
            Phase::Lobby(r) => r.players(),
            _ => &[],
        }
    }

    /// Every other player (peer phase; empty before).
    pub fn peers(&self) -> Vec<PeerInfo> {
        match &self.phase {
            Phase::Peers(p) => p.peers(),
            _ => Vec::new(),
        }
    }

    /// Our port as the peers see it (peer phase).
    pub fn my_port(&self) -> Option<u16> {
        match &self.phase {
            Phase::Peers(p) => Some(p.my_port()),
            _ => None,
        }
    }

    /// When the server's `s:` arrived.
    pub fn started_at(&self) -> Option<Instant> {
        match &self.phase {
            Phase::Peers(p) => Some(p.started_at()),
            _ => None,
        }
    }

    /// True when the peer phase is over and no timed duty is left (a host's `s:<n>` rounds).
    pub fn is_settled(&self) -> bool {
        match &self.phase {
            Phase::Peers(p) => p.is_settled(),
            Phase::Lobby(_) => false,
            Phase::Stopped => true,
        }
    }

    /// True when we owe no peer anything timed: as host, every connected peer has had its
    /// `s:<n>` rounds (a Godot client finishes on them). Direct attempts may still be running.
    pub fn host_duties_done(&self) -> bool {
        match &self.phase {
            Phase::Peers(p) => p.owes_no_start(),
            _ => true,
        }
    }

    /// Gives the server's relay back (the application is done): the datagram to send, if we
    /// had a grant. Relayed peers are unreachable afterwards.
    pub fn leave_relay(&mut self) -> Option<Transmit> {
        let relay = self.relay.take()?;
        self.next_public = None;
        Some(Transmit { to: self.config.server, data: relay.leave_frame(), via: SocketId::MAIN })
    }

    /// We leave the session (the application is done): the datagrams that tell every reachable
    /// peer that is one of our clients (`l:` on a direct path, the relay's leave through it).
    /// Godot peers get nothing. Send them before [`Engine::leave_relay`], a few times (UDP may
    /// lose one; a repeated leave is ignored). The engine itself does not change.
    pub fn farewell(&self) -> Vec<Transmit> {
        let Phase::Peers(p) = &self.phase else { return Vec::new() };
        let (mut out, relayed) = p.farewell();
        let only_to = &self.out.only_to;
        out.retain(|t| crate::private::may_send(t.to, only_to));
        if let Some(relay) = &self.relay {
            for name in relayed {
                if let Some(data) = relay.notice_frame(&name, LEAVE) {
                    out.push(Transmit { to: relay.server(), data, via: SocketId::MAIN });
                }
            }
        }
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
        let Phase::Peers(p) = &self.phase else {
            return Err(ClientError::UnknownPeer(peer.to_owned()));
        };
        if let Some((via, to)) =
            p.peer_addr(peer).filter(|(_, to)| crate::private::may_send(*to, &self.out.only_to))
        {
            return Ok(Transmit { to, data: PeerMessage::Data(data).to_bytes(), via });
        }
        let relayed = p.is_relayed_only(peer).then_some(()).and(self.relay.as_ref());
        let frame = relayed.and_then(|r| r.data_frame(peer, data));
        let frame = frame.ok_or_else(|| ClientError::UnknownPeer(peer.to_owned()))?;
        Ok(Transmit { to: self.config.server, data: frame, via: SocketId::MAIN })
    }

    fn on_datagram(&mut self, now: Instant, via: SocketId, from: SocketAddr, data: &[u8]) {
        self.last_now = now;
        if via == WATCH {
            // The watch's STUN answer: the server is there; nothing else in it matters.
            if let Phase::Lobby(r) = &mut self.phase {
                r.heard(now);
            }
            return;
        }
        let from_server = from == self.config.server && via == SocketId::MAIN;
        if from_server {
            // Whatever the server sent (a STUN answer, `n:`, the relay's grant) proves it is there.
            if let Phase::Lobby(r) = &mut self.phase {
                r.heard(now);
            }
        }
        if let Some(c) = &mut self.classifier {
            if c.handle_datagram(via, from, data, &mut self.out) {
                return;
            }
        }
        if from_server && self.relay_datagram(now, data) {
            return;
        }
        if rhp_proto::stun::is_stun(data) {
            // A late or foreign STUN answer: nothing the rest of the engine reads.
            return;
        }
        if from_server && self.server_extra(now, data) {
            return;
        }
        match &mut self.phase {
            Phase::Lobby(r) => {
                if from_server {
                    let step = r.handle_datagram(now, data, &mut self.out);
                    self.apply(now, step);
                } else if via == SocketId::MAIN
                    && self.early.len() < MAX_EARLY
                    && PeerMessage::parse(data).is_ok()
                {
                    self.early.push_back((from, data.to_vec()));
                }
            }
            Phase::Peers(p) => {
                if from_server {
                    // A later `s:` round: the server did not get our `y:`; confirm once more
                    // (unless it waits for our grant).
                    if let Ok(Reply::Start { .. }) = Reply::parse(data) {
                        if self.confirm_due.is_none() {
                            self.send_raw_confirm();
                        }
                    }
                    return;
                }
                if let Some((peer, data)) = p.handle_datagram(now, via, from, data, &mut self.out) {
                    self.out.event(Event::Data { peer, data });
                }
            }
            Phase::Stopped => {}
        }
    }

    /// Relay traffic from the server: its grant (`r:`, before our start message), its frames, and
    /// the answers to our public-address STUN requests. True when handled.
    fn relay_datagram(&mut self, now: Instant, data: &[u8]) -> bool {
        if data.starts_with(b"r:") {
            let Some(fresh) = Relay::from_grant(data, &self.config.player, self.config.server, now) else {
                return true;
            };
            match &mut self.relay {
                // The same relay again (every start round): members that asked late are added.
                Some(r) if r.token() == fresh.token() => r.absorb(fresh),
                _ => {
                    tracing::debug!("the server granted its relay");
                    self.relay = Some(fresh);
                    if self.confirm_due.is_some() {
                        self.release_confirm();
                    }
                    self.report_unreachable();
                }
            }
            if let (Some(r), Phase::Peers(_)) = (&mut self.relay, &self.phase) {
                r.activate(now, &mut self.out);
                r.handle_timeout(now, &mut self.out);
            }
            return true;
        }
        let Some(relay) = &mut self.relay else { return false };
        if rhp_proto::relay::is_frame(data) {
            match relay.handle_frame(now, data, &mut self.out) {
                Some(RelayIn::Up(name)) => {
                    if let Phase::Peers(p) = &mut self.phase {
                        p.relay_up(&name, now, &mut self.out);
                    }
                }
                Some(RelayIn::Data(peer, data)) => {
                    // Before the peer phase (a member faster than us) it is delivered as is.
                    let alive = match &mut self.phase {
                        Phase::Peers(p) => p.relay_heard(&peer, now),
                        _ => true,
                    };
                    if alive {
                        self.out.event(Event::Data { peer, data });
                    }
                }
                Some(RelayIn::Candidate(name, addr)) => {
                    if let Phase::Peers(p) = &mut self.phase {
                        if p.relay_heard(&name, now) {
                            p.relay_candidate(&name, addr, now);
                        }
                    }
                }
                Some(RelayIn::Alive(name)) => {
                    if let Phase::Peers(p) = &mut self.phase {
                        p.relay_heard(&name, now);
                    }
                }
                Some(RelayIn::Leave(name)) => {
                    if let Phase::Peers(p) = &mut self.phase {
                        p.peer_left(&name, LeaveReason::Left, now, &mut self.out);
                    }
                }
                Some(RelayIn::Refused(r)) => {
                    tracing::warn!("the server's relay refused a frame: {}", r.describe());
                    self.out.event(Event::RelayRefused(r));
                }
                None => {}
            }
            return true;
        }
        let (ours, changed) = relay.handle_stun(data);
        if ours && changed {
            if let Phase::Peers(p) = &self.phase {
                relay.send_candidate(&p.relayed_only(), &mut self.out);
            }
        }
        ours
    }

    /// Server datagrams outside the original protocol: the `n:` list, and the
    /// `error:invalid_request` a server without STUN answers our Binding requests with. True
    /// when handled.
    fn server_extra(&mut self, now: Instant, data: &[u8]) -> bool {
        if self.classifier.is_some()
            && Reply::parse(data).is_ok_and(|r| r == Reply::Error(ErrorCode::InvalidRequest))
        {
            // Our requests are validated before they go; this answers a STUN probe.
            tracing::debug!("the server does not speak STUN (error:invalid_request); ignored");
            return true;
        }
        let Ok(Reply::Nat(entries)) = Reply::parse(data) else { return false };
        let kinds: Vec<(String, NatKind)> =
            entries.iter().filter_map(|e| Some((e.player.clone(), NatKind::from_token(&e.desc)?))).collect();
        if kinds.iter().any(|(n, _)| *n == self.config.player) {
            self.ext_acked = true;
        }
        for (name, kind) in &kinds {
            if let Some(slot) = self.peer_nats.iter_mut().find(|(n, _)| n == name) {
                slot.1 = *kind;
            } else if self.peer_nats.len() < usize::from(rhp_proto::name::MAX_PLAYERS) * 2 {
                self.peer_nats.push((name.clone(), *kind));
            }
        }
        if let Phase::Peers(p) = &mut self.phase {
            p.update_nat(&kinds, now);
        }
        true
    }

    fn on_timeout(&mut self, now: Instant) {
        self.last_now = now;
        if let Some(c) = &mut self.classifier {
            c.handle_timeout(now, &mut self.out);
        }
        match &mut self.phase {
            Phase::Lobby(r) => {
                let step = r.handle_timeout(now, &mut self.out);
                self.apply(now, step);
            }
            Phase::Peers(p) => {
                let failed = p.handle_timeout(now, &mut self.out);
                let due = std::mem::take(&mut p.relay_alive);
                if let Some(err) = failed {
                    self.fail(err);
                }
                if let Some(relay) = &self.relay {
                    for name in due {
                        if let Some(frame) = relay.notice_frame(&name, ALIVE) {
                            self.out.send(relay.server(), frame);
                        }
                    }
                }
            }
            Phase::Stopped => {}
        }
    }

    fn apply(&mut self, now: Instant, step: Step) {
        match step {
            Step::Stay => {}
            Step::Failed(err) => self.fail(err),
            Step::Started { own_port, peers, is_host } => {
                if self.config.nat.relay && self.relay.is_none() {
                    // Asked for the relay, no grant yet: ask again at once, and let the server's
                    // start rounds (which carry the grant) go on until it comes.
                    tracing::debug!("started without the relay's grant: asking again");
                    self.confirm_due = Some(now + LATE_RELAY_ASKS_FOR);
                    self.next_relay_ask = now;
                } else {
                    self.send_raw_confirm();
                }
                let nat = PunchNat {
                    me: self.nat_report().map(|r| r.kind),
                    peers: self.peer_nats.clone(),
                    predict_window: self.config.nat.predict_window,
                    birthday: self.config.nat.birthday,
                    rng: Rng::new(self.rng.next_u64()),
                    first_socket: FIRST_HARD,
                };
                let lobby = match &self.phase {
                    Phase::Lobby(r) => r.players().to_vec(),
                    _ => Vec::new(),
                };
                let punch =
                    Punch::new(&self.config, own_port, peers, is_host, &lobby, now, &mut self.out, nat);
                self.phase = Phase::Peers(punch);
                if let Some(r) = &mut self.relay {
                    r.activate(now, &mut self.out);
                }
                self.report_unreachable();
                let early: Vec<_> = self.early.drain(..).collect();
                for (from, data) in early {
                    self.on_datagram(now, SocketId::MAIN, from, &data);
                }
            }
        }
    }

    /// The deferred `y:` goes now.
    fn release_confirm(&mut self) {
        if self.confirm_due.take().is_some() {
            self.send_raw_confirm();
        }
        self.report_unreachable();
    }

    /// Private, in the peer phase, our grant settled (it came, or we stopped waiting): once, the
    /// peers that cannot reach us (not relay members; our address is kept from them).
    fn report_unreachable(&mut self) {
        if !self.config.nat.private || self.unreachable_reported || self.confirm_due.is_some() {
            return;
        }
        let Phase::Peers(p) = &self.phase else { return };
        let members: Vec<&str> = self.relay.as_ref().map(|r| r.member_names().collect()).unwrap_or_default();
        let peers: Vec<String> =
            p.peers().into_iter().map(|i| i.name).filter(|n| !members.contains(&n.as_str())).collect();
        self.unreachable_reported = true;
        if !peers.is_empty() {
            tracing::warn!("private: {} cannot reach us (not our clients with the relay)", peers.join(", "));
        }
        self.out.event(Event::PrivateUnreachable { peers });
    }

    /// `y:S:P`: we have our start message (stops the server's start rounds to us).
    fn send_raw_confirm(&mut self) {
        let req = Request::Confirm { session: &self.config.session, player: &self.config.player };
        self.out.send(self.config.server, req.to_bytes());
    }

    fn fail(&mut self, err: ClientError) {
        tracing::debug!(%err, "run failed");
        if self.outcome.is_none() && !self.outcome_taken {
            self.outcome = Some(Err(err));
        }
        // Keep the peer list readable after a peer-phase failure; stop all sending.
        if let Phase::Lobby(_) = self.phase {
            self.phase = Phase::Stopped;
        }
    }

    /// Time since the server's `s:` arrived, if it did.
    pub fn since_start(&self, now: Instant) -> Option<Duration> {
        match &self.phase {
            Phase::Peers(p) => Some(p.since_start(now)),
            _ => None,
        }
    }
}
