//! `c:S:P[:PASS]`: join a session (or answer a member's retransmit).

use crate::engine::Engine;
use crate::limits::Refusal;
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
        if session.position_from(player, from).is_none() && session.bans.refuses(player, from) {
            self.outbox.error(now, from, ErrorCode::KickedByHost);
            return;
        }
        if !session.password_matches(password) {
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
        if !self.rate.take(now, from.ip().to_canonical()) {
            let detail = format!("session {name}: {player} not joined, too many creations from this IP");
            return self.refuse(now, from, Refusal::RateLimited, ErrorCode::TooManyRequests, &detail);
        }
        let Some(session) = self.store.get_mut(name) else { return };
        session.push_player(Player::new(player, from, now));
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
