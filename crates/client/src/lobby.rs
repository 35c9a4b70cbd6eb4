//! The lobby: everything said to and heard from the rendezvous server, in one component.
//!
//! Until the server's `s:` the session itself runs in [`Rendezvous`] (`h:`/`c:`, pings, start,
//! kick, unban, exit, the watch, silence). Around it, the lobby owns the extensions' requests
//! and their timers:
//! - `e:S:P:<kind>`: our NAT's kind (once classified), every `resend` while in the session,
//!   until the server's `n:` lists it; the `n:` entries are kept (they choose each peer's method);
//! - `r:S:P` (or `q:S:P` when private): the relay, every `ping` once joined, and if the start
//!   came without the grant, every [`LATE_RELAY_ASK`] for [`LATE_RELAY_ASKS_FOR`];
//! - `y:S:P`: we have our start message, once at the start (or, started without the grant we
//!   asked for, when it comes or [`LATE_RELAY_ASKS_FOR`] passed), and again for every later
//!   start round of the server;
//! - `v:S:P` and `v:S:P:<token>`: a dual-stack client's address in the other family ([`Also`]);
//!   with the relay asked for (which shows the server we are ours), `e:` waits until it is
//!   settled, so a host's start (which waits for every `e:`) carries it to the peers;
//! - a host's start waits (at most `start_wait`) until `n:` lists every player (and our own
//!   `v:` is settled).
//!
//! It answers "when do you next need me?" with [`Lobby::poll_timeout`].

use crate::also::Also;
use crate::config::Config;
use crate::error::ClientError;
use crate::nat_kind::NatKind;
use crate::outbox::Outbox;
use crate::rendezvous::{Rendezvous, Step};
use rhp_proto::{ErrorCode, PeerAddr, Reply, Request};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Started without a grant: `r:` at once and again this often…
const LATE_RELAY_ASK: Duration = Duration::from_millis(200);
/// …for this long after the start (the server's start rounds last 0.8 s). Our `y:` waits as long
/// (or until the grant): while it has not come, every start round of the server carries our grant
/// again, so a grant lost on a lossy link gets up to eight more chances besides the asks.
const LATE_RELAY_ASKS_FOR: Duration = Duration::from_millis(800);

#[derive(Debug)]
enum Stage {
    /// The server phase.
    Server(Box<Rendezvous>),
    /// The server's `s:` arrived at this instant.
    Started(Instant),
    /// The run failed in the server phase.
    Stopped,
}

/// What a server datagram led to.
#[derive(Debug)]
pub(crate) enum Heard {
    /// Nothing for the rest of the engine.
    Nothing,
    /// The run is over.
    Failed(ClientError),
    /// The session started: the peer phase begins (`players`: the last list, in join order).
    Started { own_port: u16, peers: Vec<PeerAddr>, is_host: bool, players: Vec<String> },
    /// The server's `n:` list: these players' NAT kinds.
    Nat(Vec<(String, NatKind)>),
}

/// Everything to and from the server.
#[derive(Debug)]
pub(crate) struct Lobby {
    config: Config,
    stage: Stage,
    /// Our NAT is classified with STUN to the server: a server without STUN answers
    /// `error:invalid_request`, which means nothing then.
    stun_probing: bool,
    /// The NAT kinds the server's `n:` listed (ours included).
    peer_nats: Vec<(String, NatKind)>,
    /// Our kind, to announce with `e:` (once classified).
    ext: Option<NatKind>,
    /// The server's `n:` listed our kind: stop sending `e:`.
    ext_acked: bool,
    next_ext: Instant,
    /// The application asked to start; deferred until every player's NAT is known.
    start_wanted_at: Option<Instant>,
    /// The relay granted us (no more `r:`).
    relay_granted: bool,
    /// When `r:` is next sent (see [`Lobby::relay_asking`]).
    next_relay_ask: Instant,
    /// Started without the grant we asked for: our `y:` waits until it comes, or until this
    /// instant.
    confirm_due: Option<Instant>,
    /// Our address in the other family (dual-stack only).
    also: Option<Also>,
    /// Our first `r:`/`q:` went: the server knows we are ours once it is read.
    relay_asked: bool,
}

