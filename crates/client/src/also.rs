//! Our address in the other family (a dual-stack client, [`crate::Config::server_other`]): the
//! two steps of `v:` that tell the server, so that the start message of every other player of
//! ours lists it as a second candidate.
//!
//! 1. From the main socket to the server's session address: `v:S:P`; the server answers there
//!    `v:<token>` (bound to our session address: only we read it).
//! 2. From the same socket to the server's other-family address: `v:S:P:<token>`; the server keeps
//!    the source (our address in that family, as its NAT or firewall maps it) and answers `v:ok`
//!    from there.
//!
//! Each step is resent every `resend` until its answer comes, at most [`MAX_TRIES`] sends in all:
//! a family that does not work (no route, a firewall) costs a few small datagrams and then
//! nothing. It begins once we are in the session and the server knows we are ours (our first
//! `r:`/`q:`, or `e:` listed), and it is over ([`Also::settled`]) when `v:ok` came or the tries
//! ran out; `e:` and a host's start wait for that (see the lobby), so the start message the
//! server sends already has our other address.

use crate::outbox::Outbox;
use rhp_proto::{Reply, Request};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Most `v:` sends (both steps together) before we do without the other family.
pub(crate) const MAX_TRIES: u32 = 8;

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// Step 1 next (or again).
    Asking,
    /// Step 2 next (or again), with the server's token.
    Proving(String),
    /// The server has our other address.
    Done,
    /// No answer after [`MAX_TRIES`] sends: one family only.
    GaveUp,
}

/// The `v:` exchange.
#[derive(Debug)]
pub(crate) struct Also {
    session: String,
    player: String,
    server: SocketAddr,
    other: SocketAddr,
    resend: Duration,
    state: State,
    tries: u32,
    next: Option<Instant>,
}

impl Also {
    /// For the server at `server` (session address) and `other` (its other family).
    pub(crate) fn new(
        session: &str,
        player: &str,
        server: SocketAddr,
        other: SocketAddr,
        resend: Duration,
    ) -> Also {
        Also {
            session: session.to_owned(),
            player: player.to_owned(),
            server,
            other,
            resend,
            state: State::Asking,
            tries: 0,
            next: None,
        }
    }

    /// Over: the server has our other address, or we gave up.
    pub(crate) fn settled(&self) -> bool {
        matches!(self.state, State::Done | State::GaveUp)
    }

    /// Sends the next step if it is due (`ready`: we are in the session and known as ours).
    pub(crate) fn send_if_due(&mut self, now: Instant, ready: bool, out: &mut Outbox) {
        if !ready || self.settled() || self.next.is_some_and(|t| now < t) {
            return;
        }
        if self.tries >= MAX_TRIES {
            tracing::debug!(other = %self.other, "no answer over the other family; going on with one");
            self.state = State::GaveUp;
            return;
        }
        self.tries += 1;
        self.next = Some(now + self.resend);
        let (session, player) = (self.session.as_str(), self.player.as_str());
        match &self.state {
            State::Asking => out.send(self.server, Request::Also { session, player, token: None }.to_bytes()),
            State::Proving(token) => {
                out.send(self.other, Request::Also { session, player, token: Some(token) }.to_bytes())
            }
            State::Done | State::GaveUp => {}
        }
    }

    /// A `v:` answer from `from`; true when it was one (the lobby reads nothing more from it).
    pub(crate) fn handle_reply(&mut self, from: SocketAddr, reply: &Reply) -> bool {
        match reply {
            Reply::AlsoToken(token) if from == self.server => {
                if self.state == State::Asking {
                    self.state = State::Proving(token.clone());
                    // Step 2 at once.
                    self.next = None;
                }
                true
            }
            Reply::AlsoOk if from == self.other => {
                if !self.settled() {
                    tracing::debug!(other = %self.other, "the server has our address in the other family");
                }
                self.state = State::Done;
                true
            }
            Reply::AlsoToken(_) | Reply::AlsoOk => true,
            _ => false,
        }
    }

    /// When the next step is due, while one is (`now`: the engine's last input).
    pub(crate) fn poll_timeout(&self, now: Instant, ready: bool) -> Option<Instant> {
        if !ready || self.settled() {
            return None;
        }
        Some(self.next.unwrap_or(now))
    }
}
