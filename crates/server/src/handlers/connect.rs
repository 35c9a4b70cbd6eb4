//! `c:S:P[:PASS]`: join a session (or answer a member's retransmit). A kicked player is refused
//! `kicked_by_host` ([`crate::bans`]); a guess at a password passes the guard ([`crate::guard`])
//! before it is checked, or is refused `too_many_requests` unchecked.

use crate::engine::Engine;
use crate::guard::Admit;
use crate::limits::Refusal;
use crate::netkey::NetKey;
use crate::session::Player;
use crate::store::SessionStore;
use rhp_proto::ErrorCode;
use std::net::SocketAddr;
use std::time::Instant;
use tracing::info;

impl<S: SessionStore> Engine<S> {
    pub(crate) fn on_connect(
        &mut self,
        now: Instant,
        from: SocketAddr,
        name: &str,
        player: &str,
        password: Option<&str>,
    ) {
        let Some(session) = self.store.get_mut(name) else {
            self.outbox.error(now, from, ErrorCode::SessionNonExistent);
            return;
        };
        if !session.is_open() {
            // With the budget on, a member may still be waiting for its first list (the plugin
            // ignores a start message until it has one, and resends `c:`): answer it. The first
            // round of start messages waits for this (see `first_round`).
            let index = session.position_from(player, from);
            match index {
                Some(index) if self.outbox.budget.applies_to(from) => {
                    if session.players[index].info_sent().is_none() {
                        self.outbox.info(now, session, index);
                    } else {
                        self.resend_start(now, name, index);
                    }
                }
                _ => {
                    self.outbox.error(now, from, ErrorCode::SessionNonExistent);
                }
            }
            return;
        }
        // A kicked player stays out, by name and by network; a member's own retransmit is no join.
        let member = session.position_from(player, from).is_some();
        if !member && session.bans.refuses(player, from) {
            self.guard.banned();
            self.outbox.error(now, from, ErrorCode::KickedByHost);
            return;
        }
        // A guess at the password is checked only if the guard admits it, decided before the
        // password is looked at: a refused guess gets the same answer, right or wrong.
        let guarded = !member && session.password.is_some();
        let ip = from.ip();
        if guarded && self.guard.admit(now, session.id, ip) == Admit::Refuse {
            self.guard.maybe_log(now, session.id, name, from);
            self.outbox.error(now, from, ErrorCode::TooManyRequests);
            return;
        }
        if !session.password_matches(password) {
            if guarded {
                self.guard.failed(now, session.id, ip);
                self.guard.maybe_log(now, session.id, name, from);
            }
            self.outbox.error(now, from, ErrorCode::PasswordMismatch);
            return;
        }
        // Fix 1: a member's retransmit is answered `i:` even when the session is full.
        if let Some(index) = session.position_from(player, from) {
            self.outbox.info(now, session, index);
            return;
        }
        if session.is_full() {
            self.outbox.error(now, from, ErrorCode::SessionFull);
            return;
        }
        if session.position(player).is_some() {
            self.outbox.error(now, from, ErrorCode::PlayerNameInUse);
            return;
        }
        // Caps: this request would create a player.
        if self.live_players >= self.config.max_players {
            let detail =
                format!("session {name}: {player} not joined, already {} players", self.live_players);
            return self.refuse(now, from, Refusal::TooManyPlayers, ErrorCode::ServerFull, &detail);
        }
        let net = NetKey::of(from.ip());
        if !self.player_allowed(now, from, net, || format!("session {name}: {player} not joined")) {
            return;
        }
        if !self.rate.take(now, net.addr()) {
            let detail = format!("session {name}: {player} not joined, too many creations from this IP");
            return self.refuse(now, from, Refusal::RateLimited, ErrorCode::TooManyRequests, &detail);
        }
        let Some(session) = self.store.get_mut(name) else { return };
        let joined = session.stamp(now);
        session.push_player(Player::new(player, from, joined));
        self.live_players += 1;
        info!(
            "session {name}: {player} ({from}) joined, {} of {}",
            session.players.len(),
            session.max_players
        );
        self.outbox.info_to_all(now, session);
        let index = session.players.len() - 1;
        let (lifetime, at) = (self.config.session_lifetime, now + self.config.player_timeout);
        Self::arm_player_idle(&mut self.timers, lifetime, at, session, index);
    }
}