impl Lobby {
    /// Sends the first `h:`/`c:` now.
    pub(crate) fn new(config: Config, now: Instant, out: &mut Outbox) -> Lobby {
        let rendezvous = Rendezvous::new(config.clone(), now, out);
        Lobby {
            stun_probing: config.nat.classify && !config.nat.private,
            stage: Stage::Server(Box::new(rendezvous)),
            peer_nats: Vec::new(),
            ext: None,
            ext_acked: false,
            next_ext: now,
            start_wanted_at: None,
            relay_granted: false,
            next_relay_ask: now,
            confirm_due: None,
            // A private player's address goes to nobody: no second one either.
            also: config.server_other.filter(|_| !config.nat.private).map(|other| {
                Also::new(&config.session, &config.player, config.server, other, config.timers.resend)
            }),
            relay_asked: false,
            config,
        }
    }

    fn server(&self) -> SocketAddr {
        self.config.server
    }

    /// True once the run failed in the server phase.
    pub(crate) fn is_stopped(&self) -> bool {
        matches!(self.stage, Stage::Stopped)
    }

    /// The run failed: in the server phase, nothing more is sent.
    pub(crate) fn stop(&mut self) {
        if let Stage::Server(_) = self.stage {
            self.stage = Stage::Stopped;
        }
    }

    /// The server answered at least once ("unknown" NAT means something only then). A run that
    /// failed in the server phase concludes nothing.
    pub(crate) fn server_answered(&self) -> bool {
        match &self.stage {
            Stage::Server(r) => r.answered(),
            Stage::Started(_) => true,
            Stage::Stopped => false,
        }
    }

    /// True while in the server phase as this session's host.
    pub(crate) fn is_host(&self) -> bool {
        matches!(&self.stage, Stage::Server(r) if r.is_host())
    }

    /// Players in the session (server phase; empty before the first `i:` and after the start).
    pub(crate) fn players(&self) -> &[String] {
        match &self.stage {
            Stage::Server(r) => r.players(),
            _ => &[],
        }
    }

    /// The NAT kinds the server's `n:` listed (ours included).
    pub(crate) fn peer_nats(&self) -> &[(String, NatKind)] {
        &self.peer_nats
    }

    /// Something came from the server's address (read elsewhere, or not at all): it is there.
    pub(crate) fn heard(&mut self, now: Instant) {
        if let Stage::Server(r) = &mut self.stage {
            r.heard(now);
        }
    }

    /// The kernel says nothing listens at `to` (the watch socket).
    pub(crate) fn unreachable(&mut self, to: SocketAddr) -> Option<ClientError> {
        let Stage::Server(r) = &mut self.stage else { return None };
        match r.unreachable(to) {
            Step::Failed(err) => Some(err),
            _ => None,
        }
    }

    /// The server phase's timers (resend, ping, silence, watch).
    pub(crate) fn handle_timeout(&mut self, now: Instant, out: &mut Outbox) -> Option<ClientError> {
        let Stage::Server(r) = &mut self.stage else { return None };
        match r.handle_timeout(now, out) {
            Step::Failed(err) => Some(err),
            _ => None,
        }
    }

    /// `v:` may go: we are in the session, and the server knows we are ours (our `r:`/`q:` went,
    /// or it listed our `e:`).
    fn also_ready(&self) -> bool {
        (self.relay_asked || self.ext_acked) && matches!(&self.stage, Stage::Server(r) if r.is_joined())
    }

    /// The `v:` exchange is over, or there is none.
    fn also_settled(&self) -> bool {
        self.also.as_ref().is_none_or(Also::settled)
    }

    /// The next `v:` step, when due.
    pub(crate) fn announce_other_family(&mut self, now: Instant, out: &mut Outbox) {
        let ready = self.also_ready();
        if let Some(a) = &mut self.also {
            a.send_if_due(now, ready, out);
        }
    }

