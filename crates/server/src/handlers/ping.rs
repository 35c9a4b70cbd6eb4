//! `p:S:P`: keep a player alive; in a starting session, ask for the start message again.

use crate::engine::Engine;
use crate::store::SessionStore;
use rhp_proto::ErrorCode;
use std::net::SocketAddr;
use std::time::Instant;

impl<S: SessionStore> Engine<S> {
    pub(crate) fn on_ping(&mut self, now: Instant, from: SocketAddr, name: &str, player: &str) {
        let Some(session) = self.store.get_mut(name) else {
            return self.outbox.error(from, ErrorCode::SessionNonExistent);
        };
        // Fix 2: only the player's own address counts.
        let Some(index) = session.position_from(player, from) else {
            let code = if session.is_open() {
                ErrorCode::NonExistentPlayer
            } else {
                // A starting session is not open to anyone but its players.
                ErrorCode::SessionNonExistent
            };
            return self.outbox.error(from, code);
        };
        if !session.is_open() {
            return self.outbox.start(session, index);
        }
        // Only the store changes: the player's timer is re-armed when it fires (no heap push here).
        session.players[index].last_seen = now;
        self.outbox.info(from, session);
    }
}
