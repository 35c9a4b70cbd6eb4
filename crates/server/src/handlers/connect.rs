//! `c:S:P[:PASS]`: join a session (or answer a member's retransmit).

use crate::engine::Engine;
use crate::session::Player;
use crate::store::SessionStore;
use crate::timers::Kind;
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
        let Some(session) = self.store.get(name).filter(|s| s.is_open()) else {
            return self.outbox.error(from, ErrorCode::SessionNonExistent);
        };
        if !session.password_matches(password) {
            return self.outbox.error(from, ErrorCode::PasswordMismatch);
        }
        // Fix 1: a member's retransmit is answered `i:` even when the session is full.
        if session.position_from(player, from).is_some() {
            return self.outbox.info(from, session);
        }
        if session.is_full() {
            return self.outbox.error(from, ErrorCode::SessionFull);
        }
        if session.position(player).is_some() {
            return self.outbox.error(from, ErrorCode::PlayerNameInUse);
        }
        let player_id = self.new_id();
        let Some(session) = self.store.get_mut(name) else { return };
        session.players.push(Player {
            id: player_id,
            name: player.to_owned(),
            addr: from,
            last_seen: now,
            confirmed: false,
        });
        info!(
            "session {name}: {player} ({from}) joined, {} of {}",
            session.players.len(),
            session.max_players
        );
        self.outbox.info_to_all(session);
        let kind = Kind::PlayerIdle { session: name.into(), session_id: session.id, player: player_id };
        self.timers.push(now + self.config.player_timeout, kind);
    }
}