    /// One datagram from the server (`from`: its session address or, dual-stack, its other one)
    /// that is neither STUN nor the relay's.
    pub(crate) fn handle_datagram(
        &mut self,
        now: Instant,
        from: SocketAddr,
        data: &[u8],
        out: &mut Outbox,
    ) -> Heard {
        let reply = Reply::parse(data);
        if let (Some(a), Ok(r)) = (&mut self.also, &reply) {
            if a.handle_reply(from, r) {
                return Heard::Nothing;
            }
        }
        if from != self.server() {
            // The other family is for `v:` only.
            return Heard::Nothing;
        }
        if self.stun_probing && reply.as_ref().is_ok_and(|r| *r == Reply::Error(ErrorCode::InvalidRequest)) {
            // Our requests are validated before they go; this answers a STUN probe.
            tracing::debug!("the server does not speak STUN (error:invalid_request); ignored");
            return Heard::Nothing;
        }
        if let Ok(Reply::Nat(entries)) = &reply {
            let kinds: Vec<(String, NatKind)> = entries
                .iter()
                .filter_map(|e| Some((e.player.clone(), NatKind::from_token(&e.desc)?)))
                .collect();
            self.listed(&kinds);
            return Heard::Nat(kinds);
        }
        match &mut self.stage {
            Stage::Server(r) => match r.handle_datagram(now, data, out) {
                Step::Stay => Heard::Nothing,
                Step::Failed(err) => Heard::Failed(err),
                Step::Started { own_port, peers, is_host } => {
                    let players = r.players().to_vec();
                    self.started(now, out);
                    Heard::Started { own_port, peers, is_host, players }
                }
            },
            Stage::Started(_) => {
                // A later `s:` round: the server did not get our `y:`; confirm once more
                // (unless it waits for our grant).
                if let Ok(Reply::Start { .. }) = reply {
                    if self.confirm_due.is_none() {
                        self.send_confirm(out);
                    }
                }
                Heard::Nothing
            }
            Stage::Stopped => Heard::Nothing,
        }
    }

    /// The `n:` list: our own entry stops the `e:`; every entry is kept.
    fn listed(&mut self, kinds: &[(String, NatKind)]) {
        if kinds.iter().any(|(n, _)| *n == self.config.player) {
            self.ext_acked = true;
        }
        for (name, kind) in kinds {
            if let Some(slot) = self.peer_nats.iter_mut().find(|(n, _)| n == name) {
                slot.1 = *kind;
            } else if self.peer_nats.len() < usize::from(rhp_proto::name::MAX_PLAYERS) * 2 {
                self.peer_nats.push((name.clone(), *kind));
            }
        }
    }

    /// The server's `s:` arrived: our `y:` goes now, or (asked for the relay, no grant yet) once
    /// the grant comes, asking again at once meanwhile.
    fn started(&mut self, now: Instant, out: &mut Outbox) {
        self.stage = Stage::Started(now);
        if self.config.nat.relay && !self.relay_granted {
            // Let the server's start rounds (which carry the grant) go on until it comes.
            tracing::debug!("started without the relay's grant: asking again");
            self.confirm_due = Some(now + LATE_RELAY_ASKS_FOR);
            self.next_relay_ask = now;
        } else {
            self.send_confirm(out);
        }
    }

    /// The relay granted us (`true`), or we gave it back (`false`). A `y:` that waited for the
    /// grant goes now; true if it did.
    pub(crate) fn relay_granted(&mut self, granted: bool, out: &mut Outbox) -> bool {
        self.relay_granted = granted;
        granted && self.release_confirm(out)
    }

    /// The server's first start round reached us (it carried our relay grant) before our `s:`:
    /// the lobby pings faster until the `s:` comes (see `rendezvous::START_WAIT_PING`).
    pub(crate) fn start_under_way(&mut self, now: Instant) {
        if let Stage::Server(r) = &mut self.stage {
            r.start_under_way(now);
        }
    }

    /// Our start confirmation no longer waits (it went, or was never held back).
    pub(crate) fn confirm_settled(&self) -> bool {
        self.confirm_due.is_none()
    }

    /// The held-back `y:` is due (its wait is over): it goes now; true if it did.
    pub(crate) fn confirm_if_due(&mut self, now: Instant, out: &mut Outbox) -> bool {
        self.confirm_due.is_some_and(|t| now >= t) && self.release_confirm(out)
    }

    fn release_confirm(&mut self, out: &mut Outbox) -> bool {
        let held = self.confirm_due.take().is_some();
        if held {
            self.send_confirm(out);
        }
        held
    }

    /// `y:S:P`: we have our start message (stops the server's start rounds to us).
    fn send_confirm(&self, out: &mut Outbox) {
        let req = Request::Confirm { session: &self.config.session, player: &self.config.player };
        out.send(self.server(), req.to_bytes());
    }

    /// We ask for the relay (`r:`): in the lobby once joined, and, if the start came without a
    /// grant (our `r:` may have been lost), a little longer while the server still sends start
    /// rounds (it then adds us to the relay late).
    fn relay_asking(&self, now: Instant) -> bool {
        if !(self.config.nat.relay || self.config.nat.private) || self.relay_granted {
            return false;
        }
        match &self.stage {
            Stage::Server(r) => r.is_joined(),
            Stage::Started(at) => now.saturating_duration_since(*at) < LATE_RELAY_ASKS_FOR,
            Stage::Stopped => false,
        }
    }

