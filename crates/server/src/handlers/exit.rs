//! `x:S:P`: a player leaves an open session.

use super::Cx;
use crate::store::SessionStore;
use rhp_proto::ErrorCode;
use std::net::SocketAddr;
use std::time::Instant;

impl<S: SessionStore> Cx<'_, S> {
    pub(crate) fn on_exit(&mut self, now: Instant, from: SocketAddr, name: &str, player: &str) {
        let Some(session) = self.lobby.get(name).filter(|s| s.is_open()) else {
            self.out.error(now, from, ErrorCode::SessionNonExistent);
            return;
        };
        // Fix 2: only the player's own address may take it out.
        let Some(index) = session.position_from(player, from) else {
            self.out.error(now, from, ErrorCode::NonExistentPlayer);
            return;
        };
        self.out.error(now, from, ErrorCode::PlayerExitedSession);
        // Fix 4: the rest get the new `i:` list (remove_player sends it).
        self.remove_player(now, name, index, "exited");
    }
}
