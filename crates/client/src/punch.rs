//! The peer phase: from the server's `s:` to a confirmed path to every other player, speaking the
//! Godot plugin's peer messages with one set of rules for every peer (Godot or not).
//!
//! Per peer X:
//! - **Greet.** At the start, `g:<me>:<my_port>:<dest_port>` goes to X's reported port and to the
//!   ±8 window around it in one burst; then one datagram per `peer_tick` cycles the window until X
//!   is heard. Field 3 is always exactly the port the datagram is sent to.
//! - **Pin.** The first valid message from X (`g:`, `c:`, `y:` by X's name; `s:` from the host's
//!   address) pins X to the datagram's source address; from then on only that address is used.
//!   Until X is connected, a message that answers us (`c:`, `y:`, `s:`, data) from another path
//!   moves the pin there; a greeting does not (see `Punch::pin`).
//! - **Confirm.** On first hearing X, one `c:<me>:<my_port>` at once. While X is pinned but its
//!   `c:` has not come, each tick alternates `g:` and `c:`. X is connected once heard and a `c:`
//!   came from it (a host's `s:<n>` or a `y:` also proves X heard us).
//! - **React** (also after the phase is over): once our ticks to X have stopped (X connected, or
//!   failed at the deadline), each `g:` from X is answered with one `c:`, and `c:` from X once per
//!   two received, so two peers using this rule cannot echo each other forever, and never more
//!   goes out than came in. The `c:` that connects X is always answered at once.
//! - **Start.** A host sends `s:<n>` to each connected X once per tick until X's `y:` or
//!   `host_start_for` passed, and answers each `y:` with a `c:` (a Godot client that lost our `c:`
//!   but got `s:<n>` still needs one). A non-host answers every `s:<n>` from the host with
//!   `y:<me>:<my_port>`.
//! - **Finish** as soon as every peer is connected; at `peer_deadline` the rest fail.
//!
//! `my_port` is the port most often named in field 3 of greetings that reached us, else the port
//! the server saw.
//!
//! Beyond plain punching, with peers that announced their NAT kind through the server (see
//! [`crate::strategy`]): a predicted peer's window holds its predicted ports (several per tick);
//! the birthday path's easy side probes random ports of the peer's IP ([`Prober`]) and its hard
//! side, after `grace` of plain punching, opens K sockets that greet the peer and closes all but
//! the winners once every such peer connected or failed ([`HardSockets`]). A connected peer is
//! never re-pinned: late datagrams from other sockets or ports do not move its path.
//!
//! With the server's relay (see [`crate::relay`]), a peer the relay reaches counts as reachable:
//! the phase is *ready* (the application gets its mesh) once every peer is connected or relayed,
//! while direct attempts go on until every peer is connected directly or the deadline. A relayed
//! peer is never failed at the deadline; every [`RETRY_EVERY`] after it, it gets a burst of
//! greetings (its reported window and the address it last told us through the relay), so a
//! direct path found later (a NAT that changed) takes over ([`Event::Upgraded`]).
//!
//! Between our clients only (peers that announced their NAT through the server, relay members,
//! or peers that sent us `a:`/`l:`; never a Godot peer): a keepalive `a:<me>` every `keepalive`
//! to each reachable one (through the relay for a relayed-only one), and a peer that sent nothing
//! for `peer_silence` is gone ([`Event::PeerLeft`], silent). A peer's `l:<name>` (or the relay's
//! leave) reports it gone at once. When the host is gone, the new host is the earliest player in
//! the session's join order among us and the reachable peers that are our clients; every
//! remaining player computes the same ([`Event::HostChanged`]).

/// The NAT side of the peer phase: our kind, the peers' announced kinds, the numbers.
#[derive(Debug)]
pub(crate) struct PunchNat {
    pub(crate) me: Option<NatKind>,
    pub(crate) peers: Vec<(String, NatKind)>,
    pub(crate) predict_window: u16,
    pub(crate) birthday: BirthdayConfig,
    pub(crate) rng: Rng,
    /// First socket id the hard side may use.
    pub(crate) first_socket: u32,
}

use crate::birthday::{HardSockets, Prober};
use crate::config::{BirthdayConfig, Config};
use crate::error::ClientError;
use crate::events::{Event, LeaveReason, PeerInfo, PeerStatus};
use crate::nat_kind::NatKind;
use crate::outbox::{Outbox, SocketOp};
use crate::peer_state::{candidate_ports, Alternate, PeerState};
use crate::rng::Rng;
use crate::strategy::{Method, Plan};
use rhp_io::{SocketId, Transmit};
use rhp_proto::{PeerAddr, PeerMessage};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Most distinct ports remembered from greetings' field 3.
const MAX_PORT_VOTES: usize = 64;

/// A relayed peer's background direct attempts, this often (a burst of ≤ 18 greetings).
pub(crate) const RETRY_EVERY: Duration = Duration::from_secs(2);

/// How the peer phase stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PunchState {
    /// Still connecting.
    Running,
    /// Over: every peer connected, or the deadline passed with at least the host reachable.
    Done,
    /// Over, and the run failed.
    Failed,
}

/// The peer-phase state machine.
#[derive(Debug)]
pub(crate) struct Punch {
    me: String,
    is_host: bool,
    host: String,
    start_in_secs: u32,
    tick: Duration,
    host_start_for: Duration,
    started_at: Instant,
    deadline: Instant,
    server_own_port: u16,
    port_votes: Vec<(u16, u32)>,
    peers: Vec<PeerState>,
    state: PunchState,
    nat: PunchNat,
    hard: HardSockets,
    /// When the hard side opens its sockets (a peer is on the birthday path's hard side).
    hard_at: Option<Instant>,
    /// The `Done` event went out (every peer connected or relayed, or the deadline passed).
    ready: bool,
    /// The rendezvous server (the address a relayed peer is reported at).
    server: SocketAddr,
    /// Every player (us included) in the session's join order: the host hand-over's rule.
    order: Vec<String>,
    keepalive: Duration,
    silence: Duration,
    /// Relayed-only peers whose keepalive is due: the engine sends them through the relay.
    pub(crate) relay_alive: Vec<String>,
    /// When the phase last got an input. With peers to keep alive the engine asks to run at
    /// least every `keepalive`; a much longer gap means the application did not drive it (a
    /// stall), and the peers' datagrams may be waiting unread in the socket.
    last_run: Instant,
}

