//! `p:S:P`: keep a player alive; in a starting session, ask for the start message again.

use super::shared::own_player;
use super::Cx;
use crate::store::SessionStore;
use std::net::SocketAddr;
use std::time::Instant;

impl<S: SessionStore> Cx<'_, S> {
    pub(crate) fn on_ping(&mut self, now: Instant, from: SocketAddr, name: &str, player: &str) {
        // Fix 2: only the player's own address counts.
        let Some((index, session)) = own_player(self.lobby, self.out, now, from, name, player) else {
            return;
        };
        if !session.is_open() {
            // Still waiting for its start message (or its ping crossed it): the session stays
            // while it asks (see `Cx::on_round`).
            session.seen(index, now);
            return self.resend_start(now, name, index);
        }
        // Only the store changes: the player's timer is re-armed when it fires (no heap push here).
        session.seen(index, now);
        let p = &session.players[index];
        // With the budget on, the list goes out only when it changed or is due a refresh: a ping is
        // far smaller than a long list, and the clients need no answer to every ping.
        let due = !self.out.budgeted(from)
            || p.info_stale
            || p.info_sent().is_none_or(|t| now >= session.at(t) + self.config.info_refresh);
        if due {
            self.out.info(now, session, index);
        }
    }
}
