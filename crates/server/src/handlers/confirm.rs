//! `y:S:P`: the player has its start message; stop resending it.

use super::Cx;
use crate::store::SessionStore;
use rhp_proto::ErrorCode;
use std::net::SocketAddr;
use std::time::Instant;
use tracing::info;

impl<S: SessionStore> Cx<'_, S> {
    pub(crate) fn on_confirm(&mut self, now: Instant, from: SocketAddr, name: &str, player: &str) {
        let Some(session) = self.lobby.get_mut(name).filter(|s| !s.is_open()) else {
            self.out.error(now, from, ErrorCode::SessionNotStarted);
            return;
        };
        // Fix 2: only the player's own address counts.
        let Some(index) = session.position_from(player, from) else {
            self.out.error(now, from, ErrorCode::NonExistentPlayer);
            return;
        };
        // Fix 3: the player stays in the session, so the others' address lists stay whole.
        if !session.players[index].confirmed {
            session.players[index].confirmed = true;
            info!("session {name}: {player} confirmed its start message");
        }
    }
}