impl Punch {
    /// Starts the phase at `now` (the arrival of the server's `s:`) and sends the first burst.
    /// `lobby` is the last player list of the server phase (join order, us included): it places
    /// us among the others of the start message, which lists them in join order without us.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        config: &Config,
        own_port: u16,
        peer_list: Vec<PeerAddr>,
        is_host: bool,
        lobby: &[String],
        now: Instant,
        out: &mut Outbox,
        nat: PunchNat,
    ) -> Punch {
        let host = if is_host {
            config.player.clone()
        } else {
            peer_list.first().map(|p| p.name.clone()).unwrap_or_default()
        };
        let order = join_order(&config.player, is_host, &peer_list, lobby);
        let peers = peer_states(config, &peer_list, &host, is_host, now);
        let mut punch = Punch {
            me: config.player.clone(),
            is_host,
            host,
            start_in_secs: config.start_in_secs,
            tick: config.timers.peer_tick,
            host_start_for: config.timers.host_start_for,
            started_at: now,
            deadline: now + config.timers.peer_deadline,
            server_own_port: own_port,
            port_votes: Vec::new(),
            peers,
            state: PunchState::Running,
            nat,
            hard: HardSockets::default(),
            hard_at: None,
            ready: false,
            server: config.server,
            order,
            keepalive: config.timers.keepalive,
            silence: config.timers.peer_silence,
            relay_alive: Vec::new(),
            last_run: now,
        };
        for i in 0..punch.peers.len() {
            let kind = punch.nat.peers.iter().find(|(n, _)| *n == punch.peers[i].name).map(|(_, k)| *k);
            punch.peers[i].ours = kind.is_some();
            punch.apply_plan(i, kind, now);
        }
        out.event(Event::Started {
            own_port,
            peers: punch.peers.iter().map(|p| PeerAddr { name: p.name.clone(), addr: p.reported }).collect(),
            host: punch.host.clone(),
        });
        // The burst: every candidate port of every peer. The other-family addresses (IPv6 first,
        // as Happy Eyeballs does) and the reported ports (the likely ones) of all peers go first,
        // then each peer's window in order.
        let my_port = punch.my_port();
        for peer in &punch.peers {
            if let Some(other) = peer.other {
                out.send(other, greeting(&punch.me, my_port, other.port()));
            }
        }
        for peer in &punch.peers {
            let port = peer.window.first().copied().unwrap_or(peer.reported.port());
            out.send(SocketAddr::new(peer.reported.ip(), port), greeting(&punch.me, my_port, port));
        }
        for peer in &punch.peers {
            for &port in peer.window.iter().skip(1) {
                let to = SocketAddr::new(peer.reported.ip(), port);
                out.send(to, greeting(&punch.me, my_port, port));
            }
        }
        punch.check_done(now, out);
        punch
    }

    pub(crate) fn state(&self) -> &PunchState {
        &self.state
    }

    /// Every peer has a path (direct or relayed), or the deadline passed: the mesh is ready.
    pub(crate) fn is_ready(&self) -> bool {
        self.ready && self.state != PunchState::Failed
    }

    /// The relay reaches `name` both ways. A peer without a direct path is reported connected
    /// through it (and stops failing at the deadline).
    /// `at`: where the relay's frames go (the server, or the node its grant named).
    pub(crate) fn relay_up(&mut self, name: &str, at: SocketAddr, now: Instant, out: &mut Outbox) {
        if self.state == PunchState::Failed {
            return;
        }
        let after = now - self.started_at;
        let server = at;
        let running = self.state == PunchState::Running;
        let Some(p) = self.peers.iter_mut().find(|p| p.name == name) else { return };
        if p.relayed || p.is_gone() {
            return;
        }
        p.relayed = true;
        // Only our clients are relay members.
        p.ours = true;
        p.last_heard = Some(now);
        if !p.is_connected() {
            p.method = Some(Method::Relay);
            p.connected_after.get_or_insert(after);
            if !running {
                p.next_retry = Some(now);
            }
            out.event(Event::Connected {
                peer: p.name.clone(),
                addr: server,
                after_start: after,
                method: Method::Relay,
                probes: None,
            });
        }
        self.check_done(now, out);
    }

    /// `name` told us its current public address through the relay. Used for background direct
    /// attempts; only an address on the IP the server reported for it.
    pub(crate) fn relay_candidate(&mut self, name: &str, addr: SocketAddr, now: Instant) {
        let running = self.state == PunchState::Running;
        let Some(p) = self.peers.iter_mut().find(|p| p.name == name) else { return };
        if p.is_connected() || addr.ip() != p.reported.ip() || p.candidate == Some(addr) {
            return;
        }
        tracing::debug!(peer = %p.name, %addr, "new direct candidate through the relay");
        p.candidate = Some(addr);
        if p.relayed && !running {
            p.next_retry = Some(now);
        }
    }

    /// Relayed peers still without a direct path.
    pub(crate) fn relayed_only(&self) -> Vec<String> {
        self.peers
            .iter()
            .filter(|p| p.relayed && !p.is_connected() && !p.is_gone())
            .map(|p| p.name.clone())
            .collect()
    }

    /// Whether `name` is reached through the relay only.
    pub(crate) fn is_relayed_only(&self, name: &str) -> bool {
        self.peers.iter().any(|p| p.name == name && p.relayed && !p.is_connected() && !p.is_gone())
    }

    /// A relay frame came from member `name`: it is alive. False when it is gone (its frames
    /// are then ignored).
    pub(crate) fn relay_heard(&mut self, name: &str, now: Instant) -> bool {
        let Some(p) = self.peers.iter_mut().find(|p| p.name == name) else { return false };
        if p.is_gone() {
            return false;
        }
        p.ours = true;
        p.last_heard = Some(now);
        true
    }

    /// Peer `name` is gone (its `l:`, or the relay's leave): reported once; if it was the host,
    /// the remaining players' rule names the next one.
    pub(crate) fn peer_left(&mut self, name: &str, reason: LeaveReason, now: Instant, out: &mut Outbox) {
        if self.state == PunchState::Failed {
            return;
        }
        let Some(i) = self.peers.iter().position(|p| p.name == name) else { return };
        self.mark_left(i, reason, now, out);
    }

    fn mark_left(&mut self, i: usize, reason: LeaveReason, now: Instant, out: &mut Outbox) {
        let p = &mut self.peers[i];
        if p.is_gone() {
            return;
        }
        tracing::debug!(peer = %p.name, %reason, "peer gone");
        p.status = PeerStatus::Left(reason);
        p.next_alive = None;
        p.next_retry = None;
        let was_host = p.is_host;
        out.event(Event::PeerLeft { peer: p.name.clone(), reason });
        if was_host {
            self.hand_over(out);
        }
        self.check_done(now, out);
    }

    /// The host is gone: the earliest player in join order among us and the reachable peers
    /// that are our clients becomes host (the same on every remaining player of a full mesh).
    fn hand_over(&mut self, out: &mut Outbox) {
        let me = self.me.clone();
        let next = self
            .order
            .iter()
            .find(|n| **n == me || self.peers.iter().any(|p| p.name == **n && p.ours && p.is_reachable()))
            .cloned()
            .unwrap_or(me);
        if next == self.host {
            return;
        }
        for p in &mut self.peers {
            p.is_host = p.name == next;
        }
        let is_us = next == self.me;
        if is_us {
            self.is_host = true;
            // The peer phase's `s:<n>` is the first host's duty; a promoted host owes none.
            for p in &mut self.peers {
                p.start_acked = true;
            }
        }
        tracing::debug!(host = %next, "the host is gone; the new host by join order");
        self.host = next.clone();
        out.event(Event::HostChanged { host: next, is_us });
    }

    /// Datagrams telling every reachable peer that is one of our clients that we leave:
    /// `l:<me>` on each direct path; the names of those reached through the relay (the engine
    /// adds the relay's frames).
    pub(crate) fn farewell(&self) -> (Vec<Transmit>, Vec<String>) {
        let bye = PeerMessage::Leave { sender: &self.me }.to_bytes();
        let mut direct = Vec::new();
        let mut relayed = Vec::new();
        for p in self.peers.iter().filter(|p| p.ours && p.is_reachable()) {
            if let (true, Some(to)) = (p.is_connected(), p.pinned) {
                direct.push(Transmit { to, data: bye.clone(), via: p.via });
            }
            if p.relayed {
                relayed.push(p.name.clone());
            }
        }
        (direct, relayed)
    }

    /// After a stall (see `last_run`), silence is counted from one keepalive ago, not from the
    /// last datagram read: what the peers sent meanwhile is still to be read.
    fn after_stall(&mut self, now: Instant) {
        if now.saturating_duration_since(self.last_run) > self.keepalive * 2 {
            let since = now.checked_sub(self.keepalive).unwrap_or(now);
            tracing::debug!(gap = ?(now - self.last_run), "the engine was not driven for a while");
            for p in self.peers.iter_mut().filter(|p| p.ours && p.is_reachable()) {
                p.last_heard = Some(p.last_heard.map_or(since, |t| t.max(since)));
            }
        }
        self.last_run = self.last_run.max(now);
    }

    /// Keepalives due at `now` (direct ones go out; relayed-only ones are listed in
    /// `relay_alive`), and peers silent for too long are gone.
    fn keep_alive(&mut self, now: Instant, out: &mut Outbox) {
        let me = self.me.clone();
        let (every, silence) = (self.keepalive, self.silence);
        let mut silent = Vec::new();
        for (i, p) in self.peers.iter_mut().enumerate() {
            if !p.ours || !p.is_reachable() {
                continue;
            }
            if p.last_heard.is_some_and(|t| now >= t + silence) {
                silent.push(i);
                continue;
            }
            let due = *p.next_alive.get_or_insert(now);
            if now < due {
                continue;
            }
            p.next_alive = Some(now + every);
            match (p.is_connected(), p.pinned) {
                (true, Some(to)) => out.send_via(p.via, to, PeerMessage::Alive { sender: &me }.to_bytes()),
                _ => self.relay_alive.push(p.name.clone()),
            }
        }
        for i in silent {
            self.mark_left(i, LeaveReason::Silent, now, out);
        }
    }

    pub(crate) fn is_host(&self) -> bool {
        self.is_host
    }

    pub(crate) fn host(&self) -> &str {
        &self.host
    }

    pub(crate) fn started_at(&self) -> Instant {
        self.started_at
    }

    /// Our port as the peers see it.
    pub(crate) fn my_port(&self) -> u16 {
        // Most votes wins; on a tie the port seen first.
        let mut best: Option<(u16, u32)> = None;
        for &(port, n) in &self.port_votes {
            if best.is_none_or(|(_, m)| n > m) {
                best = Some((port, n));
            }
        }
        best.map_or(self.server_own_port, |(p, _)| p)
    }

    pub(crate) fn peers(&self) -> Vec<PeerInfo> {
        self.peers.iter().map(PeerState::info).collect()
    }

    /// The socket and address to send application data to `name`, if it is connected.
    pub(crate) fn peer_addr(&self, name: &str) -> Option<(SocketId, SocketAddr)> {
        self.peers
            .iter()
            .find(|p| p.name == name && p.is_connected() && !p.is_gone())
            .and_then(|p| Some((p.via, p.pinned?)))
    }

    /// Sets peer `i`'s plan from its announced kind (None: it announced none).
    fn apply_plan(&mut self, i: usize, kind: Option<NatKind>, now: Instant) {
        let plan = Plan::choose(self.nat.me, kind);
        let window = self.nat.predict_window;
        let b = self.nat.birthday;
        let Some(p) = self.peers.get_mut(i) else { return };
        if p.plan == plan {
            return;
        }
        tracing::debug!(peer = %p.name, ?plan, "direct method chosen");
        p.set_plan(plan, window);
        match plan {
            // Probing starts when the hard side's sockets open (same grace on both sides): a
            // probe sent before its mapping exists is lost for good.
            Plan::BirthdayEasy => {
                p.prober = Some(Prober::new(&mut self.nat.rng, b.rate, b.max_probes, now + b.grace))
            }
            Plan::BirthdayHard if self.hard_at.is_none() => self.hard_at = Some(now + b.grace),
            _ => {}
        }
    }

    /// A peer's NAT kind arrived (or changed) after the start: re-plan while it is not connected.
    pub(crate) fn update_nat(&mut self, entries: &[(String, NatKind)], now: Instant) {
        for (name, kind) in entries {
            if let Some(slot) = self.nat.peers.iter_mut().find(|(n, _)| n == name) {
                slot.1 = *kind;
            } else {
                self.nat.peers.push((name.clone(), *kind));
            }
            let Some(i) = self.peers.iter().position(|p| p.name == *name) else { continue };
            self.peers[i].ours = true;
            if self.state == PunchState::Running && !self.peers[i].is_connected() {
                self.apply_plan(i, Some(*kind), now);
            }
        }
    }

    /// The driver opened (or could not open) a socket we asked for.
    pub(crate) fn opened(&mut self, id: SocketId, local_port: Option<u16>, out: &mut Outbox) {
        let Some(slot) = self.hard.sockets.iter_mut().find(|(s, _)| *s == id) else { return };
        if local_port.is_none() {
            return;
        }
        slot.1 = true;
        if self.hard.closed {
            out.socket(SocketOp::Close(id));
            return;
        }
        let my_port = self.my_port();
        for p in self.peers.iter().filter(|p| p.plan == Plan::BirthdayHard && !p.is_connected()) {
            out.send_via(id, p.reported, greeting(&self.me, my_port, p.reported.port()));
        }
    }

    /// Hard side: open the sockets when the grace ends, greet again from each every `resend`,
    /// and close them all but the winners once no peer needs them.
    fn hard_side(&mut self, now: Instant, out: &mut Outbox) {
        let waiting = self.state == PunchState::Running
            && self.peers.iter().any(|p| p.plan == Plan::BirthdayHard && !p.is_connected());
        if !waiting {
            // Disarmed: a peer that connected before the grace ended must not leave a deadline
            // in the past behind (the driver would be woken at once, again and again).
            self.hard_at = None;
            self.close_hard(out);
            return;
        }
        if self.hard_at.is_some_and(|t| now >= t) && self.hard.sockets.is_empty() {
            let k = u32::from(self.nat.birthday.sockets);
            tracing::debug!(sockets = k, "birthday path: opening the hard side's sockets");
            for n in 0..k {
                let id = SocketId(self.nat.first_socket + n);
                self.hard.sockets.push((id, false));
                out.socket(SocketOp::Open(id));
            }
            self.hard.next_greet = Some(now + self.nat.birthday.resend);
        }
        if self.hard.next_greet.is_some_and(|t| now >= t) {
            self.hard.next_greet = Some(now + self.nat.birthday.resend);
            let my_port = self.my_port();
            let ids: Vec<SocketId> = self.hard.open_ids().collect();
            for p in self.peers.iter().filter(|p| p.plan == Plan::BirthdayHard && !p.is_connected()) {
                for &id in &ids {
                    out.send_via(id, p.reported, greeting(&self.me, my_port, p.reported.port()));
                }
            }
        }
    }

    fn close_hard(&mut self, out: &mut Outbox) {
        if self.hard.closed || self.hard.sockets.is_empty() {
            return;
        }
        self.hard.closed = true;
        self.hard.next_greet = None;
        // Every socket a connected peer was heard on stays: the peer may have pinned any of them.
        let mut winners: Vec<SocketId> = Vec::new();
        for p in self.peers.iter().filter(|p| p.is_connected()) {
            for id in std::iter::once(p.via).chain(p.heard_paths.iter().map(|(v, _)| *v)) {
                if !winners.contains(&id) {
                    winners.push(id);
                }
            }
        }
        self.hard.winners = winners.clone();
        let closing: Vec<SocketId> =
            self.hard.sockets.iter().map(|(s, _)| *s).filter(|s| !winners.contains(s)).collect();
        tracing::debug!(
            closed = closing.len(),
            kept = winners.len(),
            "birthday path over: closing the hard side's sockets"
        );
        for id in closing {
            out.socket(SocketOp::Close(id));
        }
    }

    /// Easy side: the probes due now.
    fn probe(&mut self, now: Instant, out: &mut Outbox) {
        if self.state != PunchState::Running {
            return;
        }
        let my_port = self.my_port();
        for p in self.peers.iter_mut().filter(|p| !p.is_connected()) {
            let ip = p.reported.ip();
            let Some(prober) = p.prober.as_mut() else { continue };
            for port in prober.due(now) {
                out.send(SocketAddr::new(ip, port), greeting(&self.me, my_port, port));
            }
        }
    }

    /// True when no duty is left that needs timers (host `s:<n>` rounds finished).
    pub(crate) fn is_settled(&self) -> bool {
        self.state != PunchState::Running && self.peers.iter().all(|p| !self.start_pending(p))
    }

    /// No connected peer is owed `s:<n>` rounds any more.
    pub(crate) fn owes_no_start(&self) -> bool {
        self.peers.iter().all(|p| !self.start_pending(p))
    }

    /// A host still owes `p` rounds of `s:<n>` (until its `y:` or `host_start_for`, after which
    /// `handle_timeout` sets `start_acked`).
    fn start_pending(&self, p: &PeerState) -> bool {
        self.is_host && p.is_connected() && !p.start_acked
    }

    /// The earliest moment a timeout call is needed.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        let mut next = None::<Instant>;
        let mut consider = |t: Instant| next = Some(next.map_or(t, |n| n.min(t)));
        if self.state == PunchState::Failed {
            return None;
        }
        for p in self.peers.iter().filter(|p| p.relayed && !p.is_connected()) {
            if let Some(t) = p.next_retry {
                consider(t);
            }
        }
        if self.state == PunchState::Running {
            consider(self.deadline);
            for p in self.peers.iter().filter(|p| !p.is_connected()) {
                if let Some(t) = p.prober.as_ref().and_then(Prober::poll_timeout) {
                    consider(t);
                }
            }
        }
        for p in &self.peers {
            if self.needs_tick(p) {
                consider(p.next_tick);
            }
            if p.ours && p.is_reachable() {
                // A reachable peer of ours without a keepalive scheduled gets one at once.
                consider(p.next_alive.unwrap_or(self.started_at));
                if let Some(t) = p.last_heard {
                    consider(t + self.silence);
                }
            }
        }
        if !self.hard.closed {
            if self.hard.sockets.is_empty() {
                if let Some(t) = self.hard_at {
                    consider(t);
                }
            }
            if let Some(t) = self.hard.next_greet {
                consider(t);
            }
        }
        next
    }

    fn needs_tick(&self, p: &PeerState) -> bool {
        match p.status {
            PeerStatus::Connected => self.start_pending(p),
            PeerStatus::Failed(_) | PeerStatus::Left(_) => false,
            PeerStatus::Trying | PeerStatus::Heard => self.state == PunchState::Running,
        }
    }

    /// Timers: per-peer ticks and the deadline.
    pub(crate) fn handle_timeout(&mut self, now: Instant, out: &mut Outbox) -> Option<ClientError> {
        if self.state == PunchState::Failed {
            return None;
        }
        self.after_stall(now);
        if self.state == PunchState::Running && now >= self.deadline {
            return self.on_deadline(now, out);
        }
        self.probe(now, out);
        self.hard_side(now, out);
        self.retry_relayed(now, out);
        self.keep_alive(now, out);
        let my_port = self.my_port();
        for i in 0..self.peers.len() {
            if !self.needs_tick(&self.peers[i]) || now < self.peers[i].next_tick {
                continue;
            }
            let tick = self.tick;
            let start_in = self.start_in_secs;
            let host_start_for = self.host_start_for;
            let me = self.me.clone();
            let p = &mut self.peers[i];
            p.next_tick = next_tick(p.next_tick, now, tick);
            match (p.status, p.pinned) {
                (PeerStatus::Connected, Some(to)) => {
                    let since = *p.start_since.get_or_insert(now);
                    if now >= since + host_start_for {
                        // The window for its `y:` ran out; a missing `y:` is not an error.
                        p.start_acked = true;
                    } else {
                        out.send_via(p.via, to, PeerMessage::StartIn { secs: start_in }.to_bytes());
                    }
                }
                (_, Some(to)) => {
                    let msg = match p.alternate {
                        Alternate::Greet => greeting(&me, my_port, to.port()),
                        Alternate::Confirm => confirm(&me, my_port),
                    };
                    p.alternate = match p.alternate {
                        Alternate::Greet => Alternate::Confirm,
                        Alternate::Confirm => Alternate::Greet,
                    };
                    out.send_via(p.via, to, msg);
                }
                (_, None) => {
                    if let Some(other) = p.other {
                        out.send(other, greeting(&me, my_port, other.port()));
                    }
                    for _ in 0..p.per_tick {
                        let to = p.next_unpinned_target();
                        out.send(to, greeting(&me, my_port, to.port()));
                    }
                }
            }
        }
        None
    }

    /// Background direct attempts to relayed peers: every [`RETRY_EVERY`] after the phase, one
    /// greeting to the address the peer told us through the relay and its reported window.
    fn retry_relayed(&mut self, now: Instant, out: &mut Outbox) {
        if self.state == PunchState::Running {
            return;
        }
        let my_port = self.my_port();
        let me = self.me.clone();
        for p in self.peers.iter_mut().filter(|p| p.relayed && !p.is_connected() && !p.is_gone()) {
            if p.next_retry.is_none_or(|t| now < t) {
                continue;
            }
            p.next_retry = Some(now + RETRY_EVERY);
            let ip = p.reported.ip();
            let mut targets: Vec<SocketAddr> = p.other.into_iter().chain(p.candidate).collect();
            for port in candidate_ports(p.reported.port()) {
                let to = SocketAddr::new(ip, port);
                if !targets.contains(&to) {
                    targets.push(to);
                }
            }
            for to in targets {
                out.send(to, greeting(&me, my_port, to.port()));
            }
        }
    }

    fn on_deadline(&mut self, now: Instant, out: &mut Outbox) -> Option<ClientError> {
        let mut host_connected = self.is_host;
        let mut anyone_heard = false;
        for p in &mut self.peers {
            if p.pinned.is_some() || p.relayed || p.is_gone() {
                anyone_heard = true;
            }
            if p.is_gone() {
                continue;
            }
            if p.is_connected() || p.relayed {
                host_connected |= p.is_host;
                if !p.is_connected() {
                    p.next_retry = Some(now + RETRY_EVERY);
                }
                continue;
            }
            let reason = p.fail_reason();
            p.status = PeerStatus::Failed(reason);
            out.event(Event::Failed { peer: p.name.clone(), reason });
        }
        let connected = self.reachable_count();
        if !self.ready {
            self.ready = true;
            out.event(Event::Done { connected, total: self.peers.len(), after_start: now - self.started_at });
        }
        self.close_hard(out);
        if !anyone_heard && !self.peers.is_empty() {
            self.state = PunchState::Failed;
            return Some(ClientError::UnreachableSelf);
        }
        if !host_connected {
            self.state = PunchState::Failed;
            return Some(ClientError::HostNotConfirmed(self.host.clone()));
        }
        self.state = PunchState::Done;
        None
    }

    fn reachable_count(&self) -> usize {
        self.peers.iter().filter(|p| p.is_reachable()).count()
    }

    /// Ready (the `Done` event) once every peer is connected or relayed; over once every peer is
    /// connected directly.
    fn check_done(&mut self, now: Instant, out: &mut Outbox) {
        if self.state == PunchState::Failed {
            return;
        }
        let gone = self.peers.iter().filter(|p| p.is_gone()).count();
        if !self.ready && self.reachable_count() + gone == self.peers.len() {
            self.ready = true;
            out.event(Event::Done {
                connected: self.reachable_count(),
                total: self.peers.len(),
                after_start: now - self.started_at,
            });
        }
        if self.state == PunchState::Running && self.peers.iter().all(|p| p.is_connected() || p.is_gone()) {
            self.state = PunchState::Done;
            self.close_hard(out);
        }
    }

    /// One datagram from anyone but the server. Returns application data, if it was that.
    pub(crate) fn handle_datagram(
        &mut self,
        now: Instant,
        via: SocketId,
        from: SocketAddr,
        data: &[u8],
        out: &mut Outbox,
    ) -> Option<(String, Vec<u8>)> {
        if self.state == PunchState::Failed {
            return None;
        }
        self.after_stall(now);
        let Ok(msg) = PeerMessage::parse(data) else {
            tracing::debug!(%from, len = data.len(), "ignoring a datagram that is no peer message");
            return None;
        };
        match msg {
            PeerMessage::Leave { sender } => self.on_notice(sender, true, now, from, out),
            PeerMessage::Alive { sender } => self.on_notice(sender, false, now, from, out),
            PeerMessage::Data(bytes) => return self.on_data(bytes, now, via, from, out),
            _ => {
                let idx = self.sender_of(&msg, via, from)?;
                // Our port as the peers see it is our session family's (a greeting over the
                // other family names the port of another mapping).
                let session_family = from.is_ipv4() == self.server.ip().to_canonical().is_ipv4();
                if let (PeerMessage::Greeting { dest_port, .. }, true) = (msg, session_family) {
                    let before = self.my_port();
                    self.vote(dest_port);
                    if self.my_port() != before {
                        tracing::debug!(my_port = self.my_port(), "our port as the peers see it changed");
                    }
                }
                // A greeting only says the path is open towards us; the other messages answer
                // us, so the peer heard us on that path (see `pin`).
                let answers_us = !matches!(msg, PeerMessage::Greeting { .. });
                let first_heard = self.pin(idx, answers_us, now, via, from, out)?;
                self.answer(idx, &msg, first_heard, now, via, from, out);
            }
        }
        None
    }

    /// `l:`/`a:` (`leave` or not): only our clients send these, so the sender is one, whatever
    /// the server said.
    fn on_notice(&mut self, sender: &str, leave: bool, now: Instant, from: SocketAddr, out: &mut Outbox) {
        let Some(idx) = self.peers.iter().position(|p| p.name == sender && p.knows_ip(from.ip())) else {
            return;
        };
        let p = &mut self.peers[idx];
        if p.is_gone() {
            return;
        }
        p.ours = true;
        p.last_heard = Some(now);
        if leave {
            self.mark_left(idx, LeaveReason::Left, now, out);
        } else if p.prefers(SocketId::MAIN, from) {
            self.prefer_other_family(idx, now, from, out);
        }
    }

    /// `d:` on a path it was heard on. A peer behind a NAT that maps each destination anew (a
    /// birthday or predicted plan: many paths are normal, and the two sides pin independently)
    /// may send on a path whose greetings were all lost: once heard, its data from the IP the
    /// server reported (for it alone) is taken and that path kept.
    fn on_data(
        &mut self,
        bytes: &[u8],
        now: Instant,
        via: SocketId,
        from: SocketAddr,
        out: &mut Outbox,
    ) -> Option<(String, Vec<u8>)> {
        let idx =
            self.peers.iter().position(|p| p.owns_path(via, from) || p.prefers(via, from)).or_else(|| {
                let mut same_ip = self.peers.iter().enumerate().filter(|(_, p)| p.knows_ip(from.ip()));
                let (i, p) = same_ip.next()?;
                let many_paths =
                    p.pinned.is_some() && p.plan != Plan::Plain && p.plan != Plan::PredictedByPeer;
                (many_paths && same_ip.next().is_none()).then_some(i)
            })?;
        let p = &mut self.peers[idx];
        if p.is_gone() {
            return None;
        }
        p.last_heard = Some(now);
        if p.prefers(via, from) {
            self.prefer_other_family(idx, now, from, out);
            return Some((self.peers[idx].name.clone(), bytes.to_vec()));
        }
        let p = &mut self.peers[idx];
        p.heard_on(via, from);
        // Data that connects the peer names the path it came on: pin that one. The last
        // greeting heard may be from a socket the peer has closed since (a birthday hard side
        // greets from K sockets, then keeps only the ones it heard us on).
        if !p.is_connected() && (p.pinned != Some(from) || p.via != via) {
            tracing::debug!(peer = %p.name, %from, %via, "peer's data came on another path; re-pinned");
            p.pinned = Some(from);
            p.via = via;
        }
        self.mark_confirmed(idx, now, out);
        Some((self.peers[idx].name.clone(), bytes.to_vec()))
    }

    /// Which peer sent this `g:`/`c:`/`y:` (by name, and only from the IP the server reported
    /// for that name) or `s:<n>` (no name: only the host sends it, from its pinned address, or,
    /// not yet heard, from the host's IP).
    fn sender_of(&self, msg: &PeerMessage<'_>, via: SocketId, from: SocketAddr) -> Option<usize> {
        match *msg {
            PeerMessage::Greeting { sender, .. }
            | PeerMessage::Confirm { sender, .. }
            | PeerMessage::StartAck { sender, .. } => {
                self.peers.iter().position(|p| p.name == sender && p.knows_ip(from.ip()))
            }
            PeerMessage::StartIn { .. } => self.peers.iter().position(|p| {
                p.is_host && p.pinned.map_or(p.knows_ip(from.ip()), |a| a == from && p.via == via)
            }),
            PeerMessage::Data(_) | PeerMessage::Leave { .. } | PeerMessage::Alive { .. } => None,
        }
    }

    /// Peer `idx` was heard on (`via`, `from`): on first hearing pinned there, reported and
    /// confirmed to at once (`Some(true)`). `None` when the datagram is to be ignored (the peer
    /// is gone, or it came off the connected path).
    ///
    /// Once pinned, the pin moves only to the path of a message that answers us (`answers_us`:
    /// `c:`, `s:<n>`, `y:`; data moves it in `on_data`), never to a later greeting's source.
    /// A greeting proves only that the path was open towards us when it left; a birthday hard
    /// side greets from all its K sockets and, once connected, closes every socket it never
    /// heard us on, so greetings still in flight (late on a jittery link) come from sockets
    /// about to close. Re-pinning to one sent our confirmations into a closed socket while the
    /// hard side, connected on the first one and no longer ticking, waited for them: one side
    /// direct, the other stuck on the relay (the simulation's rough link, 4 seeds in 32). An
    /// answer comes only from a path where the peer heard us, and the hard side keeps every
    /// such socket open (`close_hard`), so a pin moved by an answer leads to a live socket.
    /// The pinned path meanwhile stays live or is replaced: if the peer never heard us on it,
    /// its own ticks (`g:`/`c:` alternating) or its answer to our probe bring a `c:` from the
    /// path it did hear us on. (The alternatives: confirming on every heard path costs up to
    /// [`crate::peer_state::MAX_HEARD_PATHS`] times the datagrams; the hard side cannot know
    /// which of its sockets the easy side pinned.)
    fn pin(
        &mut self,
        idx: usize,
        answers_us: bool,
        now: Instant,
        via: SocketId,
        from: SocketAddr,
        out: &mut Outbox,
    ) -> Option<bool> {
        let my_port = self.my_port();
        let p = &mut self.peers[idx];
        if p.is_gone() {
            return None;
        }
        p.last_heard = Some(now);
        p.heard_on(via, from);
        let first_heard = p.pinned.is_none();
        if p.pinned != Some(from) || p.via != via {
            if p.is_connected() {
                if answers_us && p.prefers(via, from) {
                    self.prefer_other_family(idx, now, from, out);
                    return Some(false);
                }
                // The path is settled; a late datagram from another socket or port (a birthday
                // probe, a second window port) must not move it.
                tracing::trace!(peer = %p.name, %from, %via, "ignoring a datagram off the connected path");
                return None;
            }
            if first_heard || answers_us {
                if !first_heard {
                    tracing::debug!(peer = %p.name, %from, %via, "peer answered on another path; re-pinned");
                }
                p.pinned = Some(from);
                p.via = via;
            } else {
                tracing::trace!(peer = %p.name, %from, %via, "a greeting from another path; the pin stays");
            }
        }
        if first_heard {
            if p.status == PeerStatus::Trying {
                p.status = PeerStatus::Heard;
            }
            out.event(Event::Heard { peer: p.name.clone(), from });
            out.send_via(via, from, confirm(&self.me, my_port));
        }
        Some(first_heard)
    }

    /// The answer to `g:`/`c:`/`s:<n>`/`y:` from peer `idx` (already pinned), by the React and
    /// Start rules.
    #[allow(clippy::too_many_arguments)]
    fn answer(
        &mut self,
        idx: usize,
        msg: &PeerMessage<'_>,
        first_heard: bool,
        now: Instant,
        via: SocketId,
        from: SocketAddr,
        out: &mut Outbox,
    ) {
        let my_port = self.my_port();
        // While our ticks still go to X (alternating g:/c:), they answer X; reactive answers
        // are for when they have stopped, so the rate to X stays at one datagram per tick.
        let ticking = self.state == PunchState::Running
            && matches!(self.peers[idx].status, PeerStatus::Trying | PeerStatus::Heard);
        let confirm = confirm(&self.me, my_port);
        // Heard just now for the first time (`first_heard`): `pin` has confirmed already.
        let p = &mut self.peers[idx];
        match msg {
            PeerMessage::Greeting { .. } => {
                if !first_heard && !ticking {
                    out.send_via(via, from, confirm);
                }
            }
            PeerMessage::Confirm { .. } => {
                if !p.confirmed {
                    if !first_heard {
                        out.send_via(via, from, confirm);
                    }
                    p.unanswered_confirms = 0;
                } else if !ticking {
                    p.unanswered_confirms = p.unanswered_confirms.saturating_add(1);
                    if p.unanswered_confirms >= 2 {
                        p.unanswered_confirms = 0;
                        out.send_via(via, from, confirm);
                    }
                }
                self.mark_confirmed(idx, now, out);
            }
            PeerMessage::StartIn { .. } => {
                out.send_via(via, from, PeerMessage::StartAck { sender: &self.me, port: my_port }.to_bytes());
                self.mark_confirmed(idx, now, out);
            }
            PeerMessage::StartAck { .. } => {
                // A Godot client that got our s:<n> but lost our c: still needs a c: within 2 s;
                // it sends y: every 50 ms until it starts, so each y: gets one c:.
                if self.is_host {
                    out.send_via(via, from, confirm);
                }
                p.start_acked = true;
                self.mark_confirmed(idx, now, out);
            }
            PeerMessage::Data(_) | PeerMessage::Leave { .. } | PeerMessage::Alive { .. } => {}
        }
    }

    /// X heard us: connected (once), and for a host the `s:<n>` rounds begin at once.
    fn mark_confirmed(&mut self, idx: usize, now: Instant, out: &mut Outbox) {
        let after = now - self.started_at;
        let is_host = self.is_host;
        let start_in = self.start_in_secs;
        let p = &mut self.peers[idx];
        p.confirmed = true;
        if p.is_connected() {
            return;
        }
        let Some(addr) = p.pinned else { return };
        p.status = PeerStatus::Connected;
        let method = p.method_for(addr);
        p.method = Some(method);
        p.next_retry = None;
        p.probes = p.prober.as_ref().map(Prober::sent).filter(|_| method == Method::Birthday);
        if p.relayed {
            tracing::debug!(peer = %p.name, %addr, %method, "relayed peer upgraded to a direct path");
            out.event(Event::Upgraded {
                peer: p.name.clone(),
                addr,
                after_start: after,
                method,
                probes: p.probes,
            });
        } else {
            p.connected_after = Some(after);
            out.event(Event::Connected {
                peer: p.name.clone(),
                addr,
                after_start: after,
                method,
                probes: p.probes,
            });
        }
        if is_host && !p.start_acked {
            p.start_since = Some(now);
            p.next_tick = now + self.tick;
            out.send_via(p.via, addr, PeerMessage::StartIn { secs: start_in }.to_bytes());
        }
        self.check_done(now, out);
        self.hard_side(now, out);
    }

    /// Happy Eyeballs' preference, kept after the race: a peer connected over IPv4 that answers
    /// us from its IPv6 address (its `other`: no NAT translates it, no birthday socket closes it)
    /// moves there. The two sides pin independently, each its first answer, so without this a
    /// pair where both families work often ended with one side on each (the lab's dual-stack
    /// full-cone row: 20 of 20 clean); now the side on IPv4 follows as soon as anything of the
    /// peer's comes over IPv6 (a `c:`, data, a keepalive), and both keep the IPv6 flows open.
    fn prefer_other_family(&mut self, idx: usize, now: Instant, from: SocketAddr, out: &mut Outbox) {
        let after = now - self.started_at;
        let p = &mut self.peers[idx];
        tracing::debug!(peer = %p.name, %from, "the peer answered over IPv6: its path moves there");
        p.pinned = Some(from);
        p.via = SocketId::MAIN;
        p.heard_on(SocketId::MAIN, from);
        p.method = Some(Method::Plain);
        out.event(Event::Upgraded {
            peer: p.name.clone(),
            addr: from,
            after_start: after,
            method: Method::Plain,
            probes: None,
        });
    }

    fn vote(&mut self, port: u16) {
        if let Some(v) = self.port_votes.iter_mut().find(|(p, _)| *p == port) {
            v.1 = v.1.saturating_add(1);
        } else if self.port_votes.len() < MAX_PORT_VOTES {
            self.port_votes.push((port, 1));
        }
    }

    /// Time since the server's `s:` arrived.
    pub(crate) fn since_start(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.started_at)
    }
}

