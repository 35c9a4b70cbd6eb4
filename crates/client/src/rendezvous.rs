//! The server phase: create or join the session, stay in it, follow the player list, start, kick,
//! exit, and leave for the peer phase when the server's `s:` arrives.
//!
//! Timing (all upper bounds measured from the last send):
//! - `h:`/`c:` goes out at once and again every `resend` until an `i:` or an `error:`.
//! - In the session one request goes out every `ping`: `p:` normally, `s:` after [`start`], `x:`
//!   after [`exit`]. `non_host_player` / `only_one_player_in_session` put the ping back.
//! - No datagram at all from the server for `server_timeout` ends the run: "never answered" if
//!   nothing ever came, "stopped answering" if it had answered before.
//! - While the server is silent (from the start, or for [`WATCH_AFTER`] after it answered), a
//!   STUN Binding request goes every [`WATCH_EVERY`] from [`WATCH`], a socket the
//!   driver connected to the server: there the kernel reports an ICMP "port unreachable"
//!   ([`crate::Input::Unreachable`]), which ends the run at once ("nothing is listening").
//! - Silence is reported as it lasts ([`Event::ServerSilent`]): every [`NOTICE_EVERY`] from the
//!   start while nothing came; after [`NOTICE_AFTER_ANSWER`] once it had answered (a budgeted
//!   server answers pings only every 5 s, so shorter silences are normal).
//! - On `s:<own port>:<list>`: one `y:` goes back, and the peer phase starts at once.
//!
//! [`start`]: Rendezvous::start
//! [`exit`]: Rendezvous::exit

use crate::config::Config;
use crate::error::ClientError;
use crate::events::Event;
use crate::outbox::Outbox;
use crate::sockets::WATCH;
use rhp_proto::{ErrorCode, PeerAddr, Reply, Request};
use std::time::{Duration, Instant};

/// How long after a `k:` (or a `u:`) an `error:non_existent_player` / `non_host_player` is taken
/// as the answer to it rather than about us.
const KICK_ANSWER_WINDOW: Duration = Duration::from_secs(2);
/// Once the start is under way (the relay's grant came with the server's first start round) and
/// our `s:` has not come, we ping this often: with its anti-reflection budget on, the server sends
/// a lost start message again only once our pings have paid for it (3× their bytes), and a
/// 12-player `s:` is ≈ 250 bytes — at the normal 2 pings a second that takes one 10 s window.
const START_WAIT_PING: Duration = Duration::from_millis(200);
/// A server that answered before is watched once it has been silent this long.
pub(crate) const WATCH_AFTER: Duration = Duration::from_secs(1);
/// Between two watch requests.
pub(crate) const WATCH_EVERY: Duration = Duration::from_secs(1);
/// Between two reports of a lasting silence.
pub(crate) const NOTICE_EVERY: Duration = Duration::from_secs(3);
/// The first report of silence from a server that answered before.
pub(crate) const NOTICE_AFTER_ANSWER: Duration = Duration::from_secs(7);
/// The transaction id of the watch's STUN requests (their answers only prove the server is
/// there; nothing in them is read).
const WATCH_TXID: [u8; 12] = *b"rhp-watching";

/// What the session request repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Repeat {
    Ping,
    Start,
    Exit,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Lobby {
    /// `h:`/`c:` sent, no `i:` yet.
    Joining,
    /// In the session.
    InSession { players: Vec<String> },
}

/// What a server datagram or a timer led to.
#[derive(Debug)]
pub(crate) enum Step {
    /// Still in the server phase.
    Stay,
    /// The session started: go to the peer phase.
    Started { own_port: u16, peers: Vec<PeerAddr>, is_host: bool },
    /// The run is over.
    Failed(ClientError),
}

/// The server-phase state machine.
#[derive(Debug)]
pub(crate) struct Rendezvous {
    config: Config,
    lobby: Lobby,
    repeat: Repeat,
    is_host: bool,
    start_wanted: bool,
    next_send: Instant,
    last_heard: Instant,
    last_kick: Option<Instant>,
    /// Something came from the server at least once.
    answered: bool,
    /// When the watch may send next.
    next_watch: Instant,
    /// Silence reports since the server was last heard.
    notices: u32,
    /// The start is under way but our `s:` has not come: pings go every [`START_WAIT_PING`].
    start_under_way: bool,
}

impl Rendezvous {
    /// Sends the first `h:`/`c:` now.
    pub(crate) fn new(config: Config, now: Instant, out: &mut Outbox) -> Rendezvous {
        let mut r = Rendezvous {
            is_host: config.is_creator(),
            config,
            lobby: Lobby::Joining,
            repeat: Repeat::Ping,
            start_wanted: false,
            next_send: now,
            last_heard: now,
            last_kick: None,
            answered: false,
            next_watch: now,
            notices: 0,
            start_under_way: false,
        };
        r.send_due(now, out);
        r.watch(now, out);
        r
    }

    /// True once anything came from the server.
    pub(crate) fn answered(&self) -> bool {
        self.answered
    }

