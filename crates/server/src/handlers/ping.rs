//! `p:S:P`: keep a player alive; in a starting session, ask for the start message again.

use crate::engine::Engine;
use crate::store::SessionStore;
use rhp_proto::ErrorCode;
use std::net::SocketAddr;
use std::time::Instant;

impl<S: SessionStore> Engine<S> {
    pub(crate) fn on_ping(&mut self, now: Instant, from: SocketAddr, name: &str, player: &str) {
        let Some(session) = self.store.get_mut(name) else {
            self.outbox.error(now, from, ErrorCode::SessionNonExistent);
            return;
        };
        // Fix 2: only the player's own address counts.
        let Some(index) = session.position_from(player, from) else {
            let code = if session.is_open() {
                ErrorCode::NonExistentPlayer
            } else {
                // A starting session is not open to anyone but its players.
                ErrorCode::SessionNonExistent
            };
            self.outbox.error(now, from, code);
            return;
        };
        if !session.is_open() {
            return self.resend_start(now, name, index);
        }
        // Only the store changes: the player's timer is re-armed when it fires (no heap push here).
        session.seen(index, now);
        let p = &session.players[index];
        // With the budget on, the list goes out only when it changed or is due a refresh: a ping is
        // far smaller than a long list, and the clients need no answer to every ping.
        let due = !self.outbox.budget.applies_to(from)
            || p.info_stale
            || p.info_sent().is_none_or(|t| now >= session.at(t) + self.config.info_refresh);
        if due {
            self.outbox.info(now, session, index);
        }
    }
}