/// Every player in join order, us included: the start message lists the others in join order
/// (host first); we go before the first of them that did not precede us in the lobby's list
/// (which is in join order too; a player missing from it joined after our last `i:`, so after
/// us).
/// The other players of a start message: one entry each (the first under its name), and a
/// second entry under the same name as its other-family address, kept when we are dual-stack
/// (or it is of our own family) and it is of the other family than the first.
fn peer_states(
    config: &Config,
    list: &[PeerAddr],
    host: &str,
    is_host: bool,
    now: Instant,
) -> Vec<PeerState> {
    let ours_v4 = config.server.ip().to_canonical().is_ipv4();
    let usable = |a: SocketAddr| config.server_other.is_some() || a.is_ipv4() == ours_v4;
    let mut peers: Vec<PeerState> = Vec::new();
    for p in list.iter().filter(|p| p.name != config.player) {
        if let Some(s) = peers.iter_mut().find(|s| s.name == p.name) {
            if s.other.is_none() && p.addr.is_ipv4() != s.reported.is_ipv4() && usable(p.addr) {
                s.other = Some(p.addr);
            }
        } else if peers.len() < usize::from(rhp_proto::name::MAX_PLAYERS) {
            let is_host_peer = !is_host && p.name == host;
            peers.push(PeerState::new(p.name.clone(), p.addr, is_host_peer, now + config.timers.peer_tick));
        }
    }
    peers
}