    /// `r:` (or `q:` when private), when due.
    pub(crate) fn ask_relay(&mut self, now: Instant, out: &mut Outbox) {
        if !self.relay_asking(now) || now < self.next_relay_ask {
            return;
        }
        let (session, player) = (self.config.session.as_str(), self.config.player.as_str());
        let req = if self.config.nat.private {
            Request::Private { session, player }
        } else {
            Request::Relay { session, player }
        };
        out.send(self.server(), req.to_bytes());
        self.relay_asked = true;
        self.next_relay_ask = match self.stage {
            Stage::Server(_) => now + self.config.timers.ping,
            _ => now + LATE_RELAY_ASK,
        };
    }

    /// Host: ask the server to start. With NAT classification on, the request waits (at most
    /// `start_wait`) until `n:` lists every player: true when it was deferred (see
    /// [`Lobby::start_if_due`]).
    pub(crate) fn start(&mut self, now: Instant, out: &mut Outbox) -> bool {
        let Stage::Server(r) = &mut self.stage else { return false };
        if self.config.nat.classify && !self.config.nat.start_wait.is_zero() {
            self.start_wanted_at.get_or_insert(now);
            true
        } else {
            r.start(now, out);
            false
        }
    }

    /// A deferred start goes once every player's NAT is known, or the wait is over.
    pub(crate) fn start_if_due(&mut self, now: Instant, out: &mut Outbox) {
        let Some(since) = self.start_wanted_at else { return };
        let Stage::Server(r) = &mut self.stage else { return };
        let all_known =
            !r.players().is_empty() && r.players().iter().all(|p| self.peer_nats.iter().any(|(n, _)| n == p));
        let also_settled = self.also.as_ref().is_none_or(Also::settled);
        if (all_known && also_settled) || now >= since + self.config.nat.start_wait {
            self.start_wanted_at = None;
            r.start(now, out);
        }
    }

    /// Leave the session.
    pub(crate) fn exit(&mut self, now: Instant, out: &mut Outbox) {
        if let Stage::Server(r) = &mut self.stage {
            r.exit(now, out);
        }
    }

    /// Host: kick `victim`.
    pub(crate) fn kick(&mut self, now: Instant, victim: &str, out: &mut Outbox) -> Result<(), ClientError> {
        match &mut self.stage {
            Stage::Server(r) => r.kick(now, victim, out),
            _ => Ok(()),
        }
    }

    /// Host: let `player` back.
    pub(crate) fn unban(&mut self, now: Instant, player: &str, out: &mut Outbox) -> Result<(), ClientError> {
        match &mut self.stage {
            Stage::Server(r) => r.unban(now, player, out),
            _ => Ok(()),
        }
    }

    /// `e:` is still to be (re)sent: classified, in the session, not yet listed by the server,
    /// and (when the relay ask shows we are ours) our `v:` settled.
    fn ext_pending(&self) -> bool {
        let after_also = self.also_settled() || !(self.config.nat.relay || self.config.nat.private);
        !self.ext_acked
            && self.ext.is_some()
            && after_also
            && matches!(&self.stage, Stage::Server(r) if r.is_joined())
    }

    /// Our NAT's kind, once classified: announced with `e:` when due.
    pub(crate) fn announce_nat(&mut self, now: Instant, kind: Option<NatKind>, out: &mut Outbox) {
        if self.ext.is_none() {
            self.ext = kind;
        }
        let Some(kind) = self.ext.filter(|_| self.ext_pending() && now >= self.next_ext) else { return };
        let token = kind.token();
        let req = Request::Ext { session: &self.config.session, player: &self.config.player, nat: &token };
        out.send(self.server(), req.to_bytes());
        self.next_ext = now + self.config.timers.resend;
    }

    /// When the lobby next needs to run (`now`: the engine's last input).
    pub(crate) fn poll_timeout(&self, now: Instant) -> Option<Instant> {
        let server = match &self.stage {
            Stage::Server(r) => Some(r.poll_timeout()),
            _ => None,
        };
        let ext = self.ext_pending().then_some(self.next_ext);
        let start = self.start_wanted_at.map(|since| since + self.config.nat.start_wait);
        let relay = self.relay_asking(now).then_some(self.next_relay_ask);
        let also = self.also.as_ref().and_then(|a| a.poll_timeout(now, self.also_ready()));
        [server, ext, start, self.confirm_due, relay, also].into_iter().flatten().min()
    }
}