    /// True once the server accepted us (first `i:`).
    pub(crate) fn is_joined(&self) -> bool {
        matches!(self.lobby, Lobby::InSession { .. })
    }

    pub(crate) fn is_host(&self) -> bool {
        self.is_host
    }

    pub(crate) fn players(&self) -> &[String] {
        match &self.lobby {
            Lobby::Joining => &[],
            Lobby::InSession { players } => players,
        }
    }

    fn request(&self) -> Request<'_> {
        let c = &self.config;
        let (session, player) = (c.session.as_str(), c.player.as_str());
        match (&self.lobby, self.repeat) {
            (Lobby::Joining, _) => match c.role {
                crate::Role::Host { max_players } => {
                    Request::Host { session, player, max_players, password: c.password.as_deref() }
                }
                crate::Role::Join => Request::Connect { session, player, password: c.password.as_deref() },
            },
            (Lobby::InSession { .. }, Repeat::Ping) => Request::Ping { session, player },
            (Lobby::InSession { .. }, Repeat::Start) => Request::Start { session, player },
            (Lobby::InSession { .. }, Repeat::Exit) => Request::Exit { session, player },
        }
    }

    fn interval(&self) -> Duration {
        match self.lobby {
            Lobby::Joining => self.config.timers.resend,
            Lobby::InSession { .. } if self.start_under_way && self.repeat == Repeat::Ping => {
                self.config.timers.ping.min(START_WAIT_PING)
            }
            Lobby::InSession { .. } => self.config.timers.ping,
        }
    }

    /// The server's start is under way (its first round brought our relay grant) while our `s:`
    /// has not come: it may have been lost, and our pings pay for the next copy, so they go
    /// faster from now on.
    pub(crate) fn start_under_way(&mut self, now: Instant) {
        if matches!(self.lobby, Lobby::InSession { .. }) && !self.start_under_way {
            self.start_under_way = true;
            self.next_send = self.next_send.min(now + self.interval());
        }
    }

    /// Sends the repeated request now and schedules the next one.
    fn send_due(&mut self, now: Instant, out: &mut Outbox) {
        let bytes = self.request().to_bytes();
        out.send(self.config.server, bytes);
        if self.config.nat.private
            && matches!(self.lobby, Lobby::Joining)
            && self.config.role == crate::Role::Join
        {
            // Right behind our join, so the server knows before any start can list us (a `q:`
            // that overtakes the join is answered `non_existent_player`, ignored while joining).
            let (session, player) = (self.config.session.as_str(), self.config.player.as_str());
            out.send(self.config.server, Request::Private { session, player }.to_bytes());
        }
        self.next_send = now + self.interval();
    }

    /// The earliest moment this phase needs a timeout call.
    pub(crate) fn poll_timeout(&self) -> Instant {
        self.next_send
            .min(self.last_heard + self.config.timers.server_timeout)
            .min(self.watch_due())
            .min(self.notice_due())
    }

    /// Timers: resend, ping, server silence (reported as it lasts, watched, and in the end fatal).
    pub(crate) fn handle_timeout(&mut self, now: Instant, out: &mut Outbox) -> Step {
        let silent = now.saturating_duration_since(self.last_heard);
        if silent >= self.config.timers.server_timeout {
            let server = self.config.server;
            return Step::Failed(if self.answered {
                ClientError::ServerStopped { server, silent }
            } else {
                ClientError::ServerTimeout { server, waited: silent }
            });
        }
        if now >= self.notice_due() {
            self.notices += 1;
            out.event(Event::ServerSilent { silent_for: silent, answered_before: self.answered });
        }
        if now >= self.next_send {
            self.send_due(now, out);
        }
        self.watch(now, out);
        Step::Stay
    }

    /// When the watch sends next: at once and every [`WATCH_EVERY`] until the server answers,
    /// then only after [`WATCH_AFTER`] of silence.
    fn watch_due(&self) -> Instant {
        let quiet_from = if self.answered { self.last_heard + WATCH_AFTER } else { self.last_heard };
        self.next_watch.max(quiet_from)
    }

    /// One STUN Binding request from the watch socket, when due.
    fn watch(&mut self, now: Instant, out: &mut Outbox) {
        if now < self.watch_due() {
            return;
        }
        let mut data = Vec::with_capacity(20);
        rhp_proto::stun::write_binding_request(WATCH_TXID, &mut data);
        out.send_via(WATCH, self.config.server, data);
        self.next_watch = now + WATCH_EVERY;
    }

    /// When the next silence report is due.
    fn notice_due(&self) -> Instant {
        let first = if self.answered { NOTICE_AFTER_ANSWER } else { NOTICE_EVERY };
        self.last_heard + first + NOTICE_EVERY * self.notices
    }

    /// The kernel says nothing listens at `to` (ICMP port unreachable on the watch socket).
    pub(crate) fn unreachable(&mut self, to: std::net::SocketAddr) -> Step {
        if to != self.config.server {
            return Step::Stay;
        }
        let server = self.config.server;
        Step::Failed(if self.answered {
            ClientError::ServerGone(server)
        } else {
            ClientError::ServerUnreachable(server)
        })
    }

    /// The host asks the server to start (resent until the `s:` arrives).
    pub(crate) fn start(&mut self, now: Instant, out: &mut Outbox) {
        match self.lobby {
            Lobby::Joining => self.start_wanted = true,
            Lobby::InSession { .. } => {
                if self.repeat != Repeat::Exit {
                    self.repeat = Repeat::Start;
                    self.send_due(now, out);
                }
            }
        }
    }

    /// Leave the session (resent until the server confirms with `error:player_exited_session`).
    pub(crate) fn exit(&mut self, now: Instant, out: &mut Outbox) {
        if let Lobby::InSession { .. } = self.lobby {
            self.repeat = Repeat::Exit;
            self.send_due(now, out);
        }
    }

    /// Kick a player (sent once, as the plugin does).
    pub(crate) fn kick(&mut self, now: Instant, victim: &str, out: &mut Outbox) -> Result<(), ClientError> {
        if !rhp_proto::name::is_player_name(victim) {
            return Err(ClientError::InvalidConfig(format!("{victim:?} is not a valid player name")));
        }
        let req = Request::Kick { session: &self.config.session, victim };
        out.send(self.config.server, req.to_bytes());
        self.last_kick = Some(now);
        Ok(())
    }

    /// Let a kicked player back (`u:`, an extension only our server knows; sent once, like a kick).
    /// The server answers `i:`, or a refusal reported like a kick's.
    pub(crate) fn unban(&mut self, now: Instant, player: &str, out: &mut Outbox) -> Result<(), ClientError> {
        if !rhp_proto::name::is_player_name(player) {
            return Err(ClientError::InvalidConfig(format!("{player:?} is not a valid player name")));
        }
        let req = Request::Unban { session: &self.config.session, player };
        out.send(self.config.server, req.to_bytes());
        self.last_kick = Some(now);
        Ok(())
    }

    /// A datagram came from the server's address (read elsewhere, or not at all): it is there.
    pub(crate) fn heard(&mut self, now: Instant) {
        self.last_heard = self.last_heard.max(now);
        self.answered = true;
        self.notices = 0;
    }

    /// One datagram from the server.
    pub(crate) fn handle_datagram(&mut self, now: Instant, data: &[u8], out: &mut Outbox) -> Step {
        let Ok(reply) = Reply::parse(data) else {
            tracing::debug!(len = data.len(), "ignoring an unreadable datagram from the server");
            return Step::Stay;
        };
        self.heard(now);
        match reply {
            Reply::Info(players) => {
                self.on_info(now, players, out);
                Step::Stay
            }
            // The lobby sends our `y:` (it may wait for the relay's grant first).
            Reply::Start { own_port, peers } => Step::Started { own_port, peers, is_host: self.is_host },
            Reply::Error(code) => self.on_error(now, code, out),
            Reply::OtherError(text) => Step::Failed(ClientError::UnknownServerError(text)),
            // The e:/n: extension: the lobby reads n: before this.
            Reply::Nat(_) => Step::Stay,
            Reply::AlsoToken(_) | Reply::AlsoOk => Step::Stay,
        }
    }

    fn on_info(&mut self, now: Instant, players: Vec<String>, out: &mut Outbox) {
        let me_first = players.first().is_some_and(|p| *p == self.config.player);
        match &mut self.lobby {
            Lobby::Joining => {
                self.is_host = me_first;
                out.event(Event::Joined { players: players.clone(), is_host: me_first });
                self.lobby = Lobby::InSession { players };
                self.repeat = Repeat::Ping;
                self.next_send = now + self.config.timers.ping;
                if self.start_wanted {
                    self.start(now, out);
                }
            }
            Lobby::InSession { players: known } => {
                if *known != players {
                    *known = players.clone();
                    out.event(Event::Players(players));
                }
                if me_first && !self.is_host {
                    out.event(Event::BecameHost);
                }
                self.is_host = me_first;
            }
        }
    }

    fn on_error(&mut self, now: Instant, code: ErrorCode, out: &mut Outbox) -> Step {
        let in_session = matches!(self.lobby, Lobby::InSession { .. });
        let kick_answer = self.last_kick.is_some_and(|t| now < t + KICK_ANSWER_WINDOW)
            && matches!(code, ErrorCode::NonExistentPlayer | ErrorCode::NonHostPlayer);
        let start_refused = matches!(code, ErrorCode::NonHostPlayer | ErrorCode::OnlyOnePlayerInSession);
        if !in_session && self.config.nat.private && code == ErrorCode::NonExistentPlayer {
            // Our `q:` overtook our join (a join is never answered this).
            return Step::Stay;
        }
        if in_session && (kick_answer || start_refused) {
            if self.repeat == Repeat::Start && start_refused {
                self.repeat = Repeat::Ping;
            }
            out.event(Event::Refused(code));
            return Step::Stay;
        }
        Step::Failed(ClientError::Server(code))
    }
}
