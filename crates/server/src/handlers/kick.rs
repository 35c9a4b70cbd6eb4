//! `k:S:VICTIM`: the host removes a player (possibly itself). The victim is kept out of the session
//! for its life, by name and by network (see [`crate::bans`]), unless the host lifts the ban
//! (`u:`, see [`super::unban`]). A host kicking itself is leaving: no ban.

use super::Cx;
use crate::store::SessionStore;
use rhp_proto::ErrorCode;
use std::net::SocketAddr;
use std::time::Instant;
use tracing::info;

impl<S: SessionStore> Cx<'_, S> {
    pub(crate) fn on_kick(&mut self, now: Instant, from: SocketAddr, name: &str, victim: &str) {
        let Some(session) = self.lobby.get_mut(name).filter(|s| s.is_open()) else {
            self.out.error(now, from, ErrorCode::SessionNonExistent);
            return;
        };
        let Some(index) = session.position(victim) else {
            self.out.error(now, from, ErrorCode::NonExistentPlayer);
            return;
        };
        if !session.is_host_addr(from) {
            self.out.error(now, from, ErrorCode::NonHostPlayer);
            return;
        }
        let addr = session.players[index].addr();
        if index != 0 {
            session.bans.add(victim, addr);
            info!("session {name}: {victim} ({addr}) banned, {} bans", session.bans.len());
        }
        self.out.error(now, addr, ErrorCode::KickedByHost);
        self.remove_player(now, name, index, "was kicked by the host");
    }
}
