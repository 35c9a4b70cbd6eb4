//! `u:S:NAME` (extension, only our clients send it): the host lets a kicked player back. Checked
//! like `k:`, but the host first (the ban list is the host's business): session open, else
//! `session_non_existent`; the host's own address, else `non_host_player`; a ban on `NAME`, else
//! `non_existent_player`. The ban on the name and on its network goes, and the host gets `i:` as
//! the acknowledgement (its list, unchanged). The Godot plugin never sends it.

use super::Cx;
use crate::store::SessionStore;
use rhp_proto::ErrorCode;
use std::net::SocketAddr;
use std::time::Instant;
use tracing::info;

impl<S: SessionStore> Cx<'_, S> {
    pub(crate) fn on_unban(&mut self, now: Instant, from: SocketAddr, name: &str, player: &str) {
        let Some(session) = self.lobby.get_mut(name).filter(|s| s.is_open()) else {
            self.out.error(now, from, ErrorCode::SessionNonExistent);
            return;
        };
        if !session.is_host_addr(from) {
            self.out.error(now, from, ErrorCode::NonHostPlayer);
            return;
        }
        if !session.bans.lift(player) {
            self.out.error(now, from, ErrorCode::NonExistentPlayer);
            return;
        }
        info!("session {name}: the host let {player} back, {} bans left", session.bans.len());
        self.out.info(now, session, 0);
    }
}
