//! The relay's side of the engine (the table and its rules are in [`crate::relay`]):
//! - `r:S:P` (extension, sent only by our clients): the player wants the relay. Checked like a
//!   ping (only its own address counts) and refreshes it like one, but gets no answer in the lobby;
//!   in a starting session it is answered like a ping there (its start message, grant included),
//!   and a player whose `r:` came after the grants were decided joins the relay session then (if
//!   that makes the relay session, the players that asked before get their grant at once).
//! - The grants, decided when the first start round is due ([`Cx::open_relay`]).
//! - Relay frames: authenticated by token, forwarded, bound, or refused (3 bytes, at most once a
//!   second per member; logged at most once per source per interval). A frame without a known
//!   token gets nothing at all: the relay never answers an unauthenticated source.
//! - The relay session's timer: lifetime and silent members.

use super::shared::own_player;
use super::Cx;
use crate::limits::Refusal as LogKind;
use crate::relay::{Checked, Verdict};
use crate::store::SessionStore;
use crate::timers::Kind;
use rhp_proto::relay::{FromServer, Refusal};
use std::net::SocketAddr;
use std::time::Instant;
use tracing::warn;

impl<S: SessionStore> Cx<'_, S> {
    pub(crate) fn on_relay_request(&mut self, now: Instant, from: SocketAddr, name: &str, player: &str) {
        let Some((index, session)) = own_player(self.lobby, self.out, now, from, name, player) else {
            return;
        };
        if !session.is_open() {
            // Asked after the grants were decided: it joins the relay session now, and the start
            // message this answers carries its grant. It asked: the session stays for it.
            session.seen(index, now);
            let mut earlier: Vec<usize> = Vec::new();
            if self.relay.config.is_on() && !session.players[index].relay_wanted() {
                session.players[index].set_relay_wanted();
                if let Some(session) = self.lobby.get(name) {
                    if let Some((relay, at)) = self.relay.join_late(now, session, index) {
                        self.timers.push(at, Kind::RelayCheck { relay });
                        // Made just now: those that asked before got their start message without
                        // a grant (one member is no relay) and may have confirmed it already, so
                        // no start round would bring it: they get it now.
                        earlier = (0..session.players.len())
                            .filter(|&j| j != index && session.players[j].relay_wanted())
                            .collect();
                    }
                }
            }
            for j in std::iter::once(index).chain(earlier) {
                if !self.resend_note(now, name, j) {
                    self.resend_start(now, name, j);
                }
            }
            return;
        }
        session.seen(index, now);
        if self.relay.config.is_on() {
            session.players[index].set_relay_wanted();
        }
    }

    /// Decides the relay grants of starting session `name` (once: later calls do nothing), arms
    /// the new relay session's check and logs the refused players.
    pub(crate) fn open_relay(&mut self, now: Instant, name: &str) {
        let Some(session) = self.lobby.get(name) else { return };
        let opened = self.relay.open(now, session);
        if let Some((relay, at)) = opened.relay {
            self.timers.push(at, Kind::RelayCheck { relay });
        }
        for (addr, why) in opened.refused {
            self.log_relay_refusal(now, addr, why, || format!("session {name}: no relay grant"));
        }
    }

    /// A relay frame from `from` (the caller checked its magic byte).
    pub(crate) fn on_relay_frame(&mut self, now: Instant, from: SocketAddr, data: &[u8]) {
        match self.relay.on_frame(now, from, data) {
            Verdict::Drop | Verdict::Left { deleted: false } => {}
            Verdict::Left { deleted: true } => self.timers.note_stale(1),
            Verdict::Forward { to, from: index, payload } => {
                self.out.push_relay(to, |b| FromServer::Data { from: index, payload }.write_to(b));
            }
            Verdict::BindOk { to, me } => {
                self.out.push_relay(to, |b| FromServer::BindOk { me }.write_to(b));
            }
            Verdict::Refused { why, reply, session, member } => {
                if reply {
                    self.out.push_relay(from, |b| FromServer::Refused(why).write_to(b));
                }
                self.log_relay_refusal(now, from, why, || {
                    format!("relay for session {session}: {member}'s frame")
                });
            }
        }
    }

    /// Relay session `relay`'s timer fired.
    pub(crate) fn on_relay_check(&mut self, now: Instant, relay: u64) {
        match self.relay.check(now, relay) {
            // The relay session went early (its members left): counted stale then.
            Checked::Gone => {}
            Checked::Next(at) => self.timers.push(at, Kind::RelayCheck { relay }),
            Checked::Deleted { session, lifetime } => {
                if lifetime {
                    // Members that used the relay learn why it stopped (3 bytes, once; paid for
                    // by the frames they sent).
                    for m in session.members.iter().filter(|m| m.live && m.heard) {
                        self.out.push_relay(m.addr, |b| FromServer::Refused(Refusal::Lifetime).write_to(b));
                    }
                }
            }
        }
    }

    /// Logs a relay refusal, at most once per source IP and kind per interval (`what` is only
    /// rendered for a line that is logged).
    fn log_relay_refusal(
        &mut self,
        now: Instant,
        from: SocketAddr,
        why: Refusal,
        what: impl FnOnce() -> String,
    ) {
        let ip = from.ip().to_canonical();
        if let Some(suppressed) = self.log_limit.should_log(now, ip, LogKind::Relay(why.code())) {
            let (what, why) = (what(), why.describe());
            if suppressed > 0 {
                warn!("relay refused {from}: {what}: {why} ({suppressed} more from {ip} not logged)");
            } else {
                warn!("relay refused {from}: {what}: {why}");
            }
        }
    }
}