fn join_order(me: &str, is_host: bool, others: &[PeerAddr], lobby: &[String]) -> Vec<String> {
    let mut order: Vec<String> = Vec::new();
    for name in others.iter().map(|p| &p.name).filter(|n| *n != me) {
        // A dual-stack player is listed twice (its other-family address right after).
        if !order.contains(name) {
            order.push(name.clone());
        }
    }
    let at = if is_host {
        0
    } else {
        let before_me: &[String] = lobby.iter().position(|n| n == me).map_or(&[], |i| &lobby[..i]);
        // A non-host is never first: the host heads the list.
        order.iter().position(|n| !before_me.contains(n)).unwrap_or(order.len()).max(1.min(order.len()))
    };
    order.insert(at, me.to_owned());
    order
}

/// The next tick after `prev`, never in the past (a late driver does not cause a burst).
fn next_tick(prev: Instant, now: Instant, tick: Duration) -> Instant {
    let next = prev + tick;
    if next <= now {
        now + tick
    } else {
        next
    }
}

fn greeting(me: &str, my_port: u16, dest_port: u16) -> Vec<u8> {
    PeerMessage::Greeting { sender: me, sender_port: my_port, dest_port }.to_bytes()
}

fn confirm(me: &str, my_port: u16) -> Vec<u8> {
    PeerMessage::Confirm { sender: me, port: my_port }.to_bytes()
}
